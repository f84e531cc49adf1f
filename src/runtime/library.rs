//! Finding and loading the ONNX Runtime library: the places tried and in which order
//! ([`RuntimeOptions::ort_library`], `$SDRT_ORT_LIBRARY`, `$ORT_DYLIB_PATH`, the folder of
//! libsdrt, the system's search), why a candidate failed (the loader's own reason), the loaded
//! library's version, and pinning libsdrt in memory ([`pin_in_memory`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::OnceCell;

use super::log::{log, ort_level, ort_message_level, process_level, LogLevel};
use super::providers::available_providers;
use super::route;
use super::{Runtime, RuntimeOptions};
use crate::error::{Error, ErrorKind, Result};

/// File name of the ONNX Runtime library on this platform.
pub fn ort_library_name() -> &'static str {
    if cfg!(target_os = "windows") {
        "onnxruntime.dll"
    } else if cfg!(target_os = "macos") {
        "libonnxruntime.dylib"
    } else {
        "libonnxruntime.so"
    }
}

/// The candidate paths, in the order they are tried, with where each came from. An explicit
/// path is the only candidate.
fn candidates(options: &RuntimeOptions) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    if let Some(p) = &options.ort_library {
        out.push(("runtime options".to_string(), p.clone()));
        return out;
    }
    for var in ["SDRT_ORT_LIBRARY", "ORT_DYLIB_PATH"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push((format!("${var}"), PathBuf::from(v)));
        }
    }
    if let Some(dir) = own_directory() {
        let p = dir.join(ort_library_name());
        if p.exists() {
            out.push(("next to libsdrt".to_string(), p));
        }
        if cfg!(target_os = "linux") {
            let p = dir.join("libonnxruntime.so.1");
            if p.exists() {
                out.push(("next to libsdrt".to_string(), p));
            }
        }
    }
    out.push((
        "system library search".to_string(),
        PathBuf::from(ort_library_name()),
    ));
    if cfg!(target_os = "linux") {
        out.push((
            "system library search".to_string(),
            PathBuf::from("libonnxruntime.so.1"),
        ));
    }
    out
}

/// The file name the loader knows the binary that contains sdrt by (libsdrt, or the
/// executable it is linked into), as `dladdr` reports it.
#[cfg(unix)]
fn own_file() -> Option<std::ffi::CString> {
    // SAFETY: dladdr only reads the address; a zeroed Dl_info is a valid out-parameter, and
    // dli_fname, when set, is a NUL-terminated string owned by the loader.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        let addr = own_file as *const libc::c_void;
        if libc::dladdr(addr, &mut info) != 0 && !info.dli_fname.is_null() {
            return Some(std::ffi::CStr::from_ptr(info.dli_fname).to_owned());
        }
    }
    None
}

/// The folder holding the binary that contains sdrt (libsdrt, or the executable it is linked into).
#[cfg(unix)]
fn own_directory() -> Option<PathBuf> {
    let name = own_file()?;
    let path = PathBuf::from(name.to_string_lossy().into_owned());
    let path = path.canonicalize().unwrap_or(path);
    path.parent().map(Path::to_path_buf)
}

/// Keeps libsdrt loaded until the process exits, whatever the host's `dlclose` calls: once
/// ONNX Runtime is loaded its one environment (which lives until exit, shared by every
/// library in the process that uses ONNX Runtime) holds a pointer to sdrt's logging function,
/// and sdrt's statics (the loaded runtime, compiled tokenizer patterns) are kept for the next
/// `dlopen`, which gets the same library back instead of a new copy. Called by the entry
/// points that create lasting state; later calls do nothing. Returns whether the library is
/// pinned (false for an executable that has sdrt linked in, which needs no pinning).
pub fn pin_in_memory() -> bool {
    static PINNED: OnceCell<bool> = OnceCell::new();
    *PINNED.get_or_init(pin_once)
}

/// `dlopen(self, RTLD_NOLOAD | RTLD_NODELETE)`: loads nothing, marks the already-loaded
/// library as never to be unloaded (glibc and macOS dyld both honour it on a NOLOAD reopen).
#[cfg(unix)]
fn pin_once() -> bool {
    let Some(name) = own_file() else {
        return false;
    };
    // SAFETY: RTLD_NOLOAD returns a new reference to an already-loaded object or NULL; the
    // reference is released at once, the NODELETE mark stays.
    unsafe {
        let handle = libc::dlopen(
            name.as_ptr(),
            libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
        );
        if handle.is_null() {
            return false;
        }
        libc::dlclose(handle);
    }
    true
}

#[cfg(windows)]
fn pin_once() -> bool {
    // GetModuleHandleExW(FROM_ADDRESS | PIN): the DLL holding this function stays loaded
    // until the process exits.
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut *mut u8) -> i32;
    }
    const FROM_ADDRESS: u32 = 0x4;
    const PIN: u32 = 0x1;
    let mut module = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS, `name` is an address inside the module to find.
    unsafe {
        GetModuleHandleExW(
            FROM_ADDRESS | PIN,
            pin_once as fn() -> bool as *const u16,
            &mut module,
        ) != 0
    }
}

#[cfg(not(any(unix, windows)))]
fn pin_once() -> bool {
    false
}

#[cfg(not(unix))]
fn own_directory() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
}

pub(super) fn load(options: &RuntimeOptions) -> Result<Runtime> {
    let mut tried = Vec::new();
    let mut last_error = String::new();
    for (origin, path) in candidates(options) {
        // ort reads `current_exe()` for relative paths; keep any panic inside this loop.
        let attempt = std::panic::catch_unwind(|| ort::init_from(&path));
        match attempt {
            Ok(Ok(builder)) => {
                // The environment's logger: ONNX Runtime's messages that belong to no session.
                let logger: ort::logging::LoggerFunction =
                    Arc::new(|level, category, _id, _location, message| {
                        route::deliver(
                            ort_message_level(level, message),
                            &format!("onnxruntime [{category}] {message}"),
                        );
                    });
                let env = builder
                    .with_name("sdrt")
                    .with_logger(logger)
                    .build()
                    .map_err(|e| {
                        Error::new(
                            ErrorKind::RuntimeUnavailable,
                            format!(
                                "ONNX Runtime loaded from {} but its environment failed: {e}",
                                path.display()
                            ),
                        )
                    })?;
                env.set_log_level(ort_level(process_level()));
                let version =
                    loaded_version(&path).unwrap_or_else(|| version_from_build_info(ort::info()));
                let providers = available_providers();
                let rt = Runtime {
                    env,
                    library: path.clone(),
                    version,
                    providers,
                    ep_libraries: Default::default(),
                };
                log(
                    LogLevel::Info,
                    &format!(
                        "loaded ONNX Runtime {} from {} ({origin}); providers: {}",
                        rt.version,
                        path.display(),
                        rt.providers.join(", ")
                    ),
                );
                return Ok(rt);
            }
            Ok(Err(e)) => last_error = describe_load_error(&e),
            Err(_) => last_error = "loader panicked".to_string(),
        }
        tried.push(format!("{} ({origin}): {last_error}", path.display()));
    }
    if let Some(p) = &options.ort_library {
        return Err(Error::new(
            ErrorKind::RuntimeUnavailable,
            format!(
                "could not load ONNX Runtime >= 1.31 from {} (the runtime options' path is \
                 binding: nothing else is tried): {last_error}",
                p.display()
            ),
        ));
    }
    Err(Error::new(
        ErrorKind::RuntimeUnavailable,
        format!(
            "could not load ONNX Runtime >= 1.31 (set SDRT_ORT_LIBRARY or the runtime options' \
             library path; `tools/fetch_ort.sh` downloads one). Tried: {}",
            tried.join("; ")
        ),
    ))
}

/// ort's message for a failed load, with the loader's reason when `dlopen` failed (ort's own
/// message stops at "dlopen failed").
fn describe_load_error(e: &ort::LoadDynamicError) -> String {
    let reason = match e {
        ort::LoadDynamicError::Dlopen { path, .. } => dlopen_reason(path),
        _ => None,
    };
    match reason {
        Some(r) => format!("{e}: {r}"),
        None => e.to_string(),
    }
}

/// Why `dlopen` refuses `path` (`dlerror`), asked again after a failed load.
#[cfg(unix)]
fn dlopen_reason(path: &Path) -> Option<String> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    let name = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a plain dlopen of the file the caller asked for (it failed a moment ago; if it
    // loads now the reference is released); dlerror's string is read before any other dl call.
    unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if !handle.is_null() {
            libc::dlclose(handle);
            return None;
        }
        let e = libc::dlerror();
        (!e.is_null()).then(|| CStr::from_ptr(e).to_string_lossy().into_owned())
    }
}

#[cfg(not(unix))]
fn dlopen_reason(_path: &Path) -> Option<String> {
    None
}

/// ONNX Runtime's own `OrtGetApiBase()->GetVersionString()` of the library just loaded (found
/// again with `RTLD_NOLOAD`, so nothing new is loaded).
#[cfg(unix)]
fn loaded_version(path: &Path) -> Option<String> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;
    let name = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: dlopen with RTLD_NOLOAD only returns a handle to an already-loaded library (a
    // reference we release below); the symbol is ORT's documented entry point, and the
    // version string it returns is static.
    unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return None;
        }
        let sym = libc::dlsym(handle, c"OrtGetApiBase".as_ptr());
        let version = if sym.is_null() {
            None
        } else {
            let get_base: unsafe extern "C" fn() -> *const ort::sys::OrtApiBase =
                std::mem::transmute(sym);
            let base = get_base();
            if base.is_null() {
                None
            } else {
                let v = ((*base).GetVersionString)();
                (!v.is_null()).then(|| CStr::from_ptr(v).to_string_lossy().into_owned())
            }
        };
        libc::dlclose(handle);
        version
    }
}

#[cfg(not(unix))]
fn loaded_version(_path: &Path) -> Option<String> {
    None
}

fn version_from_build_info(info: &str) -> String {
    // "ORT Build Info: git-branch=rel-1.31.1, git-commit-id=..., ..."
    info.split(',')
        .find_map(|part| part.trim().strip_prefix("ORT Build Info: git-branch=rel-"))
        .map(str::to_string)
        .unwrap_or_else(|| "1.31+".to_string())
}
