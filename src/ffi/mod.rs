//! The C ABI: every `extern "C"` function of `include/sdrt.h`, one file per C concept.
//!
//! Conventions (see `include/sdrt.h`): fallible functions return `sdrt_status`, write their
//! out-parameters only on success, never unwind into the caller, and record a message for
//! `sdrt_last_error_message`.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

pub mod cache;
pub mod controlnet;
pub(crate) mod enums;
pub mod ep;
pub mod image_view;
pub mod images;
pub mod latents;
pub mod lora;
pub mod options;
pub mod params;
pub mod pipeline;
pub mod runtime;
pub mod status;
pub mod step;
pub mod version;

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind, Result};
use status::{sdrt_status, set_last_error};

/// Runs `f` behind the panic boundary and maps its outcome to a status.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> sdrt_status {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => sdrt_status::SDRT_OK,
        Ok(Err(e)) => set_last_error(&e),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            set_last_error(&Error::new(
                ErrorKind::Internal,
                format!("internal error (please report): {what}"),
            ))
        }
    }
}

/// Runs an infallible accessor behind the panic boundary, returning `fallback` on panic.
pub(crate) fn guard_value<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Fails with `InvalidArgument` when `p` is NULL.
pub(crate) fn non_null<T>(p: *const T, name: &str) -> Result<()> {
    if p.is_null() {
        Err(Error::invalid(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}

/// Copies a borrowed UTF-8 C string; NULL gives `None`.
pub(crate) unsafe fn opt_str(p: *const c_char, name: &str) -> Result<Option<String>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller promises a NUL-terminated string (documented in the header).
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(|s| Some(s.to_string()))
        .map_err(|_| Error::invalid(format!("{name} is not valid UTF-8")))
}

/// Reads a versioned params struct: its first field is `uint32_t struct_size`. Bytes past
/// `struct_size` keep `defaults`; a size below `min_size` (the first published layout) is an
/// error.
pub(crate) unsafe fn read_versioned<T: Copy>(
    p: *const T,
    defaults: T,
    min_size: usize,
    name: &str,
) -> Result<T> {
    non_null(p, name)?;
    // SAFETY: p is non-null and points to at least a u32 (the struct_size field).
    let size = unsafe { *(p as *const u32) } as usize;
    if size < min_size {
        return Err(Error::invalid(format!(
            "{name}->struct_size is {size}, expected at least {min_size}; fill it with the matching _init function"
        )));
    }
    let mut out = defaults;
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: the caller's struct is at least `size` bytes; `out` is `size_of::<T>()` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(p as *const u8, &mut out as *mut T as *mut u8, n);
    }
    Ok(out)
}

/// `*_init` and `*_init_sized`: writes the first `size` bytes of `defaults` (at most the whole
/// struct) to `p` and sets `struct_size` to the bytes written. A caller's struct may be smaller
/// than the library's (built against an older header): nothing past `size` is touched. Sizes
/// below the `struct_size` field itself write nothing; NULL is ignored.
pub(crate) unsafe fn init_versioned<T: Copy>(p: *mut T, defaults: T, size: usize) {
    let n = size.min(std::mem::size_of::<T>());
    if p.is_null() || n < std::mem::size_of::<u32>() {
        return;
    }
    // SAFETY: the caller's storage holds at least `size` bytes (contract); `n` <= both sizes.
    unsafe {
        std::ptr::copy_nonoverlapping(&defaults as *const T as *const u8, p as *mut u8, n);
        *(p as *mut u32) = n as u32;
    }
}

/// Writes `value` to an out-struct whose caller set `struct_size`, copying only what fits.
pub(crate) unsafe fn write_versioned<T: Copy>(
    out: *mut T,
    value: T,
    min_size: usize,
    name: &str,
) -> Result<()> {
    non_null(out, name)?;
    // SAFETY: as in read_versioned.
    let size = unsafe { *(out as *const u32) } as usize;
    if size < min_size {
        return Err(Error::invalid(format!(
            "{name}->struct_size is {size}, expected at least {min_size}; fill it with the matching _init function"
        )));
    }
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: both regions are at least n bytes; the caller's struct_size is preserved.
    unsafe {
        std::ptr::copy_nonoverlapping(&value as *const T as *const u8, out as *mut u8, n);
        *(out as *mut u32) = size as u32;
    }
    Ok(())
}
