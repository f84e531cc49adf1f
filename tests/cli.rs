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

fn check_case(case: &common::ImageCase, dir: &Path) {
    check_case_with(case, dir, &[]);
}

fn check_case_with(case: &common::ImageCase, dir: &Path, extra: &[String]) {
    let out = dir.join(format!("{}.png", case.name));
    let mut args = common::generate_args(case, &out);
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
    // The same init image as a JPEG: decoded (lossy) and run; the size comes from the file, and
    // the image is what the library gives for the decoded pixels.
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
        "--seed",
        "7",
        "--prompt",
        "a harbour",
        "--output",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = run(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (w, h, got) = common::read_png(&out);
    assert_eq!((w, h), (96, 64));

    common::init_runtime();
    let decoded = image::open(&jpeg).unwrap().to_rgb8();
    let png_pixels = image::open(&png).unwrap().to_rgb8().into_raw();
    assert_ne!(
        decoded.as_raw(),
        &png_pixels,
        "the JPEG is lossy: a test of its decoding"
    );
    let pipeline = sdrt::Pipeline::load(&common::fixture(), &sdrt::PipelineOptions::default())
        .expect("fixture loads");
    let params = sdrt::GenerateParams {
        prompt: "a harbour".into(),
        init_image: Some(sdrt::RgbImage {
            width: decoded.width() as usize,
            height: decoded.height() as usize,
            data: decoded.into_raw(),
        }),
        strength: 0.5,
        steps: 4,
        seed: 7,
        ..sdrt::GenerateParams::default()
    };
    let want = pipeline.generate(&params, None).unwrap();
    common::assert_close("the JPEG init image's result", &got, &want.images[0]);
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
    // Each refusal: the flags, and the words its message must hold (the field or flag it is
    // about, and the value when there is one).
    let rows: &[(&[&str], &[&str])] = &[
        (&["--init-image", "x.png"], &["--init-image x.png"]),
        (&["--mask", "m.png"], &["--mask m.png"]),
        (&["--mask", mask], &["mask", "init_image"]),
        (
            &["--init-image", init, "--strength", "0"],
            &["strength", "got 0"],
        ),
        (
            &["--init-image", init, "--strength", "1.5"],
            &["strength", "1.5"],
        ),
        (
            &["--init-image", init, "--strength", "0.1", "--steps", "5"],
            &["strength 0.1", "5 steps"],
        ),
        (
            &["--init-image", init, "--width", "128"],
            &["width", "128x64", "init_image", "64x64"],
        ),
        (
            &["--init-image", init, "--mask", mask_wide],
            &["mask", "96x64", "64x64"],
        ),
        (&["--model", inpaint], &["inpainting", "init_image", "mask"]),
        (
            &["--model", inpaint, "--init-image", init],
            &["inpainting", "mask"],
        ),
        (&["--guidance-rescale", "2"], &["guidance_rescale", "got 2"]),
        (&["--preview", "sketch"], &["--preview", "'sketch'"]),
        (
            &["--preview", "taesd", "--steps", "1"],
            &["taesd", "vae_preview/model.onnx"],
        ),
        (&["--scheduler", "no-such"], &["scheduler", "'no-such'"]),
        (&["--rng", "philox"], &["--rng", "'philox'"]),
        (
            &["--width", "65", "--steps", "1"],
            &["width 65", "multiple of 8"],
        ),
        (&["--eta", "-1", "--steps", "1"], &["eta", "-1"]),
        (&["--prediction-type", "x0"], &["prediction_type", "'x0'"]),
        (
            &["--timestep-spacing", "random"],
            &["timestep_spacing", "'random'"],
        ),
        (&["--model", "/nonexistent"], &["/nonexistent"]),
        (&["--provider", "tpu"], &["--provider", "'tpu'"]),
        (&["--device", "tpu"], &["--device", "'tpu'"]),
        (&["--precision", "f64"], &["--precision", "'f64'"]),
        (&["--ep-option", "novalue"], &["--ep-option", "'novalue'"]),
        (
            &[
                "--provider",
                "openvino",
                "--device",
                "auto",
                "--precision",
                "f32",
            ],
            &["precision f32", "auto"],
        ),
        (&["--provider", "plugin"], &["plugin", "ep_name"]),
        (
            &[
                "--list-devices",
                "--provider",
                "openvino",
                "--ep-library",
                "/nonexistent/plugin.so",
            ],
            &["/nonexistent/plugin.so"],
        ),
        (
            &[
                "--provider",
                "openvino",
                "--ep-library",
                "/nonexistent/plugin.so",
                "--strict-provider",
            ],
            &["openvino", "/nonexistent/plugin.so"],
        ),
        (&["--steps"], &["--steps", "needs a value"]),
        (&["--bogus"], &["'--bogus'"]),
    ];
    for (args, words) in rows {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let o = run(&args);
        assert!(!o.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&o.stderr);
        let message = err
            .lines()
            .find(|l| l.starts_with("generate: "))
            .unwrap_or_else(|| panic!("{args:?}: no `generate:` message: {err}"));
        for word in *words {
            assert!(
                message.contains(word),
                "{args:?}: the message does not name {word:?}: {message}"
            );
        }
    }
}

#[test]
fn list_devices_prints_the_providers_devices() {
    let o = run(&["--list-devices".to_string()]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("CPUExecutionProvider cpu (")),
        "{stdout}"
    );
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

/// Runs `generate` with its stderr on a pseudo-terminal; returns its status and what the
/// terminal received.
#[cfg(target_os = "linux")]
fn run_on_a_terminal(args: &[&str]) -> (std::process::ExitStatus, String) {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    // SAFETY: plain libc calls on a descriptor this function owns; ptsname_r writes at most
    // the buffer's length.
    let (master, slave_path) = unsafe {
        let fd = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(fd >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
        assert_eq!(libc::grantpt(fd), 0);
        assert_eq!(libc::unlockpt(fd), 0);
        let mut name = [0 as libc::c_char; 256];
        assert_eq!(libc::ptsname_r(fd, name.as_mut_ptr(), name.len()), 0);
        let path = std::ffi::CStr::from_ptr(name.as_ptr())
            .to_string_lossy()
            .into_owned();
        (std::fs::File::from_raw_fd(fd), path)
    };
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&slave_path)
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut master = master;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Linux answers EIO once every descriptor of the terminal's other side is closed.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    let mut cmd = Command::new(generate_bin());
    cmd.args(args)
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(slave);
    let status = cmd.status().expect("run generate");
    drop(cmd);
    (status, reader.join().unwrap())
}

/// On a terminal, `generate` shows each step with the seconds per step and the time left (as
/// stable-diffusion.cpp's CLI does); piped, it prints no progress line.
#[test]
#[cfg(target_os = "linux")]
fn progress_on_a_terminal_shows_seconds_per_step_and_time_left() {
    let dir = std::env::temp_dir().join(format!("sdrt-cli-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.png");
    let args = ["--steps", "6", "--output", out.to_str().unwrap()];
    let (status, terminal) = run_on_a_terminal(&args);
    assert!(status.success(), "{terminal}");
    // PNDM: steps + 1 = 7 evaluations, each a line redrawn with \r.
    let lines: Vec<&str> = terminal
        .split(['\r', '\n'])
        .filter(|l| l.contains("| step "))
        .collect();
    assert_eq!(lines.len(), 7, "{terminal:?}");
    for (k, line) in lines.iter().enumerate() {
        let step = line
            .split("| step ")
            .nth(1)
            .unwrap_or_else(|| panic!("{line:?}"));
        let (count, rest) = step.split_once(' ').unwrap();
        assert_eq!(count, format!("{}/7", k + 1), "{line:?}");
        let (per_step, left) = rest
            .split_once("s/step, ")
            .unwrap_or_else(|| panic!("no seconds per step: {line:?}"));
        let per_step: f64 = per_step.parse().unwrap_or_else(|_| panic!("{line:?}"));
        assert!(per_step >= 0.0, "{line:?}");
        let left = left
            .strip_suffix(" left\x1b[K")
            .unwrap_or_else(|| panic!("no time left: {line:?}"));
        let left: f64 = left
            .strip_suffix('s')
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("{line:?}"));
        if k == 6 {
            assert_eq!(left, 0.0, "{line:?}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    // Not a terminal: no progress lines (the other tests read stderr through a pipe).
    let o = run(&[
        "--steps".into(),
        "2".into(),
        "--output".into(),
        "/dev/null".into(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("s/step"), "{err}");
}

/// Run directly (not through tools/generate.sh, which sets `SDRT_ORT_LIBRARY`), `generate`
/// finds the checkout's `.ort/`; when ONNX Runtime cannot be loaded, the message says which
/// command fetches it.
#[test]
fn run_directly_it_finds_the_checkouts_ort_or_names_the_fetch_command() {
    let ort = common::root()
        .join(".ort")
        .join(sdrt::runtime::ort_library_name());
    if !ort.exists() {
        // What the message below tells users to run.
        let status = Command::new("bash")
            .arg(common::root().join("tools/fetch_ort.sh"))
            .status()
            .expect("run tools/fetch_ort.sh");
        assert!(status.success(), "tools/fetch_ort.sh failed");
    }
    let dir = std::env::temp_dir().join(format!("sdrt-cli-ort-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let o = Command::new(generate_bin())
        .args(["--steps", "2", "--output"])
        .arg(dir.join("out.png"))
        .env_remove("SDRT_ORT_LIBRARY")
        .env_remove("ORT_DYLIB_PATH")
        .env_remove("LD_LIBRARY_PATH")
        .current_dir(&dir)
        .output()
        .expect("run generate");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("from {}", ort.display())),
        "not the checkout's .ort/: {err}"
    );

    let missing = dir.join("no-such-dir/libonnxruntime.so");
    let o = Command::new(generate_bin())
        .args(["--steps", "2", "--output"])
        .arg(dir.join("out.png"))
        .env("SDRT_ORT_LIBRARY", &missing)
        .current_dir(&dir)
        .output()
        .expect("run generate");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    let message = err
        .lines()
        .skip_while(|l| !l.starts_with("generate: "))
        .collect::<Vec<_>>()
        .join("\n");
    // The library's own message names the path tried; generate's adds where it looks and
    // the commands that put ONNX Runtime there.
    for words in [
        missing.to_str().unwrap(),
        "tools/fetch_ort.sh",
        ".ort/",
        "tools/generate.sh",
    ] {
        assert!(
            message.contains(words),
            "the message lacks {words:?}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
