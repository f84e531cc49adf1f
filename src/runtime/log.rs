//! Logging: the process-wide sink ([`set_logger`], [`log`]), a pipeline's own [`Logger`], and
//! [`PipelineLog`], which sends one pipeline's messages (sdrt's, and ONNX Runtime's for its
//! sessions) to the pipeline's logger or the process-wide sink.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::error::Result;

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
        LogLevel::Error => ::log::error!("{message}"),
        LogLevel::Warn => ::log::warn!("{message}"),
        LogLevel::Info => ::log::info!("{message}"),
        LogLevel::Debug => ::log::debug!("{message}"),
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
    if let Some(rt) = super::get() {
        rt.env.set_log_level(ort_level(level));
    }
}

/// The process-wide level in force.
pub(super) fn process_level() -> LogLevel {
    LOG.read().level
}

pub(super) fn ort_level(level: LogLevel) -> ort::logging::LogLevel {
    match level {
        LogLevel::Off => ort::logging::LogLevel::Fatal,
        LogLevel::Error => ort::logging::LogLevel::Error,
        LogLevel::Warn => ort::logging::LogLevel::Warning,
        LogLevel::Info => ort::logging::LogLevel::Info,
        LogLevel::Debug => ort::logging::LogLevel::Verbose,
    }
}

pub(super) fn from_ort_level(level: ort::logging::LogLevel) -> LogLevel {
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
