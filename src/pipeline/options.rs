//! The pipeline's public types: how to load one ([`PipelineOptions`]), what it loaded
//! ([`PipelineInfo`]) and what a step observer sees ([`StepInfo`], [`Preview`]).

use std::path::PathBuf;

use crate::model::cache::CacheDir;
use crate::model::loader::SessionSettings;
use crate::runtime::{CoreMlOptions, EpOptions, Logger, PluginEp, Provider};
use crate::scheduler::{PredictionType, SchedulerKind};

use super::request::PreviewKind;

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
    /// When the requested provider is missing (a plugin's library, or its device), or a
    /// plugin provider refuses a graph: error (true) or fall back to CPU with a warning
    /// (false).
    pub strict_provider: bool,
    /// CoreML settings (used when the provider is CoreML).
    pub coreml: CoreMlOptions,
    /// CUDA device ordinal.
    pub cuda_device_id: i32,
    /// The plugin execution provider's settings (used when the provider is OpenVINO or
    /// another plugin): its library, provider name, device, precision and options.
    pub ep: EpOptions,
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
    /// Record each stage's peak resident set in [`super::Timings::peak_rss`] (Linux). It resets the
    /// process's peak-RSS reading (`/proc/self/clear_refs`), so it is for benchmarks.
    pub profile_memory: bool,
    /// Where this pipeline's messages go (sdrt's about it, and ONNX Runtime's for its
    /// sessions); `None` = the process-wide logger of [`crate::runtime::set_logger`].
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
    /// The provider the sessions really run on (the one asked for, or `Cpu` after a
    /// fallback at load).
    pub provider: Provider,
    /// Each graph loaded so far (its part: `text_encoder`, `unet`, ...) and the provider it
    /// runs on: a plugin provider that refused a graph leaves that graph on `Cpu`.
    pub graph_providers: Vec<(String, Provider)>,
    /// Whether every call runs the folder's safety checker.
    pub safety_checker: bool,
    /// Channels of the UNet's `sample` input (9 for inpainting models).
    pub unet_in_channels: usize,
    /// `time_cond_proj_dim` of an LCM-distilled UNet, 0 otherwise.
    pub timestep_cond_dim: usize,
}

impl PipelineOptions {
    /// What every session is built with: the options that change a graph, on `provider` (the
    /// one resolved for this pipeline). The low-memory mode, the safety checker, previews,
    /// profiling and logging change no graph, so they are not here (nor in the cache keys).
    pub(crate) fn session_settings(
        &self,
        provider: Provider,
        plugin: Option<PluginEp>,
    ) -> SessionSettings {
        SessionSettings {
            provider,
            plugin,
            strict_provider: self.strict_provider,
            intra_op_threads: self.intra_op_threads,
            coreml: self.coreml.clone(),
            cuda_device_id: self.cuda_device_id,
            graph_cache: self.graph_cache.clone(),
        }
    }
}
