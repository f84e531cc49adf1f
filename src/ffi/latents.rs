//! `sdrt_latents`: latents passed between calls (SDXL's base-to-refiner hand-off): returned by
//! a call with `output_latents`, given to the next one as `latents`.

use std::ffi::{c_char, CStr};

use crate::error::{Error, Result};
use crate::pipeline::Latents;

/// A view of latents in a model's UNet space: `count * channels * height * width` floats,
/// row-major (`[count, channels, height, width]`), and the name of the latent space they are
/// in (`"sd"`, `"sdxl"`): a model refuses latents of another family's space. Set `struct_size`
/// to `sizeof(sdrt_latents)`. Given in `sdrt_generate_params.latents`, the view and what it
/// points to are borrowed for the call (and copied); filled by `sdrt_images_latents`, they are
/// owned by the images. Since 0.4.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_latents {
    /// `sizeof(sdrt_latents)`.
    pub struct_size: u32,
    /// Images.
    pub count: u32,
    /// Latent channels (4 for SD and SDXL).
    pub channels: u32,
    /// Latent rows (the image's height / 8).
    pub height: u32,
    /// Latent columns (the image's width / 8).
    pub width: u32,
    /// The values.
    pub data: *const f32,
    /// The latent space, NUL-terminated UTF-8.
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

/// Copies the latents a caller lends; NULL is none.
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
        .map_err(|_| Error::invalid(format!("{name}->family is not UTF-8")))?
        .to_string();
    let shape = [v.count, v.channels, v.height, v.width].map(|d| d as usize);
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n > 0 && n <= 1 << 30)
        .ok_or_else(|| Error::invalid(format!("{name}: shape {shape:?} is empty or too large")))?;
    if v.data.is_null() {
        return Err(Error::invalid(format!("{name}->data is NULL")));
    }
    // SAFETY: `n` floats at `data` (contract).
    let data = unsafe { std::slice::from_raw_parts(v.data, n) }.to_vec();
    Ok(Some(Latents {
        family,
        shape,
        data,
    }))
}
