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
