//! `sdrt_image_view`: pixels a caller lends to a call (init images, masks).

use super::enums::PIXEL_FORMAT;
use super::params::{GrayImage, RgbImage};
use crate::error::{Error, Result};
use crate::pipeline::MAX_SIDE;

/// Pixel layouts of `sdrt_image_view.format`. The numbers are stable.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_pixel_format {
    /// The field's usual layout: RGB8 for `init_image`, GRAY8 for `mask`.
    SDRT_PIXEL_FORMAT_DEFAULT = 0,
    /// 3 bytes per pixel: R, G, B.
    SDRT_PIXEL_FORMAT_RGB8 = 1,
    /// 4 bytes per pixel: R, G, B, A (alpha is ignored).
    SDRT_PIXEL_FORMAT_RGBA8 = 2,
    /// 1 byte per pixel.
    SDRT_PIXEL_FORMAT_GRAY8 = 3,
}

/// Pixels lent to one call: `height` rows of `width` pixels, row `y` starting at
/// `data + y * stride`. Borrowed for the duration of the call only (sdrt copies them).
/// All zero (the `*_init` default) means "no image". `stride` 0 means rows are packed
/// (`width` times the bytes per pixel).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_image_view {
    /// The first row's first byte, or NULL for no image (then width and height must be 0).
    pub data: *const u8,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next; 0 = packed. At least `width` times the bytes per pixel.
    pub stride: u32,
    /// `sdrt_pixel_format`.
    pub format: u32,
}

impl sdrt_image_view {
    /// No image.
    pub(crate) const NONE: sdrt_image_view = sdrt_image_view {
        data: std::ptr::null(),
        width: 0,
        height: 0,
        stride: 0,
        format: 0,
    };
}

/// Reads a view into packed rows of `out_channels` bytes per pixel (3 = RGB from RGB8 or
/// RGBA8; 1 = GRAY8). `None` for the all-zero view.
unsafe fn read_view(
    v: &sdrt_image_view,
    name: &str,
    default: sdrt_pixel_format,
    out_channels: usize,
) -> Result<Option<(usize, usize, Vec<u8>)>> {
    if v.data.is_null() {
        if v.width == 0 && v.height == 0 {
            return Ok(None);
        }
        return Err(Error::invalid(format!(
            "{name}.data is NULL but its size is {}x{}",
            v.width, v.height
        )));
    }
    let (w, h) = (v.width as usize, v.height as usize);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(Error::invalid(format!(
            "{name}: size {w}x{h} must be 1..={MAX_SIDE} on each side"
        )));
    }
    use sdrt_pixel_format as F;
    let format = match PIXEL_FORMAT.read(v.format, &format!("{name}.format"), "pixel format")? {
        F::SDRT_PIXEL_FORMAT_DEFAULT => default,
        format => format,
    };
    let bpp = match (format, out_channels) {
        (F::SDRT_PIXEL_FORMAT_RGB8, 3) => 3,
        (F::SDRT_PIXEL_FORMAT_RGBA8, 3) => 4,
        (F::SDRT_PIXEL_FORMAT_GRAY8, 1) => 1,
        _ => {
            return Err(Error::invalid(format!(
                "{name}.format: {format:?} is not accepted here ({})",
                if out_channels == 1 {
                    "masks are GRAY8"
                } else {
                    "images are RGB8 or RGBA8"
                }
            )))
        }
    };
    let row = w * bpp;
    let stride = if v.stride == 0 {
        row
    } else {
        v.stride as usize
    };
    if stride < row {
        return Err(Error::invalid(format!(
            "{name}.stride {stride} is below width * bytes per pixel ({w} * {bpp} = {row})"
        )));
    }
    let mut out = Vec::with_capacity(w * h * out_channels);
    for y in 0..h {
        // SAFETY: the caller lends `height` rows of `stride` bytes (the last one at least
        // `width * bpp`), as the header documents.
        let src = unsafe { std::slice::from_raw_parts(v.data.add(y * stride), row) };
        if bpp == out_channels {
            out.extend_from_slice(src);
        } else {
            for px in src.chunks_exact(bpp) {
                out.extend_from_slice(&px[..out_channels]);
            }
        }
    }
    Ok(Some((w, h, out)))
}

/// The init image of a call, as RGB.
pub(crate) unsafe fn read_rgb(v: &sdrt_image_view, name: &str) -> Result<Option<RgbImage>> {
    // SAFETY: forwarded contract.
    let r = unsafe { read_view(v, name, sdrt_pixel_format::SDRT_PIXEL_FORMAT_RGB8, 3)? };
    Ok(r.map(|(width, height, data)| RgbImage {
        width,
        height,
        data,
    }))
}

/// The mask of a call.
pub(crate) unsafe fn read_gray(v: &sdrt_image_view, name: &str) -> Result<Option<GrayImage>> {
    // SAFETY: forwarded contract.
    let r = unsafe { read_view(v, name, sdrt_pixel_format::SDRT_PIXEL_FORMAT_GRAY8, 1)? };
    Ok(r.map(|(width, height, data)| GrayImage {
        width,
        height,
        data,
    }))
}
