//! `bench_lora`: what LoRA costs on one pipeline, at any size (BENCHMARKS.md "LoRA"): the
//! stock graphs' calls first, then the load of LoRA A (the UNet rebuilt once with its branches)
//! and of LoRA B (on the same layers: no rebuild) with the resident memory each adds, then
//! rounds of calls in the order none, A, A, B, A — so each round has a call with no LoRA
//! (branches fed rank 0), a call right after a switch (none -> A, A -> B, B -> A) and one
//! without (A after A). Per call: wall time and ONNX Runtime's UNet time per step.
//!
//! ```text
//! cargo run --release --example bench_lora -- --model /work/full-sdxl --width 512 \
//!     --height 512 --steps 2 --rounds 3 --lora target/bench/lora-1.safetensors \
//!     --lora target/bench/lora-2.safetensors --cache-dir target/bench/graph-cache
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sdrt::{CacheDir, GenerateParams, LoraId, LoraWeight, Pipeline, PipelineOptions};

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

fn rss() -> u64 {
    sdrt::memory::current_rss().unwrap_or(0)
}

struct Args {
    model: PathBuf,
    params: GenerateParams,
    rounds: usize,
    loras: Vec<PathBuf>,
    cache: Option<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd2"),
        params: GenerateParams {
            prompt: "a photo of an astronaut riding a horse on mars".into(),
            steps: 2,
            seed: 42,
            ..GenerateParams::default()
        },
        rounds: 3,
        loras: Vec::new(),
        cache: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value '{value}'");
        match flag.as_str() {
            "--model" => a.model = PathBuf::from(&value),
            "--width" => a.params.width = value.parse().map_err(|_| bad())?,
            "--height" => a.params.height = value.parse().map_err(|_| bad())?,
            "--steps" => a.params.steps = value.parse().map_err(|_| bad())?,
            "--rounds" => a.rounds = value.parse().map_err(|_| bad())?,
            "--lora" => a.loras.push(PathBuf::from(&value)),
            "--cache-dir" => a.cache = Some(PathBuf::from(&value)),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.loras.len() != 2 {
        return Err("give two LoRAs on the same layers: --lora A --lora B".into());
    }
    Ok(a)
}

/// One call: (wall time, UNet time per step).
fn call(
    p: &Pipeline,
    params: &GenerateParams,
    loras: &[LoraId],
) -> Result<(Duration, Duration), String> {
    let params = GenerateParams {
        loras: loras
            .iter()
            .map(|&id| LoraWeight { id, scale: 0.8 })
            .collect(),
        ..params.clone()
    };
    let t0 = Instant::now();
    let images = p.generate(&params, None).map_err(|e| e.to_string())?;
    let wall = t0.elapsed();
    Ok((wall, images.timings.unet / params.steps.max(1) as u32))
}

fn run() -> Result<(), String> {
    let a = parse()?;
    sdrt::runtime::init(&sdrt::RuntimeOptions::default()).map_err(|e| e.to_string())?;
    let options = PipelineOptions {
        graph_cache: a.cache.clone().map_or(CacheDir::Default, CacheDir::At),
        ..PipelineOptions::default()
    };
    let t0 = Instant::now();
    let p = Pipeline::load(&a.model, &options).map_err(|e| e.to_string())?;
    println!(
        "create: {:.2}s, resident {:.2} GB",
        t0.elapsed().as_secs_f64(),
        gb(rss())
    );
    // A warm-up call, then the stock graphs (no branch yet).
    call(&p, &a.params, &[])?;
    for r in 0..a.rounds.min(2) {
        let (wall, step) = call(&p, &a.params, &[])?;
        println!(
            "stock call {r}: {:.2}s, unet {:.0} ms/step",
            wall.as_secs_f64(),
            step.as_secs_f64() * 1e3
        );
    }
    let mut ids = Vec::new();
    for path in &a.loras {
        let before = rss();
        let t0 = Instant::now();
        ids.push(p.load_lora(path).map_err(|e| e.to_string())?);
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        println!(
            "load {}: {:.2}s, resident {:+.3} GB (file {:.3} GB)",
            path.display(),
            t0.elapsed().as_secs_f64(),
            gb(rss()) - gb(before),
            gb(size)
        );
    }
    let (la, lb) = (ids[0], ids[1]);
    call(&p, &a.params, &[])?; // warm-up of the branched graph
    let order: [(&str, &[LoraId]); 5] = [
        ("none (rank 0)", &[]),
        ("A after none (switch)", &[la]),
        ("A after A (no switch)", &[la]),
        ("B after A (switch)", &[lb]),
        ("A after B (switch)", &[la]),
    ];
    for r in 0..a.rounds {
        for (label, loras) in order {
            let (wall, step) = call(&p, &a.params, loras)?;
            println!(
                "round {r}: {label:<24} {:.2}s, unet {:.0} ms/step",
                wall.as_secs_f64(),
                step.as_secs_f64() * 1e3
            );
        }
    }
    println!("resident at the end: {:.2} GB", gb(rss()));
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_lora: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
