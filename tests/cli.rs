//! The `generate` example against the goldens, and its refusals.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn generate_bin() -> PathBuf {
    let p = common::target_dir()
        .join("examples")
        .join(format!("generate{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} not built (cargo test builds examples)",
        p.display()
    );
    p
}

fn run(args: &[&str]) -> Output {
    Command::new(generate_bin())
        .args(args)
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .output()
        .expect("run generate")
}

#[test]
fn reproduces_the_goldens_through_the_command_line() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for case in common::image_cases() {
        let model = case.model.to_str().unwrap().to_string();
        let scheduler = case.scheduler.clone();
        let out = dir.join(format!("{}.png", case.name));
        let (w, h, steps, g, seed, n) = (
            case.width.to_string(),
            case.height.to_string(),
            case.steps.to_string(),
            case.guidance.to_string(),
            case.seed.to_string(),
            case.count.to_string(),
        );
        let mut args = vec![
            "--model",
            fixture.to_str().unwrap(),
            "--prompt",
            &case.prompt,
            "--width",
            &w,
            "--height",
            &h,
            "--steps",
            &steps,
            "--guidance",
            &g,
            "--seed",
            &seed,
            "--count",
            &n,
            "--rng",
            "numpy",
            "--scheduler",
            "pndm",
            "--provider",
            "cpu",
            "--output",
            out.to_str().unwrap(),
        ];
        let eta = case.eta.to_string();
        if case.eta != 0.0 {
            args.extend(["--eta", eta.as_str()]);
        }
        if let Some(s) = &scheduler {
            args.extend(["--scheduler", s.as_str()]);
        }
        if let Some(neg) = &case.negative_prompt {
            args.extend(["--negative-prompt", neg.as_str()]);
        }
        let o = run(&args);
        assert!(
            o.status.success(),
            "{}: {}",
            case.name,
            String::from_utf8_lossy(&o.stderr)
        );
        let stderr = String::from_utf8_lossy(&o.stderr);
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
            let (gw, gh, got) = common::read_png(&file);
            assert_eq!((gw, gh), (case.width, case.height));
            let (_, _, want) = common::read_png(golden);
            common::assert_close(&format!("cli {} #{i}", case.name), &got, &want);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unbuilt_features_fail_loudly() {
    for args in [
        &["--rng", "torch"][..],
        &["--init-image", "x.png"],
        &["--strength", "0.5"],
        &["--mask", "m.png"],
        &["--eta", "-1", "--steps", "1"],
        &["--prediction-type", "x0"],
        &["--timestep-spacing", "random"],
        &["--scheduler", "no-such"],
        &["--width", "65", "--steps", "1"],
        &["--model", "/nonexistent"],
        &["--provider", "tpu"],
        &["--bogus"],
    ] {
        let o = run(args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("generate:"),
            "{args:?}: no clear message: {err}"
        );
    }
}
