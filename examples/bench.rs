//! `bench`: times sdrt's start-up and text-to-image generation and splits them up: create
//! (with the graph cache cold, warm or off), each call's time inside ONNX Runtime per graph
//! and outside it (sdrt's own work), graph loads (the low-memory mode), and the peak resident
//! set per stage. `tools/bench.sh` runs it in alternating rounds with the bare ONNX Runtime
//! sessions (`tools/bench_bare.py`) and optimum's pipeline (`tools/bench_reference.py`).
//!
//! ```text
//! cargo run --release --example bench -- --width 512 --height 512 --steps 20 --runs 5
//! cargo run --release --example bench -- --model /work/full-sd2 --steps 4 --runs 1 \
//!     --cache cold --json results.jsonl
//! ```
//!
//! Flags: `--model DIR`, `--width W`, `--height H`, `--steps N`, `--runs N` (measured calls,
//! after `--warmup N` calls, default 1), `--guidance G`, `--scheduler NAME`, `--rng NAME`,
//! `--threads N`, `--cache cold|warm|off` (cold empties the cache folder first; default warm:
//! whatever the folder holds), `--cache-dir DIR` (default: the library's, `$SDRT_CACHE_DIR`
//! or the platform's), `--low-memory`, `--json FILE` (appends one JSON object per run),
//! `--label TEXT` (recorded in the JSON).

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sdrt::{CacheDir, GenerateParams, Generator, Pipeline, PipelineOptions, SchedulerKind};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

struct Args {
    model: PathBuf,
    params: GenerateParams,
    runs: usize,
    warmup: usize,
    options: PipelineOptions,
    cache: String,
    json: Option<PathBuf>,
    label: String,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        model: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd2"),
        params: GenerateParams {
            prompt: "a photo of an astronaut riding a horse on mars".into(),
            steps: 20,
            seed: 42,
            ..GenerateParams::default()
        },
        runs: 5,
        warmup: 1,
        options: PipelineOptions {
            profile_memory: true,
            ..PipelineOptions::default()
        },
        cache: "warm".into(),
        json: None,
        label: String::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--low-memory" {
            a.options.low_memory = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let bad = || format!("{flag}: bad value '{value}'");
        let p = &mut a.params;
        match flag.as_str() {
            "--model" => a.model = PathBuf::from(&value),
            "--width" => p.width = value.parse().map_err(|_| bad())?,
            "--height" => p.height = value.parse().map_err(|_| bad())?,
            "--steps" => p.steps = value.parse().map_err(|_| bad())?,
            "--threads" => a.options.intra_op_threads = value.parse().map_err(|_| bad())?,
            "--runs" => a.runs = value.parse::<usize>().map_err(|_| bad())?.max(1),
            "--warmup" => a.warmup = value.parse().map_err(|_| bad())?,
            "--guidance" => p.guidance = value.parse().map_err(|_| bad())?,
            "--scheduler" => {
                p.scheduler = Some(SchedulerKind::parse(&value).map_err(|e| e.to_string())?)
            }
            "--rng" => p.generator = Generator::parse(&value).ok_or_else(bad)?,
            "--cache" if ["cold", "warm", "off"].contains(&value.as_str()) => a.cache = value,
            "--cache-dir" => a.options.graph_cache = CacheDir::At(PathBuf::from(&value)),
            "--json" => a.json = Some(PathBuf::from(&value)),
            "--label" => a.label = value,
            other => return Err(format!("unknown flag {other} (or bad value {value})")),
        }
    }
    if a.cache == "off" {
        a.options.graph_cache = CacheDir::Off;
    }
    Ok(a)
}

fn main() -> Result<(), String> {
    let a = parse()?;
    if a.cache == "cold" {
        if let Some(dir) = a.options.graph_cache.resolve() {
            sdrt::model::cache::clear(&dir).map_err(|e| e.to_string())?;
        }
    }
    let rss0 = sdrt::memory::current_rss().unwrap_or(0);
    let started = Instant::now();
    let pipeline = Pipeline::load(&a.model, &a.options).map_err(|e| e.to_string())?;
    let create = started.elapsed();
    let create_peak = sdrt::memory::peak_rss().unwrap_or(0);
    sdrt::memory::reset_peak_rss();
    let after_create = sdrt::memory::current_rss().unwrap_or(0);

    let mut first = None;
    for _ in 0..a.warmup {
        let t = Instant::now();
        pipeline
            .generate(&a.params, None)
            .map_err(|e| e.to_string())?;
        first.get_or_insert(t.elapsed());
    }
    let mut calls = Vec::new();
    for _ in 0..a.runs {
        let images = pipeline
            .generate(&a.params, None)
            .map_err(|e| e.to_string())?;
        calls.push(images.timings);
    }
    let pick = |f: &dyn Fn(&sdrt::Timings) -> Duration| median(calls.iter().map(f).collect());
    let total = pick(&|t| t.total);
    let inside = pick(&|t| t.onnx_runtime());
    let load = pick(&|t| t.load);
    let outside = pick(&|t| t.total.saturating_sub(t.onnx_runtime() + t.load));
    let (te, un, vd) = (
        pick(&|t| t.text_encoder),
        pick(&|t| t.unet),
        pick(&|t| t.vae_decoder),
    );
    // Per stage: the highest peak over the measured calls.
    let mut stages: Vec<(&str, u64)> = Vec::new();
    for t in &calls {
        for &(name, peak) in &t.peak_rss {
            match stages.iter_mut().find(|s| s.0 == name) {
                Some(s) => s.1 = s.1.max(peak),
                None => stages.push((name, peak)),
            }
        }
    }

    // The per-stage readings reset the process's peak as each stage starts.
    let generate_peak = stages
        .iter()
        .map(|s| s.1)
        .fold(sdrt::memory::peak_rss().unwrap_or(0), u64::max);

    let info = pipeline.info();
    let nz = |v: usize, d: usize| if v == 0 { d } else { v };
    let (w, h) = (
        nz(a.params.width, info.native_width),
        nz(a.params.height, info.native_height),
    );
    let name = a
        .model
        .file_name()
        .and_then(|s| s.to_str())
        .unwrap_or("model");
    let mode = if a.options.low_memory {
        "low-memory"
    } else {
        "default"
    };
    println!(
        "sdrt {name} {w}x{h} steps={} guidance={} runs={} ({mode}, cache {}): create {:.2} s, \
         per image {:.1} ms (ONNX Runtime {:.1} ms, loads {:.1} ms, outside {:.2} ms = {:.3}%)",
        a.params.steps,
        a.params.guidance,
        a.runs,
        a.cache,
        create.as_secs_f64(),
        ms(total),
        ms(inside),
        ms(load),
        ms(outside),
        100.0 * outside.as_secs_f64() / total.as_secs_f64()
    );
    println!(
        "  inside ONNX Runtime: text encoder {:.1} ms, unet {:.1} ms, vae decoder {:.1} ms",
        ms(te),
        ms(un),
        ms(vd)
    );
    println!(
        "  peak RSS: create {:.2} GB, generate {:.2} GB (held after create {:.2} GB); per stage: {}",
        gb(create_peak),
        gb(generate_peak),
        gb(after_create),
        stages
            .iter()
            .map(|(n, p)| format!("{n} {:.2} GB", gb(*p)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(path) = &a.json {
        let stage_json: serde_json::Map<String, serde_json::Value> = stages
            .iter()
            .map(|(n, p)| (n.to_string(), (*p).into()))
            .collect();
        let record = serde_json::json!({
            "system": "sdrt",
            "label": a.label,
            "model": name,
            "width": w,
            "height": h,
            "steps": a.params.steps,
            "runs": a.runs,
            "mode": mode,
            "cache": a.cache,
            "threads": a.options.intra_op_threads,
            "rss_before_create": rss0,
            "create_s": create.as_secs_f64(),
            "first_call_s": first.map(|d| d.as_secs_f64()),
            "generate_s": total.as_secs_f64(),
            "onnx_runtime_s": inside.as_secs_f64(),
            "load_s": load.as_secs_f64(),
            "outside_s": outside.as_secs_f64(),
            "text_encoder_s": te.as_secs_f64(),
            "unet_s": un.as_secs_f64(),
            "vae_decoder_s": vd.as_secs_f64(),
            "create_peak_rss": create_peak,
            "generate_peak_rss": generate_peak,
            "peak_rss": create_peak.max(generate_peak),
            "stage_peak_rss": stage_json,
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        writeln!(f, "{record}").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
