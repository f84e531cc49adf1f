//! SDXL against optimum's SDXL pipelines (`tests/goldens/sdxl.json`, made by
//! `tools/make_sdxl_goldens.py` on the `tools/make_tiny_sdxl.py` fixtures): base, Turbo, the
//! refiner and its hand-off, img2img, inpainting of both kinds; and the tolerance's
//! sensitivity to the mistakes an SDXL implementation makes (`sdxl_sensitivity.json`).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

use sdrt::{GenerateParams, Latents, MicroConditioning, Pipeline, PipelineOptions};

fn cases() -> Vec<Value> {
    let v = common::read_json(&common::goldens().join("sdxl.json"));
    v.as_array().expect("a list of cases").clone()
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v[k].as_str().map(str::to_string)
}

/// A diffusers `(height, width)` pair as `(width, height)`; a `(top, left)` crop as `(x, y)`.
fn swapped(v: &Value, k: &str) -> Option<(usize, usize)> {
    let a = v[k].as_array()?;
    Some((a[1].as_u64()? as usize, a[0].as_u64()? as usize))
}

fn bits(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
        .collect()
}

fn model(c: &Value) -> PathBuf {
    common::root()
        .join("tests/fixtures")
        .join(c["model"].as_str().unwrap())
}

/// The engine params of a case; `latents`: the hand-off's input.
fn params(c: &Value, latents: Option<Latents>) -> GenerateParams {
    let d = GenerateParams::default();
    let micro = MicroConditioning {
        original_size: swapped(c, "original_size"),
        crop: swapped(c, "crops_coords_top_left").unwrap_or((0, 0)),
        target_size: swapped(c, "target_size"),
        negative_original_size: swapped(c, "negative_original_size"),
        negative_crop: swapped(c, "negative_crops_coords_top_left").unwrap_or((0, 0)),
        negative_target_size: swapped(c, "negative_target_size"),
        aesthetic_score: c["aesthetic_score"].as_f64().map_or(6.0, |x| x as f32),
        negative_aesthetic_score: c["negative_aesthetic_score"]
            .as_f64()
            .map_or(2.5, |x| x as f32),
    };
    let png = |k: &str| str_of(c, k).map(|f| common::goldens().join(f));
    GenerateParams {
        prompt: str_of(c, "prompt").unwrap_or_default(),
        prompt_2: str_of(c, "prompt_2"),
        negative_prompt: str_of(c, "negative_prompt"),
        negative_prompt_2: str_of(c, "negative_prompt_2"),
        width: c["width"].as_u64().unwrap() as usize,
        height: c["height"].as_u64().unwrap() as usize,
        steps: c["steps"].as_u64().unwrap() as usize,
        guidance: c["guidance"].as_f64().unwrap() as f32,
        seed: c["seed"].as_u64().unwrap(),
        count: c["count"].as_u64().unwrap() as usize,
        generator: sdrt::Generator::parse(c["generator"].as_str().unwrap()).unwrap(),
        scheduler: str_of(c, "scheduler").map(|s| sdrt::SchedulerKind::parse(&s).unwrap()),
        timestep_spacing: c["scheduler_overrides"]["timestep_spacing"]
            .as_str()
            .map(|s| sdrt::scheduler::TimestepSpacing::parse(s).unwrap()),
        eta: c["eta"].as_f64().unwrap_or(0.0) as f32,
        strength: c["strength"].as_f64().map_or(d.strength, |x| x as f32),
        denoising_start: c["denoising_start"].as_f64().map(|x| x as f32),
        denoising_end: c["denoising_end"].as_f64().map(|x| x as f32),
        output_latents: c["output_type"].as_str() == Some("latent"),
        init_image: png("init_image").map(|p| {
            let (width, height, data) = common::read_png(&p);
            sdrt::RgbImage {
                width,
                height,
                data,
            }
        }),
        mask: png("mask").map(|p| {
            let (width, height, data) = common::read_gray_png(&p);
            sdrt::GrayImage {
                width,
                height,
                data,
            }
        }),
        latents,
        micro,
        ..d
    }
}

/// A golden's latents (`output_type="latent"`) as the refiner takes them.
fn golden_latents(c: &Value) -> Latents {
    let l = &c["latents"];
    let shape: Vec<usize> = l["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    Latents {
        family: "sdxl".into(),
        shape: [shape[0], shape[1], shape[2], shape[3]],
        data: bits(&l["bits"]),
    }
}

#[test]
fn reproduces_every_sdxl_golden() {
    common::init_runtime();
    let cases = cases();
    let by_name: HashMap<&str, &Value> = cases
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c))
        .collect();
    for mode in ["txt2img", "img2img", "inpaint"] {
        assert!(cases.iter().any(|c| c["mode"] == mode), "no {mode} case");
    }
    let mut pipelines: HashMap<PathBuf, Pipeline> = HashMap::new();
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let latents = str_of(c, "image_latents_from").map(|from| golden_latents(by_name[&*from]));
        let p = pipelines.entry(model(c)).or_insert_with_key(|m| {
            Pipeline::load(m, &PipelineOptions::default()).expect("fixture loads")
        });
        let got = match p.generate(&params(c, latents), None) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        if c["output_type"].as_str() == Some("latent") {
            let want = golden_latents(c);
            let l = got.latents.expect("latents returned");
            assert_eq!(l.shape, want.shape, "{name}");
            let scale = want.data.iter().fold(0f32, |m, x| m.max(x.abs()));
            let max = l
                .data
                .iter()
                .zip(&want.data)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            eprintln!("{name}: latents max |diff| {max:.2e} (largest value {scale:.2})");
            if max > 1e-3 * scale.max(1.0) {
                failures.push(format!("{name}: latents max |diff| {max}"));
            }
            continue;
        }
        let files = c["files"].as_array().unwrap();
        assert_eq!(got.images.len(), files.len(), "{name}");
        for (i, f) in files.iter().enumerate() {
            let (w, h, want) = common::read_png(&common::goldens().join(f.as_str().unwrap()));
            assert_eq!((w, h), (got.width, got.height), "{name}");
            let (max, mean) = common::diff_stats(&got.images[i], &want);
            eprintln!("{name} #{i}: max |diff| {max}, mean |diff| {mean:.4}");
            if !(max <= 2 && mean <= 0.15) {
                failures.push(format!("{name} #{i}: max {max}, mean {mean:.4}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The image tolerance (max |diff| <= 2, mean <= 0.15 in 0..255) tells the right SDXL image
/// from what optimum gives under each typical mistake: swapped pad tokens, `time_ids` as
/// (w, h), SD's VAE scale, "" encoded instead of zeros.
#[test]
fn the_tolerance_catches_typical_sdxl_mistakes() {
    common::init_runtime();
    let wrong = common::read_json(&common::goldens().join("sdxl_sensitivity.json"));
    let wrong = wrong.as_array().unwrap();
    let mistakes: Vec<&str> = wrong.iter().map(|w| w["name"].as_str().unwrap()).collect();
    for m in [
        "swapped_pad_tokens",
        "time_ids_wh",
        "vae_scale_sd",
        "empty_string_not_zeros",
    ] {
        assert!(mistakes.contains(&m), "no {m} row in {mistakes:?}");
    }
    let cases = cases();
    let mut pipelines: HashMap<PathBuf, Pipeline> = HashMap::new();
    for w in wrong {
        let golden = w["golden"].as_str().unwrap();
        let c = cases.iter().find(|c| c["name"] == golden).unwrap();
        let p = pipelines.entry(model(c)).or_insert_with_key(|m| {
            Pipeline::load(m, &PipelineOptions::default()).expect("fixture loads")
        });
        let got = p.generate(&params(c, None), None).unwrap();
        let right = common::goldens().join(w["golden_files"][0].as_str().unwrap());
        let bad = common::goldens().join(w["files"][0].as_str().unwrap());
        let (max, mean) = common::diff_stats(&got.images[0], &common::read_png(&right).2);
        assert!(max <= 2 && mean <= 0.15, "{golden}: max {max}, mean {mean}");
        let (max, mean) = common::diff_stats(&got.images[0], &common::read_png(&bad).2);
        eprintln!("{}: max |diff| {max}, mean |diff| {mean:.4}", w["name"]);
        assert!(
            max > 2 || mean > 0.15,
            "{}: the tolerance does not tell it apart (max {max}, mean {mean})",
            w["name"]
        );
    }
}

/// A copy of the fixture `name` made of symlinks to its top-level entries, `without` some and
/// with `replace`d ones linked to other fixtures' folders.
fn linked_copy(name: &str, without: &[&str], replace: &[(&str, &str)]) -> PathBuf {
    let from = common::root().join("tests/fixtures").join(name);
    let to = std::env::temp_dir().join(format!(
        "sdrt-sdxl-{}-{name}-{}",
        std::process::id(),
        without.join("-") + &replace.iter().map(|r| r.0).collect::<String>()
    ));
    let _ = std::fs::remove_dir_all(&to);
    std::fs::create_dir_all(&to).unwrap();
    for e in std::fs::read_dir(&from).unwrap() {
        let e = e.unwrap();
        let n = e.file_name().into_string().unwrap();
        if without.contains(&n.as_str()) {
            continue;
        }
        let target = match replace.iter().find(|r| r.0 == n) {
            Some((_, other)) => common::root().join("tests/fixtures").join(other).join(&n),
            None => e.path(),
        };
        std::os::unix::fs::symlink(target.canonicalize().unwrap(), to.join(&n)).unwrap();
    }
    to
}

fn load_err(dir: &std::path::Path) -> sdrt::Error {
    match Pipeline::load(dir, &PipelineOptions::default()) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e,
    }
}

/// Folders that cannot be SDXL pipelines fail at create, naming the file.
#[test]
fn faulty_sdxl_folders_fail_at_create() {
    common::init_runtime();
    let e = load_err(&linked_copy("tiny-sdxl", &["tokenizer_2"], &[]));
    assert_eq!(e.kind(), sdrt::ErrorKind::ModelNotFound, "{e}");
    assert!(e.to_string().contains("tokenizer_2"), "{e}");
    let e = load_err(&linked_copy("tiny-sdxl", &["tokenizer"], &[]));
    assert_eq!(e.kind(), sdrt::ErrorKind::ModelNotFound, "{e}");
    assert!(e.to_string().contains("tokenizer"), "{e}");
    // The refiner's UNet attends to the second encoder alone: both encoders' hidden sizes do
    // not add up to its cross-attention width.
    let e = load_err(&linked_copy(
        "tiny-sdxl",
        &[],
        &[("unet", "tiny-sdxl-refiner")],
    ));
    assert_eq!(e.kind(), sdrt::ErrorKind::ModelInvalid, "{e}");
    let m = e.to_string();
    assert!(m.contains("unet/model.onnx") && m.contains("add up"), "{m}");
}

/// Requests an SDXL pipeline cannot run are refused before any graph runs, naming the field.
#[test]
fn bad_sdxl_requests_are_refused_naming_the_field() {
    common::init_runtime();
    let base = Pipeline::load(
        &common::root().join("tests/fixtures/tiny-sdxl"),
        &PipelineOptions::default(),
    )
    .unwrap();
    let refiner = Pipeline::load(
        &common::root().join("tests/fixtures/tiny-sdxl-refiner"),
        &PipelineOptions::default(),
    )
    .unwrap();
    let ok = GenerateParams {
        prompt: "a horse".into(),
        steps: 4,
        width: 64,
        height: 64,
        ..GenerateParams::default()
    };
    let latents = |family: &str, shape: [usize; 4]| Latents {
        family: family.into(),
        shape,
        data: vec![0.5; shape.iter().product()],
    };
    let cases: Vec<(&Pipeline, GenerateParams, &str)> = vec![
        (&refiner, ok.clone(), "refiner"),
        (
            &base,
            GenerateParams {
                micro: MicroConditioning {
                    crop: (64, 0),
                    ..MicroConditioning::default()
                },
                ..ok.clone()
            },
            "crop",
        ),
        (
            &base,
            GenerateParams {
                micro: MicroConditioning {
                    original_size: Some((32, 32)),
                    crop: (0, 40),
                    ..MicroConditioning::default()
                },
                ..ok.clone()
            },
            "crop",
        ),
        (
            &refiner,
            GenerateParams {
                latents: Some(latents("sdxl", [1, 4, 8, 8])),
                denoising_start: Some(0.8),
                denoising_end: Some(0.8),
                ..ok.clone()
            },
            "denoising_start",
        ),
        (
            &refiner,
            GenerateParams {
                latents: Some(latents("sdxl", [1, 4, 8, 8])),
                denoising_start: Some(1.0),
                ..ok.clone()
            },
            "denoising_start",
        ),
        (
            &refiner,
            GenerateParams {
                latents: Some(latents("sd", [1, 4, 8, 8])),
                denoising_start: Some(0.8),
                ..ok.clone()
            },
            "latents",
        ),
        (
            &refiner,
            GenerateParams {
                latents: Some(latents("sdxl", [1, 3, 8, 8])),
                ..ok.clone()
            },
            "latents",
        ),
        (
            &refiner,
            GenerateParams {
                latents: Some(Latents {
                    data: vec![0.0; 10],
                    ..latents("sdxl", [1, 4, 8, 8])
                }),
                ..ok.clone()
            },
            "latents",
        ),
        (
            &base,
            GenerateParams {
                denoising_start: Some(0.5),
                ..ok.clone()
            },
            "denoising_start",
        ),
    ];
    for (p, params, field) in cases {
        let e = p.generate(&params, None).expect_err(field);
        assert_eq!(e.kind(), sdrt::ErrorKind::InvalidArgument, "{field}: {e}");
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    // SD models take none of SDXL's fields.
    let sd = Pipeline::load(&common::fixture(), &PipelineOptions::default()).unwrap();
    let e = sd
        .generate(
            &GenerateParams {
                prompt_2: Some("x".into()),
                ..ok.clone()
            },
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("prompt_2: only SDXL"), "{e}");
    // And SDXL latents do not go into an SD model.
    let e = sd
        .generate(
            &GenerateParams {
                latents: Some(latents("sdxl", [1, 4, 8, 8])),
                ..ok
            },
            None,
        )
        .unwrap_err();
    assert!(e.to_string().contains("latents"), "{e}");
}

/// `generate`'s flags for a case (sizes and crops as the flags take them: WxH, X,Y).
fn cli_args(c: &Value, out: &std::path::Path) -> Vec<String> {
    let p = params(c, None);
    let mut a: Vec<String> = vec![
        "--model".into(),
        model(c).display().to_string(),
        "--prompt".into(),
        p.prompt.clone(),
        "--width".into(),
        p.width.to_string(),
        "--height".into(),
        p.height.to_string(),
        "--steps".into(),
        p.steps.to_string(),
        "--guidance".into(),
        p.guidance.to_string(),
        "--seed".into(),
        p.seed.to_string(),
        "--count".into(),
        p.count.to_string(),
        "--rng".into(),
        c["generator"].as_str().unwrap().into(),
        "--provider".into(),
        "cpu".into(),
        "--output".into(),
        out.display().to_string(),
    ];
    let mut opt = |flag: &str, v: Option<String>| {
        if let Some(v) = v {
            a.extend([flag.to_string(), v]);
        }
    };
    let wxh = |s: Option<(usize, usize)>| s.map(|(w, h)| format!("{w}x{h}"));
    let xy = |s: (usize, usize)| (s != (0, 0)).then(|| format!("{},{}", s.0, s.1));
    opt("--prompt-2", p.prompt_2.clone());
    opt("--negative-prompt", p.negative_prompt.clone());
    opt("--negative-prompt-2", p.negative_prompt_2.clone());
    opt("--scheduler", str_of(c, "scheduler"));
    opt(
        "--timestep-spacing",
        str_of(&c["scheduler_overrides"], "timestep_spacing"),
    );
    opt("--original-size", wxh(p.micro.original_size));
    opt("--crop", xy(p.micro.crop));
    opt("--target-size", wxh(p.micro.target_size));
    opt(
        "--negative-original-size",
        wxh(p.micro.negative_original_size),
    );
    opt("--negative-crop", xy(p.micro.negative_crop));
    opt("--negative-target-size", wxh(p.micro.negative_target_size));
    opt(
        "--aesthetic-score",
        c["aesthetic_score"].as_f64().map(|x| x.to_string()),
    );
    opt(
        "--negative-aesthetic-score",
        c["negative_aesthetic_score"]
            .as_f64()
            .map(|x| x.to_string()),
    );
    let golden_file =
        |k: &str| str_of(c, k).map(|f| common::goldens().join(f).display().to_string());
    opt("--init-image", golden_file("init_image"));
    opt("--mask", golden_file("mask"));
    if c["strength"].is_f64() {
        opt("--strength", Some(p.strength.to_string()));
    }
    a
}

/// Every SDXL golden image through `generate`; the hand-off as `--refiner`.
#[test]
fn reproduces_the_sdxl_goldens_through_the_command_line() {
    let cases = cases();
    let dir = common::target_dir().join("sdxl-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        if c["output_type"].as_str() == Some("latent") {
            continue; // The hand-off's first half: its refiner row runs both.
        }
        let out = dir.join(format!("{name}.png"));
        let mut args;
        if let Some(from) = str_of(c, "image_latents_from") {
            // The base (its row) then the refiner (this row's model), one command. Euler
            // draws nothing in the refiner's steps, so its own seed does not matter.
            let base = cases.iter().find(|b| b["name"] == from.as_str()).unwrap();
            args = cli_args(base, &out);
            args.extend([
                "--refiner".into(),
                model(c).display().to_string(),
                "--denoising-end".into(),
                base["denoising_end"].as_f64().unwrap().to_string(),
            ]);
        } else {
            args = cli_args(c, &out);
        }
        let o = std::process::Command::new(common::generate_bin())
            .args(&args)
            .env("SDRT_ORT_LIBRARY", common::ort_library())
            .output()
            .unwrap();
        if !o.status.success() {
            failures.push(format!("{name}: {}", String::from_utf8_lossy(&o.stderr)));
            continue;
        }
        let files = c["files"].as_array().unwrap();
        for (i, f) in files.iter().enumerate() {
            let got = if files.len() == 1 {
                out.clone()
            } else {
                dir.join(format!("{name}-{i}.png"))
            };
            let (_, _, got) = common::read_png(&got);
            let (_, _, want) = common::read_png(&common::goldens().join(f.as_str().unwrap()));
            let (max, mean) = common::diff_stats(&got, &want);
            if !(max <= 2 && mean <= 0.15) {
                failures.push(format!("{name} #{i}: max {max}, mean {mean:.4}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
