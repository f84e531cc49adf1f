//! Gives the shared library the name it is installed under, so that programs linked against
//! it find the installed file (tools/install.sh lays out the symlinks):
//! - Linux and other ELF systems: the soname `libsdrt.so.<major>`;
//! - macOS and iOS: the install name `@rpath/libsdrt.<major>.dylib`.
//!
//! `<major>` is the crate's major version: the ABI is kept across 0.x releases (structs carry
//! their size and only grow, see `SDRT_ABI_VERSION`), so 0.2 and 0.3 share a soname. The
//! target is read at run time (`CARGO_CFG_TARGET_OS`), so cross builds get the target's flag.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    match os.as_str() {
        "linux" | "android" | "freebsd" | "netbsd" | "openbsd" | "dragonfly" | "illumos" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libsdrt.so.{major}");
        }
        "macos" | "ios" | "tvos" | "visionos" => {
            println!("cargo:rustc-cdylib-link-arg=-Wl,-install_name,@rpath/libsdrt.{major}.dylib");
            // Room for install_name_tool -id, which tools/build_xcframework.sh uses to
            // rename the library into CSdrt.framework.
            println!("cargo:rustc-cdylib-link-arg=-Wl,-headerpad_max_install_names");
        }
        _ => {}
    }
}
