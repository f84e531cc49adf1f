//! Logging per pipeline, through the C API: each pipeline's own callback (with its own
//! `user_data` and level) gets that pipeline's messages, sdrt's and ONNX Runtime's, and
//! nothing of any other pipeline's; a pipeline without a callback logs to the runtime's;
//! nothing reaches a pipeline's callback after `sdrt_pipeline_free`.
//!
//! One test: the runtime's callback is process-wide, and this binary is its only user.

mod common;
#[path = "support/noisy_graph.rs"]
mod noisy_graph;

use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use sdrt::ffi::images::sdrt_images_free;
use sdrt::ffi::params::{sdrt_generate_params, sdrt_generate_params_init_sized, sdrt_provider};
use sdrt::ffi::pipeline::{
    sdrt_pipeline, sdrt_pipeline_create, sdrt_pipeline_free, sdrt_pipeline_generate,
    sdrt_pipeline_options, sdrt_pipeline_options_init_sized,
};
use sdrt::ffi::runtime::{
    sdrt_log_level, sdrt_runtime_init, sdrt_runtime_options, sdrt_runtime_options_init_sized,
    sdrt_runtime_shutdown,
};
use sdrt::ffi::status::{sdrt_last_error_message, sdrt_status};
use sdrt::ffi::step::sdrt_preview_kind;

const MAGIC: u64 = 0x5D47_4C4F_4753_494E;

/// What one callback received. `user_data` points at it.
struct Sink {
    magic: u64,
    messages: Mutex<Vec<(u32, String)>>,
    /// Set once the pipeline is freed: later messages count as late.
    closed: AtomicBool,
    late: AtomicUsize,
}

impl Sink {
    fn new() -> Sink {
        Sink {
            magic: MAGIC,
            messages: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            late: AtomicUsize::new(0),
        }
    }

    fn user_data(&self) -> *mut c_void {
        self as *const Sink as *mut c_void
    }

    fn messages(&self) -> Vec<(u32, String)> {
        self.messages.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.messages()
            .iter()
            .filter(|(_, m)| m.contains(needle))
            .count()
    }
}

unsafe extern "C" fn on_log(user_data: *mut c_void, level: u32, message: *const c_char) {
    // SAFETY: every user_data given to sdrt in this test is a live Sink.
    let sink = unsafe { &*(user_data as *const Sink) };
    assert_eq!(sink.magic, MAGIC, "user_data came back changed");
    if sink.closed.load(Ordering::SeqCst) {
        sink.late.fetch_add(1, Ordering::SeqCst);
    }
    // SAFETY: the header promises a NUL-terminated string valid during the call.
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    sink.messages.lock().unwrap().push((level, text));
}

/// A prompt `extra` CLIP tokens longer than the 75 kept: the warning says "`extra` tokens
/// longer", which tells the pipelines' warnings apart.
fn long_prompt(extra: usize) -> CString {
    let words: Vec<&str> = std::iter::repeat_n("lighthouse", 75 + extra).collect();
    CString::new(words.join(" ")).unwrap()
}

fn last_error() -> String {
    // SAFETY: sdrt's thread-local message, read at once.
    unsafe { CStr::from_ptr(sdrt_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// What one pipeline is given: its callback (or none), level, preview decoder, prompt.
struct Job<'a> {
    sink: Option<&'a Sink>,
    level: sdrt_log_level,
    provider: sdrt_provider,
    decoder: CString,
    prompt: CString,
}

/// Creates a pipeline, generates twice with TAESD previews (so its noisy preview decoder is
/// loaded during a generate call), frees it, and marks its sink closed.
fn run_pipeline(job: &Job<'_>) {
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
    po.provider = job.provider as u32;
    po.preview_decoder_path = job.decoder.as_ptr();
    if let Some(sink) = job.sink {
        po.log_callback = Some(on_log);
        po.log_level = job.level as u32;
        po.log_user_data = sink.user_data();
    }
    let mut p: *mut sdrt_pipeline = std::ptr::null_mut();
    // SAFETY: valid strings and options for the duration of the call.
    let st = unsafe { sdrt_pipeline_create(dir.as_ptr(), &po, &mut p) };
    assert_eq!(st, sdrt_status::SDRT_OK, "create: {}", last_error());
    for seed in 0..2 {
        let mut gp = std::mem::MaybeUninit::<sdrt_generate_params>::uninit();
        // SAFETY: as above.
        let mut gp = unsafe {
            sdrt_generate_params_init_sized(
                gp.as_mut_ptr(),
                std::mem::size_of::<sdrt_generate_params>() as u32,
            );
            gp.assume_init()
        };
        gp.prompt = job.prompt.as_ptr();
        gp.steps = 2;
        gp.seed = seed;
        gp.preview_kind = sdrt_preview_kind::SDRT_PREVIEW_TAESD as u32;
        let mut images = std::ptr::null_mut();
        // SAFETY: a live pipeline, valid params.
        let st = unsafe { sdrt_pipeline_generate(p, &gp, &mut images) };
        assert_eq!(st, sdrt_status::SDRT_OK, "generate: {}", last_error());
        // SAFETY: returned by generate.
        unsafe { sdrt_images_free(images) };
    }
    // SAFETY: no other call on p is running.
    unsafe { sdrt_pipeline_free(p) };
    if let Some(sink) = job.sink {
        sink.closed.store(true, Ordering::SeqCst);
    }
}

#[test]
fn each_pipeline_gets_its_own_messages_and_no_other() {
    let work = common::target_dir().join("logging");
    let runtime_sink = Sink::new();
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
    ro.ort_library_path = ort.as_ptr();
    ro.log_level = sdrt_log_level::SDRT_LOG_DEBUG as u32;
    ro.log_callback = Some(on_log);
    ro.log_user_data = runtime_sink.user_data();
    // SAFETY: valid options; runtime_sink outlives its registration (shutdown below).
    let st = unsafe { sdrt_runtime_init(&ro) };
    assert_eq!(st, sdrt_status::SDRT_OK, "runtime init: {}", last_error());

    // An unknown level is refused before anything loads.
    {
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
        po.log_callback = Some(on_log);
        po.log_level = 99;
        po.log_user_data = runtime_sink.user_data();
        let mut p: *mut sdrt_pipeline = std::ptr::null_mut();
        // SAFETY: valid strings and options for the duration of the call.
        let st = unsafe { sdrt_pipeline_create(dir.as_ptr(), &po, &mut p) };
        assert_eq!(st, sdrt_status::SDRT_ERROR_INVALID_ARGUMENT);
        assert!(last_error().contains("log_level 99"), "{}", last_error());
        assert!(p.is_null());
    }

    // A provider this ONNX Runtime lacks: the fallback warning is A's.
    let missing = if cfg!(target_os = "macos") {
        sdrt_provider::SDRT_PROVIDER_CUDA
    } else {
        sdrt_provider::SDRT_PROVIDER_COREML
    };
    let (sink_a, sink_b) = (Sink::new(), Sink::new());
    let jobs = [
        Job {
            sink: Some(&sink_a),
            level: sdrt_log_level::SDRT_LOG_DEBUG,
            provider: missing,
            decoder: path_c(&noisy_graph::noisy_decoder(&work, "sdrt_unused_a")),
            prompt: long_prompt(3),
        },
        Job {
            sink: Some(&sink_b),
            level: sdrt_log_level::SDRT_LOG_WARN,
            provider: sdrt_provider::SDRT_PROVIDER_CPU,
            decoder: path_c(&noisy_graph::noisy_decoder(&work, "sdrt_unused_b")),
            prompt: long_prompt(5),
        },
        // No callback of its own: the runtime's gets its messages.
        Job {
            sink: None,
            level: sdrt_log_level::SDRT_LOG_WARN,
            provider: sdrt_provider::SDRT_PROVIDER_CPU,
            decoder: path_c(&noisy_graph::noisy_decoder(&work, "sdrt_unused_c")),
            prompt: long_prompt(7),
        },
    ];
    std::thread::scope(|s| {
        for job in &jobs {
            s.spawn(move || run_pipeline(job));
        }
    });
    // The freed pipelines' callbacks stay quiet while the runtime keeps working.
    run_pipeline(&jobs[2]);
    sdrt_runtime_shutdown();
    let after_shutdown = runtime_sink.messages().len();
    run_pipeline(&jobs[2]);
    assert_eq!(
        runtime_sink.messages().len(),
        after_shutdown,
        "the runtime callback was called after sdrt_runtime_shutdown"
    );

    let markers = [
        ("A", "'sdrt_unused_a'", "3 tokens longer"),
        ("B", "'sdrt_unused_b'", "5 tokens longer"),
        ("runtime", "'sdrt_unused_c'", "7 tokens longer"),
    ];
    let sinks = [&sink_a, &sink_b, &runtime_sink];
    for (i, (sink, (name, graph, prompt))) in sinks.iter().zip(markers).enumerate() {
        let messages = sink.messages();
        // Its own: ONNX Runtime's warning about its decoder (one per load: two loads for the
        // runtime's, which runs pipeline C twice before the shutdown), sdrt's about its
        // prompt (one per generate call).
        assert!(
            sink.count(graph) >= 1,
            "{name} lacks {graph}: {messages:#?}"
        );
        assert!(
            sink.count(prompt) >= 2,
            "{name} lacks {prompt}: {messages:#?}"
        );
        // No other pipeline's.
        for (j, (other, other_graph, other_prompt)) in markers.iter().enumerate() {
            if i != j {
                assert_eq!(
                    sink.count(other_graph),
                    0,
                    "{name} got {other}'s {other_graph}"
                );
                assert_eq!(
                    sink.count(other_prompt),
                    0,
                    "{name} got {other}'s {other_prompt}"
                );
            }
        }
        assert_eq!(
            sink.late.load(Ordering::SeqCst),
            0,
            "{name}: messages after free"
        );
    }
    // A asked for everything: sdrt's own load message, the fallback, ONNX Runtime's verbose
    // output for each of its graphs.
    assert!(
        sink_a.count("falling back to cpu") == 1,
        "{:#?}",
        sink_a.messages()
    );
    assert!(sink_a.count("loaded ") >= 1, "{:#?}", sink_a.messages());
    for graph in ["text_encoder", "unet", "vae_decoder", "vae_preview"] {
        let tag = format!("onnxruntime [{graph}]");
        assert!(sink_a.count(&tag) > 0, "A lacks {tag}");
    }
    assert!(sink_a
        .messages()
        .iter()
        .any(|(level, _)| *level == sdrt_log_level::SDRT_LOG_DEBUG as u32));
    // B asked for warnings and errors only.
    for (level, message) in sink_b.messages() {
        assert!(
            level <= sdrt_log_level::SDRT_LOG_WARN as u32,
            "B got level {level}: {message}"
        );
    }
    assert_eq!(runtime_sink.count("falling back"), 0);
}

fn path_c(p: &std::path::Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}
