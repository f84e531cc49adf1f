//! `sdrt_latents`: latents passed between calls (SDXL's base-to-refiner hand-off): returned by
//! a call with `output_latents` (read with `sdrt_images_latents`), given to the next one as
//! `sdrt_generate_params.latents`.

use std::ffi::{c_char, CStr};

use crate::error::{Error, Result};
use crate::pipeline::Latents;

/// A view of latents in a model's UNet space: `count * channels * height * width` floats,
/// row-major (`[count, channels, height, width]`), and the name of the latent space they are
/// in (`"sd"`, `"sdxl"`): a model refuses latents of another family's space. Set `struct_size`
/// to `sizeof(sdrt_latents)` before passing one to sdrt.
///
/// Ownership: the struct is always the caller's. Given in `sdrt_generate_params.latents`,
/// the struct and what `data` and `family` point to are borrowed for the duration of
/// `sdrt_pipeline_generate` only (sdrt copies them before running any graph; they may be
/// freed or reused when the call returns). Filled by `sdrt_images_latents`, `data` and
/// `family` point into the `sdrt_images` and stay valid until `sdrt_images_free` of those
/// images: the caller never frees them, and a view from freed images must not be passed to
/// sdrt again. Since 0.4.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_latents {
    /// `sizeof(sdrt_latents)`: the bytes of this struct the caller has.
    pub struct_size: u32,
    /// Images: the call's `count`.
    pub count: u32,
    /// Latent channels (4 for SD and SDXL).
    pub channels: u32,
    /// Latent rows (the image's height / 8).
    pub height: u32,
    /// Latent columns (the image's width / 8).
    pub width: u32,
    /// `count * channels * height * width` finite floats. Not NULL.
    pub data: *const f32,
    /// The latent space, NUL-terminated UTF-8 (`"sdxl"` for every SDXL model: base,
    /// refiner and inpainting share it). Not NULL.
    pub family: *const c_char,
}

impl sdrt_latents {
    pub(crate) const EMPTY: sdrt_latents = sdrt_latents {
        struct_size: std::mem::size_of::<sdrt_latents>() as u32,
        count: 0,
        channels: 0,
        height: 0,
        width: 0,
        data: std::ptr::null(),
        family: std::ptr::null(),
    };
}

/// The smallest `struct_size` accepted (the whole first layout).
pub(crate) const LATENTS_V1: usize = std::mem::size_of::<sdrt_latents>();

/// The most floats a caller's latents may hold (2^30, 4 GiB): sixteen times what the largest
/// request takes (64 images of 4096 x 4096, 4 channels: 2^26), so the engine's shape check,
/// which names the expected shape, speaks for every shape short of that.
const MAX_VALUES: usize = 1 << 30;

/// Copies the latents a caller lends; NULL is none. Every message names `name`.
pub(crate) unsafe fn read_latents(p: *const sdrt_latents, name: &str) -> Result<Option<Latents>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null; the caller's struct is at least its struct_size (contract).
    let v = unsafe { super::read_versioned(p, sdrt_latents::EMPTY, LATENTS_V1, name)? };
    if v.family.is_null() {
        return Err(Error::invalid(format!("{name}->family is NULL")));
    }
    // SAFETY: a NUL-terminated string (contract).
    let family = unsafe { CStr::from_ptr(v.family) }
        .to_str()
        .map_err(|_| Error::invalid(format!("{name}->family is not valid UTF-8")))?
        .to_string();
    let shape = [v.count, v.channels, v.height, v.width].map(|d| d as usize);
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n > 0 && n <= MAX_VALUES)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{name}: shape {shape:?} (count, channels, height, width) is empty or too large"
            ))
        })?;
    if v.data.is_null() {
        return Err(Error::invalid(format!("{name}->data is NULL")));
    }
    if !v.data.is_aligned() {
        return Err(Error::invalid(format!(
            "{name}->data is not aligned for float"
        )));
    }
    // SAFETY: `n` floats at `data` (contract).
    let data = unsafe { std::slice::from_raw_parts(v.data, n) }.to_vec();
    Ok(Some(Latents {
        family,
        shape,
        data,
    }))
}
