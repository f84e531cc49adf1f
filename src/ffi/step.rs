//! `sdrt_step_info` and `sdrt_step_callback`: what a call shows its caller after every step.

use std::ffi::c_void;

use super::enums::PREVIEW_KIND;
use crate::pipeline::{PreviewKind, StepInfo};

/// Preview kinds (`sdrt_generate_params.preview_kind`). The numbers are stable. Every kind
/// shows the clean image the model predicts at that step (from the UNet's output and the
/// scheduler's noise level), not the noisy latents. Previews never change the final image.
/// Cost per preview image on the bundled tiny model (64x64, 2 CPU cores, debug build), from
/// three runs of `cargo test --test watch -- --nocapture`: latent_rgb 0.03 ms, taesd 1.4 to
/// 3.1 ms, full 1.1 to 1.7 ms, next to a UNet evaluation of 1 to 2 ms per image. The tiny
/// fixtures' TAESD and VAE are about equally small, so their ratio there says nothing about
/// real models; latent_rgb runs no graph on any model.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_preview_kind {
    /// No previews (default).
    SDRT_PREVIEW_NONE = 0,
    /// A fixed linear map of the 4 latent channels to RGB at 1/8 of the image's size
    /// (microseconds, no graph run): `rgb = (latents . M + 1) / 2` with the 4x3 matrix preview
    /// tools use for the SD 1.x / 2.x VAE.
    SDRT_PREVIEW_LATENT_RGB = 1,
    /// A Tiny AutoEncoder (TAESD) decoder at full size, from
    /// `sdrt_pipeline_options.preview_decoder_path` or the model folder's
    /// `vae_preview/model.onnx`, loaded by the first call that asks for it.
    SDRT_PREVIEW_TAESD = 2,
    /// The model's own VAE decoder at full size: what the final image would look like.
    SDRT_PREVIEW_FULL = 3,
}

/// What `sdrt_step_callback` receives after each UNet evaluation. Owned by sdrt and valid only
/// during the callback, previews included: copy what you keep. Grows at the end; read only
/// the fields within `struct_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_step_info {
    /// `sizeof(sdrt_step_info)` of the library that filled it.
    pub struct_size: u32,
    /// UNet evaluations done in this call, 1..=`total_steps`.
    pub step: u32,
    /// UNet evaluations this call runs: `steps` (`steps + 1` for PNDM, `2 * steps - 1` for
    /// Heun), fewer with image-to-image `strength` below 1.
    pub total_steps: u32,
    /// `sdrt_preview_kind` of `preview`, `SDRT_PREVIEW_NONE` on steps without one.
    pub preview_kind: u32,
    /// The timestep just evaluated.
    pub timestep: f64,
    /// Seconds since `sdrt_pipeline_generate` was entered.
    pub elapsed_seconds: f64,
    /// `preview_count` RGB8 images of `preview_width` x `preview_height`, back to back, rows
    /// packed; NULL on steps without a preview. Valid only during the callback.
    pub preview: *const u8,
    /// Preview width in pixels (1/8 of the image's for `SDRT_PREVIEW_LATENT_RGB`).
    pub preview_width: u32,
    /// Preview height in pixels.
    pub preview_height: u32,
    /// Images in `preview` (the call's `count`).
    pub preview_count: u32,
}

/// Step callback (`sdrt_generate_params.step_callback`), called on the thread running
/// `sdrt_pipeline_generate` after each UNet evaluation. Return non-zero to continue, 0 to
/// cancel (the call then returns `SDRT_ERROR_CANCELLED`). It may call `sdrt_pipeline_cancel`
/// and read-only functions, but must not call `sdrt_pipeline_generate` or
/// `sdrt_pipeline_free` on the same pipeline, and must not unwind (throw) into sdrt.
pub type sdrt_step_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, info: *const sdrt_step_info) -> i32>;

/// Calls `cb` with `info` laid out for C.
pub(crate) unsafe fn call_step(
    cb: unsafe extern "C" fn(*mut c_void, *const sdrt_step_info) -> i32,
    user_data: *mut c_void,
    info: &StepInfo<'_>,
) -> bool {
    let joined: Vec<u8> = info.preview.map(|p| p.images.concat()).unwrap_or_default();
    let (kind, w, h, n) = match info.preview {
        Some(p) => (
            PREVIEW_KIND.to_c(p.kind),
            p.width as u32,
            p.height as u32,
            p.images.len() as u32,
        ),
        None => (PREVIEW_KIND.to_c(PreviewKind::None), 0, 0, 0),
    };
    let c = sdrt_step_info {
        struct_size: std::mem::size_of::<sdrt_step_info>() as u32,
        step: info.step as u32,
        total_steps: info.total as u32,
        preview_kind: kind,
        timestep: info.timestep,
        elapsed_seconds: info.elapsed.as_secs_f64(),
        preview: if info.preview.is_some() {
            joined.as_ptr()
        } else {
            std::ptr::null()
        },
        preview_width: w,
        preview_height: h,
        preview_count: n,
    };
    // SAFETY: the header's contract for the callback; `c` and `joined` outlive the call.
    unsafe { cb(user_data, &c) != 0 }
}
