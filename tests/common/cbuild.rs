//! Building and running the C test programs against include/ and the cdylib (shared by
//! tests/c_api.rs and tests/hostile.rs).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Instant, SystemTime};

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

/// libsdrt's shared library. `cargo test` builds the cdylib next to the test's own rlib in
/// target/<profile>/deps/ without copying it up to target/<profile>/; that copy is used when
/// it is newer than the sources, else `cargo build --lib` (same profile) makes one.
pub fn cdylib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let dir = super::target_dir();
        let name = format!(
            "{}sdrt{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        let from_cargo_test = dir.join("deps").join(&name);
        if is_fresh(&from_cargo_test) {
            link_soname(&from_cargo_test);
            return from_cargo_test;
        }
        let lib = dir.join(&name);
        if !is_fresh(&lib) {
            let profile = dir.file_name().and_then(OsStr::to_str).unwrap_or("debug");
            let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            cmd.current_dir(super::root()).args(["build", "--lib"]);
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
        }
        assert!(lib.exists(), "{} missing", lib.display());
        link_soname(&lib);
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

/// Puts the soname link (libsdrt.so.0 -> libsdrt.so) beside the cdylib cargo built, as an
/// install has it: a program linked with `-lsdrt` records the soname and loads that file.
fn link_soname(lib: &Path) {
    let Some(soname) = soname() else { return };
    let link = lib.with_file_name(soname);
    if std::fs::symlink_metadata(&link).is_ok() {
        return;
    }
    #[cfg(unix)]
    match std::os::unix::fs::symlink(lib.file_name().unwrap(), &link) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => panic!("{}: {e}", link.display()),
    }
}

/// Whether `lib` exists and is newer than every file under src/ and Cargo.toml.
pub fn is_fresh(lib: &Path) -> bool {
    fn newest(path: &Path, acc: &mut SystemTime) {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_dir() {
                for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                    newest(&entry.path(), acc);
                }
            } else if let Ok(m) = meta.modified() {
                *acc = (*acc).max(m);
            }
        }
    }
    let Ok(built) = std::fs::metadata(lib).and_then(|m| m.modified()) else {
        return false;
    };
    let mut sources = SystemTime::UNIX_EPOCH;
    newest(&super::root().join("src"), &mut sources);
    newest(&super::root().join("Cargo.toml"), &mut sources);
    built >= sources
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

/// A command for a built program: ONNX Runtime from the test setup, no inherited overrides.
///
/// `cargo test` runs tests with a `LD_LIBRARY_PATH` that holds target/<profile>/ before the
/// programs' rpath, so a stale libsdrt there would shadow the fresh one they were linked
/// against: the cdylib's own folder goes first.
pub fn program(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    let lib_dir = cdylib().parent().unwrap().to_path_buf();
    let mut paths = vec![lib_dir];
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    cmd.current_dir(super::root())
        .env("SDRT_ORT_LIBRARY", super::ort_library())
        .env("LD_LIBRARY_PATH", std::env::join_paths(paths).unwrap())
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
