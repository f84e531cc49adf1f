//! The Rust engine against optimum's reference images, plus its error paths.

mod common;

use std::sync::Arc;

use sdrt::{ErrorKind, GenerateParams, Pipeline, PipelineOptions, Provider};

fn pipeline() -> Pipeline {
    common::init_runtime();
    Pipeline::load(&common::fixture(), &PipelineOptions::default()).expect("fixture loads")
}

fn params(case: &common::ImageCase) -> GenerateParams {
    common::image_params(case)
}

#[test]
fn reproduces_every_golden_image() {
    common::init_runtime();
    let mut pipelines: std::collections::HashMap<std::path::PathBuf, Pipeline> = Default::default();
    let cases = common::image_cases();
    assert!(cases.len() >= 8);
    for case in &cases {
        let p = pipelines.entry(case.model.clone()).or_insert_with(|| {
            Pipeline::load(&case.model, &PipelineOptions::default()).expect("fixture loads")
        });
        let images = p
            .generate(&params(case), None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!((images.width, images.height), (case.width, case.height));
        assert_eq!(images.images.len(), case.count, "{}", case.name);
        for (i, file) in case.files.iter().enumerate() {
            let (w, h, want) = common::read_png(file);
            assert_eq!((w, h), (case.width, case.height));
            let (max, mean) = common::diff_stats(&images.images[i], &want);
            eprintln!(
                "{} #{i}: max |diff| {max}, mean |diff| {mean:.4}",
                case.name
            );
            common::assert_close(&format!("{} #{i}", case.name), &images.images[i], &want);
        }
    }
}

#[test]
fn guidance_change_is_detected_by_the_tolerance() {
    // The tolerance must catch real mistakes: guidance 7.4 instead of 7.5 has to fail it.
    let p = pipeline();
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();
    let mut wrong = params(&case);
    wrong.guidance = 7.4;
    let got = p.generate(&wrong, None).unwrap();
    let (_, _, want) = common::read_png(&case.files[0]);
    let (max, mean) = common::diff_stats(&got.images[0], &want);
    assert!(
        max > 2 || mean > 0.15,
        "guidance 7.4 passed as 7.5 (max {max}, mean {mean})"
    );
}

#[test]
fn runtime_reports_the_loaded_onnx_runtime() {
    let rt = common::init_runtime();
    // tools/fetch_ort.sh pins 1.31.1; the version comes from ORT's GetVersionString.
    assert_eq!(rt.version(), "1.31.1");
    assert!(rt.has_provider("CPUExecutionProvider"));
    assert!(rt.library_path().exists());
}

#[test]
fn info_reports_the_fixture() {
    let p = pipeline();
    let info = p.info();
    assert_eq!((info.native_width, info.native_height), (64, 64));
    assert_eq!(info.prediction_type, sdrt::PredictionType::Epsilon);
    assert_eq!(info.default_scheduler_class, "PNDMScheduler");
    assert_eq!(info.default_scheduler, Some(sdrt::SchedulerKind::Pndm));
    assert_eq!(info.provider, Provider::Cpu);
}

#[test]
fn bad_input_is_an_error_not_a_crash() {
    let p = pipeline();
    let base = GenerateParams {
        prompt: "x".into(),
        steps: 2,
        ..GenerateParams::default()
    };
    let cases: Vec<(&str, GenerateParams, ErrorKind)> = vec![
        (
            "width 65",
            GenerateParams {
                width: 65,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "height 60",
            GenerateParams {
                height: 60,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "huge width",
            GenerateParams {
                width: 1 << 20,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "steps 0",
            GenerateParams {
                steps: 0,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "steps 1001",
            GenerateParams {
                steps: 1001,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "count 0",
            GenerateParams {
                count: 0,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "count 65",
            GenerateParams {
                count: 65,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "nan guidance",
            GenerateParams {
                guidance: f32::NAN,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "64-bit seed",
            GenerateParams {
                seed: 1 << 32,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
        (
            "negative eta",
            GenerateParams {
                eta: -0.5,
                ..base.clone()
            },
            ErrorKind::InvalidArgument,
        ),
    ];
    for (name, params, kind) in cases {
        let err = p.generate(&params, None).expect_err(name);
        assert_eq!(err.kind(), kind, "{name}: {err}");
        assert!(!err.message().is_empty());
    }
}

#[test]
fn missing_or_broken_model_folders_are_errors() {
    common::init_runtime();
    let err = Pipeline::load(
        std::path::Path::new("/nonexistent/model"),
        &PipelineOptions::default(),
    )
    .err()
    .unwrap();
    assert_eq!(err.kind(), ErrorKind::ModelNotFound);
    assert!(err.message().contains("/nonexistent/model"));

    // A folder with the configs but an empty unet graph.
    let dir = std::env::temp_dir().join(format!("sdrt-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&common::fixture(), &dir);
    std::fs::write(dir.join("unet/model.onnx"), b"not an onnx file").unwrap();
    let err = Pipeline::load(&dir, &PipelineOptions::default())
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::ModelInvalid, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn missing_providers_fall_back_or_fail_in_strict_mode() {
    common::init_runtime();
    for provider in [Provider::CoreMl, Provider::Cuda] {
        let opts = PipelineOptions {
            provider,
            ..PipelineOptions::default()
        };
        let p = Pipeline::load(&common::fixture(), &opts).expect("falls back");
        assert_eq!(p.info().provider, Provider::Cpu);

        let strict = PipelineOptions {
            provider,
            strict_provider: true,
            ..PipelineOptions::default()
        };
        let err = Pipeline::load(&common::fixture(), &strict).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::ProviderUnavailable);
        assert!(err.message().contains(provider.name()), "{err}");
    }
}

#[test]
fn coreml_options_are_accepted_and_fall_back_on_linux() {
    common::init_runtime();
    let opts = PipelineOptions {
        provider: Provider::CoreMl,
        coreml: sdrt::runtime::CoreMlOptions {
            compute_units: sdrt::runtime::CoreMlComputeUnits::CpuAndNeuralEngine,
            ml_program: true,
            cache_dir: Some(std::env::temp_dir()),
            static_shapes: true,
        },
        static_width: 64,
        static_height: 64,
        static_count: 1,
        ..PipelineOptions::default()
    };
    let p = Pipeline::load(&common::fixture(), &opts).unwrap();
    assert_eq!(p.info().provider, Provider::Cpu);
    // Static shapes only apply where CoreML really runs, so other sizes still work here.
    let img = p
        .generate(
            &GenerateParams {
                prompt: "x".into(),
                width: 96,
                steps: 1,
                ..GenerateParams::default()
            },
            None,
        )
        .unwrap();
    assert_eq!(img.width, 96);
}

#[test]
fn progress_callback_sees_every_step_and_can_cancel() {
    let p = pipeline();
    let mut seen = Vec::new();
    let params = GenerateParams {
        prompt: "x".into(),
        steps: 4,
        ..GenerateParams::default()
    };
    p.generate(
        &params,
        Some(&mut |step, total| {
            seen.push((step, total));
            true
        }),
    )
    .unwrap();
    // PNDM with skip_prk_steps evaluates the UNet steps + 1 times.
    assert_eq!(seen, vec![(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]);

    let err = p
        .generate(&params, Some(&mut |step, _| step < 2))
        .expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    // The pipeline is usable afterwards.
    p.generate(&params, None).unwrap();
}

#[test]
fn cancel_from_another_thread_stops_a_generation() {
    let p = Arc::new(pipeline());
    let params = GenerateParams {
        prompt: "x".into(),
        steps: 200,
        ..GenerateParams::default()
    };
    let p2 = Arc::clone(&p);
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        p2.generate(
            &params,
            Some(&mut |step, _| {
                if step == 1 {
                    tx.send(()).unwrap();
                }
                true
            }),
        )
    });
    rx.recv().unwrap();
    p.cancel();
    let err = worker.join().unwrap().expect_err("cancelled");
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    // A later call is not affected by the earlier cancel.
    let ok = p.generate(
        &GenerateParams {
            prompt: "x".into(),
            steps: 1,
            ..GenerateParams::default()
        },
        None,
    );
    assert!(ok.is_ok());
}

#[test]
fn concurrent_generates_on_one_pipeline_match_sequential_ones() {
    let p = Arc::new(pipeline());
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "basic")
        .unwrap();
    let (_, _, want) = common::read_png(&case.files[0]);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let p = Arc::clone(&p);
            let params = params(&case);
            std::thread::spawn(move || p.generate(&params, None).unwrap())
        })
        .collect();
    for t in threads {
        let got = t.join().unwrap();
        common::assert_close("concurrent basic", &got.images[0], &want);
    }
}

/// A temporary copy of the fixture with one file replaced.
fn fixture_with(tag: &str, file: &str, contents: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sdrt-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&common::fixture(), &dir);
    std::fs::write(dir.join(file), contents).unwrap();
    dir
}

#[test]
fn broken_configs_are_errors_not_panics() {
    common::init_runtime();
    let sched = "scheduler/scheduler_config.json";
    let cases: Vec<(&str, &str, String)> = vec![
        ("sched-array", sched, "[]".into()),
        ("sched-json", sched, "{not json".into()),
        (
            "sched-steps-type",
            sched,
            r#"{"_class_name": "PNDMScheduler", "num_train_timesteps": "many"}"#.into(),
        ),
        (
            "sched-steps-1",
            sched,
            r#"{"_class_name": "PNDMScheduler", "num_train_timesteps": 1}"#.into(),
        ),
        (
            "sched-prediction",
            sched,
            r#"{"_class_name": "PNDMScheduler", "prediction_type": "x0"}"#.into(),
        ),
        (
            "sched-spacing",
            sched,
            r#"{"_class_name": "PNDMScheduler", "timestep_spacing": 3}"#.into(),
        ),
        (
            "unet-sample-size",
            "unet/config.json",
            r#"{"sample_size": 0}"#.into(),
        ),
        (
            "vae-scale",
            "vae_decoder/config.json",
            r#"{"scaling_factor": -1}"#.into(),
        ),
        (
            "vae-blocks",
            "vae_decoder/config.json",
            r#"{"block_out_channels": []}"#.into(),
        ),
        ("vocab", "tokenizer/vocab.json", r#"{"a": 0"#.into()),
        (
            "merges",
            "tokenizer/merges.txt",
            "#version: 0.2\nzz</w> qq\n".into(),
        ),
        (
            "tok-config",
            "tokenizer/tokenizer_config.json",
            "nope".into(),
        ),
    ];
    for (tag, file, contents) in cases {
        let dir = fixture_with(tag, file, &contents);
        match Pipeline::load(&dir, &PipelineOptions::default()) {
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::ModelInvalid | ErrorKind::ModelNotFound),
                "{tag}: {e}"
            ),
            Ok(p) => {
                // Loading may succeed when the damage only shows at generation time.
                let r = p.generate(
                    &GenerateParams {
                        prompt: "x".into(),
                        steps: 2,
                        ..GenerateParams::default()
                    },
                    None,
                );
                assert!(r.is_err(), "{tag}: a broken {file} went unnoticed");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Schedule keys that are wrong for one scheduler surface when it is built.
    let dir = fixture_with(
        "sched-betas",
        sched,
        r#"{"_class_name": "PNDMScheduler", "beta_schedule": "sigmoid", "trained_betas": null}"#,
    );
    let p = Pipeline::load(&dir, &PipelineOptions::default()).unwrap();
    for kind in sdrt::SchedulerKind::ALL {
        let err = p
            .generate(
                &GenerateParams {
                    prompt: "x".into(),
                    steps: 2,
                    scheduler: Some(kind),
                    ..GenerateParams::default()
                },
                None,
            )
            .expect_err(kind.name());
        assert!(
            matches!(err.kind(), ErrorKind::ModelInvalid | ErrorKind::Unsupported),
            "{}: {err}",
            kind.name()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
