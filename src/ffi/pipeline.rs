//! `sdrt_pipeline`: create, query, generate, cancel, free.

use std::ffi::{c_char, CString};

use super::enums::{PREDICTION_TYPE, PROVIDER, SCHEDULER};
use super::images::{images_into_raw, sdrt_images};
use super::options::read_options;
pub use super::options::{
    sdrt_coreml_compute_units, sdrt_pipeline_options, sdrt_pipeline_options_init,
    sdrt_pipeline_options_init_sized,
};
use super::params::{read_generate_params, sdrt_generate_params};
use super::status::sdrt_status;
use super::step::call_step;
use super::{guard, non_null, opt_str, write_versioned};
use crate::error::Result;
use crate::pipeline::{Pipeline, StepInfo};
use crate::runtime;

/// A loaded model (opaque). Create with `sdrt_pipeline_create`, free with `sdrt_pipeline_free`.
pub struct sdrt_pipeline {
    _private: [u8; 0],
}

pub(crate) struct Handle {
    pub(crate) pipeline: Pipeline,
    scheduler_class: CString,
    /// Test hook: runs after a generate call copied its params.
    #[cfg(feature = "test-hooks")]
    after_params: parking_lot::Mutex<Option<Box<dyn Fn() + Send + Sync>>>,
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

pub(crate) unsafe fn handle<'a>(p: *const sdrt_pipeline) -> Result<&'a Handle> {
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
