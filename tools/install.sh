#!/usr/bin/env bash
# Installs sdrt like a native C library:
#
#   PREFIX/include/sdrt.h, sdrt.hpp         the C header and the C++ wrapper
#   PREFIX/lib/libsdrt.so.0.5.0             the shared library, soname libsdrt.so.0 (build.rs),
#   PREFIX/lib/libsdrt.so.0 -> ...          with the usual symlinks (macOS: libsdrt.0.5.0.dylib,
#   PREFIX/lib/libsdrt.so -> ...            install name PREFIX/lib/libsdrt.0.dylib)
#   PREFIX/lib/libsdrt.a                    the static library
#   PREFIX/lib/pkgconfig/sdrt.pc            pkg-config, Libs.private for static linking
#   PREFIX/lib/cmake/sdrt/sdrtConfig.cmake  find_package(sdrt): sdrt::sdrt (shared) and
#   PREFIX/lib/cmake/sdrt/sdrtConfigVersion.cmake   sdrt::sdrt_static
#
# This is the layout `cargo cinstall` (cargo-c) produces; the script exists because the cargo-c
# packaged by Debian 12 (0.9.14, cargo 0.66) cannot read this crate's Cargo.lock (version 4).
#
# Usage: tools/install.sh --prefix DIR [--debug] [--libdir NAME]
#   --prefix DIR   where to install (required); the .pc and CMake files name it
#   --debug        build and install the debug profile (default: release; --release is
#                  accepted and changes nothing)
#   --libdir NAME  library folder under PREFIX (default: lib), e.g. lib/x86_64-linux-gnu
#   DESTDIR=...    staged install for packagers: files go to $DESTDIR$PREFIX
# ONNX Runtime is not installed: libsdrt loads it at run time (see sdrt_runtime_options).
set -euo pipefail

usage() {
  sed -n '/^# Usage:/,/^# ONNX/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

prefix=""
profile=release
libdir_name=lib
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --release) profile=release; shift ;;
    --debug) profile=debug; shift ;;
    --libdir) [ $# -ge 2 ] || usage; libdir_name="$2"; shift 2 ;;
    --libdir=*) libdir_name="${1#--libdir=}"; shift ;;
    -h | --help) usage ;;
    *) echo "tools/install.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ -n "$prefix" ] || usage
case "$prefix" in
  /*) ;;
  *) prefix="$(pwd)/$prefix" ;;
esac
prefix="${prefix%/}"

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
major="${version%%.*}"
[ -n "$version" ] || { echo "tools/install.sh: no version in Cargo.toml" >&2; exit 1; }

cargo_args=(build --lib --locked)
[ "$profile" = release ] && cargo_args+=(--release)
"${CARGO:-cargo}" "${cargo_args[@]}"

# The target folder as cargo sees it (CARGO_TARGET_DIR, .cargo/config.toml, or target/).
target_dir="$("${CARGO:-cargo}" metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$target_dir" ] || target_dir="${CARGO_TARGET_DIR:-$root/target}"
built="$target_dir/$profile"

case "$(uname -s)" in
  Darwin)
    shared_built=libsdrt.dylib
    shared_real="libsdrt.$version.dylib"
    shared_links=("libsdrt.$major.dylib" libsdrt.dylib)
    soname="libsdrt.$major.dylib"
    ;;
  *)
    shared_built=libsdrt.so
    shared_real="libsdrt.so.$version"
    shared_links=("libsdrt.so.$major" libsdrt.so)
    soname="libsdrt.so.$major"
    ;;
esac
for f in "$shared_built" libsdrt.a; do
  [ -f "$built/$f" ] || { echo "tools/install.sh: $built/$f missing after cargo build" >&2; exit 1; }
done

# What a program linking libsdrt.a also needs: sdrt's dependencies link no native library of
# their own (ONNX Runtime is loaded at run time), so this is the list rustc prints for the
# standard library, asked of the same rustc for an empty static library.
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
echo 'pub fn sdrt_probe() {}' >"$probe/probe.rs"
libs_private="$(rustc --crate-type staticlib --crate-name probe --out-dir "$probe" \
  --print native-static-libs "$probe/probe.rs" 2>&1 |
  sed -n 's/^note: native-static-libs: //p')"

dest="${DESTDIR:-}$prefix"
incdir="$dest/include"
libdir="$dest/$libdir_name"
mkdir -p "$incdir" "$libdir/pkgconfig" "$libdir/cmake/sdrt"

install -m 644 include/sdrt.h "$incdir/sdrt.h"
# The C++ wrapper: bindings/cpp/ once it moves there, examples/cpp/ before.
for hpp in bindings/cpp/sdrt.hpp examples/cpp/sdrt.hpp; do
  if [ -f "$hpp" ]; then
    install -m 644 "$hpp" "$incdir/sdrt.hpp"
    break
  fi
done

install -m 755 "$built/$shared_built" "$libdir/$shared_real"
if [ "$(uname -s)" = Darwin ]; then
  # Installed macOS libraries name themselves by absolute path, so programs linked against
  # them need no rpath (build.rs's @rpath name suits libsdrt bundled inside an app). The
  # rename invalidates the signature: sign again, ad hoc.
  install_name_tool -id "$prefix/$libdir_name/$soname" "$libdir/$shared_real"
  codesign --force --sign - "$libdir/$shared_real"
fi
# The links point at the next name down: libsdrt.so -> libsdrt.so.0 -> libsdrt.so.0.5.0.
target="$shared_real"
for link in "${shared_links[@]}"; do
  ln -sfn "$target" "$libdir/$link"
  target="$link"
done
install -m 644 "$built/libsdrt.a" "$libdir/libsdrt.a"

cat >"$libdir/pkgconfig/sdrt.pc" <<EOF
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/$libdir_name
includedir=\${prefix}/include

Name: sdrt
Description: Stable Diffusion runtime for native apps: a C ABI over ONNX Runtime
Version: $version
Libs: -L\${libdir} -lsdrt
Libs.private: $libs_private
Cflags: -I\${includedir}
EOF

# CMake: the config computes the prefix from its own place, so a staged (DESTDIR) or moved
# tree still works. The static target's link interface is the same list as Libs.private.
levels="$(printf '%s' "$libdir_name/cmake/sdrt" | tr -cd / | wc -c)"
up=""
for _ in $(seq 0 "$levels"); do up="$up/.."; done
# The same list as a CMake list: "-lm" -> "m", "-framework X" kept as one item (macOS).
cmake_libs=""
expect_framework=0
for flag in $libs_private; do
  if [ "$expect_framework" = 1 ]; then
    item="-framework $flag"
    expect_framework=0
  elif [ "$flag" = -framework ]; then
    expect_framework=1
    continue
  else
    item="${flag#-l}"
  fi
  cmake_libs="${cmake_libs:+$cmake_libs;}$item"
done

cat >"$libdir/cmake/sdrt/sdrtConfig.cmake" <<EOF
# sdrt $version: find_package(sdrt) defines
#   sdrt::sdrt         the shared library (the one to use; ONNX Runtime is loaded at run time)
#   sdrt::sdrt_static  the static library with the system libraries it needs
# Generated by tools/install.sh.
get_filename_component(_sdrt_prefix "\${CMAKE_CURRENT_LIST_DIR}$up" ABSOLUTE)

if(NOT TARGET sdrt::sdrt)
  add_library(sdrt::sdrt SHARED IMPORTED)
  set_target_properties(sdrt::sdrt PROPERTIES
    IMPORTED_LOCATION "\${_sdrt_prefix}/$libdir_name/$shared_real"
    IMPORTED_SONAME "$soname"
    INTERFACE_INCLUDE_DIRECTORIES "\${_sdrt_prefix}/include")
endif()

if(NOT TARGET sdrt::sdrt_static)
  add_library(sdrt::sdrt_static STATIC IMPORTED)
  set_target_properties(sdrt::sdrt_static PROPERTIES
    IMPORTED_LOCATION "\${_sdrt_prefix}/$libdir_name/libsdrt.a"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "\${_sdrt_prefix}/include"
    INTERFACE_LINK_LIBRARIES "$cmake_libs")
endif()

set(sdrt_INCLUDE_DIRS "\${_sdrt_prefix}/include")
set(sdrt_LIBRARIES sdrt::sdrt)
unset(_sdrt_prefix)
EOF

cat >"$libdir/cmake/sdrt/sdrtConfigVersion.cmake" <<EOF
# sdrt $version: compatible with requests of the same major version (0.x releases keep the
# ABI: structs carry their size and only grow), and not older than the one asked for.
set(PACKAGE_VERSION "$version")
if(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL "$major")
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()
EOF

echo "installed sdrt $version ($profile) to $dest"
