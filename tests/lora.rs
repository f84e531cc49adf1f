//! LoRA chosen per call against `tests/goldens/lora.json` (`tools/make_lora_goldens.py`:
//! diffusers' `load_lora_weights` + `fuse_lora`, exported by optimum and run by its ORT
//! pipeline): the images through the Rust API, switched between calls on one pipeline, the
//! tolerance's sensitivity to a wrong alpha, a missed layer, a missed text encoder and ignored
//! adapter metadata, and the refusals.

mod common;

use std::path::{Path, PathBuf};

use sdrt::{ErrorKind, GenerateParams, LoraId, LoraWeight, Pipeline, PipelineOptions};

fn goldens() -> serde_json::Value {
    common::read_json(&common::goldens().join("lora.json"))
}

fn fixtures() -> PathBuf {
    common::root().join("tests/fixtures")
}

/// A case's image params and its LoRAs (file, scale).
struct Case {
    image: common::ImageCase,
    loras: Vec<(PathBuf, f32)>,
}

fn cases(list: &str) -> Vec<Case> {
    let g = goldens();
    let images = common::image_cases_from(&g[list]);
    let raw = g[list].as_array().unwrap();
    images
        .into_iter()
        .zip(raw)
        .map(|(image, c)| Case {
            image,
            loras: c["loras"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| {
                    (
                        fixtures().join(l["file"].as_str().unwrap()),
                        l["scale"].as_f64().unwrap() as f32,
                    )
                })
                .collect(),
        })
        .collect()
}

fn load(model: &Path) -> Pipeline {
    common::init_runtime();
    Pipeline::load(model, &PipelineOptions::default()).unwrap()
}

/// Runs `case` on `p`, loading its LoRAs (reusing those already loaded from the same file).
fn run(p: &Pipeline, loaded: &mut Vec<(PathBuf, LoraId)>, case: &Case) -> Vec<u8> {
    let mut params = common::image_params(&case.image);
    for (file, scale) in &case.loras {
        let id = match loaded.iter().find(|(f, _)| f == file) {
            Some((_, id)) => *id,
            None => {
                let id = p
                    .load_lora(file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                loaded.push((file.clone(), id));
                id
            }
        };
        params.loras.push(LoraWeight { id, scale: *scale });
    }
    let images = p.generate(&params, None).unwrap();
    images.images.into_iter().next().unwrap()
}

fn want(case: &Case) -> Vec<u8> {
    common::read_png(&case.image.files[0]).2
}

#[test]
fn goldens_on_one_pipeline_switched_between_calls() {
    let all = cases("images");
    assert!(all.len() >= 7);
    for model in ["tiny-sd2", "tiny-sdxl"] {
        let mine: Vec<&Case> = all
            .iter()
            .filter(|c| c.image.model.ends_with(model))
            .collect();
        assert!(!mine.is_empty(), "{model}: no cases");
        let p = load(&fixtures().join(model));
        let mut loaded = Vec::new();
        // Every case in order, then in reverse: each call's choice alone decides its image,
        // whatever ran before it.
        for case in mine.iter().chain(mine.iter().rev()) {
            let got = run(&p, &mut loaded, case);
            common::assert_close(&case.image.name, &got, &want(case));
        }
    }
}

#[test]
fn the_tolerance_catches_a_wrong_scale_a_missed_layer_or_encoder_and_ignored_metadata() {
    let right = cases("images");
    let wrong = cases("wrong");
    let raw = goldens()["wrong"].as_array().unwrap().clone();
    assert!(wrong.len() >= 4);
    let p = load(&fixtures().join("tiny-sd2"));
    let mut loaded = Vec::new();
    for (w, r) in wrong.iter().zip(&raw) {
        let of = r["wrong_of"].as_str().unwrap();
        let case = right.iter().find(|c| c.image.name == of).unwrap();
        let got = run(&p, &mut loaded, case);
        common::assert_close(of, &got, &want(case));
        let (max, mean) = common::diff_stats(&got, &want(w));
        assert!(
            max > 2 && mean > 0.15,
            "{}: the wrong image ({}) is within tolerance of sdrt's (max {max}, mean {mean})",
            w.image.name,
            r["how"]
        );
    }
}

fn refused(p: &Pipeline, file: &str) -> sdrt::Error {
    p.load_lora(&fixtures().join("loras").join(file))
        .expect_err(file)
}

#[test]
fn bad_files_are_refused_by_name_and_the_pipeline_keeps_working() {
    let sd2 = load(&fixtures().join("tiny-sd2"));
    let plain = cases("images")
        .into_iter()
        .find(|c| c.image.name == "sd2_none")
        .unwrap();
    let before = run(&sd2, &mut Vec::new(), &plain);
    let rows: [(&str, ErrorKind, &[&str]); 5] = [
        (
            "not_safetensors.safetensors",
            ErrorKind::InvalidArgument,
            &["not_safetensors.safetensors", "not a safetensors file"],
        ),
        // The first key in the file's order (sorted) that matches nothing is named.
        (
            "nothing_matches.safetensors",
            ErrorKind::InvalidArgument,
            &["layers.7.self_attn.q_proj", "matches no linear layer"],
        ),
        (
            "bad_rank.safetensors",
            ErrorKind::InvalidArgument,
            &["rank mismatch", "attn1.to_k"],
        ),
        // An SDXL LoRA on SD 2: its first layer has other dimensions than SD 2's.
        (
            "sdxl.safetensors",
            ErrorKind::InvalidArgument,
            &[
                "sdxl.safetensors",
                "self_attn.k_proj",
                "a LoRA for another model",
            ],
        ),
        (
            "no_such_file.safetensors",
            ErrorKind::ModelNotFound,
            &["no_such_file.safetensors"],
        ),
    ];
    for (file, kind, words) in rows {
        let e = refused(&sd2, file);
        assert_eq!(e.kind(), kind, "{file}: {e}");
        for w in words {
            assert!(e.to_string().contains(w), "{file}: '{e}' does not name {w}");
        }
    }
    assert_eq!(run(&sd2, &mut Vec::new(), &plain), before);
}

#[test]
fn handles_scales_and_freeing() {
    let a = load(&fixtures().join("tiny-sd2"));
    let b = load(&fixtures().join("tiny-sd2"));
    let file = fixtures().join("loras/sd2_unet.safetensors");
    let id_a = a.load_lora(&file).unwrap();
    let id_b = b.load_lora(&file).unwrap();
    assert_ne!(id_a, id_b, "handles are unique to their pipeline");
    let params = |id: LoraId, scale: f32| GenerateParams {
        prompt: "a fox".into(),
        width: 64,
        height: 64,
        steps: 2,
        loras: vec![LoraWeight { id, scale }],
        ..GenerateParams::default()
    };
    // Another pipeline's handle.
    let e = a.generate(&params(id_b, 1.0), None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.to_string().contains("loras[0]"), "{e}");
    // Non-finite scales.
    for s in [f32::NAN, f32::INFINITY] {
        let e = a.generate(&params(id_a, s), None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.to_string().contains("loras[0].scale"), "{e}");
    }
    // Scale 0 is the plain image, byte for byte (the branch adds exact zeros).
    let zero = a.generate(&params(id_a, 0.0), None).unwrap();
    let plain = a
        .generate(
            &GenerateParams {
                loras: vec![],
                ..params(id_a, 1.0)
            },
            None,
        )
        .unwrap();
    assert_eq!(zero.images, plain.images);
    // Freed: refused, twice over; the pipeline still generates.
    a.free_lora(id_a).unwrap();
    let e = a.generate(&params(id_a, 1.0), None).unwrap_err();
    assert!(e.to_string().contains("not loaded in this pipeline"), "{e}");
    assert_eq!(
        a.free_lora(id_a).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let again = a.load_lora(&file).unwrap();
    assert_ne!(again, id_a, "a handle is never reused");
    a.generate(&params(again, 1.0), None).unwrap();
}

#[test]
fn low_memory_pipelines_apply_loras_too() {
    common::init_runtime();
    let case = cases("images")
        .into_iter()
        .find(|c| c.image.name == "sd2_te_unet")
        .unwrap();
    let options = PipelineOptions {
        low_memory: true,
        ..PipelineOptions::default()
    };
    let p = Pipeline::load(&case.image.model, &options).unwrap();
    let got = run(&p, &mut Vec::new(), &case);
    common::assert_close(&case.image.name, &got, &want(&case));
}

#[test]
fn generate_takes_lora_flags() {
    let all = cases("images");
    let dir = common::target_dir().join("lora-cli");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["sd2_two", "sd2_kohya", "sdxl"] {
        let case = all.iter().find(|c| c.image.name == name).unwrap();
        let c = &case.image;
        let out = dir.join(format!("{name}.png"));
        let mut cmd = common::generate_command(c, &out);
        for (file, scale) in &case.loras {
            // The scale 1.0 is the default: given without one.
            let arg = if *scale == 1.0 {
                file.display().to_string()
            } else {
                format!("{}:{scale}", file.display())
            };
            cmd.args(["--lora", &arg]);
        }
        common::check_generated(name, &mut cmd, &out, &c.files[0]);
    }
    let bad = std::process::Command::new(common::generate_bin())
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .args(["--steps", "1", "--lora"])
        .arg(fixtures().join("loras/bad_rank.safetensors"))
        .arg("--output")
        .arg(dir.join("bad.png"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("rank mismatch"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn the_c_api_refuses_bad_handles_and_arrays_by_name() {
    use sdrt::ffi::lora::{sdrt_lora, sdrt_lora_free, sdrt_lora_load, sdrt_lora_weight};
    use sdrt::ffi::params::{sdrt_generate_params, sdrt_generate_params_init_sized};
    use sdrt::ffi::pipeline::sdrt_pipeline_generate;
    use sdrt::ffi::pipeline::{sdrt_pipeline, sdrt_pipeline_create, sdrt_pipeline_free};
    use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status};
    use std::ffi::{CStr, CString};
    common::init_runtime();
    let message = || {
        // SAFETY: a NUL-terminated thread-local message.
        unsafe { CStr::from_ptr(sdrt_last_error_message()) }
            .to_string_lossy()
            .into_owned()
    };
    let dir = CString::new(fixtures().join("tiny-sd2").to_str().unwrap()).unwrap();
    let (mut a, mut b): (*mut sdrt_pipeline, *mut sdrt_pipeline) =
        (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: valid C strings and out-pointers.
    unsafe {
        assert_eq!(
            sdrt_pipeline_create(dir.as_ptr(), std::ptr::null(), &mut a),
            sdrt_status::SDRT_OK
        );
        assert_eq!(
            sdrt_pipeline_create(dir.as_ptr(), std::ptr::null(), &mut b),
            sdrt_status::SDRT_OK
        );
    }
    let file = CString::new(
        fixtures()
            .join("loras/sd2_unet.safetensors")
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let (mut la, mut lb): (*mut sdrt_lora, *mut sdrt_lora) =
        (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: live pipelines, a C string, out-pointers; NULLs where the row says.
    unsafe {
        assert_eq!(
            sdrt_lora_load(a, file.as_ptr(), &mut la),
            sdrt_status::SDRT_OK
        );
        assert_eq!(
            sdrt_lora_load(b, file.as_ptr(), &mut lb),
            sdrt_status::SDRT_OK
        );
        assert_eq!(
            sdrt_lora_load(a, std::ptr::null(), &mut la),
            sdrt_status::SDRT_ERROR_INVALID_ARGUMENT
        );
        assert!(message().contains("path"), "{}", message());
        assert_eq!(
            sdrt_lora_load(a, file.as_ptr(), std::ptr::null_mut()),
            sdrt_status::SDRT_ERROR_INVALID_ARGUMENT
        );
        assert!(message().contains("out"), "{}", message());
        assert_eq!(
            sdrt_lora_free(a, std::ptr::null_mut()),
            sdrt_status::SDRT_ERROR_INVALID_ARGUMENT
        );
        assert!(message().contains("lora"), "{}", message());
    }
    let mut gp = std::mem::MaybeUninit::<sdrt_generate_params>::uninit();
    // SAFETY: init writes the whole struct.
    let mut gp = unsafe {
        sdrt_generate_params_init_sized(
            gp.as_mut_ptr(),
            std::mem::size_of::<sdrt_generate_params>() as u32,
        );
        gp.assume_init()
    };
    assert!(gp.loras.is_null() && gp.lora_count == 0, "none by default");
    gp.width = 64;
    gp.height = 64;
    gp.steps = 1;
    let generate = |gp: &sdrt_generate_params| {
        let mut out = std::ptr::null_mut();
        // SAFETY: a live pipeline, filled params (their arrays as each row sets them).
        let st = unsafe { sdrt_pipeline_generate(a, gp, &mut out) };
        if st == sdrt_status::SDRT_OK {
            // SAFETY: from the call above.
            unsafe { sdrt::ffi::images::sdrt_images_free(out) };
        }
        st
    };
    let weights = |l: *mut sdrt_lora, scale: f32| vec![sdrt_lora_weight { lora: l, scale }];
    let ok = weights(la, 0.8);
    gp.loras = ok.as_ptr();
    gp.lora_count = 1;
    assert_eq!(generate(&gp), sdrt_status::SDRT_OK);
    let rows: Vec<(Vec<sdrt_lora_weight>, u32, bool, &str)> = vec![
        (weights(lb, 1.0), 1, false, "another pipeline's"),
        (
            weights(std::ptr::null_mut(), 1.0),
            1,
            false,
            "loras[0].lora is NULL",
        ),
        (weights(la, f32::NAN), 1, false, "loras[0].scale"),
        (weights(la, 1.0), 65, false, "lora_count"),
        (Vec::new(), 2, true, "params->loras is NULL"),
    ];
    for (w, count, null, words) in &rows {
        gp.loras = if *null { std::ptr::null() } else { w.as_ptr() };
        gp.lora_count = *count;
        assert_eq!(
            generate(&gp),
            sdrt_status::SDRT_ERROR_INVALID_ARGUMENT,
            "{words}"
        );
        assert!(message().contains(words), "{words}: {}", message());
    }
    // Freed: refused by the call and by a second free; the pipeline keeps working.
    // SAFETY: live pipeline and its handle.
    unsafe {
        assert_eq!(sdrt_lora_free(a, la), sdrt_status::SDRT_OK);
        assert_eq!(
            sdrt_lora_free(a, la),
            sdrt_status::SDRT_ERROR_INVALID_ARGUMENT
        );
    }
    assert!(
        message().contains("not loaded in this pipeline"),
        "{}",
        message()
    );
    gp.loras = ok.as_ptr();
    gp.lora_count = 1;
    assert_eq!(generate(&gp), sdrt_status::SDRT_ERROR_INVALID_ARGUMENT);
    gp.lora_count = 0;
    assert_eq!(generate(&gp), sdrt_status::SDRT_OK);
    // The pipelines free the LoRAs still loaded.
    // SAFETY: live pipelines, freed once.
    unsafe {
        sdrt_pipeline_free(a);
        sdrt_pipeline_free(b);
    }
}
