//! Gives the shared library the name it is installed under, so that programs linked against
//! it find the installed file (tools/install.sh lays out the symlinks):
//! - Linux and other ELF systems: the soname `libsdrt.so.<major>`;
//! - macOS and iOS: the install name `@rpath/libsdrt.<major>.dylib`.
//!
//! `<major>` is the crate's major version: the ABI is kept across 0.x releases (structs carry
//! their size and only grow, see `SDRT_ABI_VERSION`), so 0.2, 0.3 and 0.4 share a soname. The
//! target is read at run time (`CARGO_CFG_TARGET_OS`), so cross builds get the target's flag.
//!
//! A program linked with `-L target/release -lsdrt` records that name and asks the loader for
//! it, but cargo only writes `libsdrt.so` (`libsdrt.dylib`): the build also puts the link
//! `libsdrt.so.<major> -> libsdrt.so` (`libsdrt.<major>.dylib -> libsdrt.dylib`) beside it, in
//! the profile's folder (`target/<profile>/`, or `target/<triple>/<profile>/`), so that the
//! README's route works against the cargo output as it does against an install. The link is
//! relative and made before the library is linked (it dangles for that moment).

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsdrt.so.{major}");
            link_beside_the_library("libsdrt.so", &format!("libsdrt.so.{major}"));
        }
        "macos" | "ios" | "tvos" | "visionos" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libsdrt.{major}.dylib");
            // Room for install_name_tool -id, which tools/build_xcframework.sh uses to
            // rename the library into CSdrt.framework.
            println!("cargo:rustc-cdylib-link-arg=-Wl,-headerpad_max_install_names");
            link_beside_the_library("libsdrt.dylib", &format!("libsdrt.{major}.dylib"));
        }
        _ => {}
    }
}

/// The folder cargo puts the library in: `OUT_DIR` is `<profile dir>/build/sdrt-<hash>/out`.
/// `None` for another layout (a separate `build-dir`), where nothing is linked.
fn profile_dir() -> Option<PathBuf> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR")?);
    let build = out.parent()?.parent()?;
    if build.file_name()? != "build" {
        return None;
    }
    Some(build.parent()?.to_path_buf())
}

/// Makes `dir/link -> library` in the profile folder unless a file of that name is there.
fn link_beside_the_library(library: &str, link: &str) {
    let Some(dir) = profile_dir() else {
        println!("cargo:warning=sdrt: no {link} link made (unknown target folder layout)");
        return;
    };
    let path = dir.join(link);
    if std::fs::symlink_metadata(&path).is_ok() {
        return;
    }
    match symlink(Path::new(library), &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => println!("cargo:warning=sdrt: could not make {}: {e}", path.display()),
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_: &Path, _: &Path) -> std::io::Result<()> {
    Ok(())
}
