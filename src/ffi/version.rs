//! Version numbers of the library and of its ABI.

use std::ffi::c_char;

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v = 0u32;
    while i < b.len() {
        v = v * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    v
}

/// Major version of the sdrt library (semantic versioning).
pub const SDRT_VERSION_MAJOR: u32 = 0;
/// Minor version of the sdrt library.
pub const SDRT_VERSION_MINOR: u32 = 5;
/// Patch version of the sdrt library.
pub const SDRT_VERSION_PATCH: u32 = 0;
/// ABI version: bumped only when an existing function, struct field or constant changes
/// incompatibly (never, by policy: structs grow at the end, guarded by `struct_size`).
pub const SDRT_ABI_VERSION: u32 = 1;

const _: () = {
    assert!(SDRT_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
    assert!(SDRT_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
    assert!(SDRT_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));
};

/// The library version as `"MAJOR.MINOR.PATCH"`. Static; never free it. Any thread.
#[no_mangle]
pub extern "C" fn sdrt_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The ABI version the library was built with; compare with `SDRT_ABI_VERSION` from the
/// header you compiled against. Any thread.
#[no_mangle]
pub extern "C" fn sdrt_abi_version() -> u32 {
    SDRT_ABI_VERSION
}
