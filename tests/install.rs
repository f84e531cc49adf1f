//! sdrt installed like a native library: `tools/install.sh --prefix DIR` lays out include/,
//! lib/ (the shared library under its soname with the usual links, the static library),
//! lib/pkgconfig/sdrt.pc and lib/cmake/sdrt/; the C example then builds with `pkg-config`
//! (shared, and static through Libs.private), the C++ example with CMake's
//! `find_package(sdrt)`, and each program, finding libsdrt through its rpath alone,
//! reproduces a golden image.
//!
//! Needs `pkg-config`, `cmake`, `readelf` and `ldd` on Linux (tools/test.sh installs the first
//! two when missing).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::cbuild::{assert_success, build_dir, cdylib, run, soname, text};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The prefix tools/install.sh installed to, once per test binary (removed first).
fn prefix() -> &'static Path {
    static PREFIX: OnceLock<PathBuf> = OnceLock::new();
    PREFIX.get_or_init(|| {
        // Builds the cdylib first when stale, as the C tests do; install.sh then finds it fresh.
        cdylib();
        let prefix = build_dir().join("install").join("prefix");
        let _ = std::fs::remove_dir_all(&prefix);
        let target = common::target_dir();
        let mut cmd = Command::new("bash");
        cmd.current_dir(common::root())
            .arg("tools/install.sh")
            .arg("--prefix")
            .arg(&prefix)
            .env("CARGO_TARGET_DIR", target.parent().unwrap());
        match target.file_name().and_then(|n| n.to_str()) {
            Some("debug") => {
                cmd.arg("--debug");
            }
            Some("release") => {}
            other => panic!("tools/install.sh installs debug or release, not {other:?}"),
        }
        assert_success("tools/install.sh", &run(cmd));
        prefix
    })
}

fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "{name} is needed for this test (tools/test.sh installs it when missing)"
    );
    Command::new(name)
}

fn stdout_of(what: &str, cmd: Command) -> String {
    let out = run(cmd);
    assert_success(what, &out);
    String::from_utf8(out.stdout).unwrap()
}

fn pkg_config(args: &[&str]) -> Vec<String> {
    let mut cmd = tool("pkg-config");
    cmd.args(args)
        .arg("sdrt")
        .env("PKG_CONFIG_PATH", prefix().join("lib/pkgconfig"))
        .env_remove("PKG_CONFIG_LIBDIR")
        .env_remove("PKG_CONFIG_SYSROOT_DIR");
    stdout_of(&format!("pkg-config {args:?}"), cmd)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// A built program run as a user would: no LD_LIBRARY_PATH (cargo's would point into target/),
/// so libsdrt comes from the rpath into the prefix. ONNX Runtime from the test setup.
fn installed_program(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.current_dir(common::root())
        .env("SDRT_ORT_LIBRARY", common::ort_library())
        .env_remove("LD_LIBRARY_PATH")
        .env_remove("DYLD_LIBRARY_PATH")
        .env_remove("ORT_DYLIB_PATH")
        .stdin(Stdio::null());
    cmd
}

/// Runs `exe` (the C or C++ txt2img) on the "wide" golden case and compares its image.
fn check_wide_golden(exe: &Path, tag: &str) {
    let case = common::image_cases()
        .into_iter()
        .find(|c| c.name == "wide")
        .expect("the wide case in tests/goldens/images.json");
    let out_dir = build_dir().join("install").join(format!("out-{tag}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    std::fs::create_dir_all(&out_dir).unwrap();
    let prefix = out_dir.join(&case.name);
    let mut cmd = installed_program(exe);
    cmd.arg(&case.model)
        .arg(&prefix)
        .args(["--prompt", &case.prompt])
        .args(["--width", &case.width.to_string()])
        .args(["--height", &case.height.to_string()])
        .args(["--steps", &case.steps.to_string()])
        .args(["--guidance", &case.guidance.to_string()])
        .args(["--seed", &case.seed.to_string()])
        .args(["--count", &case.count.to_string()])
        .args(["--generator", &case.generator])
        .args([
            "--scheduler",
            case.scheduler.as_deref().unwrap_or("default"),
        ]);
    assert!(case.negative_prompt.is_none() && case.eta == 0.0);
    let out: Output = run(cmd);
    assert_success(tag, &out);
    assert_eq!(case.files.len(), 1);
    let (w, h, got) = common::read_ppm(&PathBuf::from(format!("{}-0.ppm", prefix.display())));
    let (gw, gh, want) = common::read_png(&case.files[0]);
    assert_eq!((w, h), (gw, gh), "{tag}: image size");
    common::assert_close(&format!("{tag} wide"), &got, &want);
}

/// `ldd exe` resolves libsdrt's soname into the prefix (Linux).
fn assert_loads_installed_lib(exe: &Path) {
    if std::env::consts::OS != "linux" {
        return;
    }
    let soname = soname().unwrap();
    let mut cmd = Command::new("ldd");
    cmd.arg(exe).env_remove("LD_LIBRARY_PATH");
    let ldd = stdout_of("ldd", cmd);
    let want = prefix().join("lib").join(&soname);
    let line = ldd
        .lines()
        .find(|l| l.trim_start().starts_with(&soname))
        .unwrap_or_else(|| panic!("{} does not need {soname}:\n{ldd}", exe.display()));
    assert!(
        line.contains(&format!("=> {}", want.display())),
        "{soname} not from the prefix: {line}"
    );
}

#[test]
fn install_lays_out_headers_libraries_and_package_files() {
    let prefix = prefix();
    let (real, links): (String, Vec<String>) = match std::env::consts::OS {
        "macos" => (
            format!("libsdrt.{VERSION}.dylib"),
            vec!["libsdrt.0.dylib".into(), "libsdrt.dylib".into()],
        ),
        _ => (
            format!("libsdrt.so.{VERSION}"),
            vec!["libsdrt.so.0".into(), "libsdrt.so".into()],
        ),
    };
    for f in [
        "include/sdrt.h",
        "include/sdrt.hpp",
        "lib/libsdrt.a",
        "lib/pkgconfig/sdrt.pc",
        "lib/cmake/sdrt/sdrtConfig.cmake",
        "lib/cmake/sdrt/sdrtConfigVersion.cmake",
    ] {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }
    assert_eq!(
        std::fs::read(prefix.join("include/sdrt.h")).unwrap(),
        std::fs::read(common::root().join("include/sdrt.h")).unwrap(),
        "the committed header is installed"
    );
    let lib = prefix.join("lib");
    assert!(!lib.join(&real).is_symlink() && lib.join(&real).is_file());
    // The libraries users get carry no test hook (the `test-hooks` feature is the tests').
    for f in [real.as_str(), "libsdrt.a"] {
        let bytes = std::fs::read(lib.join(f)).unwrap();
        let hook = b"sdrt test hook";
        assert!(
            !bytes.windows(hook.len()).any(|w| w == hook),
            "{f} carries the forced-panic test hook"
        );
    }
    // libsdrt.so -> libsdrt.so.0 -> libsdrt.so.0.5.0, each link to the next name down.
    let mut target = real.clone();
    for link in &links {
        let to = std::fs::read_link(lib.join(link)).unwrap_or_else(|e| panic!("{link}: {e}"));
        assert_eq!(to, PathBuf::from(&target), "{link}");
        target = link.clone();
    }

    let pc = std::fs::read_to_string(lib.join("pkgconfig/sdrt.pc")).unwrap();
    assert!(
        pc.contains(&format!("prefix={}\n", prefix.display())),
        "{pc}"
    );
    assert!(pc.contains(&format!("Version: {VERSION}\n")), "{pc}");
    assert_eq!(pkg_config(&["--modversion"]), [VERSION]);
    let private = pkg_config(&["--static", "--libs"]);
    assert!(
        private.len() > 2 && private.contains(&"-lsdrt".to_string()),
        "{private:?}"
    );

    if std::env::consts::OS == "linux" {
        let mut cmd = tool("readelf");
        cmd.arg("-d").arg(lib.join(&real));
        let dynamic = stdout_of("readelf -d", cmd);
        let soname = soname().unwrap();
        assert!(
            dynamic.contains(&format!("Library soname: [{soname}]")),
            "no SONAME {soname} in libsdrt:\n{dynamic}"
        );
    }
}

#[test]
fn c_example_builds_with_pkg_config_and_matches_its_golden() {
    let cflags = pkg_config(&["--cflags"]);
    let libs = pkg_config(&["--libs"]);
    let libdir = pkg_config(&["--variable=libdir"]).concat();
    assert_eq!(PathBuf::from(&libdir), prefix().join("lib"));
    let exe = build_dir().join("install").join("txt2img_pkg_config");
    let mut cc = Command::new("cc");
    cc.current_dir(common::root())
        .args(common::cbuild::C_FLAGS)
        .args(&cflags)
        .arg("examples/c/txt2img.c")
        .arg("-o")
        .arg(&exe)
        .args(&libs)
        .arg(format!("-Wl,-rpath,{libdir}"));
    assert_success("cc with pkg-config", &run(cc));
    if std::env::consts::OS == "linux" {
        let mut cmd = tool("readelf");
        cmd.arg("-d").arg(&exe);
        let dynamic = stdout_of("readelf -d", cmd);
        let soname = soname().unwrap();
        assert!(
            dynamic.contains(&format!("Shared library: [{soname}]")),
            "the program does not record libsdrt's soname:\n{dynamic}"
        );
    }
    assert_loads_installed_lib(&exe);
    check_wide_golden(&exe, "txt2img pkg-config");
}

#[test]
fn c_example_links_the_static_library_with_libs_private() {
    let cflags = pkg_config(&["--cflags"]);
    // `--static --libs` is "-L... -lsdrt <Libs.private>"; -lsdrt would pick the shared
    // library from the same folder, so the archive is named instead.
    let libs: Vec<String> = pkg_config(&["--static", "--libs"])
        .into_iter()
        .filter(|f| f != "-lsdrt" && !f.starts_with("-L"))
        .collect();
    let exe = build_dir().join("install").join("txt2img_static");
    let mut cc = Command::new("cc");
    cc.current_dir(common::root())
        .args(common::cbuild::C_FLAGS)
        .args(&cflags)
        .arg("examples/c/txt2img.c")
        .arg("-o")
        .arg(&exe)
        .arg(prefix().join("lib/libsdrt.a"))
        .args(&libs);
    assert_success("cc with libsdrt.a and Libs.private", &run(cc));
    if std::env::consts::OS == "linux" {
        let mut cmd = tool("readelf");
        cmd.arg("-d").arg(&exe);
        let dynamic = stdout_of("readelf -d", cmd);
        assert!(
            !dynamic.contains("libsdrt"),
            "a static build needs no libsdrt:\n{dynamic}"
        );
    }
    check_wide_golden(&exe, "txt2img static");
}

#[test]
fn cpp_example_builds_with_cmake_find_package_and_matches_its_golden() {
    let work = build_dir().join("install").join("cmake-cpp");
    let _ = std::fs::remove_dir_all(&work);
    let mut configure = tool("cmake");
    configure
        .arg("-S")
        .arg(common::root().join("examples/cpp"))
        .arg("-B")
        .arg(&work)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display()))
        .arg("-DCMAKE_BUILD_TYPE=Debug")
        .arg("-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror")
        .env_remove("CMAKE_PREFIX_PATH");
    let out = run(configure);
    assert_success("cmake configure", &out);
    let found = text(&out);
    let mut build = Command::new("cmake");
    build.arg("--build").arg(&work);
    assert_success("cmake --build", &run(build));
    let exe = work.join("txt2img_cpp");
    assert!(exe.is_file(), "no txt2img_cpp after cmake:\n{found}");
    assert_loads_installed_lib(&exe);
    check_wide_golden(&exe, "txt2img_cpp cmake");
}

#[test]
fn cmake_version_file_refuses_another_major_version() {
    let work = build_dir().join("install").join("cmake-version");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(work.join("src")).unwrap();
    std::fs::write(
        work.join("src/CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\nproject(v LANGUAGES NONE)\n\
         find_package(sdrt 1 CONFIG)\nif(sdrt_FOUND)\n  message(FATAL_ERROR \"sdrt 1 found\")\n\
         endif()\nfind_package(sdrt 0.1 REQUIRED CONFIG)\nif(NOT TARGET sdrt::sdrt_static)\n  \
         message(FATAL_ERROR \"no sdrt::sdrt_static\")\nendif()\n",
    )
    .unwrap();
    let mut configure = tool("cmake");
    configure
        .arg("-S")
        .arg(work.join("src"))
        .arg("-B")
        .arg(work.join("build"))
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix().display()));
    assert_success("cmake find_package versions", &run(configure));
}

/// `tools/install.sh --prefix DIR` installs the release build; `--debug` the debug one. Run
/// with a stand-in for cargo (`$CARGO`) that records its arguments and a target folder of
/// marked files, so that this takes a second instead of a release build.
#[test]
#[cfg(target_os = "linux")]
fn install_defaults_to_the_release_build() {
    use std::os::unix::fs::PermissionsExt;
    let work = build_dir().join("install").join("profile-default");
    let _ = std::fs::remove_dir_all(&work);
    let target = work.join("target");
    let (shared, static_lib) = ("libsdrt.so", "libsdrt.a");
    for profile in ["debug", "release"] {
        let dir = target.join(profile);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(shared), format!("{profile} shared")).unwrap();
        std::fs::write(dir.join(static_lib), format!("{profile} static")).unwrap();
    }
    let log = work.join("cargo.log");
    let cargo = work.join("cargo");
    std::fs::write(
        &cargo,
        format!(
            "#!/bin/sh\necho \"$*\" >>'{}'\nif [ \"$1\" = metadata ]; then \
             echo '{{\"target_directory\":\"{}\"}}'; fi\n",
            log.display(),
            target.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::fs::Permissions::from_mode(0o755)).unwrap();
    for (args, want) in [(&[][..], "release"), (&["--debug"][..], "debug")] {
        let prefix = work.join(format!("prefix-{want}"));
        let _ = std::fs::remove_file(&log);
        let mut cmd = Command::new("bash");
        cmd.current_dir(common::root())
            .arg("tools/install.sh")
            .arg("--prefix")
            .arg(&prefix)
            .args(args)
            .env("CARGO", &cargo)
            .env_remove("DESTDIR");
        let out = run(cmd);
        assert_success(&format!("tools/install.sh {args:?}"), &out);
        let builds: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("build"))
            .map(str::to_string)
            .collect();
        assert_eq!(builds.len(), 1, "{builds:?}");
        assert_eq!(
            builds[0].split_whitespace().any(|a| a == "--release"),
            want == "release",
            "tools/install.sh {args:?} ran cargo {}",
            builds[0]
        );
        let real = format!("libsdrt.so.{VERSION}");
        assert_eq!(
            std::fs::read_to_string(prefix.join("lib").join(real)).unwrap(),
            format!("{want} shared"),
            "tools/install.sh {args:?}"
        );
        assert_eq!(
            std::fs::read_to_string(prefix.join("lib/libsdrt.a")).unwrap(),
            format!("{want} static")
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(&format!("({want})")),
            "{}",
            text(&out)
        );
    }
}
