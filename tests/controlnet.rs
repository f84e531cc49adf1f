//! ControlNets (SD 2 and SDXL) against `tests/goldens/controlnet.json`, written by
//! `tools/make_controlnet_goldens.py`: diffusers' ControlNet pipelines with the fixtures' ONNX
//! graphs. The images at the project's tolerance through the Rust API, `generate` and the C
//! example; the tolerance's sensitivity to typical mistakes; the refusals.

mod common;

use std::path::PathBuf;

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
