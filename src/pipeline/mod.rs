//! The diffusion pipeline in stages, as diffusers' `StableDiffusion*Pipeline.__call__` runs
//! them: [`request`] (params and their checks), [`text`] (prompt to embeddings), [`latents`]
//! (the initial latents of each mode), [`denoise`] (the one loop every mode shares, with
//! per-step hooks), [`decode`] (VAE to RGB8). This file loads the graphs and runs the stages.

mod decode;
mod denoise;
mod latents;
mod request;
mod text;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ort::session::{RunOptions, Session};
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};
use crate::model::session::{load_session, FloatTensor, OnnxModel};
use crate::model::{ModelConfig, ModelFolder};
use crate::runtime::{self, CoreMlOptions, LogLevel, Provider};
use crate::scheduler::{self, PredictionType, SchedulerKind, SchedulerOverrides};
use crate::tokenizer::ClipTokenizer;

pub use decode::to_rgb8;
pub use request::{GenerateParams, Images, Progress, Timings, MAX_COUNT, MAX_SIDE};

use request::{nonzero_or, StaticShape};

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

/// The graphs one call runs; held under the pipeline's lock for the whole call.
struct Graphs {
    text_encoder: OnnxModel,
    unet: OnnxModel,
    vae_decoder: OnnxModel,
}

/// Builds ONNX Runtime sessions for the parts of one model folder, the same way for every part.
struct SessionFactory {
    folder: ModelFolder,
    options: PipelineOptions,
    provider: Provider,
    static_shape: Option<StaticShape>,
    tokens: usize,
}

impl SessionFactory {
    fn load(&self, part: &str, config: &ModelConfig) -> Result<OnnxModel> {
        let rt = runtime::get_or_init()?;
        let options = &self.options;
        // ort defaults to automatic EP selection (MaxEfficiency), which on macOS registers
        // CoreML behind the caller's back and here changes CPU threading; sdrt registers the
        // providers it was asked for, and nothing else. Idle intra-op threads do not spin:
        // the graphs run one after another, and a pool spinning after its graph finished
        // takes cores from the next one (and from the host application).
        let mut b = Session::builder(&rt.env)?
            .with_auto_device(ort::session::builder::AutoDevicePolicy::PreferCPU)?
            .with_intra_op_spinning(false)?;
        if options.intra_op_threads > 0 {
            b = b.with_intra_threads(options.intra_op_threads)?;
        }
        let pinned = self
            .static_shape
            .map(|shape| static_dims(part, shape, self.tokens, config))
            .unwrap_or_default();
        for &(dim, size) in &pinned {
            b = b.with_dimension_override(dim, size as i64)?;
        }
        let eps =
            runtime::execution_providers(self.provider, &options.coreml, options.cuda_device_id);
        if !eps.is_empty() {
            b = b.with_execution_providers(&eps).map_err(|e| {
                Error::new(
                    ErrorKind::ProviderUnavailable,
                    format!("{part}: could not register {}: {e}", self.provider.name()),
                )
            })?;
        }
        let session = load_session(b, &self.folder.onnx(part))?;
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
    }
}

/// A loaded model, ready to generate. `Send + Sync`; generate calls are serialized.
pub struct Pipeline {
    root: PathBuf,
    config: ModelConfig,
    tokenizer: ClipTokenizer,
    graphs: Mutex<Graphs>,
    sessions: SessionFactory,
    cancel_epoch: AtomicU64,
    active_run: Mutex<Option<Arc<RunOptions>>>,
}

/// One call's link to cancellation: its ONNX Runtime run options and the cancel epoch it
/// started in.
pub(crate) struct Call<'a> {
    run: &'a RunOptions,
    epoch: u64,
    cancel_epoch: &'a AtomicU64,
}

impl Call<'_> {
    fn cancelled(&self) -> bool {
        self.cancel_epoch.load(Ordering::SeqCst) != self.epoch
    }

    fn cancelled_error() -> Error {
        Error::new(ErrorKind::Cancelled, "generation was cancelled")
    }

    /// `Cancelled` once `Pipeline::cancel` ran after this call started.
    fn check_cancel(&self) -> Result<()> {
        if self.cancelled() {
            Err(Self::cancelled_error())
        } else {
            Ok(())
        }
    }

    /// The first output of a graph run; a run that failed because of a cancel is `Cancelled`.
    fn first(&self, r: Result<Vec<FloatTensor>>) -> Result<FloatTensor> {
        match r {
            Err(_) if self.cancelled() => Err(Self::cancelled_error()),
            Err(e) => Err(e),
            Ok(mut v) => {
                if v.is_empty() {
                    Err(Error::model("a graph returned no output"))
                } else {
                    Ok(v.swap_remove(0))
                }
            }
        }
    }
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
        let sessions = SessionFactory {
            folder,
            options: options.clone(),
            provider,
            static_shape,
            tokens: tokenizer.max_length(),
        };
        let graphs = Graphs {
            text_encoder: sessions.load("text_encoder", &config)?,
            unet: sessions.load("unet", &config)?,
            vae_decoder: sessions.load("vae_decoder", &config)?,
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
            sessions,
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
            provider: self.sessions.provider,
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

    /// Generates `params.count` images. `progress` is called on the calling thread after
    /// each step.
    pub fn generate(
        &self,
        params: &GenerateParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Images> {
        let started = Instant::now();
        let epoch = self.cancel_epoch.load(Ordering::SeqCst);
        let plan = request::plan(params, &self.config, self.sessions.static_shape)?;
        let overrides = SchedulerOverrides {
            prediction_type: params.prediction_type,
            timestep_spacing: params.timestep_spacing,
            eta: params.eta,
        };
        let mut sched = scheduler::create(
            plan.scheduler,
            &self.config.scheduler,
            params.steps,
            &overrides,
        )?;

        let mut graphs = self.graphs.lock();
        let run = Arc::new(RunOptions::new()?);
        *self.active_run.lock() = Some(Arc::clone(&run));
        let call = Call {
            run: &run,
            epoch,
            cancel_epoch: &self.cancel_epoch,
        };
        let result = self.run_stages(&call, &mut graphs, params, &plan, sched.as_mut(), progress);
        *self.active_run.lock() = None;
        result.map(|mut images| {
            images.timings.total = started.elapsed();
            images
        })
    }

    /// The stages of one call, under the graphs' lock.
    fn run_stages(
        &self,
        call: &Call<'_>,
        g: &mut Graphs,
        params: &GenerateParams,
        plan: &request::Plan,
        sched: &mut dyn scheduler::Scheduler,
        progress: Option<Progress<'_>>,
    ) -> Result<Images> {
        call.check_cancel()?;
        let mut timings = Timings::default();
        let text = text::encode_prompts(
            call,
            &mut g.text_encoder,
            &self.tokenizer,
            &params.prompt,
            params.negative_prompt.as_deref().unwrap_or(""),
            params.count,
            plan.cfg,
            &mut timings,
        )?;

        let f = self.config.vae_scale_factor;
        let channels = match g.unet.input("sample", 0)?.shape.get(1) {
            Some(&c) if c > 0 => c as usize,
            _ => 4,
        };
        let spec = denoise::LoopSpec {
            count: params.count,
            channels,
            height: plan.height / f,
            width: plan.width / f,
            cfg: plan.cfg,
            guidance: params.guidance,
        };
        let mut rng = latents::generator(params.generator, params.seed);
        let mut lat = latents::noise(rng.as_mut(), spec.latent_len(), sched.init_noise_sigma());
        denoise::denoise(
            call,
            &mut g.unet,
            sched,
            &spec,
            &text,
            &mut lat,
            rng.as_mut(),
            &mut denoise::NoHooks,
            progress,
            &mut timings,
        )?;

        let scale = self.config.vae_scaling_factor;
        for x in lat.iter_mut() {
            *x /= scale;
        }
        let images = decode::decode(
            call,
            &mut g.vae_decoder,
            &lat,
            [spec.count, spec.channels, spec.height, spec.width],
            (plan.width, plan.height),
        )?;
        timings.vae_decoder = g.vae_decoder.last_run();
        Ok(Images {
            width: plan.width,
            height: plan.height,
            images,
            timings,
        })
    }
}

/// The free dimensions optimum's exporter names, pinned for static-shape providers.
/// (The names are those of `optimum-cli export onnx`; the UNet batch assumes classifier-free
/// guidance, which the request checks require under static shapes.)
fn static_dims(
    part: &str,
    (width, height, count): StaticShape,
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
