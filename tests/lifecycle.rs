//! libsdrt in a plug-in host's hands: loaded with `dlopen`, used, closed and loaded again,
//! two copies at two paths, ten cycles, and an explicit ONNX Runtime path that does not load.
//! Each sequence runs `tests/c/dlopen_cycles.c` in a child process, so a crash (the failure
//! this guards against: ONNX Runtime calling into an unloaded libsdrt) fails the test with
//! its signal instead of taking the test runner down.
//!
//! Needs `cc` on PATH. Linux only: the program reads `/proc/self/maps` and glibc's
//! `mallinfo2`.
#![cfg(target_os = "linux")]

mod common;
#[path = "support/noisy_graph.rs"]
mod noisy_graph;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::cbuild::cdylib;

/// Retained heap per cycle after the first, in bytes, that `ten_cycles_retain_bounded_memory`
/// accepts: the aim of issue 7. Measured: 2-5 KB per cycle in use by malloc's count, against
/// about 208 KB per cycle before libsdrt pinned itself; valgrind finds nothing new per cycle
/// (the same 289,857 bytes reachable at exit after one cycle and after three, none lost).
const HEAP_PER_CYCLE_LIMIT: usize = 64 * 1024;
/// Resident memory growth per cycle after the first, in KiB. Measured: 30-100 KiB (page
/// granularity and allocator fragmentation), against about 650 KiB before.
const RSS_PER_CYCLE_LIMIT_KIB: usize = 256;

/// target/<profile>/lifecycle/: the program, the library copies, the test graphs.
fn work_dir() -> PathBuf {
    let dir = common::target_dir().join("lifecycle");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The test program, compiled once per test binary (not linked against libsdrt).
fn program() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        let out = work_dir().join("dlopen_cycles");
        let root = common::root();
        let output = Command::new("cc")
            .current_dir(&root)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-g"])
            .arg("-Iinclude")
            .arg("tests/c/dlopen_cycles.c")
            .arg("-o")
            .arg(&out)
            .args(["-ldl", "-lpthread"])
            .output()
            .expect("run cc");
        assert!(
            output.status.success(),
            "cc tests/c/dlopen_cycles.c failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
}

/// A copy of libsdrt at another path: a second library image for the loader.
fn library_copy(tag: &str) -> PathBuf {
    let dir = work_dir().join(format!("copy-{tag}"));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(cdylib().file_name().unwrap());
    std::fs::copy(cdylib(), &copy).unwrap();
    copy
}

fn run(args: &[&OsStr]) -> Output {
    let mut cmd = Command::new(program());
    cmd.current_dir(common::root())
        .args(args)
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .env_remove("ORT_DYLIB_PATH")
        .stdin(Stdio::null());
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(" checks, 0 failed"),
        "{cmd:?}: {}\n--- stdout\n{stdout}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn reload_after_dlclose_with_onnx_runtime_logging_at_debug() {
    let fixture = common::fixture();
    let ort = common::ort_library();
    let out = run(&[
        "reload".as_ref(),
        cdylib().as_os_str(),
        fixture.as_os_str(),
        ort.as_os_str(),
    ]);
    // libsdrt pins itself: dlclose leaves it loaded and the next dlopen gets it back.
    assert!(stdout(&out).contains("PINNED 1"), "{}", stdout(&out));
}

#[test]
fn two_copies_close_one_keep_using_the_other() {
    let copy = library_copy("copies");
    let fixture = common::fixture();
    let ort = common::ort_library();
    run(&[
        "copies".as_ref(),
        cdylib().as_os_str(),
        copy.as_os_str(),
        fixture.as_os_str(),
        ort.as_os_str(),
    ]);
}

#[test]
fn an_explicit_onnx_runtime_path_is_binding() {
    let missing = work_dir().join("missing/libonnxruntime.so");
    let not_a_library = common::root().join("Cargo.toml");
    let out = run(&[
        "explicit-path".as_ref(),
        cdylib().as_os_str(),
        missing.as_os_str(),
        not_a_library.as_os_str(),
    ]);
    let text = stdout(&out);
    assert!(text.contains("No such file"), "{text}");
    assert!(text.contains("invalid ELF header"), "{text}");
}

#[test]
fn ten_cycles_retain_bounded_memory() {
    let lib = cdylib();
    let fixture = common::fixture();
    let ort = common::ort_library();
    let noisy = noisy_graph::noisy_decoder(&work_dir(), "sdrt_unused");
    let out = run(&[
        "cycles".as_ref(),
        "10".as_ref(),
        lib.as_os_str(),
        fixture.as_os_str(),
        ort.as_os_str(),
        noisy.as_os_str(),
    ]);
    let text = stdout(&out);
    // "CYCLE i HEAP bytes RSS kib"
    let cycles: Vec<(usize, usize)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["CYCLE", _, "HEAP", heap, "RSS", rss] => {
                    Some((heap.parse().ok()?, rss.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect();
    assert_eq!(cycles.len(), 10, "{text}");
    let (first, last) = (cycles[0], cycles[9]);
    let heap_per_cycle = last.0.saturating_sub(first.0) / 9;
    let rss_per_cycle = last.1.saturating_sub(first.1) / 9;
    eprintln!(
        "retained per cycle after the first: heap {heap_per_cycle} bytes, RSS {rss_per_cycle} KiB"
    );
    assert!(
        heap_per_cycle < HEAP_PER_CYCLE_LIMIT,
        "heap grows {heap_per_cycle} bytes per cycle (limit {HEAP_PER_CYCLE_LIMIT}):\n{text}"
    );
    assert!(
        rss_per_cycle < RSS_PER_CYCLE_LIMIT_KIB,
        "RSS grows {rss_per_cycle} KiB per cycle (limit {RSS_PER_CYCLE_LIMIT_KIB}):\n{text}"
    );
}
