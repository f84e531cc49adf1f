//! ControlNets (SD 2 and SDXL) against `tests/goldens/controlnet.json`, written by
//! `tools/make_controlnet_goldens.py`: diffusers' ControlNet pipelines with the fixtures' ONNX
//! graphs. The images at the project's tolerance through the Rust API, `generate` and the C
//! example; the tolerance's sensitivity to typical mistakes; the refusals.

mod common;

use std::path::PathBuf;

use std::ffi::{CStr, CString};

use common::cbuild::{assert_success, build_dir, compile, program, text, Lang};
use sdrt::{ControlNet, ErrorKind, GenerateParams, Pipeline, PipelineOptions, RgbImage};

fn goldens() -> serde_json::Value {
    common::read_json(&common::goldens().join("controlnet.json"))
}

fn fixture(name: &str) -> PathBuf {
    common::root().join("tests/fixtures").join(name)
}

fn rgb(path: &std::path::Path) -> RgbImage {
    let (width, height, data) = common::read_png(path);
    RgbImage {
        width,
        height,
        data,
    }
}

/// A case of controlnet.json: its image params and ControlNets.
struct Case {
    base: common::ImageCase,
    nets: Vec<ControlNet>,
    raw: serde_json::Value,
}

fn cases(key: &str) -> Vec<Case> {
    let g = goldens();
    let images = common::image_cases_from(&g[key]);
    images
        .into_iter()
        .zip(g[key].as_array().unwrap().iter().cloned())
        .map(|(base, raw)| {
            let guess = raw["guess_mode"].as_bool().unwrap();
            let nets = raw["controlnets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| ControlNet {
                    scale: c["scale"].as_f64().unwrap() as f32,
                    start: c["start"].as_f64().unwrap() as f32,
                    end: c["end"].as_f64().unwrap() as f32,
                    guess_mode: guess,
                    ..ControlNet::new(
                        c["name"].as_str().unwrap(),
                        rgb(&common::goldens().join(c["image"].as_str().unwrap())),
                    )
                })
                .collect();
            Case { base, nets, raw }
        })
        .collect()
}

fn params(c: &Case) -> GenerateParams {
    GenerateParams {
        controlnets: c.nets.clone(),
        ..common::image_params(&c.base)
    }
}

fn load(model: &std::path::Path) -> Pipeline {
    common::init_runtime();
    Pipeline::load(model, &PipelineOptions::default()).unwrap()
}

#[test]
fn reproduces_the_controlnet_goldens() {
    let cases = cases("images");
    assert!(cases.len() >= 10);
    let mut pipes = std::collections::HashMap::new();
    for case in &cases {
        let p = pipes
            .entry(case.base.model.clone())
            .or_insert_with(|| load(&case.base.model));
        let images = p
            .generate(&params(case), None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.base.name));
        assert_eq!(images.images.len(), case.base.files.len());
        for (got, file) in images.images.iter().zip(&case.base.files) {
            let (_, _, want) = common::read_png(file);
            let (max, mean) = common::diff_stats(got, &want);
            eprintln!(
                "{}: max |diff| {max}, mean {mean:.4} (torch vs ONNX reference: {}, {})",
                case.base.name, case.raw["torch_vs_onnx_max"], case.raw["torch_vs_onnx_mean"]
            );
            common::assert_close(&case.base.name, got, &want);
        }
    }
}

fn find<'a>(cases: &'a [Case], name: &str) -> &'a Case {
    cases.iter().find(|c| c.base.name == name).unwrap()
}

#[test]
fn the_tolerance_catches_a_wrong_scale_a_missed_residual_guess_mode_off_and_ignored_start_end() {
    let good = cases("images");
    let wrong = cases("wrong");
    assert_eq!(wrong.len(), 8);
    let mut pipes = std::collections::HashMap::new();
    for w in &wrong {
        let of = find(&good, w.raw["of"].as_str().unwrap());
        let p = pipes
            .entry(of.base.model.clone())
            .or_insert_with(|| load(&of.base.model));
        let ours = p.generate(&params(of), None).unwrap();
        let (_, _, bad) = common::read_png(&w.base.files[0]);
        let (max, mean) = common::diff_stats(&ours.images[0], &bad);
        eprintln!(
            "{} against sdrt: max |diff| {max}, mean {mean:.4}",
            w.base.name
        );
        assert!(
            max > 2 || mean > 0.15,
            "{}: the wrong variant is within the tolerance (max {max}, mean {mean:.4})",
            w.base.name
        );
    }
}

#[test]
fn without_a_controlnet_the_residual_unet_gives_the_plain_models_images() {
    for (plain, cn) in [
        ("tiny-sd2", "tiny-sd2-controlnet"),
        ("tiny-sdxl", "tiny-sdxl-controlnet"),
    ] {
        let params = GenerateParams {
            prompt: "a red cube on a wooden table".into(),
            width: 64,
            height: 64,
            steps: 4,
            seed: 5,
            ..GenerateParams::default()
        };
        let a = load(&fixture(plain)).generate(&params, None).unwrap();
        let b = load(&fixture(cn)).generate(&params, None).unwrap();
        assert_eq!(
            a.images, b.images,
            "{cn} without a ControlNet differs from {plain}"
        );
        assert_eq!(b.timings.controlnet, std::time::Duration::ZERO);
    }
}

#[test]
fn the_guess_mode_ramp_is_torch_logspace_within_two_ulps() {
    let g = goldens();
    for (n, bits) in g["guess_ramp"].as_object().unwrap() {
        let n: usize = n.parse().unwrap();
        let ours = sdrt::pipeline::guess_ramp(n);
        for (k, (o, b)) in ours.iter().zip(bits.as_array().unwrap()).enumerate() {
            let t = b.as_u64().unwrap() as i64;
            let d = (o.to_bits() as i64 - t).abs();
            assert!(
                d <= 2,
                "logspace(-1, 0, {n})[{k}]: {o} is {d} ulps from torch's"
            );
        }
    }
}

#[test]
fn a_controlnet_is_selected_by_name_or_path_and_loaded_on_first_use() {
    let all = cases("images");
    let case = find(&all, "sd2_canny");
    let p = load(&case.base.model);
    let plain = p
        .generate(
            &GenerateParams {
                controlnets: Vec::new(),
                ..params(case)
            },
            None,
        )
        .unwrap();
    assert_eq!(plain.timings.controlnet, std::time::Duration::ZERO);
    let by_path = GenerateParams {
        controlnets: vec![ControlNet {
            model: case
                .base
                .model
                .join("controlnet/canny")
                .display()
                .to_string(),
            ..case.nets[0].clone()
        }],
        ..params(case)
    };
    let first = p.generate(&by_path, None).unwrap();
    assert!(first.timings.controlnet > std::time::Duration::ZERO);
    let (_, _, want) = common::read_png(&case.base.files[0]);
    common::assert_close("by path", &first.images[0], &want);
    // By name: the same graph (loaded once, kept by the pipeline), the same image.
    let second = p.generate(&params(case), None).unwrap();
    assert_eq!(second.images, first.images);
}

#[test]
fn bad_controlnet_requests_are_refused_naming_the_field() {
    let all = cases("images");
    let case = find(&all, "sd2_canny");
    let p = load(&case.base.model);
    let net = case.nets[0].clone();
    let with = |c: ControlNet| GenerateParams {
        controlnets: vec![c],
        ..params(case)
    };
    let small = RgbImage {
        width: 32,
        height: 32,
        data: vec![0; 32 * 32 * 3],
    };
    let short = RgbImage {
        data: vec![0; 10],
        ..net.image.clone()
    };
    let empty = RgbImage {
        width: 0,
        height: 0,
        data: Vec::new(),
    };
    let bad: Vec<(ControlNet, ErrorKind, &str)> = vec![
        (
            ControlNet::new("nosuch", net.image.clone()),
            ErrorKind::ModelNotFound,
            "controlnets[0].model",
        ),
        (
            ControlNet::new("/no/such/dir", net.image.clone()),
            ErrorKind::ModelNotFound,
            "controlnets[0].model",
        ),
        (
            ControlNet {
                image: small,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].image",
        ),
        (
            ControlNet {
                image: short,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].image",
        ),
        (
            ControlNet {
                image: empty,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].image",
        ),
        (
            ControlNet {
                scale: f32::NAN,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].scale",
        ),
        (
            ControlNet {
                scale: f32::INFINITY,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].scale",
        ),
        (
            ControlNet {
                start: 0.5,
                end: 0.5,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].start",
        ),
        (
            ControlNet {
                start: 0.8,
                end: 0.2,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].start",
        ),
        (
            ControlNet {
                start: -0.1,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].start",
        ),
        (
            ControlNet {
                end: 1.5,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].end",
        ),
        (
            ControlNet {
                end: f32::NAN,
                ..net.clone()
            },
            ErrorKind::InvalidArgument,
            "controlnets[0].end",
        ),
        (
            ControlNet::new(
                case.base.model.join("mismatched").display().to_string(),
                net.image.clone(),
            ),
            ErrorKind::ModelInvalid,
            "another UNet architecture",
        ),
        (
            ControlNet::new(
                fixture("tiny-sdxl-controlnet/controlnet/canny")
                    .display()
                    .to_string(),
                net.image.clone(),
            ),
            ErrorKind::ModelInvalid,
            "text_embeds",
        ),
    ];
    for (c, kind, field) in bad {
        let e = p.generate(&with(c.clone()), None).err().unwrap_or_else(|| {
            panic!("{c:?} was accepted");
        });
        assert_eq!(e.kind(), kind, "{field}: {e}");
        assert!(e.message().contains(field), "{field}: {e}");
    }
    // The unknown name names the folder searched and what it holds.
    let e = p
        .generate(&with(ControlNet::new("nosuch", net.image.clone())), None)
        .err()
        .unwrap();
    assert!(
        e.message().contains("controlnet") && e.message().contains("canny, depth"),
        "{e}"
    );
    // The second ControlNet is named by its index.
    let two = GenerateParams {
        controlnets: vec![
            net.clone(),
            ControlNet {
                scale: f32::NAN,
                ..net.clone()
            },
        ],
        ..params(case)
    };
    let e = p.generate(&two, None).err().unwrap();
    assert!(e.message().contains("controlnets[1].scale"), "{e}");
    // The pipeline keeps working.
    let ok = p.generate(&params(case), None).unwrap();
    let (_, _, want) = common::read_png(&case.base.files[0]);
    common::assert_close("after refusals", &ok.images[0], &want);

    // A UNet without residual inputs.
    let plain = load(&fixture("tiny-sd2"));
    let e = plain.generate(&params(case), None).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(
        e.message().contains("controlnets") && e.message().contains("unet"),
        "{e}"
    );
}

#[test]
fn generate_takes_controlnet_flags() {
    let all = cases("images");
    let dir = common::target_dir().join("controlnet-cli");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "sd2_multi",
        "sd2_guess",
        "sdxl_start_end",
        "sdxl_canny_scale",
    ] {
        let case = find(&all, name);
        let b = &case.base;
        let out = dir.join(format!("{name}.png"));
        let mut cmd = common::generate_command(b, &out);
        cmd.args(["--graph-cache", "off"]);
        for (c, raw) in case
            .nets
            .iter()
            .zip(case.raw["controlnets"].as_array().unwrap())
        {
            let image = common::goldens().join(raw["image"].as_str().unwrap());
            cmd.args(["--controlnet", &c.model])
                .arg("--control-image")
                .arg(&image)
                .args(["--control-scale", &c.scale.to_string()])
                .args(["--control-start", &c.start.to_string()])
                .args(["--control-end", &c.end.to_string()]);
            if c.guess_mode {
                cmd.arg("--guess-mode");
            }
        }
        common::check_generated(name, &mut cmd, &out, &b.files[0]);
    }
    for (args, needle) in [
        (vec!["--control-scale", "2"], "--controlnet"),
        (vec!["--controlnet", "canny"], "--control-image"),
        (vec!["--guess-mode"], "--controlnet"),
    ] {
        let bad = std::process::Command::new(common::generate_bin())
            .env("SDRT_ORT_LIBRARY", common::ort_library())
            .args(&args)
            .output()
            .unwrap();
        assert!(!bad.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains(needle),
            "{args:?}: {}",
            String::from_utf8_lossy(&bad.stderr)
        );
    }
}

#[test]
fn c_example_reproduces_the_controlnet_goldens() {
    let exe = compile("txt2img", Lang::C, &["examples/c/txt2img.c"], &[]);
    let out_dir = build_dir().join("out-controlnet");
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let all = cases("images");
    for name in [
        "sd2_multi",
        "sd2_guess",
        "sd2_canny_scale",
        "sdxl_guess",
        "sdxl_start_end",
    ] {
        let case = find(&all, name);
        let prefix = out_dir.join(name);
        let mut args = common::c_example_args(&case.base, &prefix);
        for (k, (c, raw)) in case
            .nets
            .iter()
            .zip(case.raw["controlnets"].as_array().unwrap())
            .enumerate()
        {
            let png = common::goldens().join(raw["image"].as_str().unwrap());
            let ppm = out_dir.join(format!("{name}-control-{k}.ppm"));
            common::write_pnm(&png, &ppm, false);
            args.extend([
                "--controlnet".into(),
                c.model.clone(),
                "--control-image".into(),
                ppm.display().to_string(),
                "--control-scale".into(),
                c.scale.to_string(),
                "--control-start".into(),
                c.start.to_string(),
                "--control-end".into(),
                c.end.to_string(),
                "--guess-mode".into(),
                (c.guess_mode as u32).to_string(),
            ]);
        }
        let out = common::cbuild::run({
            let mut cmd = program(&exe);
            cmd.args(&args);
            cmd
        });
        assert_success(&format!("txt2img {name}"), &out);
        for (i, golden) in case.base.files.iter().enumerate() {
            let (_, _, got) = common::read_ppm(&prefix.with_file_name(format!("{name}-{i}.ppm")));
            let (_, _, want) = common::read_png(golden);
            common::assert_close(&format!("C {name} image {i}"), &got, &want);
        }
    }
    // A ControlNet the folder lacks: the status and the message reach the C program.
    let case = find(&all, "sd2_canny");
    let ppm = out_dir.join("control.ppm");
    let png = common::goldens().join(case.raw["controlnets"][0]["image"].as_str().unwrap());
    common::write_pnm(&png, &ppm, false);
    let mut args = common::c_example_args(&case.base, &out_dir.join("bad"));
    args.extend([
        "--controlnet".into(),
        "nosuch".into(),
        "--control-image".into(),
    ]);
    args.push(ppm.display().to_string());
    let out = program(&exe).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("SDRT_ERROR_MODEL_NOT_FOUND")
            || text(&out).contains("controlnets[0].model"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_c_api_reads_sdrt_controlnet_arrays_and_refuses_bad_ones() {
    use sdrt::ffi::controlnet::{sdrt_controlnet, sdrt_controlnet_init_sized};
    use sdrt::ffi::image_view::{sdrt_image_view, sdrt_pixel_format};
    use sdrt::ffi::params::{sdrt_generate_params, sdrt_generate_params_init_sized};
    use sdrt::ffi::pipeline::{sdrt_pipeline, sdrt_pipeline_create, sdrt_pipeline_generate};
    use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status};
    common::init_runtime();
    let all = cases("images");
    let case = find(&all, "sd2_multi");
    let dir = CString::new(case.base.model.to_str().unwrap()).unwrap();
    let mut p: *mut sdrt_pipeline = std::ptr::null_mut();
    // SAFETY: a valid C string and out-pointer.
    let st = unsafe { sdrt_pipeline_create(dir.as_ptr(), std::ptr::null(), &mut p) };
    assert_eq!(st, sdrt_status::SDRT_OK);
    let names: Vec<CString> = case
        .nets
        .iter()
        .map(|c| CString::new(c.model.as_str()).unwrap())
        .collect();
    let mut nets: Vec<sdrt_controlnet> = case
        .nets
        .iter()
        .zip(&names)
        .map(|(c, name)| {
            let mut n = std::mem::MaybeUninit::<sdrt_controlnet>::uninit();
            // SAFETY: init writes the whole struct.
            let mut n = unsafe {
                sdrt_controlnet_init_sized(
                    n.as_mut_ptr(),
                    std::mem::size_of::<sdrt_controlnet>() as u32,
                );
                n.assume_init()
            };
            assert_eq!((n.scale, n.start, n.end, n.guess_mode), (1.0, 0.0, 1.0, 0));
            n.model = name.as_ptr();
            n.image = sdrt_image_view {
                data: c.image.data.as_ptr(),
                width: c.image.width as u32,
                height: c.image.height as u32,
                stride: 0,
                format: sdrt_pixel_format::SDRT_PIXEL_FORMAT_RGB8 as u32,
            };
            n.scale = c.scale;
            n
        })
        .collect();
    let prompt = CString::new(case.base.prompt.as_str()).unwrap();
    let mut gp = std::mem::MaybeUninit::<sdrt_generate_params>::uninit();
    // SAFETY: init writes the whole struct.
    let mut gp = unsafe {
        sdrt_generate_params_init_sized(
            gp.as_mut_ptr(),
            std::mem::size_of::<sdrt_generate_params>() as u32,
        );
        gp.assume_init()
    };
    assert!(gp.controlnets.is_null() && gp.controlnet_count == 0);
    gp.prompt = prompt.as_ptr();
    gp.width = case.base.width as u32;
    gp.height = case.base.height as u32;
    gp.steps = case.base.steps as u32;
    gp.guidance = case.base.guidance;
    gp.seed = case.base.seed;
    gp.controlnets = nets.as_ptr();
    gp.controlnet_count = nets.len() as u32;
    let mut out = std::ptr::null_mut();
    // SAFETY: a live pipeline, filled params, an out-pointer.
    let st = unsafe { sdrt_pipeline_generate(p, &gp, &mut out) };
    assert_eq!(st, sdrt_status::SDRT_OK);
    let n = case.base.width * case.base.height * 3;
    // SAFETY: images from the call above, `n` bytes each.
    let got = unsafe { std::slice::from_raw_parts(sdrt::ffi::images::sdrt_images_data(out, 0), n) }
        .to_vec();
    // SAFETY: from the call above.
    unsafe { sdrt::ffi::images::sdrt_images_free(out) };
    let (_, _, want) = common::read_png(&case.base.files[0]);
    common::assert_close("C sd2_multi", &got, &want);

    let refused = |gp: &sdrt_generate_params, field: &str| {
        let mut out = std::ptr::null_mut();
        // SAFETY: as above.
        let st = unsafe { sdrt_pipeline_generate(p, gp, &mut out) };
        assert_ne!(st, sdrt_status::SDRT_OK, "{field}");
        assert!(out.is_null());
        // SAFETY: a NUL-terminated thread-local message.
        let msg = unsafe { CStr::from_ptr(sdrt_last_error_message()) }
            .to_string_lossy()
            .into_owned();
        assert!(msg.contains(field), "{field}: {msg}");
    };
    nets[1].guess_mode = 7;
    gp.controlnets = nets.as_ptr();
    refused(&gp, "params->controlnets[1]->guess_mode");
    nets[1].guess_mode = 0;
    nets[1].model = std::ptr::null();
    gp.controlnets = nets.as_ptr();
    refused(&gp, "params->controlnets[1]->model");
    nets[1].model = names[1].as_ptr();
    nets[1].struct_size = 8;
    gp.controlnets = nets.as_ptr();
    refused(&gp, "params->controlnets[1]->struct_size");
    nets[1].struct_size = nets[0].struct_size;
    nets[0].image.data = std::ptr::null();
    gp.controlnets = nets.as_ptr();
    refused(&gp, "params->controlnets[0]->image");
    gp.controlnets = std::ptr::null();
    refused(&gp, "params->controlnets is NULL");
    gp.controlnet_count = 17;
    gp.controlnets = nets.as_ptr();
    refused(&gp, "controlnet_count");
    // SAFETY: the live pipeline, freed once.
    unsafe { sdrt::ffi::pipeline::sdrt_pipeline_free(p) };
}

#[test]
fn the_low_memory_mode_loads_controlnets_per_call() {
    common::init_runtime();
    let all = cases("images");
    let case = find(&all, "sdxl_multi");
    let options = PipelineOptions {
        low_memory: true,
        ..PipelineOptions::default()
    };
    let p = Pipeline::load(&case.base.model, &options).unwrap();
    for _ in 0..2 {
        let images = p.generate(&params(case), None).unwrap();
        let (_, _, want) = common::read_png(&case.base.files[0]);
        common::assert_close("low memory sdxl_multi", &images.images[0], &want);
    }
}

#[test]
fn an_init_image_and_a_controlnet_go_together() {
    // No golden (diffusers' ControlNet image-to-image pipeline is not reproduced here): the
    // call runs, its start/end count over the steps that run, and the ControlNet changes it.
    let all = cases("images");
    let case = find(&all, "sd2_start_end");
    let p = load(&case.base.model);
    let init = rgb(&common::goldens().join("inputs/init_64.png"));
    let with = GenerateParams {
        init_image: Some(init.clone()),
        strength: 0.5,
        ..params(case)
    };
    let without = GenerateParams {
        controlnets: Vec::new(),
        ..with.clone()
    };
    let a = p.generate(&with, None).unwrap();
    let b = p.generate(&without, None).unwrap();
    assert!(a.timings.controlnet > std::time::Duration::ZERO);
    let (max, mean) = common::diff_stats(&a.images[0], &b.images[0]);
    assert!(max > 2 || mean > 0.15, "max {max}, mean {mean:.4}");
}
