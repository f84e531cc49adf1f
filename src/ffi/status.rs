//! `sdrt_status`, its names, and the thread-local last error message.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use super::enums::STATUS;
use crate::error::{Error, ErrorKind};

/// Result of a fallible sdrt function. The numbers are stable: they are never reused or
/// renumbered, new codes are only appended.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_status {
    /// Success.
    SDRT_OK = 0,
    /// An argument is NULL, out of range, or malformed (e.g. width not a multiple of 8).
    SDRT_ERROR_INVALID_ARGUMENT = 1,
    /// ONNX Runtime could not be loaded, or is older than 1.31.
    SDRT_ERROR_RUNTIME_UNAVAILABLE = 2,
    /// `sdrt_runtime_init` was called again with a different ONNX Runtime library.
    SDRT_ERROR_ALREADY_INITIALIZED = 3,
    /// The model folder or one of its files does not exist.
    SDRT_ERROR_MODEL_NOT_FOUND = 4,
    /// The model folder's configs or ONNX graphs are not usable.
    SDRT_ERROR_MODEL_INVALID = 5,
    /// A provider requested with `strict_provider` is not in the loaded ONNX Runtime.
    SDRT_ERROR_PROVIDER_UNAVAILABLE = 6,
    /// ONNX Runtime failed while running a graph.
    SDRT_ERROR_INFERENCE = 7,
    /// The generation was cancelled (progress callback or `sdrt_pipeline_cancel`).
    SDRT_ERROR_CANCELLED = 8,
    /// The requested feature is not built in this version (e.g. the model names a scheduler
    /// class sdrt does not implement, and no scheduler was chosen).
    SDRT_ERROR_UNSUPPORTED = 9,
    /// A file could not be read or written.
    SDRT_ERROR_IO = 10,
    /// An internal error in sdrt; please report it.
    SDRT_ERROR_INTERNAL = 11,
}

impl sdrt_status {
    /// The status for an engine error kind (the one mapping from `Error` to `sdrt_status`).
    pub fn from_kind(kind: ErrorKind) -> sdrt_status {
        STATUS
            .constant_for(Some(kind))
            .unwrap_or(sdrt_status::SDRT_ERROR_INTERNAL)
    }

    /// The constant's name, NUL-terminated.
    fn name(self) -> &'static [u8] {
        match self {
            sdrt_status::SDRT_OK => b"SDRT_OK\0",
            sdrt_status::SDRT_ERROR_INVALID_ARGUMENT => b"SDRT_ERROR_INVALID_ARGUMENT\0",
            sdrt_status::SDRT_ERROR_RUNTIME_UNAVAILABLE => b"SDRT_ERROR_RUNTIME_UNAVAILABLE\0",
            sdrt_status::SDRT_ERROR_ALREADY_INITIALIZED => b"SDRT_ERROR_ALREADY_INITIALIZED\0",
            sdrt_status::SDRT_ERROR_MODEL_NOT_FOUND => b"SDRT_ERROR_MODEL_NOT_FOUND\0",
            sdrt_status::SDRT_ERROR_MODEL_INVALID => b"SDRT_ERROR_MODEL_INVALID\0",
            sdrt_status::SDRT_ERROR_PROVIDER_UNAVAILABLE => b"SDRT_ERROR_PROVIDER_UNAVAILABLE\0",
            sdrt_status::SDRT_ERROR_INFERENCE => b"SDRT_ERROR_INFERENCE\0",
            sdrt_status::SDRT_ERROR_CANCELLED => b"SDRT_ERROR_CANCELLED\0",
            sdrt_status::SDRT_ERROR_UNSUPPORTED => b"SDRT_ERROR_UNSUPPORTED\0",
            sdrt_status::SDRT_ERROR_IO => b"SDRT_ERROR_IO\0",
            sdrt_status::SDRT_ERROR_INTERNAL => b"SDRT_ERROR_INTERNAL\0",
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records `e` as this thread's last error and returns its status.
pub(crate) fn set_last_error(e: &Error) -> sdrt_status {
    let msg = CString::new(e.message().replace('\0', "\\0")).unwrap_or_default();
    // try_with: during thread teardown the slot may be gone; never panic across the ABI.
    let _ = LAST_ERROR.try_with(|m| *m.borrow_mut() = msg);
    sdrt_status::from_kind(e.kind())
}

/// Returns a static, NUL-terminated name for `status`, e.g. `"SDRT_ERROR_CANCELLED"`.
/// Unknown numbers give `"SDRT_ERROR_UNKNOWN"`. Never NULL; never free it. Any thread.
#[no_mangle]
pub extern "C" fn sdrt_status_str(status: u32) -> *const c_char {
    let s = STATUS
        .constant(status)
        .map_or(&b"SDRT_ERROR_UNKNOWN\0"[..], sdrt_status::name);
    s.as_ptr() as *const c_char
}

/// The message of the most recent failed sdrt call on the calling thread (UTF-8,
/// NUL-terminated; `""` if none has failed). Owned by sdrt: valid until the next failing
/// sdrt call on the same thread; do not free it. Successful calls leave it unchanged.
#[no_mangle]
pub extern "C" fn sdrt_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|m| m.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}
