//! `sdrt_pipeline_options`: what a pipeline is created with, its defaults, and how a caller's
//! struct is read (`read_options`, for `sdrt_pipeline_create`).

use std::ffi::{c_char, c_void};
use std::path::PathBuf;

use super::enums::{COREML_COMPUTE_UNITS, PROVIDER};
use super::runtime::{log_level_from_c, sdrt_log_callback, sdrt_log_level, CLogger};
use super::{opt_str, read_versioned};
use crate::error::{Error, Result};
use crate::pipeline::PipelineOptions;
use crate::runtime::{self, CoreMlOptions};

/// Execution providers (`sdrt_pipeline_options.provider`, `sdrt_pipeline_info.provider`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_provider {
    /// CoreML if the loaded ONNX Runtime has it, else CUDA if it has it, else CPU.
    SDRT_PROVIDER_AUTO = 0,
    /// ONNX Runtime's CPU provider.
    SDRT_PROVIDER_CPU = 1,
    /// Apple CoreML (Neural Engine / GPU / CPU).
    SDRT_PROVIDER_COREML = 2,
    /// NVIDIA CUDA.
    SDRT_PROVIDER_CUDA = 3,
    /// Intel OpenVINO through ONNX Runtime's plugin EP ABI (the `onnxruntime-ep-openvino`
    /// plugin; see `sdrt_pipeline_options.ep_library_path`, `ep_device`, `ep_precision`).
    /// Its devices are Intel's: on a machine where the plugin offers no device of the kind
    /// asked for (an AMD CPU, no Intel GPU), or without the plugin library, the pipeline
    /// falls back to the CPU provider with a warning (`strict_provider`: an error). A graph
    /// the plugin cannot build runs on the CPU provider the same way; `sdrt_pipeline_info`
    /// reports where the graphs run. Since 0.4.
    SDRT_PROVIDER_OPENVINO = 4,
    /// Any plugin execution provider: `sdrt_pipeline_options.ep_library_path` and `ep_name`
    /// (required), `ep_device`, and its options; the same fallback as OpenVINO. Since 0.4.
    SDRT_PROVIDER_PLUGIN = 5,
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

pub(super) unsafe fn read_options(
    options: *const sdrt_pipeline_options,
) -> Result<PipelineOptions> {
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
