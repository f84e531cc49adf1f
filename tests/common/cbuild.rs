//! Building and running the C test programs against include/ and the cdylib (shared by
//! tests/c_api.rs and tests/hostile.rs).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

pub const C_FLAGS: &[&str] = &[
    "-std=c11",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-Wundef",
    "-Wstrict-prototypes",
    "-Wmissing-prototypes",
];
pub const CXX_FLAGS: &[&str] = &[
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-pedantic",
    "-Wundef",
];
pub const ASAN_FLAGS: &[&str] = &["-fsanitize=address", "-fno-omit-frame-pointer", "-g"];

// ---------------------------------------------------------------------------------------------
// Building and running the C programs

/// libsdrt's shared library, built as the README tells users: `cargo build` (`--lib`, in the
/// test's profile), which leaves it in target/<profile>/ beside the soname link build.rs makes.
/// The C programs link it with `-L target/<profile> -lsdrt`, as users do: nothing here adds a
/// file cargo did not make, so a missing `libsdrt.so.0` fails the programs as it would fail
/// users'. (`cargo test` leaves its own cdylib in target/<profile>/deps/, which users never
/// see, and with the `test-hooks` feature, which users' libraries never carry.)
pub fn cdylib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = super::target_dir();
        let name = format!(
            "{}sdrt{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        let lib = dir.join(&name);
        let profile = dir.file_name().and_then(OsStr::to_str).unwrap_or("debug");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(super::root())
            .args(["build", "--lib", "--locked"])
            .env("CARGO_TARGET_DIR", dir.parent().unwrap());
        match profile {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        eprintln!("building the cdylib: {cmd:?}");
        let status = cmd.status().expect("run cargo build --lib");
        assert!(status.success(), "cargo build --lib failed");
        assert!(lib.exists(), "{} missing after cargo build", lib.display());
        lib
    })
}

/// The name programs linked against libsdrt ask for: its soname on Linux, its install name on
/// macOS (both set by build.rs); `None` elsewhere.
pub fn soname() -> Option<String> {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    match std::env::consts::OS {
        "macos" | "ios" => Some(format!("libsdrt.{major}.dylib")),
        "windows" => None,
        _ => Some(format!("libsdrt.so.{major}")),
    }
}

/// Where the C programs are built: target/<profile>/c_api/.
pub fn build_dir() -> PathBuf {
    let dir = super::target_dir().join("c_api");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[derive(Clone, Copy, PartialEq)]
pub enum Lang {
    C,
    Cxx,
}

/// Compiles and links `sources` against include/ and libsdrt into target/<profile>/c_api/`name`.
pub fn compile(name: &str, lang: Lang, sources: &[&str], extra: &[&str]) -> PathBuf {
    let compiler = match lang {
        Lang::C => "cc",
        Lang::Cxx => "c++",
    };
    compile_with(compiler, name, lang, sources, extra)
}

/// `compile` with a given compiler (clang for its sanitizers).
pub fn compile_with(
    compiler: &str,
    name: &str,
    lang: Lang,
    sources: &[&str],
    extra: &[&str],
) -> PathBuf {
    let root = super::root();
    let lib = cdylib();
    let lib_dir = lib.parent().unwrap();
    let out = build_dir().join(name);
    let flags = match lang {
        Lang::C => C_FLAGS,
        Lang::Cxx => CXX_FLAGS,
    };
    let mut cmd = Command::new(compiler);
    cmd.current_dir(&root)
        .args(flags)
        .args(extra)
        .arg("-Iinclude")
        .arg("-Itests/c")
        .arg("-Ibindings/cpp")
        .args(sources)
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib_dir.display()))
        .arg("-lsdrt")
        .arg(format!("-Wl,-rpath,{}", lib_dir.display()))
        .args(["-lpthread", "-lm"]);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {compiler}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// A command for a built program, run as users run theirs: libsdrt found through the rpath
/// the program was linked with (cargo's `LD_LIBRARY_PATH`, which names target/<profile>/, is
/// removed), ONNX Runtime from the test setup, no inherited overrides.
pub fn program(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.current_dir(super::root())
        .env("SDRT_ORT_LIBRARY", super::ort_library())
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("DYLD_LIBRARY_PATH")
        .env_remove("ORT_DYLIB_PATH")
        .stdin(Stdio::null());
    cmd
}

pub fn run(mut cmd: Command) -> Output {
    let started = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    eprintln!(
        "{:?} -> {} in {:.1}s",
        cmd.get_program(),
        out.status,
        started.elapsed().as_secs_f64()
    );
    out
}

pub fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn assert_success(what: &str, out: &Output) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        out.status,
        text(out)
    );
}
