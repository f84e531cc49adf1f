//! The process-wide runtime: the loaded ONNX Runtime and its one environment ([`Runtime`],
//! [`init`], [`get`], [`get_or_init`]), and the entry point to its parts: logging (`log.rs`),
//! finding and loading the library (`library.rs`), execution providers (`providers.rs`) and
//! the one session builder every graph is built with (`session.rs`).
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
//! ONNX Runtime logger); everything else goes to the process-wide sink of [`set_logger`].
//! ONNX Runtime's environment-wide messages (its allocators', for one) go to the pipeline
//! whose call runs on the thread that logged them, in whichever copy of libsdrt in the
//! process runs it (`route.rs`), and to the process-wide sink outside any call.
//!
//! Unloading: ONNX Runtime keeps a pointer to sdrt's logging function in its one environment,
//! which lives until the process exits; [`pin_in_memory`] keeps libsdrt loaded as long.

mod ep_options;
mod library;
mod log;
mod plugin_ep;
mod providers;
mod route;
mod session;

use std::path::{Path, PathBuf};

use once_cell::sync::OnceCell;
use parking_lot::Mutex;

use crate::error::{Error, ErrorKind, Result};

pub use self::ep_options::{
    resolve_plugin, EpDeviceChoice, EpOptions, EpPrecision, OPENVINO_EP, OPENVINO_PLUGIN,
};
pub use self::library::{ort_library_name, pin_in_memory};
pub use self::log::{log, set_logger, LogFn, LogLevel, Logger, PipelineLog};
pub use self::plugin_ep::{DeviceKind, EpDevice, PluginEp};
pub use self::providers::{resolve_provider, CoreMlComputeUnits, CoreMlOptions, Provider};
pub(crate) use self::route::enter;
pub(crate) use self::session::{session_builder, SessionSpec};

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
    ep_libraries: plugin_ep::EpLibraries,
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
    // What sdrt and ONNX Runtime log while the lock is held (ONNX Runtime's environment logs
    // as it is built) reaches the callback once it is released: a callback may call `init`.
    log::held_back(|| init_locked(options))
}

fn init_locked(options: &RuntimeOptions) -> Result<&'static Runtime> {
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
    let rt = library::load(options)?;
    route::register();
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
