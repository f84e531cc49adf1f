//! ONNX Runtime loading, the process-wide environment, logging, and execution providers.
//!
//! ONNX Runtime is loaded at run time, never linked. [`init`] loads the path given in
//! [`RuntimeOptions::ort_library`] when there is one, and nothing else: an explicit path that
//! cannot be loaded is the error. Without one it tries, in order, `$SDRT_ORT_LIBRARY`,
//! `$ORT_DYLIB_PATH`, the folder that holds libsdrt itself, then the system's library search;
//! the first library that loads and is at least version 1.31 wins, and the error lists every
//! place tried.
//!
//! Logging: messages about one pipeline go to that pipeline's [`Logger`] when it has one
//! (sdrt's own, and ONNX Runtime's for the pipeline's sessions, each session having its own
//! ONNX Runtime logger); everything else goes to the process-wide sink of [`set_logger`],
//! which also receives ONNX Runtime's environment-wide messages.
//!
//! Unloading: ONNX Runtime keeps a pointer to sdrt's logging function in its one environment,
//! which lives until the process exits; [`pin_in_memory`] keeps libsdrt loaded as long.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use once_cell::sync::OnceCell;
use parking_lot::{Mutex, RwLock};

use crate::error::{Error, ErrorKind, Result};

/// Severity of a log message, most severe first. `Off` disables logging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// No messages.
    Off = 0,
    /// Failures.
    Error = 1,
    /// Fallbacks and other surprises.
    Warn = 2,
    /// What was loaded and chosen.
    Info = 3,
    /// Details for debugging.
    Debug = 4,
}

impl LogLevel {
    /// Converts the C API's number; out-of-range numbers are clamped to `Debug`.
    pub fn from_u32(v: u32) -> LogLevel {
        match v {
            0 => LogLevel::Off,
            1 => LogLevel::Error,
            2 => LogLevel::Warn,
            3 => LogLevel::Info,
            _ => LogLevel::Debug,
        }
    }
}

/// A log sink: receives every message at or above the configured level, from any thread.
pub type LogFn = Arc<dyn Fn(LogLevel, &str) + Send + Sync>;

struct LogSink {
    callback: Option<LogFn>,
    level: LogLevel,
}

static LOG: RwLock<LogSink> = RwLock::new(LogSink {
    callback: None,
    level: LogLevel::Warn,
});

/// Mirrors a message to the `log` crate for Rust hosts.
fn to_log_crate(level: LogLevel, message: &str) {
    match level {
        LogLevel::Off => {}
        LogLevel::Error => log::error!("{message}"),
        LogLevel::Warn => log::warn!("{message}"),
        LogLevel::Info => log::info!("{message}"),
        LogLevel::Debug => log::debug!("{message}"),
    }
}

/// Sends a process-wide message to the configured log callback (and to the `log` crate for
/// Rust hosts). Messages about one pipeline go to [`PipelineLog::log`] instead.
pub fn log(level: LogLevel, message: &str) {
    if level == LogLevel::Off {
        return;
    }
    to_log_crate(level, message);
    let sink = LOG.read();
    if level <= sink.level {
        if let Some(cb) = &sink.callback {
            cb(level, message);
        }
    }
}

/// Sets the process-wide log callback and level. Takes effect immediately, also for ONNX
/// Runtime's environment-wide messages once the runtime is initialized; sessions take the
/// level in force when they are created. Once it returns, the previous callback is never
/// called again.
pub fn set_logger(callback: Option<LogFn>, level: LogLevel) {
    {
        let mut sink = LOG.write();
        sink.callback = callback;
        sink.level = level;
    }
    if let Some(rt) = RUNTIME.get() {
        rt.env.set_log_level(ort_level(level));
    }
}

/// The process-wide level in force.
fn process_level() -> LogLevel {
    LOG.read().level
}

fn ort_level(level: LogLevel) -> ort::logging::LogLevel {
    match level {
        LogLevel::Off => ort::logging::LogLevel::Fatal,
        LogLevel::Error => ort::logging::LogLevel::Error,
        LogLevel::Warn => ort::logging::LogLevel::Warning,
        LogLevel::Info => ort::logging::LogLevel::Info,
        LogLevel::Debug => ort::logging::LogLevel::Verbose,
    }
}

fn from_ort_level(level: ort::logging::LogLevel) -> LogLevel {
    match level {
        ort::logging::LogLevel::Verbose => LogLevel::Debug,
        ort::logging::LogLevel::Info => LogLevel::Info,
        ort::logging::LogLevel::Warning => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

/// A log destination of its own, for one pipeline: a callback and the most verbose level it
/// receives.
#[derive(Clone)]
pub struct Logger {
    callback: LogFn,
    level: LogLevel,
}

impl Logger {
    /// A logger that passes messages at `level` or more severe to `callback`.
    pub fn new(callback: LogFn, level: LogLevel) -> Logger {
        Logger { callback, level }
    }

    /// The most verbose level passed on.
    pub fn level(&self) -> LogLevel {
        self.level
    }
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .finish_non_exhaustive()
    }
}

/// Where one pipeline's messages go: its own [`Logger`], or the process-wide sink when it has
/// none. Cheap to clone; every session of the pipeline holds one for ONNX Runtime's messages.
#[derive(Debug, Clone, Default)]
pub struct PipelineLog {
    own: Option<Logger>,
}

impl PipelineLog {
    /// Messages go to `logger`, or to the process-wide sink when it is `None`.
    pub fn new(logger: Option<Logger>) -> PipelineLog {
        PipelineLog { own: logger }
    }

    /// Sends a message about this pipeline (also to the `log` crate for Rust hosts).
    pub fn log(&self, level: LogLevel, message: &str) {
        match &self.own {
            None => log(level, message),
            Some(own) => {
                if level == LogLevel::Off {
                    return;
                }
                to_log_crate(level, message);
                if level <= own.level {
                    (own.callback)(level, message);
                }
            }
        }
    }

    /// The level ONNX Runtime filters this pipeline's sessions at: the pipeline's own, else the
    /// process-wide level in force now (a session keeps the level it was created with).
    fn level(&self) -> LogLevel {
        match &self.own {
            Some(own) => own.level,
            None => process_level(),
        }
    }

    /// Gives a session of this pipeline its own ONNX Runtime logger (`SetUserLoggingFunction`:
    /// ONNX Runtime's session-level messages reach it instead of the environment's logger),
    /// its level, and `part` as its log id.
    pub(crate) fn configure_session(
        &self,
        builder: ort::session::builder::SessionBuilder,
        part: &str,
    ) -> Result<ort::session::builder::SessionBuilder> {
        let log = self.clone();
        let logger: ort::logging::LoggerFunction =
            Arc::new(move |level, _category, id, _location, message| {
                log.log(
                    from_ort_level(level),
                    &format!("onnxruntime [{id}] {message}"),
                );
            });
        Ok(builder
            .with_log_id(part)?
            .with_log_level(ort_level(self.level()))?
            .with_logger(logger)?)
    }
}

/// Options for [`init`].
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Explicit path to the ONNX Runtime shared library: the only one tried when set (a path
    /// that cannot be loaded is [`ErrorKind::RuntimeUnavailable`], never a search elsewhere).
    pub ort_library: Option<PathBuf>,
}

/// The loaded ONNX Runtime and its one environment, shared by every pipeline in the process.
pub struct Runtime {
    pub(crate) env: ort::environment::Environment,
    library: PathBuf,
    version: String,
    providers: Vec<String>,
}

impl Runtime {
    /// The path of the ONNX Runtime library that was loaded.
    pub fn library_path(&self) -> &Path {
        &self.library
    }

    /// ONNX Runtime's version, e.g. `1.31.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Execution providers compiled into the loaded ONNX Runtime, e.g. `CPUExecutionProvider`.
    pub fn available_providers(&self) -> &[String] {
        &self.providers
    }

    /// Whether ONNX Runtime was built with the provider of this name.
    pub fn has_provider(&self, name: &str) -> bool {
        self.providers.iter().any(|p| p == name)
    }
}

static RUNTIME: OnceCell<Runtime> = OnceCell::new();
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The runtime if [`init`] has succeeded.
pub fn get() -> Option<&'static Runtime> {
    RUNTIME.get()
}

/// Loads ONNX Runtime (once per process) and returns the shared runtime.
///
/// Calling it again after success returns the same runtime; it is an
/// [`ErrorKind::AlreadyInitialized`] error only when a different library path is requested.
pub fn init(options: &RuntimeOptions) -> Result<&'static Runtime> {
    pin_in_memory();
    let _guard = INIT_LOCK.lock();
    if let Some(rt) = RUNTIME.get() {
        if let Some(p) = &options.ort_library {
            if !same_file(p, &rt.library) {
                return Err(Error::new(
                    ErrorKind::AlreadyInitialized,
                    format!(
                        "ONNX Runtime is already loaded from {}; cannot switch to {} in the same process",
                        rt.library.display(),
                        p.display()
                    ),
                ));
            }
        }
        return Ok(rt);
    }
    let rt = load(options)?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// Returns the runtime, initializing it with default options when needed.
pub fn get_or_init() -> Result<&'static Runtime> {
    match RUNTIME.get() {
        Some(rt) => Ok(rt),
        None => init(&RuntimeOptions::default()),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

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

fn load(options: &RuntimeOptions) -> Result<Runtime> {
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
                        log(
                            from_ort_level(level),
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

fn available_providers() -> Vec<String> {
    use ort::ep::ExecutionProvider;
    let mut out = vec!["CPUExecutionProvider".to_string()];
    if ort::ep::CoreML::is_available().unwrap_or(false) {
        out.push(ort::ep::CoreML::NAME.to_string());
    }
    if ort::ep::CUDA::is_available().unwrap_or(false) {
        out.push(ort::ep::CUDA::NAME.to_string());
    }
    out
}

/// Execution provider requested for a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Provider {
    /// CoreML where available, else CUDA where available, else CPU.
    #[default]
    Auto,
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// Apple's CoreML provider.
    CoreMl,
    /// NVIDIA CUDA provider.
    Cuda,
}

impl Provider {
    /// The name used by the command line and logs.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Auto => "auto",
            Provider::Cpu => "cpu",
            Provider::CoreMl => "coreml",
            Provider::Cuda => "cuda",
        }
    }

    /// Parses `auto | cpu | coreml | cuda`.
    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "auto" => Some(Provider::Auto),
            "cpu" => Some(Provider::Cpu),
            "coreml" => Some(Provider::CoreMl),
            "cuda" => Some(Provider::Cuda),
            _ => None,
        }
    }

    fn ort_name(self) -> &'static str {
        use ort::ep::ExecutionProvider;
        match self {
            Provider::CoreMl => ort::ep::CoreML::NAME,
            Provider::Cuda => ort::ep::CUDA::NAME,
            _ => "CPUExecutionProvider",
        }
    }
}

/// CoreML compute units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoreMlComputeUnits {
    /// CPU, GPU and Neural Engine.
    #[default]
    All,
    /// CPU and GPU.
    CpuAndGpu,
    /// CPU and Neural Engine.
    CpuAndNeuralEngine,
    /// CPU only.
    CpuOnly,
}

/// CoreML provider settings.
#[derive(Debug, Clone, Default)]
pub struct CoreMlOptions {
    /// Which compute units CoreML may use.
    pub compute_units: CoreMlComputeUnits,
    /// Use the MLProgram format (else NeuralNetwork).
    pub ml_program: bool,
    /// Where CoreML caches compiled models; `None` for no cache.
    pub cache_dir: Option<PathBuf>,
    /// Require static input shapes; the pipeline pins free dimensions to the configured
    /// width, height and batch.
    pub static_shapes: bool,
}

/// Resolves which provider a pipeline will use, applying the fallback rule.
/// The fallback warning goes to `log`, the pipeline's.
pub fn resolve_provider(
    rt: &Runtime,
    requested: Provider,
    strict: bool,
    log: &PipelineLog,
) -> Result<Provider> {
    let chosen = match requested {
        Provider::Auto => {
            if rt.has_provider(Provider::CoreMl.ort_name()) {
                Provider::CoreMl
            } else if rt.has_provider(Provider::Cuda.ort_name()) {
                Provider::Cuda
            } else {
                Provider::Cpu
            }
        }
        Provider::Cpu => Provider::Cpu,
        p => {
            if rt.has_provider(p.ort_name()) {
                p
            } else if strict {
                return Err(Error::new(
                    ErrorKind::ProviderUnavailable,
                    format!(
                        "execution provider '{}' ({}) is not in the loaded ONNX Runtime {} ({}); available: {}",
                        p.name(),
                        p.ort_name(),
                        rt.version,
                        rt.library.display(),
                        rt.providers.join(", ")
                    ),
                ));
            } else {
                log.log(
                    LogLevel::Warn,
                    &format!(
                        "execution provider '{}' is not in the loaded ONNX Runtime; falling back to cpu",
                        p.name()
                    ),
                );
                Provider::Cpu
            }
        }
    };
    Ok(chosen)
}

/// Builds the provider list for a session builder.
pub(crate) fn execution_providers(
    provider: Provider,
    coreml: &CoreMlOptions,
    cuda_device: i32,
) -> Vec<ort::ep::ExecutionProviderDispatch> {
    match provider {
        Provider::CoreMl => {
            use ort::ep::coreml::{ComputeUnits, ModelFormat};
            let units = match coreml.compute_units {
                CoreMlComputeUnits::All => ComputeUnits::All,
                CoreMlComputeUnits::CpuAndGpu => ComputeUnits::CPUAndGPU,
                CoreMlComputeUnits::CpuAndNeuralEngine => ComputeUnits::CPUAndNeuralEngine,
                CoreMlComputeUnits::CpuOnly => ComputeUnits::CPUOnly,
            };
            let mut ep = ort::ep::CoreML::default()
                .with_compute_units(units)
                .with_model_format(if coreml.ml_program {
                    ModelFormat::MLProgram
                } else {
                    ModelFormat::NeuralNetwork
                })
                .with_static_input_shapes(coreml.static_shapes);
            if let Some(dir) = &coreml.cache_dir {
                ep = ep.with_model_cache_dir(dir.display());
            }
            vec![ep.build().error_on_failure()]
        }
        Provider::Cuda => vec![ort::ep::CUDA::default()
            .with_device_id(cuda_device)
            .build()
            .error_on_failure()],
        _ => Vec::new(),
    }
}
