//! SDXL's decoders besides the float32 VAE: TAESDXL as the `taesd` preview kind against
//! diffusers' `AutoencoderTiny` (`tests/goldens/taesdxl.json`, made by
//! `tools/make_sdxl_vae_goldens.py` on the `tools/make_tiny_sdxl_vae.py` fixture
//! tiny-sdxl-preview), with the tolerance's sensitivity to the mistakes a TAESDXL preview
//! invites; and float16 VAE decoders: one that overflows (SDXL's VAE does in float16) is an
//! error naming its file, in the final decode and in `full` previews, in both memory modes; one
//! that does not decodes within the goldens' tolerance of the float32 image.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use sdrt::{ErrorKind, GenerateParams, Pipeline, PipelineOptions, PreviewKind, StepInfo};

fn golden() -> Value {
    common::read_json(&common::goldens().join("taesdxl.json"))
}

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures").join(name)
}

fn load(name: &str, options: &PipelineOptions) -> Pipeline {
    Pipeline::load(&fixture(name), options).unwrap()
}

fn numpy_randn(seed: u32, n: usize) -> Vec<f32> {
    sdrt::rng::NumpyRandomState::new(seed).randn_f32(n)
}

/// A `decode` row's latents and their `(latent width, latent height)`.
fn decode_latents(e: &Value) -> (Vec<f32>, (usize, usize)) {
    let shape: Vec<usize> = e["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(shape[..2], [1, 4]);
    let lat = numpy_randn(e["seed"].as_u64().unwrap() as u32, shape.iter().product());
    (lat, (shape[3], shape[2]))
}

fn taesd(p: &Pipeline, lat: &[f32], size: (usize, usize)) -> (usize, usize, Vec<u8>) {
    let (w, h, mut imgs) = p.render_preview(PreviewKind::Taesd, lat, 1, size).unwrap();
    (w, h, imgs.remove(0))
}

/// Whether `got` is beyond the goldens' tolerance from `want` (what `assert_close` refuses).
fn beyond(got: &[u8], want: &[u8]) -> bool {
    let (max, mean) = common::diff_stats(got, want);
    max > 2 || mean > 0.15
}

/// The `generation` row's parameters (an `sdxl.json` case: numpy latents, no negative prompt,
/// the model's own scheduler).
fn generation_params(g: &Value) -> GenerateParams {
    assert!(g["negative_prompt"].is_null());
    GenerateParams {
        prompt: g["prompt"].as_str().unwrap().to_string(),
        width: g["width"].as_u64().unwrap() as usize,
        height: g["height"].as_u64().unwrap() as usize,
        steps: g["steps"].as_u64().unwrap() as usize,
        guidance: g["guidance"].as_f64().unwrap() as f32,
        seed: g["seed"].as_u64().unwrap(),
        generator: sdrt::Generator::parse(g["generator"].as_str().unwrap()).unwrap(),
        ..GenerateParams::default()
    }
}

/// Generates with `params`, keeping each step's first preview image.
fn observed(p: &Pipeline, params: &GenerateParams) -> sdrt::Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut previews = Vec::new();
    let mut observe = |s: &StepInfo<'_>| {
        let pv = s.preview.as_ref().expect("a preview every step");
        assert_eq!(s.step, previews.len() + 1);
        previews.push(pv.images[0].to_vec());
        true
    };
    let out = p.generate_observed(params, Some(&mut observe))?;
    Ok((out.images[0].clone(), previews))
}

#[test]
fn taesdxl_previews_match_diffusers() {
    common::init_runtime();
    let g = golden();
    let p = load(g["model"].as_str().unwrap(), &PipelineOptions::default());
    // Latents to preview, as diffusers' AutoencoderTiny decodes them.
    let rows = g["decode"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for e in rows {
        let (lat, size) = decode_latents(e);
        let (w, h, img) = taesd(&p, &lat, size);
        let (gw, gh, want) = common::read_png(&common::goldens().join(e["file"].as_str().unwrap()));
        assert_eq!((w, h), (gw, gh));
        common::assert_close(e["file"].as_str().unwrap(), &img, &want);
    }
    // The previews of a generation: the clean latents diffusers' scheduler predicts at those
    // steps, decoded; the final image is sdxl.json's.
    let gen = &g["generation"];
    let mut params = generation_params(gen);
    params.preview = PreviewKind::Taesd;
    params.preview_every = 1;
    let (image, previews) = observed(&p, &params).unwrap();
    assert_eq!(previews.len(), params.steps);
    let (_, _, final_want) =
        common::read_png(&common::goldens().join(gen["final_file"].as_str().unwrap()));
    common::assert_close("final image", &image, &final_want);
    for pv in gen["previews"].as_array().unwrap() {
        let step = pv["step"].as_u64().unwrap() as usize;
        let file = pv["file"].as_str().unwrap();
        let (w, h, want) = common::read_png(&common::goldens().join(file));
        assert_eq!((w, h), (params.width, params.height));
        common::assert_close(file, &previews[step - 1], &want);
        let (max, mean) = common::diff_stats(&previews[step - 1], &want);
        eprintln!("{file}: max {max} mean {mean:.4}");
    }
    // The preview decoder given by path, on a folder without vae_preview/: the same previews.
    let options = PipelineOptions {
        preview_decoder: Some(fixture("tiny-sdxl-preview/vae_preview/model.onnx")),
        ..PipelineOptions::default()
    };
    let q = load("tiny-sdxl", &options);
    assert_eq!(observed(&q, &params).unwrap().1, previews);
}

#[test]
fn the_tolerance_catches_taesdxl_mistakes() {
    // Each mistake sdrt could make with TAESDXL gives a preview beyond the tolerance of the
    // golden, and (where sdrt can make it here) about as far as diffusers makes it.
    common::init_runtime();
    let g = golden();
    let mistakes = g["mistakes"].as_array().unwrap();
    assert!(mistakes.len() >= 10);
    for m in mistakes {
        assert!(m["beyond_tolerance"].as_bool().unwrap(), "{m}");
    }
    let p = load(g["model"].as_str().unwrap(), &PipelineOptions::default());
    // SD's TAESD where TAESDXL belongs.
    let sd_taesd = PipelineOptions {
        preview_decoder: Some(fixture("tiny-sd2-preview/vae_preview/model.onnx")),
        ..PipelineOptions::default()
    };
    let q = load("tiny-sdxl", &sd_taesd);
    let mut checked = 0;
    for e in g["decode"].as_array().unwrap() {
        let (lat, size) = decode_latents(e);
        let file = e["file"].as_str().unwrap();
        let (_, _, want) = common::read_png(&common::goldens().join(file));
        let scaled = |f: f32| lat.iter().map(|x| x * f).collect::<Vec<f32>>();
        let wrong = [
            ("sdxl_vae_scale", taesd(&p, &scaled(1.0 / 0.13025), size).2),
            ("sd_vae_scale", taesd(&p, &scaled(1.0 / 0.18215), size).2),
            (
                "sdxl_vae_scale_multiplied",
                taesd(&p, &scaled(0.13025), size).2,
            ),
            ("sd_taesd", taesd(&q, &lat, size).2),
        ];
        for (name, img) in &wrong {
            let (max, mean) = common::diff_stats(img, &want);
            assert!(
                beyond(img, &want),
                "{file} {name}: unnoticed (max {max}, mean {mean})"
            );
            let row = mistakes
                .iter()
                .find(|m| m["name"] == *name && m["target"] == file)
                .unwrap();
            let ref_mean = row["mean_abs_diff"].as_f64().unwrap();
            assert!(
                (mean - ref_mean).abs() < 0.5,
                "{file} {name}: mean |diff| {mean:.3}, diffusers {ref_mean:.3}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 8);
}

/// The float16 VAE error: the file, the cause and both fixes.
fn assert_overflow_error(e: &sdrt::Error, model: &Path, what: &str) {
    let file = model.join("vae_decoder").join("model.onnx");
    let msg = e.message();
    assert_eq!(e.kind(), ErrorKind::ModelInvalid, "{what}: {msg}");
    for needle in [
        &file.display().to_string()[..],
        "not finite",
        "this float16 decoder overflows",
        "float32",
        "madebyollin/sdxl-vae-fp16-fix",
    ] {
        assert!(msg.contains(needle), "{what}: {needle:?} not in {msg:?}");
    }
}

#[test]
fn a_float16_vae_that_overflows_is_an_error_naming_the_file() {
    common::init_runtime();
    let name = "tiny-sdxl-vae-fp16-overflow";
    let model = fixture(name);
    let params = GenerateParams {
        prompt: "a photo of an astronaut riding a horse on mars".into(),
        width: 64,
        height: 96,
        steps: 2,
        guidance: 5.0,
        seed: 7,
        ..GenerateParams::default()
    };
    for low_memory in [false, true] {
        let p = load(
            name,
            &PipelineOptions {
                low_memory,
                ..PipelineOptions::default()
            },
        );
        let what = |s: &str| format!("{s} (low_memory {low_memory})");
        // The final decode.
        let e = p.generate(&params, None).unwrap_err();
        assert_overflow_error(&e, &model, &what("final decode"));
        // A `full` preview fails the call at the first step's preview, as a preview error
        // does, before the observer sees that step; never a black preview.
        let mut full = params.clone();
        full.preview = PreviewKind::Full;
        full.preview_every = 1;
        let mut seen = 0;
        let mut observe = |_: &StepInfo<'_>| {
            seen += 1;
            true
        };
        let e = p.generate_observed(&full, Some(&mut observe)).unwrap_err();
        assert_overflow_error(&e, &model, &what("full preview"));
        assert!(e.message().starts_with("full preview: "), "{}", e.message());
        assert_eq!(seen, 0, "{}", what("the first preview failed"));
        // A preview of given latents, as `render_preview` makes it.
        let lat = numpy_randn(42, 4 * 8 * 8);
        let e = p
            .render_preview(PreviewKind::Full, &lat, 1, (8, 8))
            .unwrap_err();
        assert_overflow_error(&e, &model, &what("render_preview"));
        // The UNet-space latents need no decoder: they still come out.
        let latents = GenerateParams {
            output_latents: true,
            ..params.clone()
        };
        let out = p.generate(&latents, None).unwrap();
        assert!(out.latents.unwrap().data.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn a_float16_vae_that_does_not_overflow_decodes_like_float32() {
    // The float16 decoder (float16 input and output) against diffusers' float32 image: within
    // the goldens' tolerance (max |diff| 2, mean 0.15 in 0..255 units; the fixture's README
    // measures max 1, mean 0.03 against the float32 graph), and its `full` previews are finite.
    common::init_runtime();
    let g = golden();
    let gen = &g["generation"];
    let mut params = generation_params(gen);
    let (_, _, want) =
        common::read_png(&common::goldens().join(gen["final_file"].as_str().unwrap()));
    for low_memory in [false, true] {
        let p = load(
            "tiny-sdxl-vae-fp16",
            &PipelineOptions {
                low_memory,
                ..PipelineOptions::default()
            },
        );
        params.preview = PreviewKind::None;
        let got = p.generate(&params, None).unwrap();
        common::assert_close("float16 VAE", &got.images[0], &want);
        let (max, mean) = common::diff_stats(&got.images[0], &want);
        eprintln!("float16 VAE vs diffusers float32: max {max} mean {mean:.4}");
        params.preview = PreviewKind::Full;
        params.preview_every = 1;
        let (image, previews) = observed(&p, &params).unwrap();
        assert_eq!(
            image, got.images[0],
            "previews never change the final image"
        );
        assert_eq!(previews.len(), params.steps);
        // Euler ends at sigma 0: the last full preview is the final image.
        common::assert_close("last full preview", &previews[params.steps - 1], &image);
    }
}

#[test]
fn the_c_api_reports_the_overflow_as_model_invalid() {
    use std::ffi::{CStr, CString};

    use sdrt::ffi::images::sdrt_images;
    use sdrt::ffi::params::{sdrt_generate_params, sdrt_generate_params_init_sized};
    use sdrt::ffi::pipeline::{sdrt_pipeline_create, sdrt_pipeline_free, sdrt_pipeline_generate};
    use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status};

    common::init_runtime();
    let model = fixture("tiny-sdxl-vae-fp16-overflow");
    let path = CString::new(model.to_str().unwrap()).unwrap();
    let mut p = std::ptr::null_mut();
    // SAFETY: a valid string and out-pointer.
    let st = unsafe { sdrt_pipeline_create(path.as_ptr(), std::ptr::null(), &mut p) };
    assert_eq!(st, sdrt_status::SDRT_OK);
    // SAFETY: a zeroed struct the init call fills.
    let mut gp: sdrt_generate_params = unsafe { std::mem::zeroed() };
    // SAFETY: a valid out-pointer and its size.
    unsafe {
        sdrt_generate_params_init_sized(&mut gp, std::mem::size_of::<sdrt_generate_params>() as u32)
    };
    gp.prompt = c"a lighthouse on a cliff at dusk".as_ptr();
    gp.steps = 2;
    let mut out: *mut sdrt_images = std::ptr::null_mut();
    // SAFETY: a live pipeline, initialized params, a valid out-pointer.
    let st = unsafe { sdrt_pipeline_generate(p, &gp, &mut out) };
    // SAFETY: always a valid NUL-terminated string.
    let msg = unsafe { CStr::from_ptr(sdrt_last_error_message()) }.to_string_lossy();
    assert_eq!(st, sdrt_status::SDRT_ERROR_MODEL_INVALID, "{msg}");
    assert!(out.is_null(), "no images on failure");
    let e = sdrt::Error::new(ErrorKind::ModelInvalid, msg.into_owned());
    assert_overflow_error(&e, &model, "C API");
    // SAFETY: no call on `p` is running.
    unsafe { sdrt_pipeline_free(p) };
}
