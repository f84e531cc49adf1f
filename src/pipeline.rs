//! Text-to-image orchestration: tokenize, encode, denoise with classifier-free guidance, decode.
//! Mirrors diffusers' `StableDiffusionPipeline.__call__` step for step.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ort::session::{RunOptions, Session};
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::model::session::{float_value, int_value, load_session, FloatTensor, OnnxModel};
use crate::model::{ModelConfig, ModelFolder};
use crate::rng::{Generator, NoiseSource, NumpyRandomState, TorchGenerator};
use crate::runtime::{self, CoreMlOptions, LogLevel, Provider};
use crate::scheduler::{self, PredictionType, SchedulerKind, SchedulerOverrides, TimestepSpacing};
use crate::tokenizer::ClipTokenizer;

/// The largest image side accepted, in pixels.
pub const MAX_SIDE: usize = 4096;
/// The most images one call may produce.
pub const MAX_COUNT: usize = 64;

/// How to load a pipeline.
#[derive(Debug, Clone, Default)]
pub struct PipelineOptions {
    /// Execution provider to run on.
    pub provider: Provider,
    /// When the requested provider is missing: error (true) or fall back to CPU (false).
    pub strict_provider: bool,
    /// CoreML settings (used when the provider is CoreML).
    pub coreml: CoreMlOptions,
    /// CUDA device ordinal.
    pub cuda_device_id: i32,
    /// Threads per graph for ONNX Runtime's intra-op pool; 0 = ORT's default.
    pub intra_op_threads: usize,
    /// Width, height and images per call to pin free dimensions to (static shapes);
    /// 0 = the native size, 1 image.
    pub static_width: usize,
    /// See `static_width`.
    pub static_height: usize,
    /// See `static_width`.
    pub static_count: usize,
}

/// What a pipeline loaded.
#[derive(Debug, Clone)]
pub struct PipelineInfo {
    /// Native image width in pixels.
    pub native_width: usize,
    /// Native image height in pixels.
    pub native_height: usize,
    /// The model's prediction type.
    pub prediction_type: PredictionType,
    /// The scheduler class named by the model folder.
    pub default_scheduler_class: String,
    /// That scheduler, when sdrt implements it.
    pub default_scheduler: Option<SchedulerKind>,
    /// The provider the sessions really run on.
    pub provider: Provider,
}

/// One text-to-image request.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    /// The prompt.
    pub prompt: String,
    /// The negative prompt (`None` = empty, as diffusers).
    pub negative_prompt: Option<String>,
    /// Image width in pixels, a multiple of 8; 0 = native.
    pub width: usize,
    /// Image height in pixels, a multiple of 8; 0 = native.
    pub height: usize,
    /// Inference steps.
    pub steps: usize,
    /// Classifier-free guidance scale; <= 1 disables the unconditional pass.
    pub guidance: f32,
    /// Seed; 32-bit for the numpy generator.
    pub seed: u64,
    /// Scheduler; `None` = the model's.
    pub scheduler: Option<SchedulerKind>,
    /// Random generator.
    pub generator: Generator,
    /// Images to produce from one generator stream.
    pub count: usize,
    /// Replaces the model config's prediction type (for models whose config is wrong).
    pub prediction_type: Option<PredictionType>,
    /// Replaces the model config's timestep spacing.
    pub timestep_spacing: Option<TimestepSpacing>,
    /// DDIM's eta (0 = deterministic); ignored by other schedulers.
    pub eta: f32,
}

impl Default for GenerateParams {
    fn default() -> Self {
        GenerateParams {
            prompt: String::new(),
            negative_prompt: None,
            width: 0,
            height: 0,
            steps: 50,
            guidance: 7.5,
            seed: 0,
            scheduler: None,
            generator: Generator::Numpy,
            count: 1,
            prediction_type: None,
            timestep_spacing: None,
            eta: 0.0,
        }
    }
}

/// RGB8 images, row-major, interleaved.
#[derive(Debug, Clone)]
pub struct Images {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// One buffer of `width * height * 3` bytes per image.
    pub images: Vec<Vec<u8>>,
    /// Where the time went.
    pub timings: Timings,
}

/// Wall-clock time of one `generate` call, and the part of it spent inside ONNX Runtime per
/// graph; the rest (`total` minus the graphs) is sdrt's own work: tokenizing, random numbers,
/// scheduler steps, tensor conversion and the RGB conversion.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// The whole call, from entry to the images.
    pub total: std::time::Duration,
    /// Inside the text encoder.
    pub text_encoder: std::time::Duration,
    /// Inside the UNet, all steps.
    pub unet: std::time::Duration,
    /// Inside the VAE decoder.
    pub vae_decoder: std::time::Duration,
}

impl Timings {
    /// Time spent inside ONNX Runtime.
    pub fn onnx_runtime(&self) -> std::time::Duration {
        self.text_encoder + self.unet + self.vae_decoder
    }
}

impl Images {
    /// Channels per pixel (3, RGB).
    pub const CHANNELS: usize = 3;
}

/// Progress: `(step, total)` after each denoising step; return `false` to cancel.
pub type Progress<'a> = &'a mut dyn FnMut(usize, usize) -> bool;

struct Graphs {
    text_encoder: OnnxModel,
    unet: OnnxModel,
    vae_decoder: OnnxModel,
}

/// A loaded model, ready to generate. `Send + Sync`; generate calls are serialized.
pub struct Pipeline {
    root: PathBuf,
    config: ModelConfig,
    tokenizer: ClipTokenizer,
    graphs: Mutex<Graphs>,
    provider: Provider,
    static_shape: Option<(usize, usize, usize)>,
    cancel_epoch: AtomicU64,
    active_run: Mutex<Option<Arc<RunOptions>>>,
}

impl Pipeline {
    /// Loads a model folder (the runtime is initialized with defaults if needed).
    pub fn load(dir: &Path, options: &PipelineOptions) -> Result<Pipeline> {
        let folder = ModelFolder::open(dir)?;
        let config = folder.config()?;
        let tokenizer = ClipTokenizer::from_dir(&folder.tokenizer_dir())?;
        let rt = runtime::get_or_init()?;
        let provider = runtime::resolve_provider(rt, options.provider, options.strict_provider)?;

        let (nw, nh) = config.native_size();
        let static_shape =
            (provider == Provider::CoreMl && options.coreml.static_shapes).then(|| {
                (
                    nonzero_or(options.static_width, nw),
                    nonzero_or(options.static_height, nh),
                    nonzero_or(options.static_count, 1),
                )
            });

        let started = Instant::now();
        let eps = runtime::execution_providers(provider, &options.coreml, options.cuda_device_id);
        let load = |part: &str| -> Result<OnnxModel> {
            // ort defaults to automatic EP selection (MaxEfficiency), which on macOS registers
            // CoreML behind the caller's back and here changes CPU threading; sdrt registers the
            // providers it was asked for, and nothing else. Idle intra-op threads do not spin:
            // the three graphs run one after another, and a pool spinning after its graph
            // finished takes cores from the next one (and from the host application).
            let mut b = Session::builder(&rt.env)?
                .with_auto_device(ort::session::builder::AutoDevicePolicy::PreferCPU)?
                .with_intra_op_spinning(false)?;
            if options.intra_op_threads > 0 {
                b = b.with_intra_threads(options.intra_op_threads)?;
            }
            let pinned = static_shape
                .map(|shape| static_dims(part, shape, tokenizer.max_length(), &config))
                .unwrap_or_default();
            for &(dim, size) in &pinned {
                b = b.with_dimension_override(dim, size as i64)?;
            }
            if !eps.is_empty() {
                b = b.with_execution_providers(&eps).map_err(|e| {
                    Error::new(
                        ErrorKind::ProviderUnavailable,
                        format!("{part}: could not register {}: {e}", provider.name()),
                    )
                })?;
            }
            let session = load_session(b, &folder.onnx(part))?;
            let model = OnnxModel::new(part, session)?;
            // Overrides whose names the export does not use are silently ignored by ONNX
            // Runtime; static shapes mean no free dimension may remain.
            if !pinned.is_empty() {
                if let Some(free) = model
                    .inputs()
                    .iter()
                    .find(|i| i.shape.iter().any(|&d| d < 0))
                {
                    return Err(Error::model(format!(
                        "{part}: input '{}' keeps free dimensions {:?} after pinning {:?} for \
                         static shapes",
                        free.name, free.symbols, pinned
                    )));
                }
            }
            Ok(model)
        };
        let graphs = Graphs {
            text_encoder: load("text_encoder")?,
            unet: load("unet")?,
            vae_decoder: load("vae_decoder")?,
        };
        runtime::log(
            LogLevel::Info,
            &format!(
                "loaded {} on {} in {:.2}s (native {}x{}, {}, scheduler {})",
                dir.display(),
                provider.name(),
                started.elapsed().as_secs_f64(),
                nw,
                nh,
                config.prediction_type.name(),
                config.scheduler.class_name()
            ),
        );
        Ok(Pipeline {
            root: dir.to_path_buf(),
            config,
            tokenizer,
            graphs: Mutex::new(graphs),
            provider,
            static_shape,
            cancel_epoch: AtomicU64::new(0),
            active_run: Mutex::new(None),
        })
    }

    /// What was loaded.
    pub fn info(&self) -> PipelineInfo {
        let (w, h) = self.config.native_size();
        PipelineInfo {
            native_width: w,
            native_height: h,
            prediction_type: self.config.prediction_type,
            default_scheduler_class: self.config.scheduler.class_name().to_string(),
            default_scheduler: self.config.default_scheduler,
            provider: self.provider,
        }
    }

    /// The model folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The tokenizer (e.g. to warn about truncated prompts).
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Cancels every `generate` call in progress or waiting on this pipeline; calls that
    /// start afterwards are unaffected. Safe from any thread.
    pub fn cancel(&self) {
        self.cancel_epoch.fetch_add(1, Ordering::SeqCst);
        if let Some(run) = self.active_run.lock().as_ref() {
            let _ = run.terminate();
        }
    }

    fn validate(&self, p: &GenerateParams) -> Result<(usize, usize, SchedulerKind)> {
        let (nw, nh) = self.config.native_size();
        let width = nonzero_or(p.width, nw);
        let height = nonzero_or(p.height, nh);
        let f = self.config.vae_scale_factor;
        for (name, v) in [("width", width), ("height", height)] {
            if v % 8 != 0 || v % f != 0 {
                return Err(Error::invalid(format!(
                    "{name} {v} is not a multiple of {}",
                    f.max(8)
                )));
            }
            if v > MAX_SIDE {
                return Err(Error::invalid(format!("{name} {v} exceeds {MAX_SIDE}")));
            }
        }
        let t = self.config.scheduler.num_train_timesteps()?;
        if p.steps == 0 || p.steps > t {
            return Err(Error::invalid(format!(
                "steps must be between 1 and {t}, got {}",
                p.steps
            )));
        }
        if !p.eta.is_finite() || p.eta < 0.0 {
            return Err(Error::invalid(format!("eta must be >= 0, got {}", p.eta)));
        }
        if !p.guidance.is_finite() {
            return Err(Error::invalid("guidance must be a finite number"));
        }
        if p.count == 0 || p.count > MAX_COUNT {
            return Err(Error::invalid(format!(
                "count must be between 1 and {MAX_COUNT}, got {}",
                p.count
            )));
        }
        match p.generator {
            Generator::Numpy => {
                if p.seed > u32::MAX as u64 {
                    return Err(Error::invalid(format!(
                        "seed {} does not fit the numpy generator's 32 bits",
                        p.seed
                    )));
                }
            }
            Generator::Torch => {}
        }
        if let Some((sw, sh, sn)) = self.static_shape {
            if p.guidance <= 1.0 {
                return Err(Error::invalid(
                    "this pipeline was loaded with static shapes, which assume classifier-free \
                     guidance (guidance > 1)",
                ));
            }
            if (width, height, p.count) != (sw, sh, sn) {
                return Err(Error::invalid(format!(
                    "this pipeline was loaded with static shapes {sw}x{sh}, {sn} image(s); \
                     got {width}x{height}, {} image(s)",
                    p.count
                )));
            }
        }
        let kind = match p.scheduler.or(self.config.default_scheduler) {
            Some(k) => k,
            None => {
                return Err(Error::unsupported(format!(
                    "the model's scheduler {} is not supported; choose one explicitly",
                    self.config.scheduler.class_name()
                )))
            }
        };
        Ok((width, height, kind))
    }

    /// Generates `params.count` images. `progress` is called on the calling thread after
    /// each step.
    pub fn generate(
        &self,
        params: &GenerateParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Images> {
        let started = Instant::now();
        let epoch = self.cancel_epoch.load(Ordering::SeqCst);
        let (width, height, kind) = self.validate(params)?;
        let negative = params.negative_prompt.as_deref().unwrap_or("");
        let (cond_ids, cut) = self.tokenizer.encode_truncated(&params.prompt)?;
        let (uncond_ids, cut_negative) = self.tokenizer.encode_truncated(negative)?;
        for (what, cut) in [("prompt", cut), ("negative prompt", cut_negative)] {
            if cut > 0 {
                runtime::log(
                    LogLevel::Warn,
                    &format!(
                        "{what} is {cut} tokens longer than CLIP's {} and was truncated",
                        self.tokenizer.max_length() - 2
                    ),
                );
            }
        }
        let overrides = SchedulerOverrides {
            prediction_type: params.prediction_type,
            timestep_spacing: params.timestep_spacing,
            eta: params.eta,
        };
        let mut sched = scheduler::create(kind, &self.config.scheduler, params.steps, &overrides)?;

        let mut graphs = self.graphs.lock();
        let run = Arc::new(RunOptions::new()?);
        *self.active_run.lock() = Some(Arc::clone(&run));
        let result = self.generate_locked(
            &mut graphs,
            params,
            (width, height),
            &cond_ids,
            &uncond_ids,
            sched.as_mut(),
            &run,
            epoch,
            progress,
        );
        *self.active_run.lock() = None;
        result.map(|mut images| {
            images.timings.total = started.elapsed();
            images
        })
    }

    fn cancelled(&self, epoch: u64) -> bool {
        self.cancel_epoch.load(Ordering::SeqCst) != epoch
    }

    #[allow(clippy::too_many_arguments)]
    fn generate_locked(
        &self,
        g: &mut Graphs,
        params: &GenerateParams,
        (width, height): (usize, usize),
        cond_ids: &[u32],
        uncond_ids: &[u32],
        sched: &mut dyn scheduler::Scheduler,
        run: &RunOptions,
        epoch: u64,
        mut progress: Option<Progress<'_>>,
    ) -> Result<Images> {
        let cancelled = || Error::new(ErrorKind::Cancelled, "generation was cancelled");
        let check = |r: Result<Vec<FloatTensor>>| -> Result<FloatTensor> {
            match r {
                Err(_) if self.cancelled(epoch) => Err(cancelled()),
                Err(e) => Err(e),
                Ok(mut v) => v
                    .pop()
                    .ok_or_else(|| Error::model("a graph returned no output")),
            }
        };
        if self.cancelled(epoch) {
            return Err(cancelled());
        }
        let count = params.count;
        let cfg = params.guidance > 1.0;

        // Text encoder: prompt and negative prompt in separate batch-1 calls, as diffusers.
        let mut timings = Timings::default();
        let cond = check(self.encode_text(&mut g.text_encoder, cond_ids, run))?;
        timings.text_encoder += g.text_encoder.last_run();
        let hidden_shape = cond.shape.clone();
        let mut states: Vec<f32> = Vec::new();
        if cfg {
            let uncond = check(self.encode_text(&mut g.text_encoder, uncond_ids, run))?;
            timings.text_encoder += g.text_encoder.last_run();
            for _ in 0..count {
                states.extend_from_slice(&uncond.data);
            }
        }
        for _ in 0..count {
            states.extend_from_slice(&cond.data);
        }
        let batch = if cfg { 2 * count } else { count };
        let states_shape = [batch, hidden_shape[1], hidden_shape[2]];

        // Latents: one numpy stream, shape (count, C, h/f, w/f).
        let f = self.config.vae_scale_factor;
        let unet_sample = g.unet.input("sample", 0)?.clone();
        let channels = match unet_sample.shape.get(1) {
            Some(&c) if c > 0 => c as usize,
            _ => 4,
        };
        let (lh, lw) = (height / f, width / f);
        let latent_len = count * channels * lh * lw;
        let mut rng: Box<dyn NoiseSource> = match params.generator {
            Generator::Numpy => Box::new(NumpyRandomState::new(params.seed as u32)),
            Generator::Torch => Box::new(TorchGenerator::new(params.seed)),
        };
        let sigma = sched.init_noise_sigma();
        let mut latents: Vec<f32> = rng
            .randn(latent_len)
            .into_iter()
            .map(|x| x * sigma)
            .collect();

        let timestep_info = g.unet.input("timestep", 1)?.clone();
        let states_info = g.unet.input("encoder_hidden_states", 2)?.clone();
        let out_name = g.unet.output("out_sample", 0)?.name.clone();
        let timesteps = sched.timesteps().to_vec();
        let total = timesteps.len();
        let mut model_in = vec![0f32; batch * channels * lh * lw];
        let mut guided = vec![0f32; latent_len];
        for (i, &t) in timesteps.iter().enumerate() {
            if self.cancelled(epoch) {
                return Err(cancelled());
            }
            model_in[..latent_len].copy_from_slice(&latents);
            if cfg {
                model_in[latent_len..].copy_from_slice(&latents);
            }
            sched.scale_model_input(&mut model_in, i);
            let t_value = if timestep_info.shape.is_empty() {
                scalar_timestep(&timestep_info, &[], t)?
            } else {
                let n = match timestep_info.shape[0] {
                    d if d > 0 => d as usize,
                    _ => 1,
                };
                scalar_timestep(&timestep_info, &[n], t)?
            };
            let inputs = vec![
                (
                    unet_sample.name.clone(),
                    float_value(&unet_sample, &[batch, channels, lh, lw], &model_in)?,
                ),
                (timestep_info.name.clone(), t_value),
                (
                    states_info.name.clone(),
                    float_value(&states_info, &states_shape, &states)?,
                ),
            ];
            let noise = check(g.unet.run(inputs, &[&out_name], run))?;
            timings.unet += g.unet.last_run();
            if noise.data.len() != model_in.len() {
                return Err(Error::model(format!(
                    "unet returned shape {:?}, expected {:?}",
                    noise.shape,
                    [batch, channels, lh, lw]
                )));
            }
            if cfg {
                let (u, c) = noise.data.split_at(latent_len);
                for ((o, &u), &c) in guided.iter_mut().zip(u).zip(c) {
                    *o = u + params.guidance * (c - u);
                }
            } else {
                guided.copy_from_slice(&noise.data);
            }
            sched.step(&guided, i, &mut latents, rng.as_mut())?;
            if let Some(cb) = progress.as_mut() {
                if !cb(i + 1, total) {
                    // Cancels this call only; other calls waiting on the pipeline go on.
                    return Err(cancelled());
                }
            }
        }
        if self.cancelled(epoch) {
            return Err(cancelled());
        }

        // VAE decoder on the whole batch.
        let scale = self.config.vae_scaling_factor;
        for x in latents.iter_mut() {
            *x /= scale;
        }
        let vae_in = g.vae_decoder.input("latent_sample", 0)?.clone();
        let vae_out = g.vae_decoder.output("sample", 0)?.name.clone();
        let image = check(g.vae_decoder.run(
            vec![(
                vae_in.name.clone(),
                float_value(&vae_in, &[count, channels, lh, lw], &latents)?,
            )],
            &[&vae_out],
            run,
        ))?;
        timings.vae_decoder = g.vae_decoder.last_run();
        if image.shape != [count, 3, height, width] {
            return Err(Error::model(format!(
                "vae_decoder returned shape {:?}, expected {:?}",
                image.shape,
                [count, 3, height, width]
            )));
        }
        Ok(Images {
            width,
            height,
            images: to_rgb8(&image.data, count, width, height),
            timings,
        })
    }

    fn encode_text(
        &self,
        model: &mut OnnxModel,
        ids: &[u32],
        run: &RunOptions,
    ) -> Result<Vec<FloatTensor>> {
        let ids_info = model.input("input_ids", 0)?.clone();
        let out = model.output("last_hidden_state", 0)?.name.clone();
        let ids: Vec<i64> = ids.iter().map(|&x| x as i64).collect();
        let value = int_value(&ids_info, &[1, ids.len()], &ids)?;
        let r = model.run(vec![(ids_info.name.clone(), value)], &[&out], run)?;
        let t = r
            .first()
            .ok_or_else(|| Error::model("text_encoder returned nothing"))?;
        if t.shape.len() != 3 || t.shape[0] != 1 {
            return Err(Error::model(format!(
                "text_encoder returned shape {:?}, expected [1, tokens, hidden]",
                t.shape
            )));
        }
        Ok(r)
    }
}

fn nonzero_or(v: usize, default: usize) -> usize {
    if v == 0 {
        default
    } else {
        v
    }
}

fn scalar_timestep(
    info: &crate::model::session::IoInfo,
    shape: &[usize],
    t: f64,
) -> Result<ort::value::DynValue> {
    let n: usize = shape.iter().product();
    use ort::value::TensorElementType as T;
    match info.elem {
        // Truncated, as optimum's `astype(int64)` does with fractional (Karras) timesteps.
        T::Int64 | T::Int32 => int_value(info, shape, &vec![t.trunc() as i64; n]),
        _ => float_value(info, shape, &vec![t as f32; n]),
    }
}

/// The free dimensions optimum's exporter names, pinned for static-shape providers.
/// (The names are those of `optimum-cli export onnx`; the UNet batch assumes classifier-free
/// guidance, which `validate` requires under static shapes.)
fn static_dims(
    part: &str,
    (width, height, count): (usize, usize, usize),
    tokens: usize,
    config: &ModelConfig,
) -> Vec<(&'static str, usize)> {
    let f = config.vae_scale_factor;
    match part {
        "text_encoder" => vec![("batch_size", 1), ("sequence_length", tokens)],
        "unet" => vec![
            ("batch_size", 2 * count),
            ("height", height / f),
            ("width", width / f),
            ("sequence_length", tokens),
        ],
        "vae_decoder" => vec![
            ("batch_size", count),
            ("latent_height", height / f),
            ("latent_width", width / f),
        ],
        _ => Vec::new(),
    }
}

/// NCHW floats in [-1, 1] to interleaved RGB8, as diffusers: `round(clamp(x/2+0.5, 0, 1)*255)`.
pub fn to_rgb8(data: &[f32], count: usize, width: usize, height: usize) -> Vec<Vec<u8>> {
    let plane = width * height;
    (0..count)
        .map(|n| {
            let img = &data[n * 3 * plane..(n + 1) * 3 * plane];
            let mut out = vec![0u8; plane * 3];
            for c in 0..3 {
                for (p, &x) in img[c * plane..(c + 1) * plane].iter().enumerate() {
                    let v = (x / 2.0 + 0.5).clamp(0.0, 1.0);
                    out[p * 3 + c] = (v * 255.0).round_ties_even() as u8;
                }
            }
            out
        })
        .collect()
}
