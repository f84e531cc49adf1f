//! `sdrt_images`: the result of a generation (images, or latents for a hand-off).

use std::ffi::CString;

use super::latents::sdrt_latents;
use super::status::sdrt_status;
use crate::error::Error;
use crate::pipeline::Images;

/// What an `sdrt_images` holds: the images, and the latent family's name as C reads it.
struct Held {
    images: Images,
    family: Option<CString>,
}

/// Generated images (opaque): `count` RGB8 images of `width` x `height`, rows tightly packed,
/// or, from a call with `output_latents`, no images (`sdrt_images_count` 0; `width` and
/// `height` are those of the images the latents stand for) and latents read with
/// `sdrt_images_latents`. Free with `sdrt_images_free`. Read-only, so any thread may read it
/// concurrently.
pub struct sdrt_images {
    _private: [u8; 0],
}

pub(crate) fn images_into_raw(images: Images) -> *mut sdrt_images {
    // Family names are short ASCII words ("sd", "sdxl") and never hold a NUL.
    let family = images
        .latents
        .as_ref()
        .and_then(|l| CString::new(l.family.clone()).ok());
    Box::into_raw(Box::new(Held { images, family })) as *mut sdrt_images
}

unsafe fn held<'a>(p: *const sdrt_images) -> Option<&'a Held> {
    // SAFETY: NULL or a live pointer from sdrt_pipeline_generate (contract).
    unsafe { (p as *const Held).as_ref() }
}

unsafe fn get<'a>(p: *const sdrt_images) -> Option<&'a Images> {
    // SAFETY: contract above.
    unsafe { held(p) }.map(|h| &h.images)
}

/// Fills `*out` (whose `struct_size` the caller set to `sizeof(sdrt_latents)`) with a view of
/// the latents of a call made with `output_latents`, ready to pass as the next call's
/// `sdrt_generate_params.latents` (SDXL's base-to-refiner hand-off). The view's `data` and
/// `family` are owned by `images`: valid until `sdrt_images_free(images)`, never freed by the
/// caller; calling this again returns the same pointers. Errors, with `*out` untouched:
/// `SDRT_ERROR_INVALID_ARGUMENT` for a NULL `images` or `out`, a `struct_size` below the
/// first layout, or images from a call without `output_latents` (they hold no latents). Any
/// thread, concurrently with the other readers of the same images. Since 0.4.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_latents(
    images: *const sdrt_images,
    out: *mut sdrt_latents,
) -> sdrt_status {
    super::guard(|| {
        // SAFETY: contract above.
        let h = unsafe { held(images) }.ok_or_else(|| Error::invalid("images is NULL"))?;
        super::non_null(out, "out")?;
        let (Some(l), Some(family)) = (&h.images.latents, &h.family) else {
            return Err(Error::invalid(
                "images: this call returned images, not latents (set output_latents)",
            ));
        };
        let [count, channels, height, width] = l.shape.map(|d| d as u32);
        let view = sdrt_latents {
            struct_size: std::mem::size_of::<sdrt_latents>() as u32,
            count,
            channels,
            height,
            width,
            data: l.data.as_ptr(),
            family: family.as_ptr(),
        };
        // SAFETY: documented contract.
        unsafe { super::write_versioned(out, view, super::latents::LATENTS_V1, "out") }
    })
}

/// Number of images; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_count(images: *const sdrt_images) -> u32 {
    // SAFETY: contract above.
    unsafe { get(images) }.map_or(0, |i| i.images.len() as u32)
}

/// Width in pixels; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_width(images: *const sdrt_images) -> u32 {
    // SAFETY: contract above.
    unsafe { get(images) }.map_or(0, |i| i.width as u32)
}

/// Height in pixels; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_height(images: *const sdrt_images) -> u32 {
    // SAFETY: contract above.
    unsafe { get(images) }.map_or(0, |i| i.height as u32)
}

/// Channels per pixel: 3 (R, G, B); 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_channels(images: *const sdrt_images) -> u32 {
    // SAFETY: contract above.
    unsafe { get(images) }.map_or(0, |_| Images::CHANNELS as u32)
}

/// Pixels of image `index`: `width * height * channels` bytes, row-major, rows tightly packed,
/// owned by `images` and valid until `sdrt_images_free`. NULL when `images` is NULL or `index`
/// is out of range.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_data(images: *const sdrt_images, index: u32) -> *const u8 {
    // SAFETY: contract above.
    unsafe { get(images) }
        .and_then(|i| i.images.get(index as usize))
        .map_or(std::ptr::null(), |v| v.as_ptr())
}

/// 1 when the model's safety checker flagged image `index` (its pixels are then all black,
/// as diffusers blacks them out); 0 when it did not, when no checker ran (see
/// `sdrt_images_safety_checked`), for NULL or an out-of-range index. Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_flagged(images: *const sdrt_images, index: u32) -> i32 {
    // SAFETY: contract above.
    unsafe { get(images) }
        .and_then(|i| i.flagged.get(index as usize))
        .map_or(0, |&f| f as i32)
}

/// 1 when a safety checker ran on these images (the model folder has
/// `safety_checker/model.onnx` and the pipeline did not disable it), else 0 (also for NULL).
/// Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_safety_checked(images: *const sdrt_images) -> i32 {
    // SAFETY: contract above.
    unsafe { get(images) }.map_or(0, |i| !i.flagged.is_empty() as i32)
}

/// Frees images from `sdrt_pipeline_generate`, with their latents (the views
/// `sdrt_images_latents` gave become invalid). NULL is a no-op; freeing the same images twice
/// is undefined behaviour, as for `free`. Independent of the pipeline: may be called after
/// `sdrt_pipeline_free`.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_free(images: *mut sdrt_images) {
    if !images.is_null() {
        // SAFETY: from images_into_raw, not yet freed (contract).
        drop(unsafe { Box::from_raw(images as *mut Held) });
    }
}
