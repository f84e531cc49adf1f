//! Log callbacks that call back into sdrt, through the C API: the runtime's callback calls
//! `sdrt_runtime_init` (which replaces the process-wide logger) and logs again, for
//! sdrt's messages and ONNX Runtime's, on the calling thread and on ONNX Runtime's; a
//! pipeline's own callback does the same. Every call must finish: the callbacks used to run
//! under the process-wide log lock, and the first such call deadlocked. The scenario runs on
//! a thread of its own with a deadline, so a deadlock fails the test instead of hanging the
//! suite.
//!
//! One test: the runtime's callback is process-wide, and this binary is its only user.

mod common;

use std::cell::Cell;
use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use sdrt::ffi::params::sdrt_provider;
use sdrt::ffi::pipeline::{
    sdrt_pipeline, sdrt_pipeline_create, sdrt_pipeline_free, sdrt_pipeline_options,
    sdrt_pipeline_options_init_sized,
};
use sdrt::ffi::runtime::{
    sdrt_log_level, sdrt_runtime_init, sdrt_runtime_options, sdrt_runtime_options_init_sized,
    sdrt_runtime_shutdown,
};
use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status};
use sdrt::runtime::LogLevel;

/// How long the whole scenario may take (it loads ONNX Runtime and two pipelines of the tiny
/// model: seconds); past it, the callbacks are taken to have deadlocked.
const DEADLINE: Duration = Duration::from_secs(60);

/// What a callback logs from inside itself.
const NESTED: &str = "sdrt log_reentry: logged from inside a log callback";

/// The state both callbacks share; `user_data` points at it. Leaked: a deadlocked scenario
/// thread may still hold it when the test fails.
struct Reentry {
    /// The options of the test's `sdrt_runtime_init`, which the callbacks call again.
    options: sdrt_runtime_options,
    /// Calls of the runtime's callback.
    runtime_calls: AtomicUsize,
    /// Calls of the pipeline's own callback.
    pipeline_calls: AtomicUsize,
    /// `sdrt_runtime_init` calls made from inside a callback that returned `SDRT_OK`.
    reinits: AtomicUsize,
    /// Messages logged from inside a callback that reached the runtime's callback.
    nested: AtomicUsize,
    /// Failed calls from inside a callback (a callback must not panic: they are checked later).
    failures: Mutex<Vec<String>>,
}

thread_local! {
    /// Whether this thread is inside a callback already: the message a callback logs reaches
    /// a callback again, which must not re-enter once more.
    static INSIDE: Cell<bool> = const { Cell::new(false) };
}

/// From inside a callback: `sdrt_runtime_init` with the test's options (replacing the runtime
/// callback by itself) and a message of its own.
fn reenter(r: &Reentry) {
    if INSIDE.with(|i| i.replace(true)) {
        return;
    }
    // SAFETY: options filled by sdrt_runtime_options_init; its strings are leaked.
    let st = unsafe { sdrt_runtime_init(&r.options) };
    if st == sdrt_status::SDRT_OK {
        r.reinits.fetch_add(1, Ordering::SeqCst);
    } else if let Ok(mut failures) = r.failures.lock() {
        failures.push(format!("sdrt_runtime_init from a callback: {st:?}"));
    }
    sdrt::runtime::log(LogLevel::Warn, NESTED);
    INSIDE.with(|i| i.set(false));
}

unsafe extern "C" fn on_runtime_log(user_data: *mut c_void, _level: u32, message: *const c_char) {
    // SAFETY: user_data is the leaked Reentry.
    let r = unsafe { &*(user_data as *const Reentry) };
    r.runtime_calls.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the header promises a NUL-terminated string valid during the call.
    if unsafe { CStr::from_ptr(message) }.to_string_lossy() == NESTED {
        r.nested.fetch_add(1, Ordering::SeqCst);
    }
    reenter(r);
}

unsafe extern "C" fn on_pipeline_log(user_data: *mut c_void, _level: u32, _message: *const c_char) {
    // SAFETY: user_data is the leaked Reentry.
    let r = unsafe { &*(user_data as *const Reentry) };
    r.pipeline_calls.fetch_add(1, Ordering::SeqCst);
    reenter(r);
}

fn last_error() -> String {
    // SAFETY: sdrt's thread-local message, read at once.
    unsafe { CStr::from_ptr(sdrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Creates and frees a CPU pipeline of the tiny model, with `r`'s pipeline callback or none
/// (its messages then go to the runtime's callback).
fn create_and_free(r: &'static Reentry, own_callback: bool) {
    let dir = CString::new(common::fixture().to_str().unwrap()).unwrap();
    let mut po = std::mem::MaybeUninit::<sdrt_pipeline_options>::uninit();
    // SAFETY: _init fills the whole struct.
    let mut po = unsafe {
        sdrt_pipeline_options_init_sized(
            po.as_mut_ptr(),
            std::mem::size_of::<sdrt_pipeline_options>() as u32,
        );
        po.assume_init()
    };
    po.provider = sdrt_provider::SDRT_PROVIDER_CPU as u32;
    if own_callback {
        po.log_callback = Some(on_pipeline_log);
        po.log_level = sdrt_log_level::SDRT_LOG_DEBUG as u32;
        po.log_user_data = r as *const Reentry as *mut c_void;
    }
    let mut p: *mut sdrt_pipeline = std::ptr::null_mut();
    // SAFETY: valid strings and options for the duration of the call.
    let st = unsafe { sdrt_pipeline_create(dir.as_ptr(), &po, &mut p) };
    assert_eq!(st, sdrt_status::SDRT_OK, "create: {}", last_error());
    // SAFETY: created above, no other call on it.
    unsafe { sdrt_pipeline_free(p) };
}

/// The scenario: load ONNX Runtime with the runtime callback (its "loaded" message is the
/// first re-entry), a pipeline logging to it, a pipeline with its own callback, shutdown.
fn scenario(r: &'static Reentry) {
    // SAFETY: valid options; r is leaked.
    let st = unsafe { sdrt_runtime_init(&r.options) };
    assert_eq!(st, sdrt_status::SDRT_OK, "runtime init: {}", last_error());
    create_and_free(r, false);
    let before = r.nested.load(Ordering::SeqCst);
    create_and_free(r, true);
    assert!(
        r.pipeline_calls.load(Ordering::SeqCst) > 0,
        "the pipeline's own callback was never called"
    );
    assert!(
        r.nested.load(Ordering::SeqCst) > before,
        "the messages the pipeline's callback logged did not reach the runtime's callback"
    );
    sdrt_runtime_shutdown();
    let calls = r.runtime_calls.load(Ordering::SeqCst);
    sdrt::runtime::log(LogLevel::Error, "after shutdown");
    assert_eq!(
        r.runtime_calls.load(Ordering::SeqCst),
        calls,
        "the runtime callback was called after sdrt_runtime_shutdown"
    );
}

#[test]
fn log_callbacks_may_call_back_into_sdrt() {
    let ort = CString::new(common::ort_library().to_str().unwrap()).unwrap();
    let mut ro = std::mem::MaybeUninit::<sdrt_runtime_options>::uninit();
    // SAFETY: _init fills the whole struct.
    let mut ro = unsafe {
        sdrt_runtime_options_init_sized(
            ro.as_mut_ptr(),
            std::mem::size_of::<sdrt_runtime_options>() as u32,
        );
        ro.assume_init()
    };
    ro.ort_library_path = ort.into_raw();
    ro.log_level = sdrt_log_level::SDRT_LOG_DEBUG as u32;
    ro.log_callback = Some(on_runtime_log);
    let raw = Box::into_raw(Box::new(Reentry {
        options: ro,
        runtime_calls: AtomicUsize::new(0),
        pipeline_calls: AtomicUsize::new(0),
        reinits: AtomicUsize::new(0),
        nested: AtomicUsize::new(0),
        failures: Mutex::new(Vec::new()),
    }));
    // SAFETY: a fresh allocation, leaked: never freed.
    let r: &'static Reentry = unsafe {
        (*raw).options.log_user_data = raw as *mut c_void;
        &*raw
    };
    let address = raw as usize;

    let (done, finished) = mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: the leaked Reentry, never freed.
        let r = unsafe { &*(address as *const Reentry) };
        let outcome = std::panic::catch_unwind(|| scenario(r));
        let _ = done.send(outcome);
    });
    match finished.recv_timeout(DEADLINE) {
        Ok(Ok(())) => {}
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!(
            "deadlock: log callbacks calling back into sdrt did not finish within {DEADLINE:?} \
             ({} runtime callback calls, {} re-inits so far)",
            r.runtime_calls.load(Ordering::SeqCst),
            r.reinits.load(Ordering::SeqCst)
        ),
    }
    let failures = r.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        r.reinits.load(Ordering::SeqCst) > 0,
        "no callback re-entered"
    );
    assert!(
        r.nested.load(Ordering::SeqCst) > 0,
        "no message logged from inside a callback arrived"
    );
}
