//! `--rng torch-cuda` (`TorchCudaGenerator`) against torch's CUDA generator:
//!
//! - `tests/goldens/cuda_randn.json`: known answers drawn with torch 2.11 on an NVIDIA H200
//!   (`{"cases": [{"name", "seed", "shape", "dtype": "float32" | "f16", "how", "draw"?,
//!   "bits"}]}`; `how` is `generator` (a fresh `torch.Generator("cuda").manual_seed(seed)`),
//!   `torch.manual_seed` (the default CUDA generator) or `sequence` (one generator, draws in
//!   `draw` order)), every value compared bit for bit.
//! - `tests/goldens/cuda_device.json` (tools/cuda_sincos.py): a 1,100,000-value draw, beyond
//!   the H200's single pass of threads, between two small ones.
//! - `tests/goldens/cuda_images.json` (tools/make_cuda_goldens.py): optimum's
//!   `ORTStableDiffusionPipeline` fed latents (and, for stochastic schedulers, step noise)
//!   drawn by tools/cuda_randn.py, against `generate` with `Generator::TorchCuda`.
//! - `tests/goldens/cuda_scheduler_noise.json` (tools/make_cuda_goldens.py): diffusers'
//!   stochastic schedulers with their `randn_tensor` calls drawn from one CUDA generator.

mod common;

use half::f16;
use sdrt::rng::{NoiseSource, TorchCudaGenerator};
use serde_json::Value;

fn u64s(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect()
}

/// FNV-1a, 64 bit, as 16 hex digits (tools/cuda_sincos.py).
fn fnv1a64(data: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn every_cuda_known_answer_matches_bit_for_bit() {
    let doc = common::read_json(&common::goldens().join("cuda_randn.json"));
    let cases = doc["cases"].as_array().unwrap();
    let mut sequence: Option<TorchCudaGenerator> = None;
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let seed = case["seed"].as_u64().unwrap();
        let numel: u64 = u64s(&case["shape"]).iter().product();
        let want = u64s(&case["bits"]);
        assert_eq!(want.len() as u64, numel, "{name}");
        let values = match case["how"].as_str().unwrap() {
            "generator" | "torch.manual_seed" => TorchCudaGenerator::new(seed).randn(want.len()),
            "sequence" => {
                let draw = case["draw"].as_u64().unwrap();
                let g = sequence.get_or_insert_with(|| TorchCudaGenerator::new(seed));
                if draw == 0 {
                    *g = TorchCudaGenerator::new(seed);
                }
                // Through the trait, as the pipeline and the schedulers draw.
                NoiseSource::randn(g, want.len())
            }
            other => panic!("{name}: unknown 'how' {other}"),
        };
        let got: Vec<u64> = match case["dtype"].as_str().unwrap() {
            "float32" => values.iter().map(|v| v.to_bits() as u64).collect(),
            "f16" | "float16" => values
                .iter()
                .map(|&v| f16::from_f32(v).to_bits() as u64)
                .collect(),
            other => panic!("{name}: unknown dtype {other}"),
        };
        if let Some(i) = got.iter().zip(&want).position(|(g, w)| g != w) {
            let bad = got.iter().zip(&want).filter(|(g, w)| g != w).count();
            failures.push(format!(
                "{name}: {bad} of {numel} values differ, first at {i}: got {:#x}, want {:#x}",
                got[i], want[i]
            ));
        }
        compared += want.len();
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        cases.len() >= 17 && compared > 150_000,
        "{compared} values in {} cases",
        cases.len()
    );
}

#[test]
fn large_draws_follow_the_h200_launch_and_offsets() {
    let doc = common::read_json(&common::goldens().join("cuda_device.json"));
    let large = &doc["large"];
    let multiprocessors = doc["multiprocessors"].as_u64().unwrap() as u32;
    let threads = doc["max_threads_per_multiprocessor"].as_u64().unwrap() as u32;
    assert_eq!(
        (multiprocessors, threads),
        (
            TorchCudaGenerator::H200_MULTIPROCESSORS,
            TorchCudaGenerator::H200_MAX_THREADS_PER_MULTIPROCESSOR
        )
    );
    let mut g = TorchCudaGenerator::new(large["seed"].as_u64().unwrap());
    let mut offsets = Vec::new();
    for call in large["calls"].as_array().unwrap() {
        let numel = call["numel"].as_u64().unwrap() as usize;
        let got = g.randn(numel);
        offsets.push(g.offset());
        if let Some(h) = call["fnv1a64"].as_str() {
            assert_eq!(fnv1a64(&bytes(&got)), h, "{numel} values: checksum");
        }
        if let Some(every) = call["sample_every"].as_u64() {
            let want = u64s(&call["sample_bits"]);
            let sampled: Vec<u64> = got
                .iter()
                .step_by(every as usize)
                .map(|v| v.to_bits() as u64)
                .collect();
            assert_eq!(sampled, want, "{numel} values: every {every}th");
        }
        if call.get("bits").is_some() {
            let got: Vec<u64> = got.iter().map(|v| v.to_bits() as u64).collect();
            assert_eq!(got, u64s(&call["bits"]), "{numel} values");
        }
    }
    // 1,100,000 > 4 * 132 * 2048 values take two Philox outputs per thread: offset + 8.
    assert_eq!(offsets, [4, 12, 16]);
}

#[test]
fn txt2img_matches_diffusers_fed_the_same_cuda_draws() {
    common::init_runtime();
    let doc = common::read_json(&common::goldens().join("cuda_images.json"));
    let cases = common::image_cases_from(&doc);
    assert!(cases.len() >= 5);
    let pipeline = sdrt::Pipeline::load(&common::fixture(), &sdrt::PipelineOptions::default())
        .expect("fixture loads");
    let mut checked = 0;
    for case in &cases {
        assert_eq!(case.generator, "torch-cuda", "{}", case.name);
        let params = common::image_params(case);
        assert_eq!(params.generator, sdrt::Generator::TorchCuda);
        let images = pipeline
            .generate(&params, None)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert_eq!(images.images.len(), case.count, "{}", case.name);
        for (i, file) in case.files.iter().enumerate() {
            let (w, h, want) = common::read_png(file);
            assert_eq!((w, h), (case.width, case.height), "{}", case.name);
            let (max, mean) = common::diff_stats(&images.images[i], &want);
            eprintln!(
                "{} #{i}: max |diff| {max}, mean |diff| {mean:.4}",
                case.name
            );
            common::assert_close(&format!("{} #{i}", case.name), &images.images[i], &want);
            checked += 1;
        }
    }
    assert_eq!(checked, 7);
}

#[test]
fn the_cuda_images_differ_from_the_cpu_generators() {
    // The same case with the other generators must fail the tolerance: the goldens do pin the
    // CUDA draws.
    common::init_runtime();
    let doc = common::read_json(&common::goldens().join("cuda_images.json"));
    let case = common::image_cases_from(&doc)
        .into_iter()
        .find(|c| c.name == "cuda_pndm")
        .unwrap();
    let pipeline = sdrt::Pipeline::load(&common::fixture(), &sdrt::PipelineOptions::default())
        .expect("fixture loads");
    let (_, _, want) = common::read_png(&case.files[0]);
    for generator in [sdrt::Generator::Torch, sdrt::Generator::Numpy] {
        let params = sdrt::GenerateParams {
            generator,
            ..common::image_params(&case)
        };
        let got = pipeline.generate(&params, None).unwrap();
        let (max, mean) = common::diff_stats(&got.images[0], &want);
        assert!(
            max > 2 || mean > 0.15,
            "{generator:?} passed ({max}, {mean})"
        );
    }
}

fn bits(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn stochastic_schedulers_draw_cuda_noise_in_diffusers_order() {
    use sdrt::rng::NumpyRandomState;
    use sdrt::scheduler::{self, SchedulerConfig, SchedulerKind, SchedulerOverrides};

    let doc = common::read_json(&common::goldens().join("cuda_scheduler_noise.json"));
    let variants = doc.as_array().unwrap();
    let mut checked = Vec::new();
    for var in variants {
        let name = var["scheduler"].as_str().unwrap();
        let vname = format!("{name}/{}", var["name"].as_str().unwrap());
        let config = SchedulerConfig::from_json(&var["config"]).unwrap();
        let steps = var["steps"].as_u64().unwrap() as usize;
        let overrides = SchedulerOverrides {
            eta: var["eta"].as_f64().unwrap() as f32,
            ..SchedulerOverrides::default()
        };
        let kind = SchedulerKind::parse(name).unwrap();
        let mut s = scheduler::create(kind, &config, steps, &overrides)
            .unwrap_or_else(|e| panic!("{vname}: {e}"));
        let mut noise = TorchCudaGenerator::new(var["noise_seed"].as_u64().unwrap());
        let mut sample = NumpyRandomState::new(7).randn_f32(24);
        let scaled = var["scaled_bits"].as_array().unwrap();
        let samples = var["sample_bits"].as_array().unwrap();
        assert_eq!(s.timesteps().len(), samples.len(), "{vname}");
        for i in 0..samples.len() {
            let mut input = sample.clone();
            s.scale_model_input(&mut input, i)
                .unwrap_or_else(|e| panic!("{vname}: scale_model_input {i}: {e}"));
            let got: Vec<u32> = input.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, bits(&scaled[i]), "{vname}: scale_model_input {i}");
            let out = NumpyRandomState::new(1000 + i as u32).randn_f32(24);
            s.step(&out, i, &mut sample, &mut noise)
                .unwrap_or_else(|e| panic!("{vname}: step {i}: {e}"));
            let got: Vec<u32> = sample.iter().map(|v| v.to_bits()).collect();
            assert_eq!(got, bits(&samples[i]), "{vname}: step {i}");
        }
        // One Philox offset step per randn_tensor call of diffusers.
        assert_eq!(
            noise.offset(),
            4 * var["draws"].as_u64().unwrap(),
            "{vname}: noise draws"
        );
        checked.push(vname);
    }
    assert!(checked.len() >= 6, "{checked:?}");
}
