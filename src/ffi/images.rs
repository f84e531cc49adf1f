//! `sdrt_images`: the result of a generation.

use crate::pipeline::Images;

/// Generated images (opaque): `count` RGB8 images of `width` x `height`, rows tightly packed.
/// Free with `sdrt_images_free`. Read-only, so any thread may read it concurrently.
pub struct sdrt_images {
    _private: [u8; 0],
}

pub(crate) fn images_into_raw(images: Images) -> *mut sdrt_images {
    Box::into_raw(Box::new(images)) as *mut sdrt_images
}

unsafe fn get<'a>(p: *const sdrt_images) -> Option<&'a Images> {
    // SAFETY: NULL or a live pointer from sdrt_pipeline_generate (contract).
    unsafe { (p as *const Images).as_ref() }
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

/// Frees images from `sdrt_pipeline_generate`. NULL is a no-op. Independent of the pipeline:
/// may be called after `sdrt_pipeline_free`.
#[no_mangle]
pub unsafe extern "C" fn sdrt_images_free(images: *mut sdrt_images) {
    if !images.is_null() {
        // SAFETY: from images_into_raw, not yet freed (contract).
        drop(unsafe { Box::from_raw(images as *mut Images) });
    }
}
