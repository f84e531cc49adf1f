//! Threads, cancels, re-entrant callbacks and panics through the C API (called from Rust):
//! eight threads on one pipeline give the images the same calls give alone; several pipelines
//! run in parallel; a pipeline can be freed as soon as a cancelled call returns; callbacks may
//! call what the header allows, and a generate on their own pipeline is refused instead of
//! deadlocking; a panic inside the engine comes back as `SDRT_ERROR_INTERNAL` and the process
//! and its pipelines carry on.

mod common;

use std::ffi::{c_void, CStr, CString};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use sdrt::ffi::images::{sdrt_images, sdrt_images_count, sdrt_images_data, sdrt_images_free};
use sdrt::ffi::images::{sdrt_images_height, sdrt_images_width};
use sdrt::ffi::params::{sdrt_generate_params, sdrt_generate_params_init_sized};
#[cfg(feature = "test-hooks")]
use sdrt::ffi::pipeline::{debug_after_params_copied, debug_panic_after_step};
use sdrt::ffi::pipeline::{
    sdrt_pipeline, sdrt_pipeline_cancel, sdrt_pipeline_create, sdrt_pipeline_free,
    sdrt_pipeline_generate, sdrt_pipeline_get_info, sdrt_pipeline_info,
    sdrt_pipeline_info_init_sized,
};
use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status, sdrt_status_str};

/// A pipeline handle that may cross threads (the header allows it).
#[derive(Clone, Copy)]
struct Handle(*mut sdrt_pipeline);
// SAFETY: the C API's pipelines are thread-safe (header contract).
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

fn fixture(name: &str) -> std::path::PathBuf {
    common::root().join("tests/fixtures").join(name)
}

fn create(dir: &Path) -> Handle {
    common::init_runtime();
    let path = CString::new(dir.to_str().unwrap()).unwrap();
    let mut p = std::ptr::null_mut();
    // SAFETY: valid string and out-pointer.
    let st = unsafe { sdrt_pipeline_create(path.as_ptr(), std::ptr::null(), &mut p) };
    assert_eq!(st, sdrt_status::SDRT_OK, "{}", last_error());
    Handle(p)
}

fn last_error() -> String {
    // SAFETY: always a valid NUL-terminated string.
    unsafe { CStr::from_ptr(sdrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

fn params(seed: u64, steps: u32) -> sdrt_generate_params {
    let mut gp: sdrt_generate_params = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-pointer.
    unsafe {
        sdrt_generate_params_init_sized(&mut gp, std::mem::size_of::<sdrt_generate_params>() as u32)
    };
    gp.prompt = c"a lighthouse on a cliff at dusk".as_ptr();
    gp.seed = seed;
    gp.steps = steps;
    gp
}

type Outcome = Result<Vec<Vec<u8>>, (sdrt_status, String)>;

fn generate(p: Handle, gp: &sdrt_generate_params) -> Outcome {
    let mut out: *mut sdrt_images = std::ptr::null_mut();
    // SAFETY: a live pipeline, initialized params, valid out-pointer.
    let st = unsafe { sdrt_pipeline_generate(p.0, gp, &mut out) };
    if st != sdrt_status::SDRT_OK {
        return Err((st, last_error()));
    }
    // SAFETY: `out` is live until freed below.
    let images = unsafe {
        let n = (sdrt_images_width(out) * sdrt_images_height(out) * 3) as usize;
        let v = (0..sdrt_images_count(out))
            .map(|i| std::slice::from_raw_parts(sdrt_images_data(out, i), n).to_vec())
            .collect();
        sdrt_images_free(out);
        v
    };
    Ok(images)
}

fn free(p: Handle) {
    // SAFETY: no call on `p` is running (each test's own contract).
    unsafe { sdrt_pipeline_free(p.0) };
}

#[test]
fn eight_threads_on_one_pipeline_give_the_images_of_the_same_calls_alone() {
    let p = create(&fixture("tiny-sd2"));
    // Different seeds, schedulers and generators per thread: stochastic schedulers keep their
    // noise stream per call.
    fn call(i: u64) -> sdrt_generate_params {
        let mut gp = params(1000 + i, 3);
        gp.scheduler = (i % 12) as u32 + 1;
        gp.generator = (i % 2) as u32;
        gp
    }
    let alone: Vec<Vec<Vec<u8>>> = (0..8).map(|i| generate(p, &call(i)).unwrap()).collect();
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8u64)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let gp = call(i);
                barrier.wait();
                // Twice each, so calls queue behind each other on the pipeline's lock.
                (generate(p, &gp).unwrap(), generate(p, &gp).unwrap())
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let (a, b) = t.join().unwrap();
        assert!(
            a == alone[i] && b == alone[i],
            "thread {i}: images differ from alone"
        );
    }
    // The seeds really differ.
    assert_ne!(alone[0], alone[2]);
    free(p);
}

#[test]
fn several_pipelines_run_in_parallel_with_their_own_images() {
    let names = ["tiny-sd2", "tiny-sd2-v", "tiny-lcm", "tiny-sd2-legacy"];
    let pipes: Vec<Handle> = names.iter().map(|n| create(&fixture(n))).collect();
    let alone: Vec<_> = pipes
        .iter()
        .map(|&p| generate(p, &params(7, 3)).unwrap())
        .collect();
    let barrier = Arc::new(Barrier::new(pipes.len()));
    let threads: Vec<_> = pipes
        .iter()
        .map(|&p| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                (0..2)
                    .map(|_| generate(p, &params(7, 3)).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        for got in t.join().unwrap() {
            assert!(got == alone[i], "{}: images differ from alone", names[i]);
        }
    }
    assert_ne!(alone[0], alone[1], "different models give different images");
    for p in pipes {
        free(p);
    }
}

/// Progress callback state for the cancel tests.
struct Started {
    step: AtomicU32,
}

unsafe extern "C" fn note_step(user: *mut c_void, step: u32, _total: u32) -> i32 {
    // SAFETY: user is a live &Started for the call.
    let s = unsafe { &*(user as *const Started) };
    s.step.store(step, Ordering::SeqCst);
    1
}

unsafe extern "C" fn stop_at_two(_user: *mut c_void, step: u32, _total: u32) -> i32 {
    i32::from(step < 2)
}

#[test]
fn a_pipeline_can_be_freed_as_soon_as_a_cancelled_call_returns() {
    let mut cycles = 0;
    for round in 0..3 {
        let p = create(&fixture("tiny-sd2"));
        let started = Arc::new(Started {
            step: AtomicU32::new(0),
        });
        // One call running and, on odd rounds, one waiting behind it: both are cancelled.
        let workers: Vec<_> = (0..1 + round % 2)
            .map(|_| {
                let started = Arc::clone(&started);
                std::thread::spawn(move || {
                    let mut gp = params(1, 400);
                    gp.progress = Some(note_step);
                    gp.progress_user_data = Arc::as_ptr(&started) as *mut c_void;
                    generate(p, &gp)
                })
            })
            .collect();
        let t0 = Instant::now();
        while started.step.load(Ordering::SeqCst) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(60), "no step ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        // A cancel reaches the calls that started before it: repeat it until the waiting
        // call (which may enter after the first cancel) has returned too.
        while !workers.iter().all(|w| w.is_finished()) {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the cancel did not stop"
            );
            // SAFETY: a live pipeline; cancel may run concurrently with generate.
            unsafe { sdrt_pipeline_cancel(p.0) };
            std::thread::sleep(Duration::from_millis(2));
        }
        for w in workers {
            let (st, msg) = w.join().unwrap().expect_err("cancelled");
            assert_eq!(st, sdrt_status::SDRT_ERROR_CANCELLED, "{msg}");
        }
        // Every call has returned: freeing now must not touch anything the calls used.
        free(p);
        cycles += 1;

        // Cancelled from the callback, freed right after the call returns.
        let p = create(&fixture("tiny-sd2"));
        let mut gp = params(2, 50);
        gp.progress = Some(stop_at_two);
        let (st, _) = generate(p, &gp).expect_err("cancelled by the callback");
        assert_eq!(st, sdrt_status::SDRT_ERROR_CANCELLED);
        free(p);
        cycles += 1;
    }
    eprintln!("{cycles} cancel-then-free cycles");
}

/// The runtime's log messages since the first call (a process-wide callback set once; the
/// level stays the default, warnings and errors).
fn runtime_messages() -> Vec<String> {
    static LOG: std::sync::OnceLock<Arc<Mutex<Vec<String>>>> = std::sync::OnceLock::new();
    let log = LOG.get_or_init(|| {
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        sdrt::runtime::set_logger(
            Some(Arc::new(move |_, msg: &str| {
                sink.lock().unwrap().push(msg.to_string())
            })),
            sdrt::runtime::LogLevel::Warn,
        );
        log
    });
    log.lock().unwrap().clone()
}

/// What a progress callback did when it called back into the API.
#[derive(Default)]
struct Reentrant {
    this: Option<Handle>,
    other: Option<Handle>,
    calls: u32,
    info_ok: bool,
    same_pipeline: Option<(sdrt_status, String)>,
    other_pipeline: Option<Outcome>,
    status_names: bool,
    free_ignored: bool,
}

unsafe extern "C" fn call_back_in(user: *mut c_void, step: u32, _total: u32) -> i32 {
    // SAFETY: user is a live Mutex<Reentrant> for the call.
    let r = unsafe { &*(user as *const Mutex<Reentrant>) };
    let (this, other) = {
        let mut g = r.lock().unwrap();
        g.calls += 1;
        (g.this.unwrap(), g.other.unwrap())
    };
    if step != 1 {
        return 1;
    }
    // Allowed: read-only functions on this pipeline.
    let mut info: sdrt_pipeline_info = unsafe { std::mem::zeroed() };
    // SAFETY: valid out-struct, live pipeline.
    let info_ok = unsafe {
        sdrt_pipeline_info_init_sized(&mut info, std::mem::size_of::<sdrt_pipeline_info>() as u32);
        sdrt_pipeline_get_info(this.0, &mut info) == sdrt_status::SDRT_OK && info.native_width == 64
    };
    // SAFETY: static strings.
    let status_names = unsafe {
        CStr::from_ptr(sdrt_status_str(sdrt_status::SDRT_ERROR_CANCELLED as u32))
            == c"SDRT_ERROR_CANCELLED"
    };
    // Refused: a generate on this same pipeline would wait for the call running us.
    let same = generate(this, &params(3, 1)).err();
    // Allowed: a generate on another pipeline.
    let other_result = generate(other, &params(3, 1));
    // Ignored: freeing this pipeline under the running call. The header says sdrt logs an
    // error (to the runtime's callback) and leaves the pipeline alone: the message is seen
    // once, and the pipeline still answers.
    let refusals = || {
        runtime_messages()
            .iter()
            .filter(|m| m.contains("sdrt_pipeline_free was called from a callback"))
            .count()
    };
    let before = refusals();
    free(this);
    let logged = refusals() == before + 1;
    // SAFETY: valid out-struct; the pipeline is live if the free was ignored, as it must be.
    let still_there = unsafe {
        sdrt_pipeline_info_init_sized(&mut info, std::mem::size_of::<sdrt_pipeline_info>() as u32);
        sdrt_pipeline_get_info(this.0, &mut info) == sdrt_status::SDRT_OK && info.native_width == 64
    };
    // Cancel of another pipeline that is idle: harmless.
    // SAFETY: live pipeline.
    unsafe { sdrt_pipeline_cancel(other.0) };
    let mut g = r.lock().unwrap();
    g.info_ok = info_ok;
    g.status_names = status_names;
    g.same_pipeline = same;
    g.other_pipeline = Some(other_result);
    g.free_ignored = logged && still_there;
    1
}

#[test]
fn callbacks_may_call_back_in_and_a_generate_on_their_own_pipeline_is_refused() {
    runtime_messages(); // the capture is in place before the callback's free
    let p = create(&fixture("tiny-sd2"));
    let q = create(&fixture("tiny-sd2-v"));
    let want_q = generate(q, &params(3, 1)).unwrap();
    let want_p = generate(p, &params(5, 3)).unwrap();
    let state = Mutex::new(Reentrant {
        this: Some(p),
        other: Some(q),
        ..Reentrant::default()
    });
    let mut gp = params(5, 3);
    gp.progress = Some(call_back_in);
    gp.progress_user_data = &state as *const _ as *mut c_void;
    let started = Instant::now();
    let got = generate(p, &gp);
    assert!(started.elapsed() < Duration::from_secs(60), "took too long");
    let s = state.lock().unwrap();
    // The outer call finished normally, with the image it gives without callbacks.
    assert_eq!(got.unwrap(), want_p);
    assert_eq!(s.calls, 4, "PNDM with 3 steps reports 4 UNet evaluations");
    assert!(s.info_ok && s.status_names);
    assert!(
        s.free_ignored,
        "sdrt_pipeline_free from the pipeline's own callback: no logged refusal, or the \
         pipeline no longer answered"
    );
    let (st, msg) = s
        .same_pipeline
        .clone()
        .expect("the inner generate was refused");
    assert_eq!(st, sdrt_status::SDRT_ERROR_INVALID_ARGUMENT, "{msg}");
    assert!(msg.contains("own callback"), "{msg}");
    assert_eq!(s.other_pipeline.clone().unwrap().unwrap(), want_q);
    // The pipeline was not freed by the callback, and is usable.
    assert_eq!(generate(p, &params(5, 3)).unwrap(), want_p);
    free(p);
    free(q);
}

/// The hooks the next tests use exist only in builds with the `test-hooks` feature, which
/// the test command enables (`tools/test.sh`): without it they would not run, so this fails.
#[cfg(not(feature = "test-hooks"))]
#[test]
fn the_test_hooks_feature_is_on() {
    panic!(
        "the panic and cancel-ordering tests need `--features test-hooks` (tools/test.sh \
         passes it)"
    );
}

#[cfg(feature = "test-hooks")]
#[test]
fn a_panic_inside_the_engine_is_an_internal_error_and_everything_carries_on() {
    let a = create(&fixture("tiny-sd2"));
    let b = create(&fixture("tiny-sd2"));
    let want_a = generate(a, &params(11, 4)).unwrap();
    let want_b = generate(b, &params(12, 30)).unwrap();
    // SAFETY: live pipeline.
    unsafe { debug_panic_after_step(a.0, 2) };
    // b generates on another thread meanwhile.
    let other = std::thread::spawn(move || {
        (0..2)
            .map(|_| generate(b, &params(12, 30)).unwrap())
            .collect::<Vec<_>>()
    });
    for _ in 0..3 {
        let (st, msg) = generate(a, &params(11, 4)).expect_err("the hook panics");
        assert_eq!(st, sdrt_status::SDRT_ERROR_INTERNAL, "{msg}");
        assert!(msg.contains("forced panic after step 2"), "{msg}");
    }
    for got in other.join().unwrap() {
        assert_eq!(got, want_b, "the other pipeline's images changed");
    }
    // SAFETY: live pipeline.
    unsafe { debug_panic_after_step(a.0, 0) };
    // The panicking pipeline released its lock and its run state: same images as before,
    // from this thread (which held the call when it panicked) and from another.
    assert_eq!(generate(a, &params(11, 4)).unwrap(), want_a);
    let again = std::thread::spawn(move || generate(a, &params(11, 4)).unwrap());
    assert_eq!(again.join().unwrap(), want_a);
    // A cancel after the panic reaches only calls started before it.
    // SAFETY: live pipeline.
    unsafe { sdrt_pipeline_cancel(a.0) };
    assert_eq!(generate(a, &params(11, 4)).unwrap(), want_a);
    free(a);
    free(b);
}

/// A cancel while `sdrt_pipeline_generate` copies its params (a large init image takes a
/// while) cancels that call: the call starts on entry, not after the copy.
#[cfg(feature = "test-hooks")]
#[test]
fn a_cancel_while_the_params_are_copied_cancels_the_call() {
    let p = create(&fixture("tiny-sd2"));
    let want = generate(p, &params(7, 2)).unwrap();
    let addr = p.0 as usize;
    let hook: Box<dyn Fn() + Send + Sync> = Box::new(move || {
        // SAFETY: the pipeline is live for the whole test.
        unsafe { sdrt_pipeline_cancel(addr as *mut sdrt_pipeline) };
    });
    // SAFETY: live pipeline.
    unsafe { debug_after_params_copied(p.0, Some(hook)) };
    let (st, msg) = generate(p, &params(7, 2)).expect_err("cancelled during the copy");
    assert_eq!(st, sdrt_status::SDRT_ERROR_CANCELLED, "{msg}");
    // SAFETY: live pipeline.
    unsafe { debug_after_params_copied(p.0, None) };
    // Later calls are not affected.
    assert_eq!(generate(p, &params(7, 2)).unwrap(), want);
    free(p);
}
