//! The diffusion pipeline in stages, as diffusers' `StableDiffusion*Pipeline.__call__` runs
//! them, over the model's family (`crate::family`): [`plan`](plan) (every check of a request,
//! and its scheduler), the family's text conditioning, [`latents`](latents) (the initial
//! latents and per-step hooks of each mode), [`denoise`](denoise) (the one loop every mode
//! shares), [`decode`](decode) (VAE to RGB8), then the safety checker. [`call`](call) holds a
//! call's cancellation and re-entry guard, [`preview`](preview) the previews. This file loads
//! the graphs and runs the stages.

mod call;
mod controlnet;
mod decode;
mod denoise;
mod estimate;
mod latents;
mod lora;
mod options;
mod plan;
mod preview;
mod pyfloat;
mod request;
mod safety;
mod stages;

use std::path::{Path, PathBuf};
#[cfg(feature = "test-hooks")]
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::family::{self, Family, LatentFormat};
use crate::model::agreement;
use crate::model::bindings::{Bindings, VaeDecoderIo, VaeEncoderIo};
use crate::model::graphs::GraphDims;
use crate::model::loader::Loader;
use crate::model::session::OnnxModel;
use crate::model::{ModelConfig, ModelFolder};
use crate::runtime::{self, LogLevel, PipelineLog, Provider};
use crate::tokenizer::ClipTokenizer;

pub use crate::family::SD_LATENT_RGB as LATENT_RGB;
pub use crate::model::cache::CacheDir;
pub(crate) use call::Call;
pub use call::CallStart;
pub use controlnet::{guess_ramp, ControlNet};
pub use decode::to_rgb8;
pub use denoise::{guidance_embedding, rescale_noise_cfg};
pub use estimate::{estimate_peak, human_bytes, PeakEstimate};
pub use lora::{LoraId, LoraWeight};
pub use options::{PipelineInfo, PipelineOptions, Preview, StepInfo, StepObserver};
pub use plan::get_timesteps;
pub use preview::latent_rgb;
pub use request::{
    GenerateParams, GrayImage, Images, Latents, MicroConditioning, PreviewKind, Progress,
    PromptWeighting, RgbImage, Timings, DEFAULT_MEMORY_LIMIT, MAX_COUNT, MAX_SIDE,
};
pub use safety::{pil_resize_bicubic, ClipPreprocess};

use call::{Cancellation, Reentry};
use plan::nonzero_or;

/// The graphs one call runs; held under the pipeline's lock for the whole call. The VAE
/// encoder and the preview decoder are loaded by the first call that needs them; in the
/// low-memory mode every graph is loaded when its stage starts and dropped when it ends
/// (`None` between calls).
#[derive(Default)]
struct Graphs {
    /// The family's text graphs, in the order of its `text_parts`.
    text: Vec<Option<OnnxModel>>,
    unet: Option<OnnxModel>,
    vae_decoder: Option<OnnxModel>,
    vae_encoder: Option<OnnxModel>,
    preview_decoder: Option<OnnxModel>,
    safety_checker: Option<OnnxModel>,
    /// The VAE encoder's and preview decoder's bindings, from their first load.
    vae_encoder_io: Option<VaeEncoderIo>,
    preview_io: Option<VaeDecoderIo>,
    /// The safety checker's image processing; `Some` when every call runs the checker.
    safety_pre: Option<safety::ClipPreprocess>,
    /// The ControlNets calls have used, by graph file (loaded on first use).
    controlnets: std::collections::HashMap<PathBuf, controlnet::Loaded>,
}

/// A loaded model, ready to generate. `Send + Sync`; generate calls are serialized.
pub struct Pipeline {
    root: PathBuf,
    folder: ModelFolder,
    config: ModelConfig,
    family: Box<dyn Family>,
    /// The family's text parts.
    text_parts: &'static [&'static str],
    format: LatentFormat,
    graphs: Mutex<Graphs>,
    loader: Loader,
    log: PipelineLog,
    low_memory: bool,
    profile_memory: bool,
    preview_decoder: Option<PathBuf>,
    has_safety_checker: bool,
    dims: GraphDims,
    io: Bindings,
    /// The ControlNet residuals the UNet takes (channels, times halved), when it takes them.
    residual_levels: Option<Vec<(usize, usize)>>,
    cancellation: Cancellation,
    /// The LoRAs loaded into this pipeline.
    loras: Mutex<lora::Registry>,
    /// Test hook: panic after this UNet evaluation (0 = never).
    #[cfg(feature = "test-hooks")]
    debug_panic_step: AtomicUsize,
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        // The sessions go inside the pipeline's scope: what ONNX Runtime's environment logs
        // as they release their memory is this pipeline's.
        let _route = runtime::enter(&self.log);
        drop(std::mem::take(self.graphs.get_mut()));
    }
}

impl Pipeline {
    /// Loads a model folder (the runtime is initialized with defaults if needed).
    pub fn load(dir: &Path, options: &PipelineOptions) -> Result<Pipeline> {
        let log = PipelineLog::new(options.logger.clone());
        // ONNX Runtime's environment messages while this loads (its allocators') are this
        // pipeline's; the same in each call below and when the pipeline is dropped.
        let _route = runtime::enter(&log);
        let folder = ModelFolder::open(dir)?;
        let config = folder.config()?;
        // The graphs from their files first: a folder whose graphs do not fit fails in
        // milliseconds, before the tokenizer and any session are built.
        let detected = family::detect(&folder)?;
        let files = agreement::check_files(&folder, &config, &detected.text)?;
        let family = detected.load(&folder)?;
        let rt = runtime::get_or_init()?;
        let mut provider =
            runtime::resolve_provider(rt, options.provider, options.strict_provider, &log)?;
        let plugin = if provider.is_plugin() {
            let plugin =
                runtime::resolve_plugin(rt, provider, &options.ep, options.strict_provider, &log)?;
            if plugin.is_none() {
                provider = Provider::Cpu;
            }
            plugin
        } else {
            None
        };

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
        let loader = Loader::new(
            folder.clone(),
            options.session_settings(provider, plugin),
            log.clone(),
            static_shape,
            family.tokenizer().max_length(),
            config.vae_scale_factor,
        );
        // Each graph is loaded and checked; the low-memory mode keeps only what the checks
        // read from it (its inputs and outputs), and loads it again when a call needs it.
        let low = options.low_memory;
        let mut io = Vec::new();
        let mut keep = |part: &str| -> Result<Option<OnnxModel>> {
            let model = loader.load(part)?;
            io.push((model.inputs().to_vec(), model.outputs().to_vec()));
            Ok(if low {
                drop(model);
                crate::memory::trim_heap();
                None
            } else {
                Some(model)
            })
        };
        let mut text = Vec::new();
        for part in detected.text.parts {
            text.push(keep(part)?);
        }
        let unet = keep("unet")?;
        let vae_decoder = keep("vae_decoder")?;
        let mut graphs = Graphs {
            text,
            unet,
            vae_decoder,
            vae_encoder: None,
            preview_decoder: None,
            safety_checker: None,
            vae_encoder_io: None,
            preview_io: None,
            safety_pre: None,
            controlnets: Default::default(),
        };
        let n = io.len();
        let (Some(un), Some(vd)) = (io.get(n.wrapping_sub(2)), io.get(n.wrapping_sub(1))) else {
            return Err(Error::internal("graphs not loaded"));
        };
        let text_io: Vec<agreement::Io<'_>> =
            io[..n - 2].iter().map(|(i, o)| (&i[..], &o[..])).collect();
        let (dims, bindings) = agreement::check_models(
            &folder,
            &config,
            &detected.text,
            &family.tokenizers(),
            &files,
            &text_io,
            [(&un.0, &un.1), (&vd.0, &vd.1)],
        )?;
        family.check_bindings(&folder, &bindings)?;
        let residual_levels = match &bindings.unet.residuals {
            Some(r) => Some(crate::model::controlnet::check_unet_residuals(
                &folder.onnx("unet"),
                r,
                &config.unet,
            )?),
            None => None,
        };
        let checker_path = folder.onnx("safety_checker");
        if !options.disable_safety_checker && checker_path.is_file() {
            let pre_path = dir
                .join("feature_extractor")
                .join("preprocessor_config.json");
            let pre = if pre_path.is_file() {
                safety::ClipPreprocess::from_json(&crate::model::read_json(&pre_path)?)?
            } else {
                log.log(
                    LogLevel::Warn,
                    &format!(
                        "{} is missing; the safety checker uses CLIP's image processing defaults",
                        pre_path.display()
                    ),
                );
                safety::ClipPreprocess::default()
            };
            let checker = loader.load("safety_checker")?;
            graphs.safety_checker = (!low).then_some(checker);
            graphs.safety_pre = Some(pre);
        }
        log.log(
            LogLevel::Info,
            &format!(
                "loaded {} ({}) on {} in {:.2}s (native {}x{}, {}, scheduler {})",
                dir.display(),
                family.name(),
                provider.name(),
                started.elapsed().as_secs_f64(),
                nw,
                nh,
                config.prediction_type.name(),
                config.scheduler.class_name()
            ),
        );
        let has_safety_checker = graphs.safety_pre.is_some();
        let format = family.latent_format(&config, dims.latent_channels);
        Ok(Pipeline {
            root: dir.to_path_buf(),
            folder,
            config,
            family,
            text_parts: detected.text.parts,
            format,
            graphs: Mutex::new(graphs),
            loader,
            log,
            low_memory: options.low_memory,
            profile_memory: options.profile_memory,
            preview_decoder: options.preview_decoder.clone(),
            has_safety_checker,
            dims,
            io: bindings,
            residual_levels,
            cancellation: Cancellation::default(),
            loras: Mutex::new(lora::Registry::new()),
            #[cfg(feature = "test-hooks")]
            debug_panic_step: AtomicUsize::new(0),
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
            default_scheduler: self.family.default_scheduler(&self.config),
            provider: self.loader.provider(),
            graph_providers: self.loader.graph_providers(),
            safety_checker: self.has_safety_checker,
            unet_in_channels: self.dims.unet_in_channels,
            timestep_cond_dim: self.dims.timestep_cond.unwrap_or(0),
        }
    }

    /// The model folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The tokenizer (e.g. to warn about truncated prompts).
    pub fn tokenizer(&self) -> &ClipTokenizer {
        self.family.tokenizer()
    }

    fn id(&self) -> usize {
        self as *const Pipeline as usize
    }

    /// Whether the calling thread is inside a generate call on this pipeline (so inside one of
    /// its callbacks): freeing the pipeline there would pull it from under that call.
    pub fn is_generating_on_this_thread(&self) -> bool {
        call::generating_on_this_thread(self.id())
    }

    /// Test hook (the `test-hooks` feature, which only the tests enable): makes the next
    /// generate calls panic inside the denoising loop after UNet evaluation `step` (0 turns it
    /// off), to prove that a panic comes back as an internal error and leaves the pipeline
    /// usable.
    #[cfg(feature = "test-hooks")]
    #[doc(hidden)]
    pub fn debug_panic_after_step(&self, step: usize) {
        self.debug_panic_step.store(step, Ordering::Relaxed);
    }

    /// Cancels every `generate` call in progress or waiting on this pipeline, and every call
    /// that started (see [`Pipeline::call_start`]) before now; calls that start afterwards are
    /// unaffected. Safe from any thread.
    pub fn cancel(&self) {
        self.cancellation.cancel();
    }

    /// Now, as the start of a call: a later [`Pipeline::cancel`] cancels a call given this
    /// start. A host that prepares a call's inputs first (the C API copies the init image)
    /// takes it on entry, so a cancel during the preparation is not lost.
    pub fn call_start(&self) -> CallStart {
        self.cancellation.start()
    }

    /// Generates `params.count` images. `progress` is called on the calling thread after
    /// each step with `(steps done, total)`.
    pub fn generate(
        &self,
        params: &GenerateParams,
        progress: Option<Progress<'_>>,
    ) -> Result<Images> {
        match progress {
            Some(p) => {
                let mut observer = |s: &StepInfo<'_>| p(s.step, s.total);
                self.generate_observed(params, Some(&mut observer))
            }
            None => self.generate_observed(params, None),
        }
    }

    /// Generates `params.count` images; `observer` sees every step, with the previews the
    /// request asks for.
    pub fn generate_observed(
        &self,
        params: &GenerateParams,
        observer: Option<StepObserver<'_>>,
    ) -> Result<Images> {
        self.generate_from(self.call_start(), params, observer)
    }

    /// [`Pipeline::generate_observed`] for a call that started at `start`: a cancel after
    /// `start` cancels it.
    pub fn generate_from(
        &self,
        start: CallStart,
        params: &GenerateParams,
        observer: Option<StepObserver<'_>>,
    ) -> Result<Images> {
        let started = Instant::now();
        let _route = runtime::enter(&self.log);
        let _reentry = Reentry::enter(self.id())?;
        let model = plan::Model {
            config: &self.config,
            dims: &self.dims,
            static_shape: self.loader.static_shape(),
            latent_rgb: self.format.latent_rgb.is_some(),
            default_scheduler: self.family.default_scheduler(&self.config),
            latent_family: self.family.latent_family(),
            micro_conditioning: self.io.unet.added.is_some(),
        };
        let plan = plan::plan(params, &model)?;
        self.family.check_request(params)?;
        self.check_loras(params)?;
        let controlnets = controlnet::check(
            params,
            &self.root,
            (plan.width, plan.height),
            self.io.unet.residuals.as_ref(),
            &self.folder.onnx("unet"),
        )?;
        let mut graphs = self.graphs.lock();
        // Registered until the stages end, however they end (a panic included).
        let registered = self.cancellation.register(start, &self.log)?;
        let call = registered.call();
        let stages = stages::Stages {
            plan,
            controlnets,
            started,
        };
        let result = self.run_stages(&call, &mut graphs, params, stages, observer);
        result.map(|mut images| {
            images.timings.total = started.elapsed();
            images
        })
    }

    /// Renders `count` UNet-space latents (`[count, C, height, width]`, as the denoising loop
    /// holds them) the way a preview of `kind` does: `(width, height, RGB8 images)`. Like a
    /// generate call, it waits for the pipeline and [`Pipeline::cancel`] stops it.
    pub fn render_preview(
        &self,
        kind: PreviewKind,
        latents: &[f32],
        count: usize,
        (width, height): (usize, usize),
    ) -> Result<(usize, usize, Vec<Vec<u8>>)> {
        let start = self.call_start();
        let _route = runtime::enter(&self.log);
        let c = self.format.channels;
        if count == 0 || latents.len() != count * c * width * height {
            return Err(Error::invalid(format!(
                "latents: {} values for {count} x {c} x {height} x {width}",
                latents.len()
            )));
        }
        let params = GenerateParams {
            preview: kind,
            ..GenerateParams::default()
        };
        let _reentry = Reentry::enter(self.id())?;
        let mut g = self.graphs.lock();
        let registered = self.cancellation.register(start, &self.log)?;
        let call = registered.call();
        call.check_cancel()?;
        let mut timings = Timings::default();
        self.ensure_graphs(&mut g, &params, &mut timings)?;
        if kind == PreviewKind::Full {
            self.stage(&mut g.vae_decoder, "vae_decoder", &mut timings)?;
        }
        let Graphs {
            vae_decoder,
            preview_decoder,
            preview_io,
            ..
        } = &mut *g;
        let (vae_file, preview_file) = (self.folder.onnx("vae_decoder"), self.preview_file());
        let r = preview::render(
            &call,
            kind,
            latents,
            [count, c, height, width],
            &self.format,
            vae_decoder
                .as_mut()
                .map(|m| (m, &self.io.vae_decoder, vae_file.as_path())),
            preview_decoder
                .as_mut()
                .zip(preview_io.as_ref())
                .map(|(m, io)| (m, io, preview_file.as_path())),
        );
        self.release(vae_decoder, &mut timings);
        r
    }
}
