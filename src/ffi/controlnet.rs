//! `sdrt_controlnet`: one ControlNet of a call (`sdrt_generate_params.controlnets`).

use std::ffi::c_char;

use super::image_view::{read_rgb, sdrt_image_view};
use crate::error::{Error, Result};
use crate::pipeline::ControlNet;

/// The most ControlNets one call may apply.
pub(crate) const MAX_CONTROLNETS: usize = 16;

/// One ControlNet of a call, as diffusers' `StableDiffusionControlNetPipeline` (and its SDXL
/// twin) takes it: the graph, its control image, `controlnet_conditioning_scale`,
/// `control_guidance_start`/`end` and `guess_mode`. Fill with `sdrt_controlnet_init`, then set
/// `model` and `image`. The struct only grows at the end, guarded by `struct_size`.
///
/// The model folder's UNet must take ControlNet residuals (`unet/model.onnx` exported by
/// `tools/export_controlnet.py`); a UNet without them is `SDRT_ERROR_INVALID_ARGUMENT` naming
/// `controlnets`. Each ControlNet is loaded by the first call that uses it and kept by the
/// pipeline (the low-memory mode frees it after each call). Several ControlNets in one call
/// have their residuals summed, as diffusers' `MultiControlNetModel`.
///
/// Ownership: the struct, `model` and the image's pixels are the caller's, borrowed for the
/// duration of `sdrt_pipeline_generate` only (sdrt copies them before running any graph; they
/// may be freed or reused when it returns). Threads: sdrt only reads them, so one array may
/// be passed to calls running at the same time (on different pipelines). Since 0.5.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_controlnet {
    /// `sizeof(sdrt_controlnet)`, set by `sdrt_controlnet_init`. Every element of an array
    /// must carry the same value: it is the array's stride.
    pub struct_size: u32,
    /// The ControlNet, NUL-terminated UTF-8, not NULL: a name without `/`, the folder
    /// `controlnet/<name>/` of the model folder (its `model.onnx`); or a path with a `/` to
    /// such a folder or to a `.onnx` file. One that does not exist is
    /// `SDRT_ERROR_MODEL_NOT_FOUND` naming the folder searched and the names it holds.
    pub model: *const c_char,
    /// The control image, RGB8 or RGBA8 (alpha ignored), of the output's size (sdrt does not
    /// resize; another size, an empty view or NULL pixels are `SDRT_ERROR_INVALID_ARGUMENT`
    /// naming `controlnets[i].image`). It is used as diffusers' `prepare_image` does: each
    /// byte / 255, no normalisation to [-1, 1].
    pub image: sdrt_image_view,
    /// `controlnet_conditioning_scale` (default 1.0), finite: the residuals are multiplied by
    /// it; 0 skips the ControlNet.
    pub scale: f32,
    /// `control_guidance_start` (default 0.0), in [0, 1]: the ControlNet applies at step `i`
    /// of `n` unless `i / n < start` or `(i + 1) / n > end`. Must be below `end`.
    pub start: f32,
    /// `control_guidance_end` (default 1.0), in [0, 1].
    pub end: f32,
    /// 1: diffusers' `guess_mode` (the ControlNet sees only the conditional half of the
    /// batch, the unconditional half gets no residuals, and residual `k` of `N` is scaled by
    /// `10^(k / (N - 1) - 1)` times `scale`); 0 (default): off. Other values are
    /// `SDRT_ERROR_INVALID_ARGUMENT`. diffusers has one flag per call: give every ControlNet
    /// of a call the same value to match it.
    pub guess_mode: u32,
}

impl Default for sdrt_controlnet {
    fn default() -> Self {
        sdrt_controlnet {
            struct_size: std::mem::size_of::<sdrt_controlnet>() as u32,
            model: std::ptr::null(),
            image: sdrt_image_view::NONE,
            scale: 1.0,
            start: 0.0,
            end: 1.0,
            guess_mode: 0,
        }
    }
}

/// The smallest `struct_size` accepted (the whole first layout).
pub(crate) const CONTROLNET_V1: usize = std::mem::size_of::<sdrt_controlnet>();

/// Fills the first published layout of `controlnet` with defaults (see `sdrt_controlnet`) and
/// sets `struct_size`. C and C++ callers reach `sdrt_controlnet_init_sized` through the macro
/// of the same name. NULL is ignored. Any thread. Since 0.5.
#[no_mangle]
pub unsafe extern "C" fn sdrt_controlnet_init(controlnet: *mut sdrt_controlnet) {
    // SAFETY: NULL or caller-owned storage of at least the first layout (contract).
    unsafe { super::init_versioned(controlnet, sdrt_controlnet::default(), CONTROLNET_V1) }
}

/// Fills the first `size` bytes of `controlnet` with defaults and sets `struct_size` to the
/// bytes written; nothing past `size` is touched. NULL, or a size below 4, is ignored. Any
/// thread. Since 0.5.
#[no_mangle]
pub unsafe extern "C" fn sdrt_controlnet_init_sized(controlnet: *mut sdrt_controlnet, size: u32) {
    // SAFETY: NULL or caller-owned storage of at least `size` bytes (contract).
    unsafe { super::init_versioned(controlnet, sdrt_controlnet::default(), size as usize) }
}

/// Copies a call's ControlNets: `count` structs at `p` (NULL with 0 is none).
pub(crate) unsafe fn read_controlnets(
    p: *const sdrt_controlnet,
    count: u32,
) -> Result<Vec<ControlNet>> {
    let count = count as usize;
    if count == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::invalid(format!(
            "params->controlnets is NULL with controlnet_count {count}"
        )));
    }
    if count > MAX_CONTROLNETS {
        return Err(Error::invalid(format!(
            "params->controlnet_count is {count}; at most {MAX_CONTROLNETS}"
        )));
    }
    // SAFETY: non-null, an array of `count` structs (contract): its first u32 is struct_size.
    let stride = unsafe { *(p as *const u32) } as usize;
    let mut out = Vec::with_capacity(count);
    for k in 0..count {
        let name = format!("params->controlnets[{k}]");
        // SAFETY: element k of the caller's array, `stride` bytes each (contract).
        let e = unsafe { (p as *const u8).add(k * stride) } as *const sdrt_controlnet;
        // SAFETY: as above; read_versioned checks struct_size.
        let c =
            unsafe { super::read_versioned(e, sdrt_controlnet::default(), CONTROLNET_V1, &name)? };
        if c.struct_size as usize != stride {
            return Err(Error::invalid(format!(
                "{name}->struct_size is {}, element 0's is {stride}: every element must have \
                 the same (fill each with sdrt_controlnet_init)",
                c.struct_size
            )));
        }
        // SAFETY: a borrowed C string (contract).
        let model = unsafe { super::opt_str(c.model, &format!("{name}->model"))? }
            .ok_or_else(|| Error::invalid(format!("{name}->model is NULL")))?;
        // SAFETY: borrowed pixels (contract).
        let image = unsafe { read_rgb(&c.image, &format!("{name}->image"))? }
            .ok_or_else(|| Error::invalid(format!("{name}->image is empty")))?;
        let guess_mode = match c.guess_mode {
            0 => false,
            1 => true,
            v => {
                return Err(Error::invalid(format!(
                    "{name}->guess_mode must be 0 or 1, got {v}"
                )))
            }
        };
        out.push(ControlNet {
            model,
            image,
            scale: c.scale,
            start: c.start,
            end: c.end,
            guess_mode,
        });
    }
    Ok(out)
}
