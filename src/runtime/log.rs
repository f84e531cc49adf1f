//! Logging: the process-wide sink ([`set_logger`], [`log`]), a pipeline's own [`Logger`], and
//! [`PipelineLog`], which sends one pipeline's messages (sdrt's, and ONNX Runtime's for its
//! sessions) to the pipeline's logger or the process-wide sink.
//!
//! No callback is called under a lock: a callback may log again, or replace the process-wide
//! logger (a C callback calling `sdrt_runtime_init`), without deadlocking. The log lock is
//! released before a callback runs, and messages logged while the runtime is being loaded
//! (under its init lock) are held back until that lock is released ([`held_back`]).
//! [`set_logger`] still waits for the running calls of the callback it replaces, so once it
//! returns that callback is never called again.

use std::cell::RefCell;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex, RwLock};

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

/// The process-wide callback one [`set_logger`] call installed. Every running call of it holds
/// a clone of its `Arc`, so once it is replaced its strong count tells how many calls are still
/// running.
struct Installed {
    callback: LogFn,
}

struct LogSink {
    callback: Option<Arc<Installed>>,
    level: LogLevel,
}

static LOG: RwLock<LogSink> = RwLock::new(LogSink {
    callback: None,
    level: LogLevel::Warn,
});

/// Signalled (under [`CALL_ENDED_LOCK`]) whenever a call of a process-wide callback ends, for
/// [`set_logger`] waiting for the calls of the callback it replaced.
static CALL_ENDED: Condvar = Condvar::new();
static CALL_ENDED_LOCK: Mutex<()> = Mutex::new(());

thread_local! {
    /// The process-wide callbacks (their `Installed` addresses) this thread is inside, innermost
    /// last: a callback that logs is called again within itself.
    static INSIDE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };

    /// Process-wide messages this thread logs while it holds a lock a callback could wait for
    /// ([`held_back`]), delivered once the lock is released; `None` when not holding any back.
    static HELD_BACK: RefCell<Option<Vec<(LogLevel, String)>>> = const { RefCell::new(None) };
}

/// One running call of a process-wide callback: marks this thread as inside it and, when
/// dropped (also when the callback panics), unmarks it, lets its reference go and wakes
/// [`set_logger`].
struct Call(Option<Arc<Installed>>);

impl Call {
    fn new(installed: Arc<Installed>) -> Call {
        let key = Arc::as_ptr(&installed) as usize;
        // try_with: during thread teardown the slot may be gone; never panic while logging.
        let _ = INSIDE.try_with(|inside| inside.borrow_mut().push(key));
        Call(Some(installed))
    }

    fn run(&self, level: LogLevel, message: &str) {
        if let Some(installed) = &self.0 {
            (installed.callback)(level, message);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        let Some(installed) = self.0.take() else {
            return;
        };
        let key = Arc::as_ptr(&installed) as usize;
        let _ = INSIDE.try_with(|inside| {
            let mut inside = inside.borrow_mut();
            if let Some(i) = inside.iter().rposition(|&k| k == key) {
                inside.remove(i);
            }
        });
        drop(installed);
        let _guard = CALL_ENDED_LOCK.lock();
        CALL_ENDED.notify_all();
    }
}

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
    if level == LogLevel::Off || hold_back(level, message) {
        return;
    }
    to_log_crate(level, message);
    // The callback is taken under the lock and called once it is released: a callback that
    // logs, or that replaces the logger, would otherwise wait for the lock it holds.
    let installed = {
        let sink = LOG.read();
        if level > sink.level {
            return;
        }
        sink.callback.clone()
    };
    if let Some(installed) = installed {
        Call::new(installed).run(level, message);
    }
}

/// Sets the process-wide log callback and level. Takes effect immediately, also for ONNX
/// Runtime's environment-wide messages once the runtime is initialized; sessions take the
/// level in force when they are created. Once it returns, the previous callback is never
/// called again.
pub fn set_logger(callback: Option<LogFn>, level: LogLevel) {
    let replaced = {
        let mut sink = LOG.write();
        sink.level = level;
        std::mem::replace(
            &mut sink.callback,
            callback.map(|callback| Arc::new(Installed { callback })),
        )
    };
    if let Some(rt) = super::get() {
        rt.env.set_log_level(ort_level(level));
    }
    if let Some(old) = replaced {
        wait_for_calls(&old);
    }
}

/// Waits until no other thread is inside a call of `old`, which no longer receives new calls.
/// Calls on this thread are not waited for: they are the callers of this one (a callback that
/// replaced the logger) and end only after it returns.
fn wait_for_calls(old: &Arc<Installed>) {
    let key = Arc::as_ptr(old) as usize;
    let own = INSIDE
        .try_with(|inside| inside.borrow().iter().filter(|&&k| k == key).count())
        .unwrap_or(0);
    let mut guard = CALL_ENDED_LOCK.lock();
    // `old` itself holds one reference, each running call one more.
    while Arc::strong_count(old) > 1 + own {
        CALL_ENDED.wait(&mut guard);
    }
}

/// Runs `f` with the process-wide messages this thread logs meanwhile held back, then delivers
/// them in order. For code that holds a lock while ONNX Runtime or sdrt may log (loading the
/// runtime): a callback calling back into sdrt (`sdrt_runtime_init`) would wait for that lock
/// on the thread that holds it. Nested calls deliver with the outermost.
pub(super) fn held_back<T>(f: impl FnOnce() -> T) -> T {
    /// Stops holding messages back, also when `f` panics, and hands over the ones held.
    struct Hold(bool);
    impl Hold {
        fn release(&mut self) -> Vec<(LogLevel, String)> {
            if !std::mem::take(&mut self.0) {
                return Vec::new();
            }
            HELD_BACK
                .try_with(|held| held.borrow_mut().take())
                .ok()
                .flatten()
                .unwrap_or_default()
        }
    }
    impl Drop for Hold {
        fn drop(&mut self) {
            self.release();
        }
    }
    let outermost = HELD_BACK
        .try_with(|held| {
            let mut held = held.borrow_mut();
            if held.is_some() {
                return false;
            }
            *held = Some(Vec::new());
            true
        })
        .unwrap_or(false);
    let mut hold = Hold(outermost);
    let out = f();
    for (level, message) in hold.release() {
        log(level, &message);
    }
    out
}

/// Keeps a message for [`held_back`] when this thread is holding messages back.
fn hold_back(level: LogLevel, message: &str) -> bool {
    HELD_BACK
        .try_with(|held| match held.borrow_mut().as_mut() {
            Some(held) => {
                held.push((level, message.to_string()));
                true
            }
            None => false,
        })
        .unwrap_or(false)
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

/// The level one of ONNX Runtime's messages is passed on at: its own, except for warnings
/// that sdrt has already answered. ONNX Runtime warns, each time a session saves its
/// optimized graph, that the file "should only be used in the same environment": the graph
/// cache's key covers the CPU, the ONNX Runtime version and every session setting
/// (`model/cache.rs`), so that warning is debug detail for sdrt's users.
pub(super) fn ort_message_level(level: ort::logging::LogLevel, message: &str) -> LogLevel {
    const ANSWERED: [&str; 1] = ["Serializing optimized model"];
    let level = from_ort_level(level);
    if level == LogLevel::Warn && ANSWERED.iter().any(|m| message.starts_with(m)) {
        return LogLevel::Debug;
    }
    level
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
                // The pipeline's own callback is this value's: no lock is held while it runs.
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
                    ort_message_level(level, message),
                    &format!("onnxruntime [{id}] {message}"),
                );
            });
        Ok(builder
            .with_log_id(part)?
            .with_log_level(ort_level(self.level()))?
            .with_logger(logger)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    const LONG: Duration = Duration::from_secs(10);

    /// `set_logger` called while another thread is inside the callback it replaces returns only
    /// once that call has ended (its promise: the old callback is never called again), and
    /// messages logged while messages are held back arrive, in order, once the hold ends.
    #[test]
    fn set_logger_waits_for_running_calls_and_held_messages_arrive() {
        let (entered, on_enter) = mpsc::channel::<()>();
        let (release, on_release) = mpsc::channel::<()>();
        let (got, received) = mpsc::channel::<String>();
        let (entered, on_release, got) = (
            std::sync::Mutex::new(entered),
            std::sync::Mutex::new(on_release),
            std::sync::Mutex::new(got),
        );
        let callback: LogFn = Arc::new(move |_, message| {
            if message == "log.rs test: block" {
                entered.lock().unwrap().send(()).unwrap();
                let _ = on_release.lock().unwrap().recv_timeout(LONG);
            } else if message.starts_with("log.rs test:") {
                got.lock().unwrap().send(message.to_string()).unwrap();
            }
        });
        set_logger(Some(callback), LogLevel::Warn);

        let held = held_back(|| {
            log(LogLevel::Warn, "log.rs test: held 1");
            log(LogLevel::Warn, "log.rs test: held 2");
            received.try_recv().ok()
        });
        assert_eq!(held, None, "a held-back message arrived early");
        assert_eq!(received.recv_timeout(LONG).unwrap(), "log.rs test: held 1");
        assert_eq!(received.recv_timeout(LONG).unwrap(), "log.rs test: held 2");

        let caller = std::thread::spawn(|| log(LogLevel::Warn, "log.rs test: block"));
        on_enter.recv_timeout(LONG).unwrap();
        let (done, on_done) = mpsc::channel();
        let replacer = std::thread::spawn(move || {
            set_logger(None, LogLevel::Warn);
            done.send(()).unwrap();
        });
        assert!(
            on_done.recv_timeout(Duration::from_millis(300)).is_err(),
            "set_logger returned while another thread was inside the callback it replaced"
        );
        release.send(()).unwrap();
        on_done.recv_timeout(LONG).unwrap();
        caller.join().unwrap();
        replacer.join().unwrap();
    }
}
