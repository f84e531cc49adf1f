//! Weighted and long prompts (`PromptWeighting::A1111`) against `tests/goldens/weighted.json`,
//! written by `tools/make_weighted_goldens.py` from the algorithm's description: the chunks'
//! ids and weights exactly, the images at the usual tolerance through the Rust API, the C API
//! and `generate`, the tolerance's sensitivity to a wrong rescale, and the refusals.

mod common;

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use sdrt::prompt_weights::chunks;
use sdrt::tokenizer::ClipTokenizer;
use sdrt::{ErrorKind, GenerateParams, Pipeline, PipelineOptions, PromptWeighting};

fn goldens() -> serde_json::Value {
    common::read_json(&common::goldens().join("weighted.json"))
}

fn model() -> PathBuf {
    common::root().join("tests/fixtures/tiny-sd2-weighted")
}

fn tokenizer() -> ClipTokenizer {
    ClipTokenizer::from_dir(&model().join("tokenizer")).unwrap()
}

fn weighted(case: &common::ImageCase) -> GenerateParams {
    GenerateParams {
        prompt_weighting: PromptWeighting::A1111,
        ..common::image_params(case)
    }
}

#[test]
fn chunks_and_weights_equal_the_goldens() {
    let tok = tokenizer();
    let g = goldens();
    let cases = g["tokens"].as_array().unwrap();
    assert!(cases.len() >= 15);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let got = chunks(&tok, text, 32).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        let want = case["chunks"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{text:?}: chunk count");
        for (k, (c, w)) in got.iter().zip(want).enumerate() {
            let ids: Vec<u32> = w["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            let weights: Vec<f64> = w["weights"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert_eq!(c.ids, ids, "{text:?}: chunk {k} ids");
            // Exact: the same float64 products in the same order.
            assert_eq!(c.weights, weights, "{text:?}: chunk {k} weights");
        }
    }
    for text in g["refused"].as_array().unwrap() {
        let text = text.as_str().unwrap();
        let e = chunks(&tok, text, 32).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{text:?}");
        assert!(e.message().starts_with("prompt"), "{text:?}: {e}");
    }
}

#[test]
fn reproduces_the_weighted_golden_images() {
    common::init_runtime();
    let p = Pipeline::load(&model(), &PipelineOptions::default()).unwrap();
    let cases = common::image_cases_from(&goldens()["images"]);
    assert!(cases.len() >= 5);
    for case in &cases {
        let images = p
            .generate(&weighted(case), None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let (w, h, want) = common::read_png(&case.files[0]);
        assert_eq!((w, h), (images.width, images.height));
        let (max, mean) = common::diff_stats(&images.images[0], &want);
        eprintln!("{}: max |diff| {max}, mean |diff| {mean:.4}", case.name);
        common::assert_close(&case.name, &images.images[0], &want);
    }
}

#[test]
fn the_tolerance_catches_a_missing_or_whole_tensor_rescale() {
    common::init_runtime();
    let p = Pipeline::load(&model(), &PipelineOptions::default()).unwrap();
    let g = goldens();
    let wrong = common::image_cases_from(&g["wrong"]);
    assert_eq!(wrong.len(), 2);
    for case in &wrong {
        let images = p.generate(&weighted(case), None).unwrap();
        let (_, _, bad) = common::read_png(&case.files[0]);
        let (max, mean) = common::diff_stats(&images.images[0], &bad);
        eprintln!(
            "{} against sdrt: max |diff| {max}, mean {mean:.4}",
            case.name
        );
        assert!(
            max > 2 || mean > 0.15,
            "{}: the wrong variant is within the tolerance (max {max}, mean {mean:.4})",
            case.name
        );
    }
}

#[test]
fn weighting_off_keeps_parentheses_literal_and_truncates() {
    // Off (the default), "(red:1.5)" is text: the image differs from the weighted one.
    common::init_runtime();
    let p = Pipeline::load(&model(), &PipelineOptions::default()).unwrap();
    let cases = common::image_cases_from(&goldens()["images"]);
    let case = cases.iter().find(|c| c.name == "weighted_short").unwrap();
    let plain = p.generate(&common::image_params(case), None).unwrap();
    let (_, _, want) = common::read_png(&case.files[0]);
    let (max, mean) = common::diff_stats(&plain.images[0], &want);
    assert!(max > 2 || mean > 0.15, "max {max}, mean {mean:.4}");
}

#[test]
fn bad_weights_and_unsupported_setups_are_refused() {
    common::init_runtime();
    let p = Pipeline::load(&model(), &PipelineOptions::default()).unwrap();
    let base = GenerateParams {
        steps: 2,
        width: 64,
        height: 64,
        prompt_weighting: PromptWeighting::A1111,
        ..GenerateParams::default()
    };
    for (prompt, negative, field) in [
        ("(a:1.2.3)", None, "prompt"),
        (&*format!("(a:{})", "9".repeat(400)), None, "prompt"),
        ("a fox", Some("(b:..)"), "negative_prompt"),
    ] {
        let e = p
            .generate(
                &GenerateParams {
                    prompt: prompt.into(),
                    negative_prompt: negative.map(str::to_string),
                    ..base.clone()
                },
                None,
            )
            .err()
            .unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{prompt}: {e}");
        assert!(e.message().contains(field), "{prompt}: {e}");
    }
    let e = p
        .generate(
            &GenerateParams {
                prompt: "cat ".repeat(75 * 33),
                ..base.clone()
            },
            None,
        )
        .err()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    // The pipeline keeps working.
    p.generate(&base, None).unwrap();
}

#[test]
fn the_c_api_field_selects_weighting() {
    use sdrt::ffi::params::{sdrt_generate_params, sdrt_generate_params_init_sized};
    use sdrt::ffi::pipeline::{sdrt_pipeline, sdrt_pipeline_create, sdrt_pipeline_generate};
    use sdrt::ffi::status::sdrt_status;
    common::init_runtime();
    let cases = common::image_cases_from(&goldens()["images"]);
    let case = cases.iter().find(|c| c.name == "weighted_long").unwrap();
    let dir = CString::new(model().to_str().unwrap()).unwrap();
    let mut p: *mut sdrt_pipeline = std::ptr::null_mut();
    // SAFETY: a valid C string and out-pointer.
    let st = unsafe { sdrt_pipeline_create(dir.as_ptr(), std::ptr::null(), &mut p) };
    assert_eq!(st, sdrt_status::SDRT_OK);
    let prompt = CString::new(case.prompt.as_str()).unwrap();
    let negative = CString::new(case.negative_prompt.clone().unwrap()).unwrap();
    let mut gp = std::mem::MaybeUninit::<sdrt_generate_params>::uninit();
    // SAFETY: init writes the whole struct.
    let mut gp = unsafe {
        sdrt_generate_params_init_sized(
            gp.as_mut_ptr(),
            std::mem::size_of::<sdrt_generate_params>() as u32,
        );
        gp.assume_init()
    };
    assert_eq!(gp.prompt_weighting, 0, "off by default");
    gp.prompt = prompt.as_ptr();
    gp.negative_prompt = negative.as_ptr();
    gp.width = case.width as u32;
    gp.height = case.height as u32;
    gp.steps = case.steps as u32;
    gp.guidance = case.guidance;
    gp.seed = case.seed;
    gp.prompt_weighting = 1;
    let mut out = std::ptr::null_mut();
    // SAFETY: a live pipeline, filled params, an out-pointer.
    let st = unsafe { sdrt_pipeline_generate(p, &gp, &mut out) };
    assert_eq!(st, sdrt_status::SDRT_OK);
    let n = case.width * case.height * 3;
    // SAFETY: images from the call above, `n` bytes each.
    let got = unsafe { std::slice::from_raw_parts(sdrt::ffi::images::sdrt_images_data(out, 0), n) }
        .to_vec();
    // SAFETY: from the call above.
    unsafe { sdrt::ffi::images::sdrt_images_free(out) };
    let (_, _, want) = common::read_png(&case.files[0]);
    common::assert_close("C weighted_long", &got, &want);

    // An unknown value names the field.
    gp.prompt_weighting = 7;
    // SAFETY: as above.
    let st = unsafe { sdrt_pipeline_generate(p, &gp, &mut out) };
    assert_eq!(st, sdrt_status::SDRT_ERROR_INVALID_ARGUMENT);
    // SAFETY: a NUL-terminated thread-local message.
    let msg = unsafe { CStr::from_ptr(sdrt::ffi::status::sdrt_last_error_message()) };
    assert!(
        msg.to_string_lossy().contains("prompt_weighting"),
        "{msg:?}"
    );
    // SAFETY: the live pipeline, freed once.
    unsafe { sdrt::ffi::pipeline::sdrt_pipeline_free(p) };
}

#[test]
fn generate_takes_prompt_weighting() {
    let g = goldens();
    let sd = common::image_cases_from(&g["images"]);
    let sdxl = common::image_cases_from(&g["sdxl_images"]);
    let dir = common::target_dir().join("weighted-cli");
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["weighted_long", "sdxl_weighted_long", "sdxl_weighted_zeros"] {
        let case = sd.iter().chain(&sdxl).find(|c| c.name == name).unwrap();
        let out = dir.join(format!("{name}.png"));
        let mut cmd = common::generate_command(case, &out);
        cmd.args(["--prompt-weighting", "a1111"])
            .args(["--graph-cache", "off"]);
        common::check_generated(name, &mut cmd, &out, &case.files[0]);
    }

    let bad = std::process::Command::new(common::generate_bin())
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .args(["--prompt-weighting", "compel"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--prompt-weighting"));
}

#[test]
fn sdxl_reproduces_the_weighted_goldens_and_the_tolerance_sees_a_wrong_rescale() {
    common::init_runtime();
    let g = goldens();
    let cases = common::image_cases_from(&g["sdxl_images"]);
    assert!(cases.len() >= 3);
    let p = Pipeline::load(&cases[0].model, &PipelineOptions::default()).unwrap();
    let mut ours = std::collections::HashMap::new();
    for case in &cases {
        let images = p
            .generate(&weighted(case), None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let (_, _, want) = common::read_png(&case.files[0]);
        let (max, mean) = common::diff_stats(&images.images[0], &want);
        eprintln!("{}: max |diff| {max}, mean |diff| {mean:.4}", case.name);
        common::assert_close(&case.name, &images.images[0], &want);
        ours.insert(case.name.clone(), images.images[0].clone());
    }
    let wrong = common::image_cases_from(&g["sdxl_wrong"]);
    assert_eq!(wrong.len(), 2);
    for case in &wrong {
        let base = case.name.split_once("rescale_").unwrap().1;
        let (_, _, bad) = common::read_png(&case.files[0]);
        let (max, mean) = common::diff_stats(&ours[base], &bad);
        eprintln!(
            "{} against sdrt: max |diff| {max}, mean {mean:.4}",
            case.name
        );
        assert!(
            max > 2 || mean > 0.15,
            "{}: within the tolerance (max {max}, mean {mean:.4})",
            case.name
        );
    }
}

#[test]
fn a_short_plain_prompt_is_the_same_with_weighting_on() {
    // No brackets and at most 75 tokens: one chunk of diffusers' ids, every weight 1, so the
    // rescale factor is exactly 1 and the image is the unweighted golden's, byte for byte.
    common::init_runtime();
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();
    let p = Pipeline::load(&case.model, &PipelineOptions::default()).unwrap();
    let off = p.generate(&common::image_params(&case), None).unwrap();
    let on = p.generate(&weighted(&case), None).unwrap();
    assert_eq!(on.images, off.images);
    let (_, _, want) = common::read_png(&case.files[0]);
    common::assert_close("basic, weighting on", &on.images[0], &want);
}
