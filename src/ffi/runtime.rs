//! Process-wide runtime: loading ONNX Runtime, logging, and what unloading libsdrt means.

use std::ffi::{c_char, c_void, CString};
use std::path::PathBuf;
use std::sync::Arc;

use once_cell::sync::OnceCell;

use super::enums::LOG_LEVEL;
use super::status::sdrt_status;
use super::{guard, opt_str, read_versioned};
use crate::error::Error;
use crate::runtime::{self, LogLevel, RuntimeOptions};

/// Log levels for `sdrt_runtime_options.log_level` and the log callback.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum sdrt_log_level {
    /// No messages.
    SDRT_LOG_OFF = 0,
    /// Failures.
    SDRT_LOG_ERROR = 1,
    /// Fallbacks and other surprises (the default).
    SDRT_LOG_WARN = 2,
    /// What was loaded and chosen.
    SDRT_LOG_INFO = 3,
    /// Details, including ONNX Runtime's verbose output.
    SDRT_LOG_DEBUG = 4,
}

/// Receives log messages. `level` is an `sdrt_log_level`; `message` is UTF-8, NUL-terminated
/// and valid only during the call; ONNX Runtime's messages start with `onnxruntime [ID]`,
/// where ID names the graph (`unet`, `text_encoder`, ...) or, for messages that belong to no
/// graph, ONNX Runtime's category. Called from any thread, including ONNX Runtime's own, and
/// possibly from several at once: it must be thread-safe, must not throw (C++) or longjmp, and
/// must not call sdrt functions (`sdrt_pipeline_cancel` excepted).
///
/// Two such callbacks exist. The runtime's (`sdrt_runtime_options.log_callback`) receives the
/// process-wide messages: loading ONNX Runtime, ONNX Runtime's messages that belong to no
/// session and are logged outside any call, and the messages of every pipeline that has no
/// callback of its own. A pipeline's (`sdrt_pipeline_options.log_callback`) receives that
/// pipeline's messages only: sdrt's about it (what was loaded, provider fallbacks, truncated
/// prompts), ONNX Runtime's for its graphs (each ONNX Runtime session has its own logger), and
/// ONNX Runtime's environment-wide messages (its memory arenas', its worker threads') logged
/// on the thread of a call on that pipeline or on one of its sessions' worker threads (sdrt
/// creates those threads for ONNX Runtime); it is called only while
/// `sdrt_pipeline_create`, `sdrt_pipeline_generate` or `sdrt_pipeline_free` runs on that
/// pipeline, on the calling thread or on ONNX Runtime's worker threads for that call, and
/// never after `sdrt_pipeline_free` returns (or after a failed `sdrt_pipeline_create`
/// returns).
pub type sdrt_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: u32, message: *const c_char)>;

/// Options for `sdrt_runtime_init`. Fill with `sdrt_runtime_options_init` first; the struct only
/// grows at the end, guarded by `struct_size`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct sdrt_runtime_options {
    /// `sizeof(sdrt_runtime_options)`, set by `sdrt_runtime_options_init`.
    pub struct_size: u32,
    /// `sdrt_log_level`: messages above it are dropped. Default `SDRT_LOG_WARN`.
    pub log_level: u32,
    /// Path of the ONNX Runtime shared library (UTF-8): the only library tried when set (a
    /// file that is missing or cannot be loaded is `SDRT_ERROR_RUNTIME_UNAVAILABLE`, with the
    /// path in the message; nothing else is searched). NULL to search `$SDRT_ORT_LIBRARY`,
    /// `$ORT_DYLIB_PATH`, the folder of libsdrt, then the system, in that order. Copied; may
    /// be freed after the call.
    pub ort_library_path: *const c_char,
    /// Log callback for process-wide messages (see `sdrt_log_callback`), or NULL for none.
    pub log_callback: sdrt_log_callback,
    /// Passed unchanged to `log_callback`; must stay valid until a later successful
    /// `sdrt_runtime_init` replaces the callback or `sdrt_runtime_shutdown` detaches it (once
    /// either returns, the old callback is never called again).
    pub log_user_data: *mut c_void,
}

/// The first published layout's size (see `GENERATE_PARAMS_V1` in params.rs).
const RUNTIME_OPTIONS_V1: usize =
    std::mem::offset_of!(sdrt_runtime_options, log_user_data) + std::mem::size_of::<*mut c_void>();

impl Default for sdrt_runtime_options {
    fn default() -> Self {
        sdrt_runtime_options {
            struct_size: std::mem::size_of::<sdrt_runtime_options>() as u32,
            log_level: sdrt_log_level::SDRT_LOG_WARN as u32,
            ort_library_path: std::ptr::null(),
            log_callback: None,
            log_user_data: std::ptr::null_mut(),
        }
    }
}

/// Fills the first published layout of `options` with defaults and sets `struct_size` to that
/// layout's size: safe for a program built against any earlier header, whose struct may be
/// smaller than this library's. C and C++ callers including this header call it through the
/// macro of the same name, which passes `sizeof` to `sdrt_runtime_options_init_sized`; other bindings call
/// `sdrt_runtime_options_init_sized` themselves. NULL is ignored. Any thread.
#[no_mangle]
pub unsafe extern "C" fn sdrt_runtime_options_init(options: *mut sdrt_runtime_options) {
    // SAFETY: NULL or caller-owned storage of at least the first layout (contract).
    unsafe { super::init_versioned(options, sdrt_runtime_options::default(), RUNTIME_OPTIONS_V1) }
}

/// Fills the first `size` bytes of `options` (at most this library's whole struct) with
/// defaults and sets `struct_size` to the bytes written; nothing past `size` is touched. Pass
/// `sizeof` of the struct as your header declares it. NULL, or a size below 4, is ignored.
/// Any thread. Since 0.2.
#[no_mangle]
pub unsafe extern "C" fn sdrt_runtime_options_init_sized(
    options: *mut sdrt_runtime_options,
    size: u32,
) {
    // SAFETY: NULL or caller-owned storage of at least `size` bytes (contract).
    unsafe { super::init_versioned(options, sdrt_runtime_options::default(), size as usize) }
}

pub(crate) struct CLogger {
    callback: unsafe extern "C" fn(*mut c_void, u32, *const c_char),
    user_data: *mut c_void,
}
// SAFETY: the header requires the callback and its user_data to be usable from any thread.
unsafe impl Send for CLogger {}
unsafe impl Sync for CLogger {}

impl CLogger {
    fn call(&self, level: LogLevel, msg: &str) {
        let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the header's contract for the callback.
        unsafe { (self.callback)(self.user_data, LOG_LEVEL.to_c(level), c.as_ptr()) };
    }

    /// The engine's log function for a C callback and its user_data (`None` for NULL).
    pub(crate) fn log_fn(
        callback: sdrt_log_callback,
        user_data: *mut c_void,
    ) -> Option<runtime::LogFn> {
        callback.map(|callback| {
            let logger = CLogger {
                callback,
                user_data,
            };
            Arc::new(move |level: LogLevel, msg: &str| logger.call(level, msg)) as runtime::LogFn
        })
    }
}

/// Checks a C `log_level` field.
pub(crate) fn log_level_from_c(v: u32, field: &str) -> crate::error::Result<LogLevel> {
    LOG_LEVEL
        .to_rust(v)
        .ok_or_else(|| Error::invalid(format!("unknown {field} {v}")))
}

/// Loads ONNX Runtime and sets logging. Optional: `sdrt_pipeline_create` initializes with
/// defaults when this was never called. `options` may be NULL for defaults.
///
/// Calling it again is allowed: logging is updated; asking for a different ONNX Runtime
/// library than the one loaded fails with `SDRT_ERROR_ALREADY_INITIALIZED` and leaves the
/// logging settings as they were. On the first call the logging settings apply before the
/// library is searched, so the callback sees the attempt even when it fails.
/// Errors: `SDRT_ERROR_INVALID_ARGUMENT` (`struct_size` too small, unknown `log_level`,
/// path not UTF-8), `SDRT_ERROR_RUNTIME_UNAVAILABLE` when the library named by
/// `ort_library_path` cannot be loaded (the message names it) or, without a path, when no
/// usable library (>= 1.31) is found (the message lists every path tried),
/// `SDRT_ERROR_ALREADY_INITIALIZED`. Thread-safe.
///
/// Loading and unloading: this call and `sdrt_pipeline_create` pin libsdrt (or the shared
/// library that has sdrt linked in) in memory, so a `dlclose` (`FreeLibrary`) never unloads
/// it; a later `dlopen` of the same path gets the same library back, with its state (ONNX
/// Runtime stays loaded with the same library, the log settings stay as they were left).
/// This is because ONNX Runtime, once loaded, stays loaded until the process exits, and its
/// one environment (shared by every user of that ONNX Runtime in the process) keeps a pointer
/// into the libsdrt that created it; a libsdrt that really unloaded would be called after it
/// is gone. A copy of libsdrt at another path is another library with its own state, and may
/// be used while the first is closed.
///
/// Several copies in one process (a plug-in host loading two plug-ins that each carry
/// libsdrt): ONNX Runtime has one environment per process, which logs through the copy that
/// created it. sdrt routes each of those messages to the copy, and the pipeline, whose call
/// (`sdrt_pipeline_create`, `sdrt_pipeline_generate`, `sdrt_pipeline_free`, a preview render)
/// runs on the thread that logged it, or whose session's worker thread logged it: to that
/// pipeline's callback, else that copy's runtime callback. On Linux the copies find each other through the environment variable
/// `SDRT_LOG_ROUTER_<pid>`, which the first copy sets (`setenv`, keeping a value already there
/// unless it was left by the program this process ran before an `exec`); elsewhere each copy
/// routes only its own calls, and other copies' messages reach the creating copy's runtime
/// callback. What stays process-wide: ONNX Runtime's environment log level (the level of the
/// last `sdrt_runtime_init` of any copy filters the environment's messages before routing),
/// and messages logged outside any call (ONNX Runtime's own threads between calls), which go
/// to the runtime callback of the copy that created the environment. Before unloading code
/// that a callback lives in, free the pipelines whose callbacks are there and call
/// `sdrt_runtime_shutdown`.
#[no_mangle]
pub unsafe extern "C" fn sdrt_runtime_init(options: *const sdrt_runtime_options) -> sdrt_status {
    guard(|| {
        runtime::pin_in_memory();
        let o = if options.is_null() {
            sdrt_runtime_options::default()
        } else {
            // SAFETY: documented contract: a struct filled by sdrt_runtime_options_init.
            unsafe {
                read_versioned(
                    options,
                    sdrt_runtime_options::default(),
                    RUNTIME_OPTIONS_V1,
                    "options",
                )?
            }
        };
        let level = log_level_from_c(o.log_level, "log_level")?;
        // SAFETY: borrowed C string, documented.
        let path = unsafe { opt_str(o.ort_library_path, "options->ort_library_path")? };
        let callback = CLogger::log_fn(o.log_callback, o.log_user_data);
        let rt_options = RuntimeOptions {
            ort_library: path.map(PathBuf::from),
        };
        if runtime::get().is_some() {
            // Already loaded: fail on a different library before touching the logger, so a
            // failed call changes nothing.
            runtime::init(&rt_options)?;
            runtime::set_logger(callback, level);
        } else {
            runtime::set_logger(callback, level);
            runtime::init(&rt_options)?;
        }
        Ok(())
    })
}

/// The loaded ONNX Runtime's version (e.g. `"1.31.1"`), or NULL before the runtime is
/// initialized. Static once non-NULL; do not free. Any thread.
#[no_mangle]
pub extern "C" fn sdrt_runtime_ort_version() -> *const c_char {
    static VERSION: OnceCell<CString> = OnceCell::new();
    super::guard_value(std::ptr::null(), || match runtime::get() {
        Some(rt) => VERSION
            .get_or_init(|| CString::new(rt.version()).unwrap_or_default())
            .as_ptr(),
        None => std::ptr::null(),
    })
}

/// Detaches the runtime's log callback: once this returns it is never called again, and the
/// runtime level is back to `SDRT_LOG_WARN`. Call it before `dlclose` of libsdrt or of the
/// code the callback lives in (a plug-in that registered it), after freeing the pipelines
/// (each pipeline's own callback is detached when it is freed). Pipelines still alive keep
/// working, and a later `sdrt_runtime_init` attaches a callback again. ONNX Runtime stays
/// loaded: it cannot be unloaded while the process runs (see `sdrt_runtime_init`). Any
/// thread; never fails.
#[no_mangle]
pub extern "C" fn sdrt_runtime_shutdown() {
    let _ = std::panic::catch_unwind(|| runtime::set_logger(None, LogLevel::Warn));
}
