//! The `generate` example against the goldens, and its refusals.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::generate_bin;

fn run(args: &[String]) -> Output {
    Command::new(generate_bin())
        .args(args)
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .output()
        .expect("run generate")
}

fn args_for(case: &common::ImageCase, out: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--model".into(),
        case.model.display().to_string(),
        "--prompt".into(),
        case.prompt.clone(),
        "--width".into(),
        case.width.to_string(),
        "--height".into(),
        case.height.to_string(),
        "--steps".into(),
        case.steps.to_string(),
        "--guidance".into(),
        case.guidance.to_string(),
        "--seed".into(),
        case.seed.to_string(),
        "--count".into(),
        case.count.to_string(),
        "--rng".into(),
        case.generator.clone(),
        "--provider".into(),
        "cpu".into(),
        "--output".into(),
        out.display().to_string(),
    ];
    if case.eta != 0.0 {
        a.extend(["--eta".into(), case.eta.to_string()]);
    }
    if let Some(s) = &case.scheduler {
        a.extend(["--scheduler".into(), s.clone()]);
    }
    if let Some(neg) = &case.negative_prompt {
        a.extend(["--negative-prompt".into(), neg.clone()]);
    }
    a
}

fn check_case(case: &common::ImageCase, dir: &Path) {
    check_case_with(case, dir, &[]);
}

fn check_case_with(case: &common::ImageCase, dir: &Path, extra: &[String]) {
    let out = dir.join(format!("{}.png", case.name));
    let mut args = args_for(case, &out);
    args.extend(extra.iter().cloned());
    let o = run(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}: {stderr}", case.name);
    assert!(
        stderr.contains("generated"),
        "prints the time taken: {stderr}"
    );
    for (i, golden) in case.files.iter().enumerate() {
        let file = if case.count == 1 {
            out.clone()
        } else {
            dir.join(format!("{}-{i}.png", case.name))
        };
        let (w, h, got) = common::read_png(&file);
        assert_eq!((w, h), (case.width, case.height));
        let (_, _, want) = common::read_png(golden);
        common::assert_close(&format!("cli {} #{i}", case.name), &got, &want);
    }
}

#[test]
fn reproduces_the_goldens_through_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = common::image_cases();
    // Three processes at a time: each loads the model once.
    for chunk in cases.chunks(3) {
        std::thread::scope(|s| {
            for case in chunk {
                let dir = &dir;
                s.spawn(move || check_case(case, dir));
            }
        });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rng_torch_cuda_reproduces_its_goldens_through_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-cuda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = common::read_json(&common::goldens().join("cuda_images.json"));
    let cases = common::image_cases_from(&doc);
    assert!(cases.iter().all(|c| c.generator == "torch-cuda"));
    std::thread::scope(|s| {
        for case in cases.iter().take(3) {
            let dir = &dir;
            s.spawn(move || check_case(case, dir));
        }
    });
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The editing flags of an `edit.json` case.
fn edit_flags(case: &common::EditCase) -> Vec<String> {
    let mut a = Vec::new();
    if let Some(p) = &case.init_image {
        a.extend(["--init-image".into(), p.display().to_string()]);
        a.extend(["--strength".into(), case.strength.to_string()]);
    }
    if let Some(p) = &case.mask {
        a.extend(["--mask".into(), p.display().to_string()]);
    }
    if case.guidance_rescale != 0.0 {
        a.extend([
            "--guidance-rescale".into(),
            case.guidance_rescale.to_string(),
        ]);
    }
    if let Some(t) = &case.timestep_spacing {
        a.extend(["--timestep-spacing".into(), t.clone()]);
    }
    a
}

#[test]
fn reproduces_the_edit_goldens_through_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-edit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases = common::edit_cases();
    assert!(cases.len() >= 30);
    for chunk in cases.chunks(3) {
        std::thread::scope(|s| {
            for case in chunk {
                let dir = &dir;
                s.spawn(move || check_case_with(&case.base, dir, &edit_flags(case)));
            }
        });
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_jpeg_init_image_is_read() {
    // The same init image as a JPEG: decoded (lossy) and run; the size comes from the file.
    let dir = std::env::temp_dir().join(format!("sdrt-cli-jpeg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = common::goldens().join("inputs/init_96x64.png");
    let jpeg = dir.join("init.jpg");
    image::open(&png).unwrap().to_rgb8().save(&jpeg).unwrap();
    let out = dir.join("out.png");
    let args: Vec<String> = [
        "--init-image",
        jpeg.to_str().unwrap(),
        "--strength",
        "0.5",
        "--steps",
        "4",
        "--output",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (w, h, _) = common::read_png(&out);
    assert_eq!((w, h), (96, 64));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn previews_and_cancel_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-prev-{}", std::process::id()));
    let model = common::root().join("tests/fixtures/tiny-sd2-preview");
    for (kind, size) in [("latent_rgb", 8u32), ("taesd", 64), ("full", 64)] {
        let pdir = dir.join(kind);
        let args: Vec<String> = [
            "--model",
            model.to_str().unwrap(),
            "--steps",
            "4",
            "--preview",
            kind,
            "--preview-every",
            "2",
            "--preview-dir",
            pdir.to_str().unwrap(),
            "--output",
            dir.join(format!("{kind}.png")).to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = run(&args);
        assert!(
            o.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        // PNDM runs steps + 1 = 5 evaluations: previews after 2, 4 and the last.
        for step in [2, 4, 5] {
            let (w, h, _) = common::read_png(&pdir.join(format!("step-{step}.png")));
            assert_eq!((w as u32, h as u32), (size, size), "{kind} step {step}");
        }
        assert!(!pdir.join("step-1.png").exists());
    }
    let o = run(&["--steps", "6", "--cancel-after", "2"].map(String::from));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("cancelled"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unbuilt_features_and_bad_values_fail_loudly() {
    let init = common::goldens().join("inputs/init_64.png");
    let init = init.to_str().unwrap();
    let mask = common::goldens().join("inputs/mask_64.png");
    let mask = mask.to_str().unwrap();
    let mask_wide = common::goldens().join("inputs/mask_96x64.png");
    let mask_wide = mask_wide.to_str().unwrap();
    let inpaint = common::root().join("tests/fixtures/tiny-sd2-inpaint");
    let inpaint = inpaint.to_str().unwrap();
    for args in [
        &["--init-image", "x.png"][..],
        &["--mask", "m.png"],
        &["--mask", mask],
        &["--init-image", init, "--strength", "0"],
        &["--init-image", init, "--strength", "1.5"],
        &["--init-image", init, "--strength", "0.1", "--steps", "5"],
        &["--init-image", init, "--width", "128"],
        &["--init-image", init, "--mask", mask_wide],
        &["--model", inpaint],
        &["--model", inpaint, "--init-image", init],
        &["--guidance-rescale", "2"],
        &["--preview", "sketch"],
        &["--preview", "taesd", "--steps", "1"],
        &["--scheduler", "no-such"],
        &["--rng", "philox"],
        &["--width", "65", "--steps", "1"],
        &["--eta", "-1", "--steps", "1"],
        &["--prediction-type", "x0"],
        &["--timestep-spacing", "random"],
        &["--model", "/nonexistent"],
        &["--provider", "tpu"],
        &["--steps"],
        &["--bogus"],
    ] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let o = run(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("generate:"),
            "{args:?}: no clear message: {err}"
        );
    }
}

#[test]
fn low_memory_and_cache_flags_reproduce_the_goldens() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-low-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("cache");
    let case = &common::image_cases()[0];
    let cache_flag = ["--graph-cache".to_string(), cache.display().to_string()];
    // Cold cache, then warm, then off; every run in the low-memory mode.
    for extra in [
        &cache_flag[..],
        &cache_flag[..],
        &["--graph-cache".into(), "off".into()],
    ] {
        let mut extra = extra.to_vec();
        extra.push("--low-memory".into());
        check_case_with(case, &dir, &extra);
    }
    let entries = std::fs::read_dir(&cache).unwrap().count();
    assert_eq!(
        entries,
        3,
        "one cache entry per graph in {}",
        cache.display()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
