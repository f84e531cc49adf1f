//! The `generate` example against the goldens, and its refusals.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The example binary `cargo test` built; fails clearly when it is missing or stale (a single
/// `cargo test --test cli` does not rebuild examples).
fn generate_bin() -> PathBuf {
    let p = common::target_dir()
        .join("examples")
        .join(format!("generate{}", std::env::consts::EXE_SUFFIX));
    let hint =
        "run the whole `cargo test` (it builds examples) or `cargo build --example generate`";
    let built = std::fs::metadata(&p)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is not built: {hint}", p.display()));
    let newest = ["src", "examples"]
        .iter()
        .flat_map(|d| walk(&common::root().join(d)))
        .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok())
        .max()
        .unwrap();
    assert!(
        built >= newest,
        "{} is older than the sources: {hint}",
        p.display()
    );
    p
}

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
    let out = dir.join(format!("{}.png", case.name));
    let o = run(&args_for(case, &out));
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
fn unbuilt_features_and_bad_values_fail_loudly() {
    for args in [
        &["--init-image", "x.png"][..],
        &["--strength", "0.5"],
        &["--mask", "m.png"],
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
