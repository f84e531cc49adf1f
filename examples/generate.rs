//! `generate`: text to image on the command line, the first thing a user runs.
//!
//! ```text
//! cargo run --release --example generate -- --prompt "a lighthouse at dusk" --output out.png
//! ```
//! Without `--model` it uses the bundled tiny fixture (random weights: the image is noise with
//! structure, but every step of the real pipeline runs). ONNX Runtime: `$SDRT_ORT_LIBRARY` or
//! `$ORT_DYLIB_PATH` when set, else the checkout's `.ort/` (where `tools/fetch_ort.sh` puts
//! it; `tools/generate.sh` runs that for you), else the library's own search. On a terminal
//! the progress line shows the seconds per step and the time left.

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sdrt::runtime::{EpDeviceChoice, EpOptions, EpPrecision};
use sdrt::scheduler::TimestepSpacing;
use sdrt::{
    CacheDir, ControlNet, ErrorKind, GenerateParams, Generator, GrayImage, LoraWeight, Pipeline,
    PipelineOptions, PredictionType, PreviewKind, PromptWeighting, Provider, RgbImage,
    RuntimeOptions, SchedulerKind, StepInfo,
};

const USAGE: &str = "usage: generate [--model DIR] [--prompt TEXT] [--negative-prompt TEXT]
                [--width W] [--height H] [--steps N] [--guidance G] [--seed S]
                [--rng numpy|torch|torch-cuda] [--scheduler NAME] [--count N]
                [--init-image PNG|JPEG] [--strength F] [--mask PNG]
                [--provider auto|cpu|coreml|cuda|openvino|plugin] [--output PATH]
                [--device cpu|gpu|npu|auto] [--precision f32|bf16|f16|auto]
                [--ep-library PATH] [--ep-name NAME] [--ep-option KEY=VALUE]
                [--strict-provider] [--list-devices]
                [--eta F] [--prediction-type epsilon|v_prediction|sample]
                [--timestep-spacing leading|trailing|linspace]
                [--guidance-rescale F] [--preview latent_rgb|taesd|full]
                [--preview-every N] [--preview-dir DIR] [--preview-decoder ONNX]
                [--cancel-after N] [--no-safety-checker] [--graph-cache DIR]
                [--prompt-weighting none|a1111] [--lora PATH[:SCALE]]...
                [--prompt-2 TEXT] [--negative-prompt-2 TEXT] [--original-size WxH]
                [--crop X,Y] [--target-size WxH] [--aesthetic-score F]
                [--negative-aesthetic-score F] [--refiner DIR] [--denoising-end F]
                [--controlnet NAME|PATH --control-image FILE [--control-scale S]
                 [--control-start F] [--control-end F] [--guess-mode]]...

  --model DIR        model folder from `optimum-cli export onnx` (default: bundled tiny fixture)
  --prompt TEXT      what to draw (default: empty)
  --negative-prompt  what to steer away from
  --width, --height  pixels, multiples of 8 (default: the model's native size)
  --steps N          denoising steps (default 50)
  --guidance G       classifier-free guidance scale (default 7.5; <= 1 disables it)
  --seed S           seed (default 0; 0..4294967295 for numpy)
  --rng NAME         random generator (default numpy): numpy (numpy.random.RandomState),
                     torch (torch.Generator('cpu') as diffusers' pipelines use with a CPU
                     generator) or torch-cuda (torch.Generator('cuda'), the 'GPU' seed of
                     A1111/Forge, computed on the CPU as an NVIDIA GPU draws it)
  --scheduler NAME   pndm, ddim, euler, euler-a, dpm++2m, dpm++2m-karras, dpm++2m-sde,
                     lms, heun, unipc, lcm, ddpm (default: the model's)
  --count N          images from one seed (default 1)
  --init-image FILE  image-to-image: start from this PNG or JPEG (its size is the output
                     size; RGBA is read as RGB)
  --strength F       how much of the init image to repaint, (0, 1] (default 0.8)
  --mask PNG         inpainting: white repaints, black keeps (grayscale, the init image's size)
  --provider P       execution provider (default auto); openvino and plugin are plugin
                     execution providers registered from their library (a missing library or
                     device falls back to cpu with a warning)
  --device D         the plugin provider's device: cpu, gpu, npu or auto (OpenVINO's AUTO);
                     default: OpenVINO's cpu, another plugin's every device
  --precision P      OpenVINO's inference precision: f32 (parity with cpu), bf16, f16 or auto
                     (the device's default; bf16 on CPUs with bfloat16 instructions)
  --ep-library PATH  the plugin library (openvino default: $SDRT_OPENVINO_EP, else
                     openvino/ beside ONNX Runtime, where tools/fetch_ep.sh openvino puts it)
  --ep-name NAME     the plugin's provider name (openvino default: OpenVINOExecutionProvider)
  --ep-option K=V    an option for the plugin provider (repeatable)
  --strict-provider  a provider that is missing or refuses a graph is an error, not a fallback
  --list-devices     print the devices of every execution provider (after registering the
                     plugin of --provider openvino|plugin) and exit
  --output PATH      PNG path (default out.png; with --count N > 1: <stem>-<i>.<ext>)
  --eta F            DDIM's eta (default 0)
  --prediction-type  override the model config's prediction type
  --timestep-spacing override the model config's timestep spacing
  --guidance-rescale diffusers' guidance_rescale, [0, 1] (default 0)
  --preview KIND     previews of the image forming: latent_rgb, taesd or full
  --preview-every N  a preview every N steps (default 1)
  --preview-dir DIR  write previews as DIR/step-<k>[-<i>].png (default: report only)
  --preview-decoder  the TAESD decoder ONNX file (default: <model>/vae_preview/model.onnx)
  --prompt-weighting none|a1111
                     a1111: read AUTOMATIC1111's emphasis, (word:1.3), (word), [word], \\(,
                     and encode prompts over 75 tokens in chunks (default none: diffusers'
                     literal text, truncated at 75 tokens)
  --lora PATH[:SCALE] apply a LoRA (safetensors, diffusers/PEFT or kohya form) at SCALE
                     (default 1.0); repeatable, several add up
  --cancel-after N   cancel after N steps (demonstrates cancellation; exits non-zero)
  --no-safety-checker  do not run the folder's safety_checker/ (SD 1.x exports)
  --graph-cache DIR  where to cache the graphs ONNX Runtime optimized (CPU) and CoreML's compiled
                     models: later starts are faster (default: the platform's cache folder, or
                     $SDRT_CACHE_DIR; `off` for none)
  --low-memory       hold only the running stage's graph (peak memory about the UNet's alone;
                     each call loads its graphs)

SDXL:
  --prompt-2 TEXT    the second text encoder's prompt (default: --prompt)
  --negative-prompt-2  the second text encoder's negative prompt (default: --negative-prompt)
  --original-size WxH, --crop X,Y, --target-size WxH
                     micro-conditioning (defaults: the output size, 0,0, the output size);
                     --negative-original-size, --negative-crop, --negative-target-size too
  --aesthetic-score F, --negative-aesthetic-score F
                     a refiner's aesthetic scores (defaults 6.0 and 2.5)
  --refiner DIR      ensemble of experts: the model runs the first part of the schedule (to
                     --denoising-end, default 0.8) and this refiner finishes it from its latents
  --denoising-end F  stop the model at this fraction of the schedule (with --refiner)

ControlNet (the model's UNet must take residuals: tools/export_controlnet.py):
  --controlnet NAME|PATH  a ControlNet: <model>/controlnet/NAME, or a path with a '/' to its
                     folder or .onnx file; repeat for several (their residuals add up). The
                     flags below apply to the last --controlnet:
  --control-image FILE  its control image (PNG or JPEG, the output size), required
  --control-scale S  controlnet_conditioning_scale (default 1.0)
  --control-start F, --control-end F
                     the fraction of the steps it applies in (defaults 0 and 1)
  --guess-mode       diffusers' guess mode (the conditional half only, the residual ramp)";

struct Args {
    model: PathBuf,
    params: GenerateParams,
    provider: Provider,
    ep: EpOptions,
    strict_provider: bool,
    output: PathBuf,
    preview_dir: Option<PathBuf>,
    preview_decoder: Option<PathBuf>,
    cancel_after: Option<usize>,
    no_safety_checker: bool,
    graph_cache: CacheDir,
    low_memory: bool,
    refiner: Option<PathBuf>,
    list_devices: bool,
    /// `--lora PATH[:SCALE]`, in order.
    loras: Vec<(PathBuf, f32)>,
}

/// `PATH[:SCALE]`: a trailing `:number` is the scale (default 1.0); any other colon is the
/// path's.
fn lora(v: &str) -> Result<(PathBuf, f32), String> {
    if let Some((path, scale)) = v.rsplit_once(':') {
        if let Ok(s) = scale.parse::<f32>() {
            if !s.is_finite() {
                return Err(format!("--lora: scale '{scale}' is not a finite number"));
            }
            return Ok((PathBuf::from(path), s));
        }
    }
    Ok((PathBuf::from(v), 1.0))
}

/// `WxH` in pixels.
fn size(flag: &str, v: &str) -> Result<(usize, usize), String> {
    let parsed = v
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
    parsed.ok_or_else(|| format!("{flag}: '{v}' is not WIDTHxHEIGHT"))
}

/// `X,Y` in pixels.
fn point(flag: &str, v: &str) -> Result<(usize, usize), String> {
    let parsed = v
        .split_once(',')
        .and_then(|(x, y)| Some((x.trim().parse().ok()?, y.trim().parse().ok()?)));
    parsed.ok_or_else(|| format!("{flag}: '{v}' is not X,Y"))
}

fn read_rgb(path: &str) -> Result<RgbImage, String> {
    let img = image::open(path)
        .map_err(|e| format!("--init-image {path}: {e}"))?
        .to_rgb8();
    Ok(RgbImage {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img.into_raw(),
    })
}

fn read_gray(path: &str) -> Result<GrayImage, String> {
    let img = image::open(path)
        .map_err(|e| format!("--mask {path}: {e}"))?
        .to_luma8();
    Ok(GrayImage {
        width: img.width() as usize,
        height: img.height() as usize,
        data: img.into_raw(),
    })
}

/// The ControlNet the last `--controlnet` added, which `flag` modifies.
fn last_controlnet<'a>(
    params: &'a mut GenerateParams,
    flag: &str,
) -> Result<&'a mut ControlNet, String> {
    params
        .controlnets
        .last_mut()
        .ok_or_else(|| format!("{flag} applies to a --controlnet given before it"))
}

fn parse_args() -> Result<Args, String> {
    let mut model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-sd2");
    let mut params = GenerateParams::default();
    let mut provider = Provider::Auto;
    let mut ep = EpOptions::default();
    let mut strict_provider = false;
    let mut output = PathBuf::from("out.png");
    let mut preview_dir = None;
    let mut preview_decoder = None;
    let mut cancel_after = None;
    let mut no_safety_checker = false;
    let mut graph_cache = CacheDir::Default;
    let mut low_memory = false;
    let mut list_devices = false;
    let mut loras = Vec::new();
    let mut refiner = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        if flag == "--no-safety-checker" {
            no_safety_checker = true;
            continue;
        }
        if flag == "--list-devices" {
            list_devices = true;
            continue;
        }
        if flag == "--low-memory" {
            low_memory = true;
            continue;
        }
        if flag == "--guess-mode" {
            last_controlnet(&mut params, &flag)?.guess_mode = true;
            continue;
        }
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{flag}: '{v}' is not a valid number"))
        }
        match flag.as_str() {
            "--model" => model = PathBuf::from(value()?),
            "--prompt" => params.prompt = value()?,
            "--negative-prompt" => params.negative_prompt = Some(value()?),
            "--width" => params.width = num(&flag, value()?)?,
            "--height" => params.height = num(&flag, value()?)?,
            "--steps" => params.steps = num(&flag, value()?)?,
            "--guidance" => params.guidance = num(&flag, value()?)?,
            "--seed" => params.seed = num(&flag, value()?)?,
            "--count" => params.count = num(&flag, value()?)?,
            "--rng" => {
                let v = value()?;
                params.generator = Generator::parse(&v)
                    .ok_or_else(|| format!("--rng: '{v}' is not numpy, torch or torch-cuda"))?;
            }
            "--scheduler" => {
                params.scheduler = Some(SchedulerKind::parse(&value()?).map_err(|e| e.to_string())?)
            }
            "--provider" => {
                let v = value()?;
                provider = Provider::parse(&v).ok_or_else(|| {
                    format!("--provider: '{v}' is not auto, cpu, coreml, cuda, openvino or plugin")
                })?;
            }
            "--device" => {
                let v = value()?;
                ep.device = EpDeviceChoice::parse(&v)
                    .ok_or_else(|| format!("--device: '{v}' is not cpu, gpu, npu or auto"))?;
            }
            "--precision" => {
                let v = value()?;
                ep.precision = EpPrecision::parse(&v)
                    .ok_or_else(|| format!("--precision: '{v}' is not f32, bf16, f16 or auto"))?;
            }
            "--ep-library" => ep.library = Some(PathBuf::from(value()?)),
            "--ep-name" => ep.ep_name = Some(value()?),
            "--ep-option" => {
                let v = value()?;
                let (k, val) = v
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| format!("--ep-option: '{v}' is not KEY=VALUE"))?;
                ep.options.push((k.to_string(), val.to_string()));
            }
            "--strict-provider" => strict_provider = true,
            "--output" => output = PathBuf::from(value()?),
            "--eta" => params.eta = num(&flag, value()?)?,
            "--prediction-type" => {
                params.prediction_type =
                    Some(PredictionType::parse(&value()?).map_err(|e| e.to_string())?)
            }
            "--timestep-spacing" => {
                params.timestep_spacing =
                    Some(TimestepSpacing::parse(&value()?).map_err(|e| e.to_string())?)
            }
            "--init-image" => params.init_image = Some(read_rgb(&value()?)?),
            "--mask" => params.mask = Some(read_gray(&value()?)?),
            "--strength" => params.strength = num(&flag, value()?)?,
            "--guidance-rescale" => params.guidance_rescale = num(&flag, value()?)?,
            "--preview" => {
                let v = value()?;
                params.preview = PreviewKind::parse(&v).ok_or_else(|| {
                    format!("--preview: '{v}' is not none, latent_rgb, taesd or full")
                })?;
            }
            "--prompt-weighting" => {
                let v = value()?;
                params.prompt_weighting = PromptWeighting::parse(&v)
                    .ok_or_else(|| format!("--prompt-weighting: '{v}' is not none or a1111"))?;
            }
            "--lora" => loras.push(lora(&value()?)?),
            "--preview-every" => params.preview_every = num(&flag, value()?)?,
            "--preview-dir" => preview_dir = Some(PathBuf::from(value()?)),
            "--preview-decoder" => preview_decoder = Some(PathBuf::from(value()?)),
            "--cancel-after" => cancel_after = Some(num(&flag, value()?)?),
            "--graph-cache" => {
                graph_cache = match value()?.as_str() {
                    "off" => CacheDir::Off,
                    dir => CacheDir::At(PathBuf::from(dir)),
                }
            }
            "--prompt-2" => params.prompt_2 = Some(value()?),
            "--negative-prompt-2" => params.negative_prompt_2 = Some(value()?),
            "--original-size" => params.micro.original_size = Some(size(&flag, &value()?)?),
            "--crop" => params.micro.crop = point(&flag, &value()?)?,
            "--target-size" => params.micro.target_size = Some(size(&flag, &value()?)?),
            "--negative-original-size" => {
                params.micro.negative_original_size = Some(size(&flag, &value()?)?)
            }
            "--negative-crop" => params.micro.negative_crop = point(&flag, &value()?)?,
            "--negative-target-size" => {
                params.micro.negative_target_size = Some(size(&flag, &value()?)?)
            }
            "--aesthetic-score" => params.micro.aesthetic_score = num(&flag, value()?)?,
            "--negative-aesthetic-score" => {
                params.micro.negative_aesthetic_score = num(&flag, value()?)?
            }
            "--refiner" => refiner = Some(PathBuf::from(value()?)),
            "--denoising-end" => params.denoising_end = Some(num(&flag, value()?)?),
            "--controlnet" => {
                let empty = RgbImage {
                    width: 0,
                    height: 0,
                    data: Vec::new(),
                };
                params.controlnets.push(ControlNet::new(value()?, empty));
            }
            "--control-image" => {
                let image = read_rgb(&value()?)?;
                last_controlnet(&mut params, &flag)?.image = image;
            }
            "--control-scale" => {
                let v = num(&flag, value()?)?;
                last_controlnet(&mut params, &flag)?.scale = v;
            }
            "--control-start" => {
                let v = num(&flag, value()?)?;
                last_controlnet(&mut params, &flag)?.start = v;
            }
            "--control-end" => {
                let v = num(&flag, value()?)?;
                last_controlnet(&mut params, &flag)?.end = v;
            }
            other => return Err(format!("unknown flag '{other}'\n\n{USAGE}")),
        }
    }
    if let Some(c) = params.controlnets.iter().find(|c| c.image.data.is_empty()) {
        return Err(format!("--controlnet {} needs a --control-image", c.model));
    }
    Ok(Args {
        model,
        params,
        provider,
        ep,
        strict_provider,
        output,
        preview_dir,
        preview_decoder,
        cancel_after,
        no_safety_checker,
        graph_cache,
        low_memory,
        refiner,
        list_devices,
        loras,
    })
}

/// `out.png` -> `out-<i>.png` when several images are written.
fn output_path(base: &Path, index: usize, count: usize) -> PathBuf {
    if count == 1 {
        return base.to_path_buf();
    }
    let stem = base.file_stem().and_then(|s| s.to_str()).unwrap_or("out");
    let name = match base.extension().and_then(|e| e.to_str()) {
        Some(ext) => format!("{stem}-{index}.{ext}"),
        None => format!("{stem}-{index}"),
    };
    base.with_file_name(name)
}

/// The checkout's `.ort/` library, where `tools/fetch_ort.sh` puts ONNX Runtime, unless
/// `$SDRT_ORT_LIBRARY` or `$ORT_DYLIB_PATH` names one (the library's search reads those).
fn ort_in_checkout() -> Option<PathBuf> {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    if set("SDRT_ORT_LIBRARY") || set("ORT_DYLIB_PATH") {
        return None;
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".ort")
        .join(sdrt::runtime::ort_library_name());
    lib.exists().then_some(lib)
}

/// Loads ONNX Runtime: from the checkout's `.ort/` when it is there and no variable names
/// another, else by the library's search. A failure says which command fetches it.
fn init_runtime() -> Result<(), String> {
    let options = RuntimeOptions {
        ort_library: ort_in_checkout(),
    };
    match sdrt::runtime::init(&options) {
        Ok(rt) => {
            eprintln!(
                "ONNX Runtime {} from {}",
                rt.version(),
                rt.library_path().display()
            );
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::RuntimeUnavailable => Err(format!(
            "{e}\nONNX Runtime 1.31 is needed: `tools/fetch_ort.sh` (run from {}) fetches it \
             into .ort/, where generate looks for it, and `tools/generate.sh` runs both; or set \
             SDRT_ORT_LIBRARY to its path",
            env!("CARGO_MANIFEST_DIR")
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `--list-devices`: one line per device of each execution provider, after registering the
/// plugin library of `--provider openvino|plugin`.
fn list_devices(args: &Args) -> Result<(), String> {
    let rt = sdrt::runtime::get_or_init().map_err(|e| e.to_string())?;
    if args.provider.is_plugin() {
        let (library, origin) = args
            .ep
            .library(rt, args.provider)
            .map_err(|e| e.to_string())?;
        let added = rt
            .register_ep_library(&library)
            .map_err(|e| format!("{e} (from {origin})"))?;
        if added.is_empty() {
            eprintln!(
                "{} (from {origin}) is registered; its providers offer no device here",
                library.display()
            );
        }
    }
    for d in rt.ep_devices() {
        let meta: Vec<String> = d
            .ep_metadata
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        println!(
            "{} {} ({}, vendor {}) {}",
            d.ep_name,
            d.kind.name(),
            d.ep_vendor,
            d.vendor,
            meta.join(" ")
        );
    }
    Ok(())
}

/// `12.3s` under a minute, else `4m05s`.
fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = s.round() as u64;
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// The terminal's progress line after evaluation `step` of `total`, as stable-diffusion.cpp's
/// CLI shows it: a bar, the seconds per step (the mean over the steps after the first, whose
/// time also holds the text encoding) and the time left for the remaining steps.
fn progress_line(step: usize, total: usize, per_step: Duration) -> String {
    const WIDTH: usize = 30;
    let done = (step * WIDTH)
        .checked_div(total)
        .unwrap_or(WIDTH)
        .min(WIDTH);
    let bar: String = (0..WIDTH)
        .map(|i| match i.cmp(&done) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    let left = per_step.mul_f64(total.saturating_sub(step) as f64);
    format!(
        "|{bar}| step {step}/{total} {:.2}s/step, {} left",
        per_step.as_secs_f64(),
        duration(left)
    )
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    sdrt::runtime::set_logger(
        Some(std::sync::Arc::new(|_, msg: &str| eprintln!("sdrt: {msg}"))),
        sdrt::runtime::LogLevel::Warn,
    );
    init_runtime()?;
    if args.list_devices {
        return list_devices(&args);
    }
    let started = Instant::now();
    let options = PipelineOptions {
        provider: args.provider,
        strict_provider: args.strict_provider,
        ep: args.ep.clone(),
        preview_decoder: args.preview_decoder.clone(),
        disable_safety_checker: args.no_safety_checker,
        graph_cache: args.graph_cache.clone(),
        low_memory: args.low_memory,
        ..PipelineOptions::default()
    };
    let pipeline = Pipeline::load(&args.model, &options).map_err(|e| e.to_string())?;
    let mut params = args.params.clone();
    for (path, scale) in &args.loras {
        let id = pipeline.load_lora(path).map_err(|e| e.to_string())?;
        params.loras.push(LoraWeight { id, scale: *scale });
    }
    let loaded = started.elapsed();
    let info = pipeline.info();
    eprintln!(
        "model {} ({}x{} native, {}, {}) on {} in {:.2}s",
        args.model.display(),
        info.native_width,
        info.native_height,
        info.prediction_type.name(),
        info.default_scheduler_class,
        info.provider.name(),
        loaded.as_secs_f64()
    );
    let elsewhere: Vec<String> = info
        .graph_providers
        .iter()
        .filter(|(_, p)| *p != info.provider)
        .map(|(graph, p)| format!("{graph} on {}", p.name()))
        .collect();
    if !elsewhere.is_empty() {
        eprintln!(
            "graphs not on {}: {}",
            info.provider.name(),
            elsewhere.join(", ")
        );
    }

    let tty = std::io::stderr().is_terminal();
    let gen_started = Instant::now();
    let mut preview_error = None;
    let mut first_step: Option<Instant> = None;
    let mut line_open = false;
    let mut observer = |s: &StepInfo<'_>| {
        let (step, total) = (s.step, s.total);
        if tty {
            let now = Instant::now();
            let per_step = match first_step {
                Some(first) if step > 1 => (now - first) / (step as u32 - 1),
                _ => now - gen_started,
            };
            if step == 1 {
                first_step = Some(now);
            }
            // \x1b[K clears what a longer earlier line left.
            eprint!("\r{}\x1b[K", progress_line(step, total, per_step));
            line_open = step != total;
            if !line_open {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        }
        if let Some(p) = &s.preview {
            if line_open {
                eprintln!();
                line_open = false;
            }
            eprintln!(
                "preview step {step}: {} image(s) of {}x{} at {:.3}s",
                p.images.len(),
                p.width,
                p.height,
                s.elapsed.as_secs_f64()
            );
            if let Some(dir) = &args.preview_dir {
                for (i, px) in p.images.iter().enumerate() {
                    let name = if p.images.len() == 1 {
                        format!("step-{step}.png")
                    } else {
                        format!("step-{step}-{i}.png")
                    };
                    let path = dir.join(name);
                    let r = std::fs::create_dir_all(dir).and_then(|_| {
                        image::save_buffer(
                            &path,
                            px,
                            p.width as u32,
                            p.height as u32,
                            image::ColorType::Rgb8,
                        )
                        .map_err(std::io::Error::other)
                    });
                    if let Err(e) = r {
                        preview_error = Some(format!("{}: {e}", path.display()));
                        return false;
                    }
                }
            }
        }
        args.cancel_after.is_none_or(|n| step < n)
    };
    let refiner = match &args.refiner {
        Some(dir) => Some(Pipeline::load(dir, &options).map_err(|e| e.to_string())?),
        None => None,
    };
    if refiner.is_some() {
        // The base model runs to `denoising_end` and hands its latents over.
        params.denoising_end = Some(params.denoising_end.unwrap_or(0.8));
        params.output_latents = true;
    }
    let result = pipeline.generate_observed(&params, Some(&mut observer));
    let result = match (&refiner, result) {
        (Some(refiner), Ok(base)) => {
            let refine = GenerateParams {
                denoising_start: params.denoising_end,
                denoising_end: None,
                latents: base.latents,
                output_latents: false,
                ..args.params.clone()
            };
            refiner.generate_observed(&refine, Some(&mut observer))
        }
        (_, r) => r,
    };
    if line_open {
        // Stopped before the last step (a cancel, an error): end the progress line.
        eprintln!();
    }
    if let Some(e) = preview_error {
        return Err(e);
    }
    let images = result.map_err(|e| e.to_string())?;
    let took = gen_started.elapsed();
    let count = images.images.len();
    for (i, pixels) in images.images.iter().enumerate() {
        let path = output_path(&args.output, i, count);
        image::save_buffer(
            &path,
            pixels,
            images.width as u32,
            images.height as u32,
            image::ColorType::Rgb8,
        )
        .map_err(|e| format!("{}: {e}", path.display()))?;
        println!("{}", path.display());
        if images.flagged.get(i) == Some(&true) {
            eprintln!(
                "{}: flagged by the model's safety checker (blacked out)",
                path.display()
            );
        }
    }
    eprintln!(
        "generated {count} image(s) of {}x{} in {:.2}s (model load {:.2}s)",
        images.width,
        images.height,
        took.as_secs_f64(),
        loaded.as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("generate: {e}");
            ExitCode::FAILURE
        }
    }
}
