//! `bench`: times text-to-image generation and splits it into ONNX Runtime time and sdrt's
//! own overhead. `tools/bench.sh` runs it side by side with optimum's pipeline.
//!
//! ```text
//! cargo run --release --example bench -- --width 512 --height 512 --steps 20 --runs 5
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sdrt::{GenerateParams, Generator, Pipeline, PipelineOptions, SchedulerKind};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() -> Result<(), String> {
    let mut model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd2");
    let mut params = GenerateParams {
        prompt: "a photo of an astronaut riding a horse on mars".into(),
        steps: 20,
        seed: 42,
        ..GenerateParams::default()
    };
    let mut runs = 5usize;
    let mut options = PipelineOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value '{value}'");
        match flag.as_str() {
            "--model" => model = PathBuf::from(&value),
            "--width" => params.width = value.parse().map_err(|_| bad())?,
            "--height" => params.height = value.parse().map_err(|_| bad())?,
            "--steps" => params.steps = value.parse().map_err(|_| bad())?,
            "--threads" => options.intra_op_threads = value.parse().map_err(|_| bad())?,
            "--runs" => runs = value.parse::<usize>().map_err(|_| bad())?.max(1),
            "--guidance" => params.guidance = value.parse().map_err(|_| bad())?,
            "--scheduler" => {
                params.scheduler = Some(SchedulerKind::parse(&value).map_err(|e| e.to_string())?)
            }
            "--rng" => {
                params.generator = Generator::parse(&value).ok_or_else(bad)?;
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let started = Instant::now();
    let pipeline = Pipeline::load(&model, &options).map_err(|e| e.to_string())?;
    let load = started.elapsed();
    // One warm-up call (ONNX Runtime allocates and plans on the first run of a shape).
    pipeline
        .generate(&params, None)
        .map_err(|e| e.to_string())?;
    let mut totals = Vec::new();
    let mut ort = Vec::new();
    let mut own = Vec::new();
    let mut parts = Vec::new();
    for _ in 0..runs {
        let images = pipeline
            .generate(&params, None)
            .map_err(|e| e.to_string())?;
        let t = images.timings;
        totals.push(t.total);
        ort.push(t.onnx_runtime());
        own.push(t.total.saturating_sub(t.onnx_runtime()));
        parts.push((t.text_encoder, t.unet, t.vae_decoder));
    }
    let info = pipeline.info();
    let (w, h) = (
        if params.width == 0 {
            info.native_width
        } else {
            params.width
        },
        if params.height == 0 {
            info.native_height
        } else {
            params.height
        },
    );
    let (total, inside, outside) = (median(totals), median(ort), median(own));
    println!(
        "sdrt {} {w}x{h} steps={} guidance={} runs={runs}: load {:.1} ms, per image {:.1} ms \
         (ONNX Runtime {:.1} ms, outside it {:.2} ms = {:.1}%)",
        model
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or("model"),
        params.steps,
        params.guidance,
        ms(load),
        ms(total),
        ms(inside),
        ms(outside),
        100.0 * outside.as_secs_f64() / total.as_secs_f64()
    );
    let te = median(parts.iter().map(|p| p.0).collect());
    let un = median(parts.iter().map(|p| p.1).collect());
    let vae = median(parts.iter().map(|p| p.2).collect());
    println!(
        "  inside ONNX Runtime: text encoder {:.1} ms, unet {:.1} ms, vae decoder {:.1} ms",
        ms(te),
        ms(un),
        ms(vae)
    );
    Ok(())
}
