//! The low-memory mode (`PipelineOptions::low_memory`, `sdrt_pipeline_options.low_memory`,
//! `generate --low-memory`): the same images as the default mode, bit for bit, in every mode
//! (text, image-to-image, both kinds of inpainting, LCM, previews, the safety checker), with
//! each stage's graph loaded per call.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use sdrt::{CacheDir, GenerateParams, Pipeline, PipelineOptions, PreviewKind, StepInfo};

fn load(model: &std::path::Path, low_memory: bool) -> Pipeline {
    let options = PipelineOptions {
        low_memory,
        profile_memory: true,
        graph_cache: CacheDir::Off,
        ..PipelineOptions::default()
    };
    Pipeline::load(model, &options).unwrap()
}

/// Images, previews and the call's timings.
fn run(p: &Pipeline, params: &GenerateParams) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, sdrt::Timings) {
    let mut previews = Vec::new();
    let mut observe = |s: &StepInfo<'_>| {
        if let Some(pv) = &s.preview {
            previews.extend(pv.images.iter().cloned());
        }
        true
    };
    let out = p.generate_observed(params, Some(&mut observe)).unwrap();
    (out.images, previews, out.timings)
}

#[test]
fn low_memory_images_are_bit_identical_in_every_mode() {
    common::init_runtime();
    // One case of each mode and model from the edit goldens, grouped by model folder.
    let mut by_model: BTreeMap<PathBuf, Vec<common::EditCase>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for case in common::edit_cases() {
        let key = (case.base.model.clone(), case.mode.clone());
        if seen.insert(key) {
            by_model
                .entry(case.base.model.clone())
                .or_default()
                .push(case);
        }
    }
    assert!(by_model.len() >= 3, "{:?}", by_model.keys());
    let mut checked = 0;
    for (model, cases) in &by_model {
        let (default, low) = (load(model, false), load(model, true));
        for case in cases {
            let mut params = common::edit_params(case);
            params.preview = PreviewKind::Full;
            params.preview_every = 2;
            let (want, want_previews, t_default) = run(&default, &params);
            let (got, got_previews, t_low) = run(&low, &params);
            let name = &case.base.name;
            assert_eq!(got, want, "{name}: low-memory images differ");
            assert_eq!(got_previews, want_previews, "{name}: previews differ");
            assert!(!want_previews.is_empty(), "{name}: previews were asked for");
            for (i, golden) in case.base.files.iter().enumerate() {
                let (_, _, g) = common::read_png(golden);
                common::assert_close(&format!("low-memory {name} #{i}"), &got[i], &g);
            }
            // The low-memory call loaded its graphs; the default one had them all.
            assert!(t_low.load > std::time::Duration::ZERO, "{name}");
            let stages: Vec<_> = t_low.peak_rss.iter().map(|s| s.0).collect();
            for stage in ["text_encoder", "unet", "vae_decoder"] {
                assert!(stages.contains(&stage), "{name}: {stages:?}");
            }
            assert_eq!(
                stages.contains(&"vae_encoder"),
                case.init_image.is_some(),
                "{name}: {stages:?}"
            );
            assert_eq!(t_default.peak_rss.len(), t_low.peak_rss.len(), "{name}");
            checked += 1;
        }
        // A second default call loads no graph (its `load` is only the heap trims after each
        // stage, well under a millisecond here); a second low-memory call loads every graph
        // again.
        let params = common::edit_params(&cases[0]);
        let (again_default, again_low) = (run(&default, &params).2.load, run(&low, &params).2.load);
        assert!(
            again_default * 20 < again_low,
            "default {again_default:?}, low-memory {again_low:?}"
        );
    }
    eprintln!("low-memory mode: {checked} cases bit-identical to the default mode");
}

#[test]
fn low_memory_runs_the_safety_checker_and_taesd_previews() {
    common::init_runtime();
    let params = GenerateParams {
        prompt: "a photo of an astronaut riding a horse on mars".into(),
        steps: 4,
        seed: 7,
        width: 64,
        height: 64,
        preview: PreviewKind::Taesd,
        preview_every: 1,
        ..GenerateParams::default()
    };
    for fixture in ["tiny-sd1-safety", "tiny-sd2-preview"] {
        let model = common::root().join("tests/fixtures").join(fixture);
        let mut params = params.clone();
        if fixture == "tiny-sd1-safety" {
            params.preview = PreviewKind::LatentRgb;
        }
        let (default, low) = (load(&model, false), load(&model, true));
        let a = default.generate(&params, None).unwrap();
        let b = low.generate(&params, None).unwrap();
        assert_eq!(a.images, b.images, "{fixture}");
        assert_eq!(a.flagged, b.flagged, "{fixture}");
        let (_, pa, _) = run(&default, &params);
        let (_, pb, _) = run(&low, &params);
        assert_eq!(pa, pb, "{fixture}: previews");
        assert!(
            pa.len() >= 4,
            "{fixture}: one preview per step, {}",
            pa.len()
        );
        if fixture == "tiny-sd1-safety" {
            assert_eq!(b.flagged.len(), 1);
            assert!(b.timings.peak_rss.iter().any(|s| s.0 == "safety_checker"));
        }
    }
}
