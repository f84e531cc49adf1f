//! LoRA chosen per call (`Pipeline::load_lora`, `GenerateParams::loras`).

mod common;

use std::path::PathBuf;

use sdrt::{GenerateParams, LoraWeight, Pipeline, PipelineOptions};

fn sd2() -> PathBuf {
    common::root().join("tests/fixtures/tiny-sd2")
}

fn params(loras: Vec<LoraWeight>) -> GenerateParams {
    GenerateParams {
        prompt: "a red fox".into(),
        width: 64,
        height: 64,
        steps: 3,
        seed: 1,
        loras,
        ..GenerateParams::default()
    }
}

#[test]
fn smoke() {
    common::init_runtime();
    let p = Pipeline::load(&sd2(), &PipelineOptions::default()).unwrap();
    let plain = p.generate(&params(vec![]), None).unwrap();
    let id = p
        .load_lora(std::path::Path::new("/tmp/lora/a.safetensors"))
        .unwrap();
    let none = p.generate(&params(vec![]), None).unwrap();
    assert_eq!(plain.images[0], none.images[0]);
    let on = p
        .generate(&params(vec![LoraWeight { id, scale: 1.0 }]), None)
        .unwrap();
    let (max, mean) = common::diff_stats(&on.images[0], &plain.images[0]);
    eprintln!("lora on vs off: max {max} mean {mean}");
    assert!(max > 10);
}
