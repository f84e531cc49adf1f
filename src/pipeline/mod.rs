//! The diffusion pipeline in stages, as diffusers' `StableDiffusion*Pipeline.__call__` runs
//! them: [`request`] (params and their checks), [`text`] (prompt to embeddings), [`latents`]
//! (the initial latents of each mode), [`denoise`] (the one loop every mode shares, with
//! per-step hooks), [`decode`] (VAE to RGB8). This file loads the graphs and runs the stages.

mod decode;
mod denoise;
mod latents;
mod preview;
mod request;
mod safety;
mod text;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use ort::session::RunOptions;
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};
pub use crate::model::cache::CacheDir;
use crate::model::graphs::GraphDims;
use crate::model::session::{load_session, FloatTensor, OnnxModel};
use crate::model::{ModelConfig, ModelFolder};
use crate::runtime::{self, CoreMlOptions, LogLevel, Logger, PipelineLog, Provider};
use crate::scheduler::{self, PredictionType, SchedulerKind, SchedulerOverrides};
use crate::tokenizer::ClipTokenizer;

pub use decode::to_rgb8;
pub use denoise::{guidance_embedding, rescale_noise_cfg};
pub use preview::{latent_rgb, LATENT_RGB};
pub use request::{
    begin_index, estimate_peak, human_bytes, GenerateParams, GrayImage, Images, PeakEstimate,
    PreviewKind, Progress, RgbImage, Timings, DEFAULT_MEMORY_LIMIT, MAX_COUNT, MAX_SIDE,
};
pub use safety::{pil_resize_bicubic, ClipPreprocess};

use request::{nonzero_or, Mode, StaticShape};

/// What a step observer sees after each UNet evaluation.
#[derive(Debug, Clone, Copy)]
pub struct StepInfo<'a> {
    /// UNet evaluations done in this call, 1..=`total`.
    pub step: usize,
    /// UNet evaluations this call runs (fewer than `steps` with image-to-image strength;
    /// `steps + 1` for PNDM, `2 * steps - 1` for Heun).
    pub total: usize,
    /// The timestep just evaluated.
    pub timestep: f64,
    /// Time since the call started.
    pub elapsed: std::time::Duration,
    /// A preview, on the steps the request asked for one.
    pub preview: Option<Preview<'a>>,
}

/// A preview of every image of the batch: the clean image predicted at that step.
#[derive(Debug, Clone, Copy)]
pub struct Preview<'a> {
    /// How it was made.
    pub kind: PreviewKind,
    /// Width in pixels (1/8 of the image's for `LatentRgb`).
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// One RGB8 buffer of `width * height * 3` bytes per image.
    pub images: &'a [Vec<u8>],
}

/// Called on the generating thread after each UNet evaluation; `false` cancels the call.
pub type StepObserver<'a> = &'a mut dyn FnMut(&StepInfo<'_>) -> bool;

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
    /// The TAESD decoder for `taesd` previews; `None` = `vae_preview/model.onnx` in the model
    /// folder. Loaded on the first call that asks for such previews.
    pub preview_decoder: Option<PathBuf>,
    /// Do not run the folder's `safety_checker/model.onnx` (SD 1.x exports) even when present.
    pub disable_safety_checker: bool,
    /// Where the cache of graphs ONNX Runtime optimized on this machine lives (CPU provider;
    /// the first load saves them, later loads start from them), and CoreML's compiled models
    /// (in its `coreml/` folder unless `coreml.cache_dir` is set). Default: the platform's
    /// cache folder ([`crate::model::cache::platform_dir`]) or `$SDRT_CACHE_DIR`.
    /// See [`crate::model::cache`]; it costs about the model's size again on disk.
    pub graph_cache: CacheDir,
    /// Low-memory mode, like Apple's `reduceMemory`: the pipeline holds no graph between
    /// calls, and a call loads each stage's graph (text encoder, UNet, VAE decoder, ...) when
    /// the stage starts and frees it, with its activations, when the stage ends. Peak memory
    /// becomes the largest graph's instead of all of them; each call pays the loads (fast
    /// with the graph cache). Images are identical to the default mode's.
    pub low_memory: bool,
    /// Record each stage's peak resident set in [`Timings::peak_rss`] (Linux). It resets the
    /// process's peak-RSS reading (`/proc/self/clear_refs`), so it is for benchmarks.
    pub profile_memory: bool,
    /// Where this pipeline's messages go (sdrt's about it, and ONNX Runtime's for its
    /// sessions); `None` = the process-wide logger of [`runtime::set_logger`].
    pub logger: Option<Logger>,
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
    /// Whether every call runs the folder's safety checker.
    pub safety_checker: bool,
    /// Channels of the UNet's `sample` input (9 for inpainting models).
    pub unet_in_channels: usize,
    /// `time_cond_proj_dim` of an LCM-distilled UNet, 0 otherwise.
    pub timestep_cond_dim: usize,
}

/// The graphs one call runs; held under the pipeline's lock for the whole call. The VAE
/// encoder and the preview decoder are loaded by the first call that needs them; in the
/// low-memory mode every graph is loaded when its stage starts and dropped when it ends
/// (`None` between calls).
struct Graphs {
    text_encoder: Option<OnnxModel>,
    unet: Option<OnnxModel>,
    vae_decoder: Option<OnnxModel>,
    vae_encoder: Option<OnnxModel>,
    preview_decoder: Option<OnnxModel>,
    safety_checker: Option<OnnxModel>,
    /// The safety checker's image processing; `Some` when every call runs the checker.
    safety_pre: Option<safety::ClipPreprocess>,
}

/// What the cache keys of `part` hold besides its files (see `SessionFactory::cache_settings`).
fn cache_settings(
    ort_version: &str,
    provider: Provider,
    options: &PipelineOptions,
    part: &str,
    pinned: &[(&'static str, usize)],
) -> String {
    let mut s = format!(
        "sdrt graph cache 1; onnxruntime {ort_version}; provider {}; intra-op threads {}; \
         part {part}; level all",
        provider.name(),
        options.intra_op_threads
    );
    if !pinned.is_empty() {
        s.push_str(&format!("; pinned {pinned:?}"));
    }
    if provider == Provider::CoreMl {
        let c = &options.coreml;
        s.push_str(&format!(
            "; coreml units {:?}, ml program {}, static shapes {}",
            c.compute_units, c.ml_program, c.static_shapes
        ));
    }
    s
}

/// Builds ONNX Runtime sessions for the parts of one model folder, the same way for every part.
struct SessionFactory {
    folder: ModelFolder,
    options: PipelineOptions,
    log: PipelineLog,
    provider: Provider,
    static_shape: Option<StaticShape>,
    tokens: usize,
}

impl SessionFactory {
    fn load(&self, part: &str, config: &ModelConfig) -> Result<OnnxModel> {
        self.load_file(part, &self.folder.onnx(part), config)
    }

    /// What the graph cache's and CoreML's cache keys hold besides the model files: every
    /// setting that changes the graph ONNX Runtime or CoreML builds from them.
    fn cache_settings(&self, part: &str, pinned: &[(&'static str, usize)]) -> Result<String> {
        let rt = runtime::get_or_init()?;
        Ok(cache_settings(
            rt.version(),
            self.provider,
            &self.options,
            part,
            pinned,
        ))
    }

    /// CoreML's `ModelCacheDirectory` for `part`: one folder per graph and key under the
    /// pipeline's CoreML cache folder (its option, else `coreml/` in the cache folder), so a
    /// changed model file or option never reuses a stale compiled model (CoreML's own key is
    /// the model's path). `None`: not CoreML, or no cache.
    fn coreml_cache_dir(
        &self,
        part: &str,
        path: &Path,
        pinned: &[(&'static str, usize)],
    ) -> Result<Option<PathBuf>> {
        if self.provider != Provider::CoreMl {
            return Ok(None);
        }
        let base = match &self.options.coreml.cache_dir {
            Some(dir) => dir.clone(),
            None => match self.options.graph_cache.resolve() {
                Some(dir) => dir.join("coreml"),
                None => return Ok(None),
            },
        };
        let key = crate::model::cache::key(path, &self.cache_settings(part, pinned)?)?;
        Ok(Some(base.join(format!("{part}-{key}"))))
    }

    /// The free dimensions `part` gets pinned to (static shapes only).
    fn pinned(&self, part: &str, config: &ModelConfig) -> Vec<(&'static str, usize)> {
        self.static_shape
            .map(|shape| static_dims(part, shape, self.tokens, config))
            .unwrap_or_default()
    }

    /// A session builder with every option of this pipeline (logger, threads, the `pinned`
    /// dimensions, providers).
    fn builder(
        &self,
        part: &str,
        path: &Path,
        pinned: &[(&'static str, usize)],
    ) -> Result<ort::session::builder::SessionBuilder> {
        let rt = runtime::get_or_init()?;
        let options = &self.options;
        let mut coreml = options.coreml.clone();
        match self.coreml_cache_dir(part, path, pinned) {
            Ok(dir) => coreml.cache_dir = dir,
            Err(e) => {
                self.log.log(
                    LogLevel::Warn,
                    &format!("coreml cache: {e}; compiling {part} without it"),
                );
                coreml.cache_dir = None;
            }
        }
        runtime::session_builder(
            rt,
            &runtime::SessionSpec {
                part,
                provider: self.provider,
                intra_op_threads: options.intra_op_threads,
                // No memory pattern for the UNet: ONNX Runtime would plan one block for all of a
                // run's intermediate tensors, which at 512x512 holds 1.5 GB more at the UNet's
                // peak than allocating them from the arena as they come, for the same speed. The
                // VAE's convolutions are the other way round: their planned block is smaller than
                // the arena's (BENCHMARKS.md, "Session settings").
                memory_pattern: part != "unet",
                pinned,
                coreml,
                cuda_device_id: options.cuda_device_id,
                log: &self.log,
            },
        )
    }

    fn load_file(&self, part: &str, path: &Path, config: &ModelConfig) -> Result<OnnxModel> {
        let pinned = self.pinned(part, config);
        // The graph cache holds CPU graphs: other providers compile their own (CoreML keeps
        // its compiled models in its cache directory, keyed the same way).
        let cached = match self.options.graph_cache.resolve() {
            Some(dir) if self.provider == Provider::Cpu && pinned.is_empty() => {
                match self.load_cached(part, path, &dir) {
                    Ok(model) => Some(model),
                    Err(e) => {
                        self.log.log(
                            LogLevel::Warn,
                            &format!("graph cache: {e}; loading {part} without it"),
                        );
                        None
                    }
                }
            }
            _ => None,
        };
        let model = match cached {
            Some(m) => m,
            None => OnnxModel::new(
                part,
                load_session(self.builder(part, path, &pinned)?, path)?,
            )?,
        };
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

    /// `part` through the graph cache: the saved optimized graph with optimizations off (a
    /// hit), or the original graph optimized as usual and saved for next time (a miss).
    /// Cached graphs have no pinned dimensions.
    fn load_cached(&self, part: &str, path: &Path, dir: &Path) -> Result<OnnxModel> {
        use crate::model::cache::{self, Entry, GraphCache, DATA, GRAPH};
        use ort::session::builder::GraphOptimizationLevel;
        let key = cache::key(path, &self.cache_settings(part, &[])?)?;
        let gc = GraphCache::new(dir);
        for _ in 0..2 {
            match gc.lookup(part, &key)? {
                Entry::Hit(graph) => {
                    let b = self
                        .builder(part, path, &[])?
                        .with_optimization_level(GraphOptimizationLevel::Disable)?;
                    match load_session(b, &graph) {
                        Ok(s) => return OnnxModel::new(part, s),
                        // Unusable after all: drop the entry and build it again.
                        Err(e) => {
                            self.log.log(
                                LogLevel::Warn,
                                &format!(
                                    "graph cache: {} is unusable ({e}); rebuilding",
                                    graph.display()
                                ),
                            );
                            if let Some(entry) = graph.parent() {
                                let _ = std::fs::remove_dir_all(entry);
                            }
                        }
                    }
                }
                Entry::Miss { tmp, dir: entry } => {
                    let b = self
                        .builder(part, path, &[])?
                        .with_optimized_model_path(tmp.join(GRAPH))?
                        .with_config_entry(
                            "session.optimized_model_external_initializers_file_name",
                            DATA,
                        )?
                        .with_config_entry(
                            "session.optimized_model_external_initializers_min_size_in_bytes",
                            "1024",
                        )?;
                    let session = load_session(b, path);
                    let session = match session {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = std::fs::remove_dir_all(&tmp);
                            return Err(e);
                        }
                    };
                    if let Err(e) = gc.publish(&tmp, &entry, path) {
                        self.log.log(LogLevel::Warn, &format!("graph cache: {e}"));
                    }
                    return OnnxModel::new(part, session);
                }
            }
        }
        Err(Error::new(
            ErrorKind::Io,
            format!(
                "graph cache: no usable entry for {part} in {}",
                dir.display()
            ),
        ))
    }
}

/// A loaded model, ready to generate. `Send + Sync`; generate calls are serialized.
pub struct Pipeline {
    root: PathBuf,
    config: ModelConfig,
    tokenizer: ClipTokenizer,
    graphs: Mutex<Graphs>,
    sessions: SessionFactory,
    has_safety_checker: bool,
    dims: GraphDims,
    cancel_epoch: AtomicU64,
    active_run: Mutex<Vec<Arc<RunOptions>>>,
    /// Test hook: panic after this UNet evaluation (0 = never).
    debug_panic_step: AtomicUsize,
}

thread_local! {
    /// The pipelines (by address) whose generate call runs on this thread: a step callback
    /// calling generate on one of them would wait for its own lock forever.
    static GENERATING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Marks a pipeline as generating on this thread for the guard's lifetime.
struct Reentry(usize);

impl Reentry {
    fn enter(p: &Pipeline) -> Result<Reentry> {
        let id = p as *const Pipeline as usize;
        let busy = GENERATING
            .try_with(|g| {
                let mut g = g.borrow_mut();
                if g.contains(&id) {
                    true
                } else {
                    g.push(id);
                    false
                }
            })
            .unwrap_or(false);
        if busy {
            return Err(Error::invalid(
                "generate was called on a pipeline from inside its own callback (the same \
                 thread already runs a generate call on it, and calls on one pipeline take \
                 turns): return from the callback first, or use another pipeline",
            ));
        }
        Ok(Reentry(id))
    }
}

impl Drop for Reentry {
    fn drop(&mut self) {
        let _ = GENERATING.try_with(|g| {
            let mut g = g.borrow_mut();
            if let Some(k) = g.iter().rposition(|&x| x == self.0) {
                g.remove(k);
            }
        });
    }
}

/// Clears a pipeline's active run options when a call ends, however it ends.
struct ActiveRun<'a>(&'a Mutex<Vec<Arc<RunOptions>>>);

impl Drop for ActiveRun<'_> {
    fn drop(&mut self) {
        self.0.lock().clear();
    }
}

/// Run options for a graph's last run of a call: ONNX Runtime hands the arena memory of its
/// activations back when the run ends, instead of holding it until the next call (where the
/// next graph would need its own on top).
fn shrinking_run_options() -> Result<RunOptions> {
    let mut r = RunOptions::new()?;
    r.set("memory.enable_memory_arena_shrinkage", "cpu:0")?;
    Ok(r)
}

/// One call's link to cancellation: its ONNX Runtime run options and the cancel epoch it
/// started in.
pub(crate) struct Call<'a> {
    run: &'a RunOptions,
    /// The same, for a graph's last run of the call (see `shrinking_run_options`).
    last: &'a RunOptions,
    epoch: u64,
    cancel_epoch: &'a AtomicU64,
    /// The pipeline's logger.
    log: &'a PipelineLog,
}

impl Call<'_> {
    /// The run options of a graph run; `last`: the graph's last run of this call.
    pub(crate) fn options(&self, last: bool) -> &RunOptions {
        if last {
            self.last
        } else {
            self.run
        }
    }

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
        let log = PipelineLog::new(options.logger.clone());
        let folder = ModelFolder::open(dir)?;
        let config = folder.config()?;
        // The graphs from their files first: a folder whose graphs do not fit fails in
        // milliseconds, before the tokenizer and any session are built.
        crate::model::graphs::check_files(&folder, &config)?;
        let tokenizer = ClipTokenizer::from_dir(&folder.tokenizer_dir())?;
        let rt = runtime::get_or_init()?;
        let provider =
            runtime::resolve_provider(rt, options.provider, options.strict_provider, &log)?;

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
            log,
            provider,
            static_shape,
            tokens: tokenizer.max_length(),
        };
        // Each graph is loaded and checked; the low-memory mode keeps only what the checks
        // read from it (its inputs and outputs), and loads it again when a call needs it.
        let low = options.low_memory;
        let mut io = Vec::new();
        let mut keep = |part: &str| -> Result<Option<OnnxModel>> {
            let model = sessions.load(part, &config)?;
            io.push((model.inputs().to_vec(), model.outputs().to_vec()));
            Ok(if low {
                drop(model);
                crate::memory::trim_heap();
                None
            } else {
                Some(model)
            })
        };
        let mut graphs = Graphs {
            text_encoder: keep("text_encoder")?,
            unet: keep("unet")?,
            vae_decoder: keep("vae_decoder")?,
            vae_encoder: None,
            preview_decoder: None,
            safety_checker: None,
            safety_pre: None,
        };
        let [te, un, vd] = [&io[0], &io[1], &io[2]];
        let dims = crate::model::graphs::check_models(
            &sessions.folder,
            &config,
            &tokenizer,
            [(&te.0, &te.1), (&un.0, &un.1), (&vd.0, &vd.1)],
        )?;
        let checker_path = sessions.folder.onnx("safety_checker");
        if !options.disable_safety_checker && checker_path.is_file() {
            let pre_path = dir
                .join("feature_extractor")
                .join("preprocessor_config.json");
            let pre = if pre_path.is_file() {
                safety::ClipPreprocess::from_json(&crate::model::read_json(&pre_path)?)?
            } else {
                sessions.log.log(
                    LogLevel::Warn,
                    &format!(
                        "{} is missing; the safety checker uses CLIP's image processing defaults",
                        pre_path.display()
                    ),
                );
                safety::ClipPreprocess::default()
            };
            let checker = sessions.load("safety_checker", &config)?;
            graphs.safety_checker = (!low).then_some(checker);
            graphs.safety_pre = Some(pre);
        }
        sessions.log.log(
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
        let has_safety_checker = graphs.safety_pre.is_some();
        Ok(Pipeline {
            root: dir.to_path_buf(),
            config,
            tokenizer,
            graphs: Mutex::new(graphs),
            sessions,
            has_safety_checker,
            dims,
            cancel_epoch: AtomicU64::new(0),
            active_run: Mutex::new(Vec::new()),
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
            default_scheduler: self.config.default_scheduler,
            provider: self.sessions.provider,
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
        &self.tokenizer
    }

    /// Whether the calling thread is inside a generate call on this pipeline (so inside one of
    /// its callbacks): freeing the pipeline there would pull it from under that call.
    pub fn is_generating_on_this_thread(&self) -> bool {
        let id = self as *const Pipeline as usize;
        GENERATING
            .try_with(|g| g.borrow().contains(&id))
            .unwrap_or(false)
    }

    /// Test hook, not part of the supported API: makes the next generate calls panic inside
    /// the denoising loop after UNet evaluation `step` (0 turns it off), to prove that a panic
    /// comes back as an internal error and leaves the pipeline usable.
    #[doc(hidden)]
    pub fn debug_panic_after_step(&self, step: usize) {
        self.debug_panic_step.store(step, Ordering::Relaxed);
    }

    /// Cancels every `generate` call in progress or waiting on this pipeline; calls that
    /// start afterwards are unaffected. Safe from any thread.
    pub fn cancel(&self) {
        self.cancel_epoch.fetch_add(1, Ordering::SeqCst);
        for run in self.active_run.lock().iter() {
            let _ = run.terminate();
        }
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
        let started = Instant::now();
        let _reentry = Reentry::enter(self)?;
        let epoch = self.cancel_epoch.load(Ordering::SeqCst);
        let plan = request::plan(params, &self.config, &self.dims, self.sessions.static_shape)?;
        if params.preview == PreviewKind::LatentRgb && self.dims.latent_channels != 4 {
            return Err(Error::invalid(format!(
                "preview: latent_rgb needs 4 latent channels, the model has {}",
                self.dims.latent_channels
            )));
        }
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
        let begin = match plan.mode {
            Mode::Text => 0,
            Mode::Image | Mode::Inpaint => {
                request::begin_index(params.steps, params.strength, sched.order())?
            }
        };
        if begin >= sched.timesteps().len() {
            return Err(Error::invalid(format!(
                "strength {} leaves no step of {} to run",
                params.strength,
                sched.timesteps().len()
            )));
        }

        let mut graphs = self.graphs.lock();
        let run = Arc::new(RunOptions::new()?);
        let last = Arc::new(shrinking_run_options()?);
        *self.active_run.lock() = vec![Arc::clone(&run), Arc::clone(&last)];
        // Cleared however the stages end, a panic included.
        let _active = ActiveRun(&self.active_run);
        let call = Call {
            run: &run,
            last: &last,
            epoch,
            cancel_epoch: &self.cancel_epoch,
            log: &self.sessions.log,
        };
        let stages = Stages {
            params,
            plan: &plan,
            begin,
            prediction: params
                .prediction_type
                .unwrap_or(self.config.prediction_type),
            started,
        };
        let result = self.run_stages(&call, &mut graphs, &stages, sched.as_mut(), observer);
        result.map(|mut images| {
            images.timings.total = started.elapsed();
            images
        })
    }

    /// Renders `count` UNet-space latents (`[count, C, height, width]`, as the denoising loop
    /// holds them) the way a preview of `kind` does: `(width, height, RGB8 images)`.
    pub fn render_preview(
        &self,
        kind: PreviewKind,
        latents: &[f32],
        count: usize,
        (width, height): (usize, usize),
    ) -> Result<(usize, usize, Vec<Vec<u8>>)> {
        let c = self.dims.latent_channels;
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
        let _reentry = Reentry::enter(self)?;
        let mut g = self.graphs.lock();
        let mut timings = Timings::default();
        self.ensure_graphs(&mut g, &params, &mut timings)?;
        if kind == PreviewKind::Full {
            self.stage(&mut g.vae_decoder, "vae_decoder", &mut timings)?;
        }
        let run = RunOptions::new()?;
        let call = Call {
            run: &run,
            last: &run,
            epoch: self.cancel_epoch.load(Ordering::SeqCst),
            cancel_epoch: &self.cancel_epoch,
            log: &self.sessions.log,
        };
        let Graphs {
            vae_decoder,
            preview_decoder,
            ..
        } = &mut *g;
        let r = preview::render(
            &call,
            kind,
            latents,
            [count, c, height, width],
            vae_decoder.as_mut(),
            preview_decoder.as_mut(),
            self.config.vae_scaling_factor,
            self.config.vae_scale_factor,
        );
        self.release(vae_decoder, &mut timings);
        r
    }

    /// The graph in `slot`, loaded first when it is not (the low-memory mode's stages, and
    /// first uses); the load's time goes to `timings.load`.
    fn stage<'g>(
        &self,
        slot: &'g mut Option<OnnxModel>,
        part: &str,
        timings: &mut Timings,
    ) -> Result<&'g mut OnnxModel> {
        if slot.is_none() {
            let t0 = Instant::now();
            *slot = Some(self.sessions.load(part, &self.config)?);
            timings.load += t0.elapsed();
        }
        slot.as_mut()
            .ok_or_else(|| Error::internal(format!("{part} not loaded")))
    }

    /// Ends a stage: in the low-memory mode its graph is dropped; in both modes the memory
    /// its last run freed (the arena shrinks after it) is handed back to the system. Without
    /// that, glibc keeps the freed arena chunks, and the UNet's, allocated tensor by tensor,
    /// fragment its heap: resident memory grew by about 20 MB per 256x256 call on the tiny
    /// model (BENCHMARKS.md).
    fn release(&self, slot: &mut Option<OnnxModel>, timings: &mut Timings) {
        let t0 = Instant::now();
        if self.sessions.options.low_memory {
            drop(slot.take());
        }
        crate::memory::trim_heap();
        timings.load += t0.elapsed();
    }

    /// Loads the VAE encoder or the preview decoder on first use.
    fn ensure_graphs(
        &self,
        g: &mut Graphs,
        params: &GenerateParams,
        timings: &mut Timings,
    ) -> Result<()> {
        let t0 = Instant::now();
        let before = (g.vae_encoder.is_some(), g.preview_decoder.is_some());
        if params.init_image.is_some() && !before.0 {
            let path = self.sessions.folder.onnx("vae_encoder");
            if !path.is_file() {
                return Err(Error::new(
                    ErrorKind::ModelNotFound,
                    format!(
                        "{} is missing: image-to-image and inpainting need the VAE encoder",
                        path.display()
                    ),
                ));
            }
            let encoder = self.sessions.load("vae_encoder", &self.config)?;
            crate::model::graphs::check_loaded_vae_encoder(
                &path,
                &encoder,
                self.dims.latent_channels,
            )?;
            g.vae_encoder = Some(encoder);
        }
        if params.preview == PreviewKind::Taesd && g.preview_decoder.is_none() {
            let path = match &self.sessions.options.preview_decoder {
                Some(p) => p.clone(),
                None => self.sessions.folder.onnx("vae_preview"),
            };
            if !path.is_file() {
                return Err(Error::invalid(format!(
                    "preview: taesd previews need a TAESD decoder; {} does not exist (set the \
                     pipeline's preview decoder path or add vae_preview/model.onnx)",
                    path.display()
                )));
            }
            let decoder = self
                .sessions
                .load_file("vae_preview", &path, &self.config)?;
            crate::model::graphs::check_loaded_preview_decoder(
                &path,
                &decoder,
                self.dims.latent_channels,
            )?;
            g.preview_decoder = Some(decoder);
        }
        if before != (g.vae_encoder.is_some(), g.preview_decoder.is_some()) {
            timings.load += t0.elapsed();
        }
        Ok(())
    }

    /// The stages of one call, under the graphs' lock.
    fn run_stages(
        &self,
        call: &Call<'_>,
        g: &mut Graphs,
        st: &Stages<'_>,
        sched: &mut dyn scheduler::Scheduler,
        mut observer: Option<StepObserver<'_>>,
    ) -> Result<Images> {
        call.check_cancel()?;
        let profile = self.sessions.options.profile_memory;
        let mut timings = Timings::default();
        let stage_begin = || {
            if profile {
                crate::memory::reset_peak_rss();
            }
        };
        let stage_end = |name: &'static str, timings: &mut Timings| {
            if profile {
                if let Some(peak) = crate::memory::peak_rss() {
                    timings.peak_rss.push((name, peak));
                }
            }
        };
        let (params, plan) = (st.params, st.plan);

        stage_begin();
        self.ensure_graphs(g, params, &mut timings)?;
        let te = self.stage(&mut g.text_encoder, "text_encoder", &mut timings)?;
        let text = text::encode_prompts(
            call,
            te,
            &self.tokenizer,
            &params.prompt,
            params.negative_prompt.as_deref().unwrap_or(""),
            params.count,
            plan.cfg,
            &mut timings,
        )?;
        self.release(&mut g.text_encoder, &mut timings);
        stage_end("text_encoder", &mut timings);

        let f = self.config.vae_scale_factor;
        let timestep_cond = self.dims.timestep_cond.map(|dim| {
            // The LCM pipeline embeds `guidance_scale - 1`, computed by Python in float64.
            let g = request::decimal_f64(params.guidance);
            let one = guidance_embedding((g - 1.0) as f32, dim);
            (latents::repeat(&one, params.count), dim)
        });
        let spec = denoise::LoopSpec {
            count: params.count,
            channels: self.dims.latent_channels,
            height: plan.height / f,
            width: plan.width / f,
            cfg: plan.cfg,
            guidance: params.guidance,
            guidance_rescale: params.guidance_rescale,
            begin: st.begin,
            timestep_cond,
        };
        let mut rng = latents::generator(params.generator, params.seed);
        if params.init_image.is_some() {
            stage_begin();
        }
        let (mut lat, mut hooks) = self.initial_latents(
            call,
            g.vae_encoder.as_mut(),
            st,
            &spec,
            sched,
            rng.as_mut(),
            &mut timings,
        )?;
        if params.init_image.is_some() {
            self.release(&mut g.vae_encoder, &mut timings);
            stage_end("vae_encoder", &mut timings);
        }

        stage_begin();
        // Full previews decode with the VAE decoder during the loop.
        if params.preview == PreviewKind::Full && params.preview_every > 0 {
            self.stage(&mut g.vae_decoder, "vae_decoder", &mut timings)?;
        }
        self.stage(&mut g.unet, "unet", &mut timings)?;
        let Graphs {
            unet,
            vae_decoder,
            preview_decoder,
            ..
        } = &mut *g;
        let unet = unet
            .as_mut()
            .ok_or_else(|| Error::internal("unet not loaded"))?;
        let total = sched.timesteps().len() - st.begin;
        let scale = self.config.vae_scaling_factor;
        let lat_shape = [spec.count, spec.channels, spec.height, spec.width];
        let mut preview_time = std::time::Duration::ZERO;
        let mut on_step = |e: &denoise::StepEvent<'_>| -> Result<bool> {
            let step = e.index - st.begin + 1;
            if self.debug_panic_step.load(Ordering::Relaxed) == step {
                panic!("sdrt test hook: forced panic after step {step}");
            }
            let Some(obs) = observer.as_mut() else {
                return Ok(true);
            };
            let every = params.preview_every;
            let wants = params.preview != PreviewKind::None
                && every > 0
                && (step.is_multiple_of(every) || step == total);
            let rendered = if wants {
                let t0 = Instant::now();
                let x0 = preview::predicted_x0(
                    e.model_input,
                    e.model_output,
                    e.alpha_bar,
                    st.prediction,
                );
                let r = preview::render(
                    call,
                    params.preview,
                    &x0,
                    lat_shape,
                    vae_decoder.as_mut(),
                    preview_decoder.as_mut(),
                    scale,
                    f,
                )?;
                preview_time += t0.elapsed();
                Some(r)
            } else {
                None
            };
            let info = StepInfo {
                step,
                total,
                timestep: e.timestep,
                elapsed: st.started.elapsed(),
                preview: rendered.as_ref().map(|(w, h, imgs)| Preview {
                    kind: params.preview,
                    width: *w,
                    height: *h,
                    images: imgs,
                }),
            };
            Ok(obs(&info))
        };
        denoise::denoise(
            call,
            unet,
            sched,
            &spec,
            &text,
            &mut lat,
            rng.as_mut(),
            hooks.as_mut(),
            &mut on_step,
            &mut timings,
        )?;
        timings.preview = preview_time;
        self.release(&mut g.unet, &mut timings);
        stage_end("unet", &mut timings);

        stage_begin();
        for x in lat.iter_mut() {
            *x /= scale;
        }
        let vd = self.stage(&mut g.vae_decoder, "vae_decoder", &mut timings)?;
        let mut images =
            decode::decode(call, vd, &lat, lat_shape, (plan.width, plan.height), true)?;
        timings.vae_decoder = vd.last_run();
        self.release(&mut g.vae_decoder, &mut timings);
        stage_end("vae_decoder", &mut timings);

        let flagged = match &g.safety_pre {
            Some(pre) => {
                stage_begin();
                let model = self.stage(&mut g.safety_checker, "safety_checker", &mut timings)?;
                let flags = safety::check(call, model, pre, &images, (plan.width, plan.height))?;
                timings.safety_checker = model.last_run();
                self.release(&mut g.safety_checker, &mut timings);
                stage_end("safety_checker", &mut timings);
                // Flagged images are blacked out, as diffusers' checker does.
                for (img, &f) in images.iter_mut().zip(&flags) {
                    if f {
                        img.fill(0);
                    }
                }
                flags
            }
            None => Vec::new(),
        };
        Ok(Images {
            width: plan.width,
            height: plan.height,
            images,
            flagged,
            timings,
        })
    }

    /// The initial latents and per-step hooks of the call's mode, drawing from `rng` in
    /// diffusers' order: the init image's latent sample (when the mode uses it), the noise,
    /// then the masked image's latent sample (inpainting).
    #[allow(clippy::too_many_arguments)]
    fn initial_latents(
        &self,
        call: &Call<'_>,
        vae_encoder: Option<&mut OnnxModel>,
        st: &Stages<'_>,
        spec: &denoise::LoopSpec,
        sched: &dyn scheduler::Scheduler,
        rng: &mut dyn crate::rng::NoiseSource,
        timings: &mut Timings,
    ) -> Result<(Vec<f32>, Box<dyn denoise::StepHooks>)> {
        let params = st.params;
        let len = spec.latent_len();
        let sigma = sched.init_noise_sigma();
        let (Some(img), Some(vae)) = (&params.init_image, vae_encoder) else {
            return Ok((latents::noise(rng, len, sigma), Box::new(denoise::NoHooks)));
        };
        let size = (st.plan.width, st.plan.height);
        let c = spec.channels;
        let scaling = self.config.vae_scaling_factor;
        let pixels = latents::image_tensor(img);
        let mut encode =
            |image: &[f32], rng: &mut dyn crate::rng::NoiseSource| -> Result<Vec<f32>> {
                let one = latents::encode_image(call, vae, image, size, c, scaling, rng)?;
                timings.vae_encoder += vae.last_run();
                if one.len() * spec.count != len {
                    return Err(Error::model(format!(
                        "vae_encoder gave {} latent values for a {}x{} image, expected {}",
                        one.len(),
                        size.0,
                        size.1,
                        len / spec.count
                    )));
                }
                Ok(latents::repeat(&one, spec.count))
            };
        match (st.plan.mode, &params.mask) {
            (Mode::Inpaint, Some(mask)) => {
                let full_strength = params.strength == 1.0;
                let four = !self.dims.is_inpainting();
                let image_latents = if four || !full_strength {
                    Some(encode(&pixels, rng)?)
                } else {
                    None
                };
                let noise = rng.randn(len);
                let lat = match (&image_latents, full_strength) {
                    (Some(init), false) => sched.add_noise(init, &noise, st.begin),
                    _ => noise.iter().map(|&x| x * sigma).collect(),
                };
                let m = latents::binary_mask(mask);
                let f = self.config.vae_scale_factor;
                let mask_lat = latents::mask_to_latent(&m, size.0, spec.height, spec.width, f);
                let masked = latents::masked_image(&pixels, &m);
                let masked_lat = encode(&masked, rng)?;
                let hooks: Box<dyn denoise::StepHooks> = if four {
                    Box::new(latents::Blend {
                        image_latents: image_latents.unwrap_or_default(),
                        noise,
                        mask: mask_lat,
                    })
                } else {
                    // Every image of the batch has the same mask and masked image.
                    let per = c * spec.height * spec.width;
                    let mut values = mask_lat;
                    values.extend_from_slice(&masked_lat[..per]);
                    Box::new(latents::InpaintChannels {
                        values,
                        channels: 1 + c,
                    })
                };
                Ok((lat, hooks))
            }
            _ => {
                let init = encode(&pixels, rng)?;
                let noise = rng.randn(len);
                Ok((
                    sched.add_noise(&init, &noise, st.begin),
                    Box::new(denoise::NoHooks),
                ))
            }
        }
    }
}

/// What one call's stages share.
struct Stages<'a> {
    params: &'a GenerateParams,
    plan: &'a request::Plan,
    /// The first scheduler index (image-to-image strength).
    begin: usize,
    /// The prediction type the scheduler runs with (for previews).
    prediction: PredictionType,
    started: Instant,
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
        // One image at a time (the init image, then the masked image).
        "vae_encoder" => vec![
            ("batch_size", 1),
            ("sample_height", height),
            ("sample_width", width),
        ],
        // The previews decode the whole batch, like the VAE decoder.
        "vae_preview" => vec![
            ("batch_size", count),
            ("latent_height", height / f),
            ("latent_width", width / f),
        ],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{cache_settings, PipelineOptions, Provider};
    use crate::runtime::CoreMlComputeUnits;

    /// Every option that changes what ONNX Runtime or CoreML builds changes the key of both
    /// caches; options that do not (the low-memory mode, logging) leave it alone.
    #[test]
    fn graph_changing_options_change_the_cache_key() {
        let base = PipelineOptions::default();
        let key = |p: Provider, o: &PipelineOptions, pinned: &[(&'static str, usize)]| {
            cache_settings("1.31.1", p, o, "unet", pinned)
        };
        for p in [Provider::Cpu, Provider::CoreMl] {
            let k = key(p, &base, &[]);
            assert_ne!(k, cache_settings("1.31.2", p, &base, "unet", &[]));
            assert_ne!(k, cache_settings("1.31.1", p, &base, "vae_decoder", &[]));
            assert_ne!(k, key(p, &base, &[("height", 64)]));
            let threads = PipelineOptions {
                intra_op_threads: 1,
                ..base.clone()
            };
            assert_ne!(k, key(p, &threads, &[]));
            let low = PipelineOptions {
                low_memory: true,
                disable_safety_checker: true,
                ..base.clone()
            };
            assert_eq!(k, key(p, &low, &[]));
        }
        assert_ne!(
            key(Provider::Cpu, &base, &[]),
            key(Provider::CoreMl, &base, &[])
        );
        let coreml = key(Provider::CoreMl, &base, &[]);
        let mut o = base.clone();
        o.coreml.compute_units = CoreMlComputeUnits::CpuAndNeuralEngine;
        assert_ne!(coreml, key(Provider::CoreMl, &o, &[]));
        let mut o = base.clone();
        o.coreml.ml_program = !o.coreml.ml_program;
        assert_ne!(coreml, key(Provider::CoreMl, &o, &[]));
        let mut o = base.clone();
        o.coreml.static_shapes = !o.coreml.static_shapes;
        assert_ne!(coreml, key(Provider::CoreMl, &o, &[]));
    }
}
