//! `sdrt_pipeline`: create, query, generate, cancel, free.

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;

use super::enums::{COREML_COMPUTE_UNITS, PREDICTION_TYPE, PROVIDER, SCHEDULER};
use super::images::{images_into_raw, sdrt_images};
use super::params::{read_generate_params, sdrt_generate_params, sdrt_provider};
use super::runtime::{log_level_from_c, sdrt_log_callback, sdrt_log_level, CLogger};
use super::status::sdrt_status;
use super::step::call_step;
use super::{guard, non_null, opt_str, read_versioned, write_versioned};
use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, PipelineOptions, StepInfo};
use crate::runtime::{self, CoreMlOptions};

/// A loaded model (opaque). Create with `sdrt_pipeline_create`, free with `sdrt_pipeline_free`.
pub struct sdrt_pipeline {
    _private: [u8; 0],
}

struct Handle {
    pipeline: Pipeline,
    scheduler_class: CString,
    /// Test hook: runs after a generate call copied its params.
    #[cfg(feature = "test-hooks")]
    after_params: parking_lot::Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
}

/// CoreML compute units (`sdrt_pipeline_options.coreml_compute_units`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_coreml_compute_units {
    /// CPU, GPU and Neural Engine.
    SDRT_COREML_ALL = 0,
    /// CPU and GPU.
    SDRT_COREML_CPU_AND_GPU = 1,
    /// CPU and Neural Engine.
    SDRT_COREML_CPU_AND_NEURAL_ENGINE = 2,
    /// CPU only.
    SDRT_COREML_CPU_ONLY = 3,
}

/// How to load a pipeline. Fill with `sdrt_pipeline_options_init`, then set fields. The struct
/// only grows at the end, guarded by `struct_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_pipeline_options {
    /// `sizeof(sdrt_pipeline_options)`, set by `sdrt_pipeline_options_init`.
    pub struct_size: u32,
    /// `sdrt_provider` to run on (default `SDRT_PROVIDER_AUTO`).
    pub provider: u32,
    /// Non-zero: a requested provider missing from the loaded ONNX Runtime is an error
    /// (`SDRT_ERROR_PROVIDER_UNAVAILABLE`). Zero (default): a logged fallback to CPU.
    pub strict_provider: u32,
    /// `sdrt_coreml_compute_units` (default `SDRT_COREML_ALL`).
    pub coreml_compute_units: u32,
    /// Non-zero (default): CoreML MLProgram format; zero: NeuralNetwork.
    pub coreml_ml_program: u32,
    /// Non-zero: CoreML requires static input shapes; the free dimensions are pinned to
    /// `static_width` x `static_height` and `static_count` images, and generate calls must use
    /// exactly those. Default 0.
    pub coreml_static_shapes: u32,
    /// Width for static shapes; 0 = native.
    pub static_width: u32,
    /// Height for static shapes; 0 = native.
    pub static_height: u32,
    /// Images per call for static shapes; 0 = 1.
    pub static_count: u32,
    /// CUDA device ordinal (default 0), >= 0.
    pub cuda_device_id: i32,
    /// Threads per graph for ONNX Runtime's intra-op pool, at most 1024; 0 (default) = ONNX
    /// Runtime's choice.
    pub intra_op_threads: u32,
    /// Folder for CoreML's compiled-model cache (UTF-8), or NULL for `coreml/` in the cache
    /// folder of `graph_cache_dir`. sdrt gives each graph and key its own folder in it (CoreML
    /// keys its cache by the model's path only), so a changed model file or option never
    /// reuses a stale compiled model. Copied.
    pub coreml_cache_dir: *const c_char,
    /// The TAESD decoder (`model.onnx`, UTF-8 path) for `SDRT_PREVIEW_TAESD`, or NULL for the
    /// model folder's `vae_preview/model.onnx`. Copied; loaded by the first call that asks
    /// for such previews. Since 0.2.
    pub preview_decoder_path: *const c_char,
    /// Non-zero: do not run the folder's `safety_checker/model.onnx` (SD 1.x exports) even
    /// when it is there. Zero (default): run it on every image when present, black out the
    /// images it flags, and report them through `sdrt_images_flagged`. Since 0.2.
    pub disable_safety_checker: u32,
    /// This pipeline's own log callback (see `sdrt_log_callback` for what it receives, from
    /// which threads and when), or NULL (default): the pipeline's messages go to the runtime's
    /// callback. Since 0.2.
    pub log_callback: sdrt_log_callback,
    /// `sdrt_log_level` for `log_callback`: messages above it are dropped (default
    /// `SDRT_LOG_WARN`). Also the level ONNX Runtime's sessions of this pipeline log at.
    /// Ignored without a callback. Since 0.2.
    pub log_level: u32,
    /// Passed unchanged to `log_callback`; must stay valid until `sdrt_pipeline_free` returns
    /// (or until a failed `sdrt_pipeline_create` returns). Since 0.2.
    pub log_user_data: *mut c_void,
    /// Where sdrt caches what it builds from the model files, as a folder (UTF-8); NULL
    /// (default): the platform's cache folder (`$SDRT_CACHE_DIR` when set, `off` for none;
    /// else `~/Library/Caches/sdrt` on Apple systems, `%LOCALAPPDATA%\sdrt\cache` on Windows,
    /// `$XDG_CACHE_HOME/sdrt` or `~/.cache/sdrt` elsewhere); "" (empty): no cache.
    /// - With the CPU provider the first create saves each graph as ONNX Runtime optimized it;
    ///   later creates load that graph with optimizations off, which is several times faster
    ///   and computes the same images (tests/cache.rs checks them bit for bit).
    /// - With CoreML, its compiled models go to `coreml/` in this folder (or to
    ///   `coreml_cache_dir` when set), one folder per graph and key.
    ///
    /// An entry is keyed by the model file (size, modification time, a hash of it and its
    /// external data), the ONNX Runtime version, the provider, the options that change the
    /// built graph and the CPU, so a stale entry is never used; entries are written
    /// atomically, damaged ones rebuilt, and any cache error (a full disk, a read-only folder)
    /// falls back to the uncached load with a logged warning. Costs about the model's size
    /// again on disk; empty it with `sdrt_graph_cache_clear`. Copied. Since 0.2 (in 0.2,
    /// NULL meant no cache and the default was off).
    pub graph_cache_dir: *const c_char,
    /// Nonzero: low-memory mode, like Apple's `reduceMemory`. The pipeline holds no graph
    /// between calls; each call loads the graph of each stage (text encoder, UNet, VAE
    /// decoder; VAE encoder and safety checker when used) as the stage starts and frees it,
    /// activations included, as it ends. Peak memory is about the largest graph (the UNet)
    /// instead of all of them, and every call pays the loads (seconds at full size with the
    /// graph cache). Images are identical to the default mode's. Default 0. Since 0.3.
    pub low_memory: u32,
    /// `sdrt_ep_device` for the plugin providers (default `SDRT_EP_DEVICE_DEFAULT`). Since 0.4.
    pub ep_device: u32,
    /// `sdrt_ep_precision` for OpenVINO (default `SDRT_EP_PRECISION_AUTO`); not AUTO needs
    /// the device CPU, GPU or NPU, and OpenVINO (else `SDRT_ERROR_INVALID_ARGUMENT`). Since 0.4.
    pub ep_precision: u32,
    /// The plugin library (UTF-8 path), registered in the runtime once per library until the
    /// process exits. OpenVINO: NULL or "" for `$SDRT_OPENVINO_EP`, else
    /// `openvino/libonnxruntime_providers_openvino_plugin.so` beside the loaded ONNX Runtime
    /// (`tools/fetch_ep.sh openvino` puts it there). `SDRT_PROVIDER_PLUGIN`: required. Copied.
    /// Since 0.4.
    pub ep_library_path: *const c_char,
    /// The provider's name as its library reports it (the `OrtEpDevice` EP name). OpenVINO:
    /// NULL or "" for `OpenVINOExecutionProvider` (`.AUTO` appended with
    /// `SDRT_EP_DEVICE_AUTO`). `SDRT_PROVIDER_PLUGIN`: required. Copied. Since 0.4.
    pub ep_name: *const c_char,
    /// The provider's own options: `ep_option_count` UTF-8 keys (without the provider's name)
    /// and values, after sdrt's (OpenVINO: `load_config` for the precision), e.g. OpenVINO's
    /// `num_of_threads`. NULL when the count is 0. Copied. Since 0.4.
    pub ep_option_keys: *const *const c_char,
    /// The values of `ep_option_keys`, in the same order. Since 0.4.
    pub ep_option_values: *const *const c_char,
    /// How many options there are, at most 256 (default 0). Since 0.4.
    pub ep_option_count: u32,
}

/// The most intra-op threads a pipeline may ask for (ONNX Runtime would try to start them all).
const MAX_INTRA_OP_THREADS: u32 = 1024;

/// The first published layout's size (see `GENERATE_PARAMS_V1`).
const PIPELINE_OPTIONS_V1: usize = std::mem::offset_of!(sdrt_pipeline_options, coreml_cache_dir)
    + std::mem::size_of::<*const c_char>();

impl Default for sdrt_pipeline_options {
    fn default() -> Self {
        sdrt_pipeline_options {
            struct_size: std::mem::size_of::<sdrt_pipeline_options>() as u32,
            provider: sdrt_provider::SDRT_PROVIDER_AUTO as u32,
            strict_provider: 0,
            coreml_compute_units: sdrt_coreml_compute_units::SDRT_COREML_ALL as u32,
            coreml_ml_program: 1,
            coreml_static_shapes: 0,
            static_width: 0,
            static_height: 0,
            static_count: 0,
            cuda_device_id: 0,
            intra_op_threads: 0,
            coreml_cache_dir: std::ptr::null(),
            preview_decoder_path: std::ptr::null(),
            disable_safety_checker: 0,
            log_callback: None,
            log_level: sdrt_log_level::SDRT_LOG_WARN as u32,
            log_user_data: std::ptr::null_mut(),
            graph_cache_dir: std::ptr::null(),
            low_memory: 0,
            ep_device: super::ep::sdrt_ep_device::SDRT_EP_DEVICE_DEFAULT as u32,
            ep_precision: super::ep::sdrt_ep_precision::SDRT_EP_PRECISION_AUTO as u32,
            ep_library_path: std::ptr::null(),
            ep_name: std::ptr::null(),
            ep_option_keys: std::ptr::null(),
            ep_option_values: std::ptr::null(),
            ep_option_count: 0,
        }
    }
}

/// Fills the first published layout of `options` with defaults and sets `struct_size` to that
/// layout's size: safe for a program built against any earlier header, whose struct may be
/// smaller than this library's. C and C++ callers including this header call it through the
/// macro of the same name, which passes `sizeof` to `sdrt_pipeline_options_init_sized`; other bindings call
/// `sdrt_pipeline_options_init_sized` themselves. NULL is ignored. Any thread.
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_options_init(options: *mut sdrt_pipeline_options) {
    // SAFETY: NULL or caller-owned storage of at least the first layout (contract).
    unsafe {
        super::init_versioned(
            options,
            sdrt_pipeline_options::default(),
            PIPELINE_OPTIONS_V1,
        )
    }
}

/// Fills the first `size` bytes of `options` (at most this library's whole struct) with
/// defaults and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
/// `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
/// Any thread. Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_options_init_sized(
    options: *mut sdrt_pipeline_options,
    size: u32,
) {
    // SAFETY: NULL or caller-owned storage of at least `size` bytes (contract).
    unsafe { super::init_versioned(options, sdrt_pipeline_options::default(), size as usize) }
}

unsafe fn read_options(options: *const sdrt_pipeline_options) -> Result<PipelineOptions> {
    let o = if options.is_null() {
        sdrt_pipeline_options::default()
    } else {
        // SAFETY: documented contract.
        unsafe {
            read_versioned(
                options,
                sdrt_pipeline_options::default(),
                PIPELINE_OPTIONS_V1,
                "options",
            )?
        }
    };
    let compute_units = COREML_COMPUTE_UNITS.read(
        o.coreml_compute_units,
        "options->coreml_compute_units",
        "value",
    )?;
    if o.cuda_device_id < 0 {
        return Err(Error::invalid(format!(
            "options->cuda_device_id {} must be >= 0",
            o.cuda_device_id
        )));
    }
    if o.intra_op_threads > MAX_INTRA_OP_THREADS {
        return Err(Error::invalid(format!(
            "options->intra_op_threads {} exceeds {MAX_INTRA_OP_THREADS}",
            o.intra_op_threads
        )));
    }
    // SAFETY: borrowed C string, documented.
    let cache = unsafe { opt_str(o.coreml_cache_dir, "options->coreml_cache_dir")? };
    // SAFETY: as above.
    let preview = unsafe { opt_str(o.preview_decoder_path, "options->preview_decoder_path")? };
    // SAFETY: as above.
    let graph_cache = unsafe { opt_str(o.graph_cache_dir, "options->graph_cache_dir")? };
    let log_level = log_level_from_c(o.log_level, "options->log_level")?;
    let logger = CLogger::log_fn(o.log_callback, o.log_user_data)
        .map(|callback| runtime::Logger::new(callback, log_level));
    Ok(PipelineOptions {
        provider: PROVIDER.read(o.provider, "options->provider", "provider")?,
        strict_provider: o.strict_provider != 0,
        coreml: CoreMlOptions {
            compute_units,
            ml_program: o.coreml_ml_program != 0,
            cache_dir: cache.map(PathBuf::from),
            static_shapes: o.coreml_static_shapes != 0,
        },
        cuda_device_id: o.cuda_device_id,
        // SAFETY: the caller's options (contract).
        ep: unsafe { super::ep::read_ep_options(&o)? },
        intra_op_threads: o.intra_op_threads as usize,
        static_width: o.static_width as usize,
        static_height: o.static_height as usize,
        static_count: o.static_count as usize,
        preview_decoder: preview.map(PathBuf::from),
        disable_safety_checker: o.disable_safety_checker != 0,
        graph_cache: match graph_cache.as_deref() {
            None => crate::model::cache::CacheDir::Default,
            Some("") => crate::model::cache::CacheDir::Off,
            Some(dir) => crate::model::cache::CacheDir::At(PathBuf::from(dir)),
        },
        low_memory: o.low_memory != 0,
        profile_memory: false,
        logger,
    })
}

/// Loads the model folder `model_dir` (UTF-8 path to an `optimum-cli export onnx` folder)
/// and writes a new pipeline to `*out`. `options` may be NULL for defaults. Initializes the
/// runtime with defaults if `sdrt_runtime_init` was not called. Pins libsdrt in memory (see
/// `sdrt_runtime_init`).
///
/// Ownership: the caller owns `*out` and frees it with `sdrt_pipeline_free`. `*out` is written
/// only on success; on failure nothing is kept (no half-created pipeline). Thread-safe;
/// loading takes seconds for real models.
///
/// What is checked here, before any graph runs: every file the pipeline needs exists
/// (`SDRT_ERROR_MODEL_NOT_FOUND` naming it: the text encoder, UNet and VAE decoder graphs and
/// their external data files, the tokenizer's files, `scheduler/scheduler_config.json`); the
/// configs are valid JSON with sane values, and each graph is an ONNX file whose inputs and
/// outputs (read from the file before any ONNX Runtime session is built) are its part's (names, ranks, element types; `SDRT_ERROR_MODEL_INVALID` naming the
/// file and the mismatch, so a graph copied over another part's fails here): the text
/// encoder's `last_hidden_state` width equals the UNet's `encoder_hidden_states` width, the
/// UNet's output channels equal the VAE decoder's (and the VAE encoder's, when the folder has
/// one) latent channels, the UNet's `sample` takes those channels or, for inpainting UNets,
/// twice them plus one, the UNet has no inputs beyond `sample`, `timestep`,
/// `encoder_hidden_states` and (LCM) `timestep_cond`, and the tokenizer's largest id fits the
/// text encoder's token embedding (read from the graph's embedding, else
/// `text_encoder/config.json`'s `vocab_size`).
/// Errors: `SDRT_ERROR_INVALID_ARGUMENT` (NULL `model_dir` or `out`, a path that is not UTF-8,
/// `struct_size` too small, an unknown enum value or `log_level`, a negative
/// `cuda_device_id`, `intra_op_threads` above 1024, malformed `ep_*` options, named),
/// `SDRT_ERROR_MODEL_NOT_FOUND`, `SDRT_ERROR_MODEL_INVALID`, `SDRT_ERROR_IO`,
/// `SDRT_ERROR_RUNTIME_UNAVAILABLE`, `SDRT_ERROR_PROVIDER_UNAVAILABLE` (strict mode: a
/// missing provider or plugin library, a device the plugin does not offer, a graph it
/// cannot build).
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_create(
    model_dir: *const c_char,
    options: *const sdrt_pipeline_options,
    out: *mut *mut sdrt_pipeline,
) -> sdrt_status {
    guard(|| {
        runtime::pin_in_memory();
        non_null(out, "out")?;
        non_null(model_dir, "model_dir")?;
        // SAFETY: borrowed C string / options, documented.
        let dir = unsafe { opt_str(model_dir, "model_dir")? }.unwrap_or_default();
        let opts = unsafe { read_options(options)? };
        let pipeline = Pipeline::load(std::path::Path::new(&dir), &opts)?;
        let scheduler_class =
            CString::new(pipeline.info().default_scheduler_class).unwrap_or_default();
        let handle = Box::new(Handle {
            pipeline,
            scheduler_class,
            #[cfg(feature = "test-hooks")]
            after_params: parking_lot::Mutex::new(None),
        });
        // SAFETY: out is non-null (checked).
        unsafe { *out = Box::into_raw(handle) as *mut sdrt_pipeline };
        Ok(())
    })
}

/// Frees a pipeline. NULL is a no-op. No other call on this pipeline may be running or start
/// afterwards (cancel and wait for `sdrt_pipeline_generate` to return first; once it has
/// returned, freeing at once is safe). Images already returned stay valid. Once it returns,
/// the pipeline's log callback is never called again. Called from one of this pipeline's own
/// callbacks, it would free the pipeline under the running call: sdrt detects that, logs an
/// error and leaves the pipeline alone (free it after the call returns).
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_free(pipeline: *mut sdrt_pipeline) {
    if pipeline.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: created by sdrt_pipeline_create and not yet freed (contract).
        let inside = unsafe { &*(pipeline as *const Handle) }
            .pipeline
            .is_generating_on_this_thread();
        if inside {
            crate::runtime::log(
                crate::runtime::LogLevel::Error,
                "sdrt_pipeline_free was called from a callback of a generate call on the same \
                 pipeline; ignored (free the pipeline after sdrt_pipeline_generate returns)",
            );
            return;
        }
        // SAFETY: created by sdrt_pipeline_create and not yet freed (contract).
        drop(unsafe { Box::from_raw(pipeline as *mut Handle) });
    });
}

/// Test hook, not in the C header and only in builds with the `test-hooks` feature (the
/// tests'): the next generate calls on `pipeline` panic inside the engine after UNet
/// evaluation `step` (0 turns it off), so tests can prove a panic comes back as
/// `SDRT_ERROR_INTERNAL` and leaves the pipeline and the process usable.
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub unsafe fn debug_panic_after_step(pipeline: *mut sdrt_pipeline, step: u32) {
    // SAFETY: a live pipeline (test contract).
    if let Ok(h) = unsafe { handle(pipeline) } {
        h.pipeline.debug_panic_after_step(step as usize);
    }
}

/// Test hook, not in the C header and only in builds with the `test-hooks` feature: `f` runs
/// inside each later `sdrt_pipeline_generate` on `pipeline` right after it copied its params
/// (`None` removes it), so tests can place a cancel exactly there.
#[cfg(feature = "test-hooks")]
#[doc(hidden)]
pub unsafe fn debug_after_params_copied(
    pipeline: *mut sdrt_pipeline,
    f: Option<Box<dyn Fn() + Send + Sync>>,
) {
    // SAFETY: a live pipeline (test contract).
    if let Ok(h) = unsafe { handle(pipeline) } {
        *h.after_params.lock() = f;
    }
}

unsafe fn handle<'a>(p: *const sdrt_pipeline) -> Result<&'a Handle> {
    non_null(p, "pipeline")?;
    // SAFETY: a live pipeline from sdrt_pipeline_create (contract).
    Ok(unsafe { &*(p as *const Handle) })
}

/// What a pipeline loaded. Set `struct_size` (via `sdrt_pipeline_info_init`) before calling
/// `sdrt_pipeline_get_info`; only grows at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_pipeline_info {
    /// `sizeof(sdrt_pipeline_info)`.
    pub struct_size: u32,
    /// Native image width in pixels (UNet sample size times the VAE factor).
    pub native_width: u32,
    /// Native image height in pixels.
    pub native_height: u32,
    /// `sdrt_prediction_type` from the scheduler config.
    pub prediction_type: u32,
    /// `sdrt_scheduler` the model folder names, or `SDRT_SCHEDULER_DEFAULT` when that
    /// scheduler is not built in this version (see `default_scheduler_class`).
    pub default_scheduler: u32,
    /// `sdrt_provider` the sessions really run on (never `SDRT_PROVIDER_AUTO`).
    pub provider: u32,
    /// The diffusers class name in `scheduler_config.json`, e.g. "PNDMScheduler". Owned by
    /// the pipeline; valid until `sdrt_pipeline_free`.
    pub default_scheduler_class: *const c_char,
    /// 1 when every generate call runs the folder's safety checker, else 0. Since 0.2.
    pub safety_checker: u32,
    /// Channels of the UNet's `sample` input: 4 (or the latent channels) for text-to-image
    /// models, 9 for inpainting models. Since 0.2.
    pub unet_in_channels: u32,
    /// Width of an LCM-distilled UNet's `timestep_cond` (`time_cond_proj_dim`), 0 for other
    /// models. Since 0.2.
    pub timestep_cond_dim: u32,
    /// How many of the graphs loaded so far (all of them after create, unless in the
    /// low-memory mode, which loads them as calls need them) run on the CPU provider because
    /// `provider`, a plugin provider, could not build them (each with a logged warning; in
    /// strict mode that is an error instead). 0 otherwise. Since 0.4.
    pub cpu_fallback_graphs: u32,
}

/// The first published layout's size (see `GENERATE_PARAMS_V1`).
const PIPELINE_INFO_V1: usize = std::mem::offset_of!(sdrt_pipeline_info, default_scheduler_class)
    + std::mem::size_of::<*const c_char>();

fn empty_info() -> sdrt_pipeline_info {
    sdrt_pipeline_info {
        struct_size: std::mem::size_of::<sdrt_pipeline_info>() as u32,
        native_width: 0,
        native_height: 0,
        prediction_type: 0,
        default_scheduler: 0,
        provider: 0,
        default_scheduler_class: std::ptr::null(),
        safety_checker: 0,
        unet_in_channels: 0,
        timestep_cond_dim: 0,
        cpu_fallback_graphs: 0,
    }
}

/// Fills the first published layout of `info` with zeros and sets `struct_size` to that
/// layout's size: safe for a program built against any earlier header, whose struct may be
/// smaller than this library's. C and C++ callers including this header call it through the
/// macro of the same name, which passes `sizeof` to `sdrt_pipeline_info_init_sized`; other bindings call
/// `sdrt_pipeline_info_init_sized` themselves. NULL is ignored. Any thread.
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_info_init(info: *mut sdrt_pipeline_info) {
    // SAFETY: NULL or caller-owned storage of at least the first layout (contract).
    unsafe { super::init_versioned(info, empty_info(), PIPELINE_INFO_V1) }
}

/// Fills the first `size` bytes of `info` (at most this library's whole struct) with
/// zeros and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
/// `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
/// Any thread. Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_info_init_sized(info: *mut sdrt_pipeline_info, size: u32) {
    // SAFETY: NULL or caller-owned storage of at least `size` bytes (contract).
    unsafe { super::init_versioned(info, empty_info(), size as usize) }
}

/// Writes what `pipeline` loaded to `*info` (whose `struct_size` the caller set).
/// Thread-safe. Errors: `SDRT_ERROR_INVALID_ARGUMENT` for NULL or a too-small `struct_size`.
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_get_info(
    pipeline: *const sdrt_pipeline,
    info: *mut sdrt_pipeline_info,
) -> sdrt_status {
    guard(|| {
        // SAFETY: documented contract.
        let h = unsafe { handle(pipeline)? };
        let i = h.pipeline.info();
        let value = sdrt_pipeline_info {
            struct_size: std::mem::size_of::<sdrt_pipeline_info>() as u32,
            native_width: i.native_width as u32,
            native_height: i.native_height as u32,
            prediction_type: PREDICTION_TYPE.to_c(Some(i.prediction_type)),
            default_scheduler: SCHEDULER.to_c(i.default_scheduler),
            provider: PROVIDER.to_c(i.provider),
            default_scheduler_class: h.scheduler_class.as_ptr(),
            safety_checker: i.safety_checker as u32,
            unet_in_channels: i.unet_in_channels as u32,
            timestep_cond_dim: i.timestep_cond_dim as u32,
            cpu_fallback_graphs: i
                .graph_providers
                .iter()
                .filter(|(_, p)| *p != i.provider)
                .count() as u32,
        };
        // SAFETY: documented contract.
        unsafe { write_versioned(info, value, PIPELINE_INFO_V1, "info") }
    })
}

/// Generates `params->count` images and writes them to `*out`.
///
/// Ownership: the caller owns `*out` and frees it with `sdrt_images_free`; written only on
/// success. Strings and pixels in `params` are borrowed for the call (and copied).
/// Modes: no `init_image`: text-to-image; `init_image`: image-to-image; `init_image` and
/// `mask`: inpainting. The first call with an init image loads the model's VAE encoder.
/// Threads: safe to call from several threads on one pipeline; calls are serialized (one
/// runs at a time, the others wait). The callbacks run on the calling thread; see
/// `sdrt_progress_callback` for what they may call (a generate call on the same pipeline from
/// its own callback is refused, not a deadlock).
/// Every check below runs before any graph does, so a refused call costs microseconds.
/// Errors: `SDRT_ERROR_INVALID_ARGUMENT` with a message naming the field: NULL `pipeline`,
/// `params` or `out`; `struct_size` too small; width/height not a size the UNet takes (see
/// `width`) or above 4096; an estimated peak above `memory_limit`; steps 0, above the model's
/// training steps or refused by the scheduler (see `steps`); count 0 or > 64; seed too large
/// for the generator; non-finite guidance; negative or non-finite eta; strength or
/// guidance_rescale out of range; an unknown enum value (scheduler, generator,
/// prediction_type, timestep_spacing, preview_kind, pixel format); a bad init image or mask
/// (see `init_image`, `mask`), a mask for a model that cannot inpaint, an inpainting model
/// without init image and mask, taesd previews without a TAESD decoder; a prompt that is not
/// UTF-8; a re-entrant call from this pipeline's own callback. `SDRT_ERROR_UNSUPPORTED` (the model's scheduler class is not
/// built and none was chosen, or its config asks for options sdrt lacks),
/// `SDRT_ERROR_MODEL_NOT_FOUND` (an init image without `vae_encoder/model.onnx`),
/// `SDRT_ERROR_MODEL_INVALID` (also a VAE or preview decoder whose output is not finite, such
/// as a float16 SDXL VAE that overflows: the message names its `model.onnx` and the fix),
/// `SDRT_ERROR_CANCELLED`, `SDRT_ERROR_INFERENCE` (ONNX Runtime
/// failed), `SDRT_ERROR_INTERNAL` (a bug in sdrt, e.g. a caught panic: the pipeline stays
/// usable).
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_generate(
    pipeline: *mut sdrt_pipeline,
    params: *const sdrt_generate_params,
    out: *mut *mut sdrt_images,
) -> sdrt_status {
    guard(|| {
        non_null(out, "out")?;
        // SAFETY: documented contract.
        let h = unsafe { handle(pipeline)? };
        // The call starts now: a cancel while the params (a large init image) are copied
        // cancels it.
        let start = h.pipeline.call_start();
        // SAFETY: documented contract.
        let (p, cb) = unsafe { read_generate_params(params)? };
        #[cfg(feature = "test-hooks")]
        if let Some(f) = h.after_params.lock().as_ref() {
            f();
        }
        let mut observer = |info: &StepInfo<'_>| -> bool {
            if let Some(f) = cb.progress {
                // SAFETY: the header's contract for the callback.
                if unsafe { f(cb.progress_user_data, info.step as u32, info.total as u32) } == 0 {
                    return false;
                }
            }
            match cb.step {
                // SAFETY: the header's contract for the callback.
                Some(f) => unsafe { call_step(f, cb.step_user_data, info) },
                None => true,
            }
        };
        let images = h.pipeline.generate_from(start, &p, Some(&mut observer))?;
        // SAFETY: out is non-null (checked).
        unsafe { *out = images_into_raw(images) };
        Ok(())
    })
}

/// Cancels every `sdrt_pipeline_generate` running or waiting on `pipeline`; they return
/// `SDRT_ERROR_CANCELLED` promptly: ONNX Runtime's terminate flag stops the graph in flight
/// between two of its nodes. `cargo test --test watch -- --nocapture` measures the time from
/// this call to the return during a UNet step of 280 to 360 ms on 2 CPU cores: 1.5, 18.7 and
/// 35.5 ms in three runs (63 ms on a machine loaded by other builds); between steps it is
/// immediate. The pipeline
/// stays usable: the next call gives the same images as a fresh pipeline. Calls started
/// after this returns are not affected. Callable from any thread, including a progress
/// callback. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn sdrt_pipeline_cancel(pipeline: *mut sdrt_pipeline) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: documented contract.
        if let Ok(h) = unsafe { handle(pipeline) } {
            h.pipeline.cancel();
        }
    });
}
