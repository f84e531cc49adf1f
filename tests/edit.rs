//! Image-to-image, inpainting (4- and 9-channel UNets), few-step (SD-Turbo style, LCM) and
//! guidance-rescale generations against optimum's pipelines (`tests/goldens/edit.json`).

mod common;

use std::collections::HashMap;
use std::path::PathBuf;

use sdrt::{Pipeline, PipelineOptions};

#[test]
fn reproduces_every_edit_golden() {
    common::init_runtime();
    let cases = common::edit_cases();
    for mode in ["img2img", "inpaint", "txt2img", "lcm"] {
        assert!(
            cases.iter().any(|c| c.mode == mode),
            "no {mode} case in edit.json"
        );
    }
    let mut pipelines: HashMap<PathBuf, Pipeline> = HashMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let c = &case.base;
        let p = pipelines.entry(c.model.clone()).or_insert_with(|| {
            Pipeline::load(&c.model, &PipelineOptions::default()).expect("fixture loads")
        });
        let images = match p.generate(&common::edit_params(case), None) {
            Ok(i) => i,
            Err(e) => {
                failures.push(format!("{}: {e}", c.name));
                continue;
            }
        };
        assert_eq!(images.images.len(), c.count, "{}", c.name);
        for (i, file) in c.files.iter().enumerate() {
            let (w, h, want) = common::read_png(file);
            assert_eq!((w, h), (images.width, images.height), "{}", c.name);
            let (max, mean) = common::diff_stats(&images.images[i], &want);
            eprintln!("{} #{i}: max |diff| {max}, mean |diff| {mean:.4}", c.name);
            if !(max <= 2 && mean <= 0.15) {
                failures.push(format!("{} #{i}: max {max}, mean {mean:.4}", c.name));
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

fn bits(v: &serde_json::Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| f32::from_bits(b.as_u64().unwrap() as u32))
        .collect()
}

/// Distance in float32 ulps (same-sign values; the goldens never cross zero between the two).
fn ulps(a: f32, b: f32) -> u32 {
    if a == b {
        return 0;
    }
    let (x, y) = (a.to_bits() as i64, b.to_bits() as i64);
    if (x < 0) != (y < 0) {
        return u32::MAX;
    }
    (x - y).unsigned_abs() as u32
}

fn numpy_randn(seed: u32, n: usize) -> Vec<f32> {
    sdrt::rng::NumpyRandomState::new(seed).randn_f32(n)
}

fn fixture_scheduler_config() -> sdrt::scheduler::SchedulerConfig {
    let v = common::read_json(&common::fixture().join("scheduler/scheduler_config.json"));
    sdrt::scheduler::SchedulerConfig::from_json(&v).unwrap()
}

fn make_scheduler(name: &str, steps: usize) -> Box<dyn sdrt::scheduler::Scheduler> {
    sdrt::scheduler::create(
        sdrt::SchedulerKind::parse(name).unwrap(),
        &fixture_scheduler_config(),
        steps,
        &Default::default(),
    )
    .unwrap()
}

/// `add_noise` is `a * x + b * n` with `a`, `b` square roots: sdrt's are correctly rounded,
/// torch's float32 sqrt on the goldens' machine is one ulp off for about 1 in 5 inputs
/// (see tests/schedulers.rs). One ulp in `a` or `b` moves the result by an ulp of `a * x` or
/// `b * n`, so the bound is 2 ulps of the larger term plus 1 ulp of the result.
fn assert_noise_close(got: f32, want: f32, x: f32, n: f32, what: &str) {
    let ulp = |v: f32| {
        let v = v.abs().max(f32::MIN_POSITIVE);
        f32::from_bits(v.to_bits() + 1) - v
    };
    let bound = 2.0 * ulp(x.abs().max(n.abs())) + ulp(want);
    assert!(
        (got - want).abs() <= bound,
        "{what}: {got} vs {want} (|diff| {} > {bound})",
        (got - want).abs()
    );
}

#[test]
fn img2img_start_step_and_add_noise_match_diffusers() {
    // get_timesteps for every scheduler, step count and strength, and add_noise at the start
    // timestep (diffusers' set_begin_index), against tests/goldens/img2img_schedule.json.
    let g = common::read_json(&common::goldens().join("img2img_schedule.json"));
    let original = numpy_randn(g["original_seed"].as_u64().unwrap() as u32, 24);
    let noise = numpy_randn(g["noise_seed"].as_u64().unwrap() as u32, 24);
    let entries = g["entries"].as_array().unwrap();
    assert!(entries.len() >= 400);
    let (mut noised, mut refused, mut worst) = (0, 0, 0u32);
    for e in entries {
        let name = e["scheduler"].as_str().unwrap();
        let steps = e["steps"].as_u64().unwrap() as usize;
        let strength = e["strength"].as_f64().unwrap() as f32;
        let want: Vec<f64> = e["timesteps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_f64().unwrap())
            .collect();
        let sched = make_scheduler(name, steps);
        let what = format!("{name} steps {steps} strength {strength}");
        assert_eq!(sched.order() as u64, e["order"].as_u64().unwrap(), "{what}");
        match sdrt::pipeline::get_timesteps(steps, strength, sched.order()) {
            Err(err) => {
                // int(steps * strength) == 0: diffusers runs nothing (or, for PNDM, the one
                // timestep its extra step leaves); sdrt refuses with a message instead.
                assert_eq!(
                    e["init_timestep"].as_u64(),
                    Some(0),
                    "{what}: refused: {err}"
                );
                assert!(err.message().contains("strength"), "{what}: {err}");
                refused += 1;
            }
            Ok(begin) => {
                assert_eq!(begin as u64, e["begin_index"].as_u64().unwrap(), "{what}");
                let got: Vec<f32> = sched.timesteps()[begin..]
                    .iter()
                    .map(|&t| t as f32)
                    .collect();
                let want32: Vec<f32> = want.iter().map(|&t| t as f32).collect();
                assert_eq!(got, want32, "{what}: timesteps");
                assert!(e["init_timestep"].as_u64().unwrap() > 0, "{what}");
                let want_noised = bits(&e["add_noise_bits"]);
                let got_noised = sched.add_noise(&original, &noise, begin);
                for (k, (a, b)) in got_noised.iter().zip(&want_noised).enumerate() {
                    let d = ulps(*a, *b);
                    worst = worst.max(d);
                    assert_noise_close(*a, *b, original[k], noise[k], &format!("{what} [{k}]"));
                }
                noised += 1;
            }
        }
    }
    eprintln!("{noised} start steps noised (worst {worst} ulp), {refused} refused as diffusers");
    assert!(noised >= 300 && refused >= 50);
}

#[test]
fn inpainting_renoise_after_each_step_matches_diffusers() {
    // StableDiffusionInpaintPipeline (4-channel UNet) re-noises the init latents to the next
    // timestep after every step: add_noise at index i + 1 (the scheduler's step index).
    let g = common::read_json(&common::goldens().join("add_noise_later.json"));
    let original = numpy_randn(g["original_seed"].as_u64().unwrap() as u32, 24);
    let noise = numpy_randn(g["noise_seed"].as_u64().unwrap() as u32, 24);
    let mut checked = 0;
    for e in g["entries"].as_array().unwrap() {
        let name = e["scheduler"].as_str().unwrap();
        let steps = e["steps"].as_u64().unwrap() as usize;
        let sched = make_scheduler(name, steps);
        let after = e["after_step"].as_array().unwrap();
        let n = sched.timesteps().len();
        for (i, want) in after.iter().enumerate().take(n - 1) {
            let want = bits(want);
            let got = sched.add_noise(&original, &noise, i + 1);
            for (k, (a, b)) in got.iter().zip(&want).enumerate() {
                assert_noise_close(
                    *a,
                    *b,
                    original[k],
                    noise[k],
                    &format!("{name} after step {i} [{k}]"),
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 60, "{checked}");
}

#[test]
fn lcm_guidance_embedding_matches_diffusers() {
    let g = common::read_json(&common::goldens().join("guidance_embedding.json"));
    let mut worst = 0;
    for e in g.as_array().unwrap() {
        let w = e["w"].as_f64().unwrap() as f32;
        let dim = e["embedding_dim"].as_u64().unwrap() as usize;
        let want = bits(&e["bits"]);
        let got = sdrt::pipeline::guidance_embedding(w, dim);
        assert_eq!(got.len(), want.len());
        let half = dim / 2;
        for (k, (a, b)) in got.iter().zip(&want).enumerate() {
            // sin/cos of `w * 1000 * exp(-j * ln(10000) / (half - 1))`: torch's vectorized
            // float32 exp and sdrt's differ by an ulp, which moves the argument by an ulp of
            // itself (3e-5 at 500) and the sine by as much. The bound is 2 ulps of the
            // argument plus 2 ulps of 1.
            let j = if k < half { k } else { k - half };
            let arg = if k < 2 * half {
                (w * 1000.0 * (j as f32 * -(10000f32.ln() / (half as f32 - 1.0))).exp()).abs()
            } else {
                0.0
            };
            let ulp_arg = f32::from_bits(arg.max(1.0).to_bits() + 1) - arg.max(1.0);
            let bound = 2.0 * ulp_arg + 2.0 * f32::EPSILON;
            let d = (a - b).abs();
            worst = worst.max(ulps(*a, *b).min(1 << 20));
            assert!(
                d <= bound,
                "w {w} dim {dim} [{k}]: {a} vs {b} (|diff| {d} > {bound})"
            );
        }
    }
    eprintln!("guidance embedding: worst {worst} ulps");
}

#[test]
fn guidance_rescale_matches_diffusers() {
    let g = common::read_json(&common::goldens().join("rescale_cfg.json"));
    for e in g.as_array().unwrap() {
        let r = e["guidance_rescale"].as_f64().unwrap() as f32;
        let mut cfg = bits(&e["noise_cfg_bits"]);
        let text = bits(&e["noise_pred_text_bits"]);
        let want = bits(&e["out_bits"]);
        let count = e["shape"][0].as_u64().unwrap() as usize;
        sdrt::pipeline::rescale_noise_cfg(&mut cfg, &text, count, r);
        for (k, (a, b)) in cfg.iter().zip(&want).enumerate() {
            assert!(ulps(*a, *b) <= 2, "rescale {r} [{k}]: {a} vs {b}");
        }
    }
}

#[test]
fn taesd_preview_decoder_matches_diffusers() {
    common::init_runtime();
    let model = common::root().join("tests/fixtures/tiny-sd2-preview");
    let p = Pipeline::load(&model, &PipelineOptions::default()).unwrap();
    let g = common::read_json(&common::goldens().join("taesd.json"));
    for e in g.as_array().unwrap() {
        let shape: Vec<usize> = e["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        let n: usize = shape.iter().product();
        let lat = numpy_randn(e["seed"].as_u64().unwrap() as u32, n);
        let (w, h, imgs) = p
            .render_preview(sdrt::PreviewKind::Taesd, &lat, 1, (shape[3], shape[2]))
            .unwrap();
        let (gw, gh, want) = common::read_png(&common::goldens().join(e["file"].as_str().unwrap()));
        assert_eq!((w, h), (gw, gh));
        common::assert_close("taesd", &imgs[0], &want);
        let (max, mean) = common::diff_stats(&imgs[0], &want);
        eprintln!("taesd seed {}: max {max} mean {mean:.4}", e["seed"]);
    }
    // The same decoder given by path, on a folder without vae_preview/.
    let options = PipelineOptions {
        preview_decoder: Some(model.join("vae_preview/model.onnx")),
        ..PipelineOptions::default()
    };
    let q = Pipeline::load(&common::fixture(), &options).unwrap();
    let lat = numpy_randn(5, 256);
    let a = p
        .render_preview(sdrt::PreviewKind::Taesd, &lat, 1, (8, 8))
        .unwrap();
    let b = q
        .render_preview(sdrt::PreviewKind::Taesd, &lat, 1, (8, 8))
        .unwrap();
    assert_eq!(a.2, b.2);
}

#[test]
fn the_tolerance_catches_a_wrong_edit() {
    // Each feature must matter at the goldens' tolerance: drop or change it and the image
    // no longer matches.
    common::init_runtime();
    let cases = common::edit_cases();
    let find = |name: &str| cases.iter().find(|c| c.base.name == name).unwrap().clone();
    let mut pipelines: HashMap<PathBuf, Pipeline> = HashMap::new();
    let mut check = |case: &common::EditCase, change: &dyn Fn(&mut sdrt::GenerateParams)| {
        let p = pipelines.entry(case.base.model.clone()).or_insert_with(|| {
            Pipeline::load(&case.base.model, &PipelineOptions::default()).unwrap()
        });
        let mut params = common::edit_params(case);
        change(&mut params);
        let got = p.generate(&params, None).unwrap();
        let (_, _, want) = common::read_png(&case.base.files[0]);
        let (max, mean) = common::diff_stats(&got.images[0], &want);
        assert!(
            max > 2 || mean > 0.15,
            "{}: the change went unnoticed (max {max}, mean {mean})",
            case.base.name
        );
    };
    check(&find("inp4_default_6_s0.75"), &|p| p.mask = None);
    check(&find("inp9_default_6_s0.75"), &|p| {
        let m = p.mask.as_mut().unwrap();
        for v in m.data.iter_mut() {
            *v = 255 - *v;
        }
    });
    check(&find("i2i_pndm_6_s0.8_count2"), &|p| p.strength = 0.5);
    check(&find("i2i_dpmpp2m_6_s0.5_count2"), &|p| p.init_image = None);
    check(&find("rescale_v_ddim_5_torch"), &|p| {
        p.guidance_rescale = 0.0
    });
    check(&find("lcm_4_g8_torch"), &|p| p.guidance = 7.0);
}
