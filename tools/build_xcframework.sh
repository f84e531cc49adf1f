#!/usr/bin/env bash
# Builds libsdrt as CSdrt.xcframework, the C module of the Swift package as a binary target.
# By default it goes to bindings/swift/CSdrt.xcframework, where the root Package.swift finds
# it (Xcode too; reset the package caches after building it); elsewhere, name it with
# SDRT_XCFRAMEWORK=<path relative to the repository root> swift build:
#
#   CSdrt.xcframework/
#     macos-arm64_x86_64/CSdrt.framework            aarch64- and x86_64-apple-darwin (lipo)
#     ios-arm64/CSdrt.framework                     aarch64-apple-ios
#     ios-arm64_x86_64-simulator/CSdrt.framework    aarch64-apple-ios-sim and x86_64-apple-ios
#
# Each framework holds the shared libsdrt as its binary CSdrt (install name
# @rpath/CSdrt.framework/..., re-signed after the rename), Headers/sdrt.h, a framework module
# map (`framework module CSdrt`, what `import CSdrt` finds) and Info.plist; macOS frameworks
# have the versioned bundle layout (Versions/A), iOS ones the flat one.
#
# ONNX Runtime is not inside: libsdrt loads it at run time, so an app ships an ONNX Runtime
# dynamic library (>= 1.31; on iOS a dynamic framework of it) and names it with
# Pipeline.Runtime.initialize(onnxRuntimeLibrary:).
#
# Runs on macOS with Xcode (xcodebuild, lipo, install_name_tool, codesign) and rustup.
#
# Usage: tools/build_xcframework.sh [--out DIR] [--debug] [--no-ios] [--no-macos]
#   --out DIR    where CSdrt.xcframework goes (default: bindings/swift)
#   --debug      the debug profile (default: release)
#   --no-ios     only the macOS slice;  --no-macos: only the iOS slices
#   SDRT_CODESIGN_IDENTITY   identity for codesign (default "-": ad hoc; Xcode re-signs
#                            embedded frameworks with the app's identity)
#   SDRT_BUNDLE_ID           CFBundleIdentifier (default org.sdrt.CSdrt)
set -euo pipefail

usage() {
  sed -n '/^# Usage:/,/^#  *SDRT_BUNDLE_ID/p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

root="$(cd "$(dirname "$0")/.." && pwd)"
out_dir="$root/bindings/swift"
profile=release
want_ios=1
want_macos=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage; out_dir="$2"; shift 2 ;;
    --out=*) out_dir="${1#--out=}"; shift ;;
    --debug) profile=debug; shift ;;
    --no-ios) want_ios=0; shift ;;
    --no-macos) want_macos=0; shift ;;
    -h | --help) usage ;;
    *) echo "build_xcframework.sh: unknown argument $1" >&2; usage ;;
  esac
done
[ "$want_ios" = 1 ] || [ "$want_macos" = 1 ] || { echo "build_xcframework.sh: nothing to build" >&2; exit 2; }

die() {
  echo "build_xcframework.sh: $*" >&2
  exit 1
}

[ "$(uname -s)" = Darwin ] || die "needs macOS with Xcode (this is $(uname -s))"
for tool in cargo xcodebuild lipo install_name_tool codesign; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

cd "$root"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
[ -n "$version" ] || die "no version in Cargo.toml"
# The deployment targets of Package.swift.
export MACOSX_DEPLOYMENT_TARGET=12.0
export IPHONEOS_DEPLOYMENT_TARGET=15.0
identity="${SDRT_CODESIGN_IDENTITY:--}"
bundle_id="${SDRT_BUNDLE_ID:-org.sdrt.CSdrt}"

target_dir="$(cargo metadata --format-version 1 --no-deps --locked |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$target_dir" ] || target_dir="$root/target"
work="$target_dir/xcframework-work"
rm -rf "$work"
mkdir -p "$work" "$out_dir"

# build TRIPLE: the cdylib of one target, path on stdout.
build() {
  local triple="$1"
  if command -v rustup >/dev/null 2>&1; then
    rustup target add "$triple" >&2
  fi
  local args=(build --lib --locked --target "$triple")
  [ "$profile" = release ] && args+=(--release)
  cargo "${args[@]}" >&2
  local lib="$target_dir/$triple/$profile/libsdrt.dylib"
  [ -f "$lib" ] || die "$lib missing after cargo build"
  echo "$lib"
}

# thin_copy LIB INSTALL_NAME DEST: a copy of LIB with its new install name (build.rs links
# Apple targets with -headerpad_max_install_names, so the longer name fits).
thin_copy() {
  cp "$1" "$3"
  install_name_tool -id "$2" "$3"
}

# plist KIND: the framework's Info.plist (KIND is macos, ios or ios-simulator).
plist() {
  local platform min_key min_version
  case "$1" in
    macos) platform=MacOSX; min_key=LSMinimumSystemVersion; min_version="$MACOSX_DEPLOYMENT_TARGET" ;;
    ios) platform=iPhoneOS; min_key=MinimumOSVersion; min_version="$IPHONEOS_DEPLOYMENT_TARGET" ;;
    ios-simulator) platform=iPhoneSimulator; min_key=MinimumOSVersion; min_version="$IPHONEOS_DEPLOYMENT_TARGET" ;;
    *) die "unknown platform $1" ;;
  esac
  cat <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CFBundleDevelopmentRegion</key><string>en</string>
  <key>CFBundleExecutable</key><string>CSdrt</string>
  <key>CFBundleIdentifier</key><string>$bundle_id</string>
  <key>CFBundleInfoDictionaryVersion</key><string>6.0</string>
  <key>CFBundleName</key><string>CSdrt</string>
  <key>CFBundlePackageType</key><string>FMWK</string>
  <key>CFBundleShortVersionString</key><string>$version</string>
  <key>CFBundleVersion</key><string>$version</string>
  <key>CFBundleSupportedPlatforms</key><array><string>$platform</string></array>
  <key>$min_key</key><string>$min_version</string>
</dict>
</plist>
EOF
}

module_map() {
  cat <<'EOF'
framework module CSdrt {
    umbrella header "sdrt.h"
    export *
    module * { export * }
}
EOF
}

# framework KIND BINARY DEST_DIR: DEST_DIR/CSdrt.framework from a (fat) BINARY whose install
# name is already the framework's.
framework() {
  local kind="$1" binary="$2" fw="$3/CSdrt.framework"
  rm -rf "$fw"
  if [ "$kind" = macos ]; then
    local v="$fw/Versions/A"
    mkdir -p "$v/Headers" "$v/Modules" "$v/Resources"
    cp "$binary" "$v/CSdrt"
    cp include/sdrt.h "$v/Headers/sdrt.h"
    module_map >"$v/Modules/module.modulemap"
    plist macos >"$v/Resources/Info.plist"
    ln -s A "$fw/Versions/Current"
    for entry in CSdrt Headers Modules Resources; do
      ln -s "Versions/Current/$entry" "$fw/$entry"
    done
  else
    mkdir -p "$fw/Headers" "$fw/Modules"
    cp "$binary" "$fw/CSdrt"
    cp include/sdrt.h "$fw/Headers/sdrt.h"
    module_map >"$fw/Modules/module.modulemap"
    plist "$kind" >"$fw/Info.plist"
  fi
  codesign --force --sign "$identity" --timestamp=none "$fw"
}

frameworks=()

if [ "$want_macos" = 1 ]; then
  name="@rpath/CSdrt.framework/Versions/A/CSdrt"
  mkdir -p "$work/macos"
  # Assignments, so that a failed build stops the script (set -e).
  arm64="$(build aarch64-apple-darwin)"
  x86_64="$(build x86_64-apple-darwin)"
  thin_copy "$arm64" "$name" "$work/macos/arm64"
  thin_copy "$x86_64" "$name" "$work/macos/x86_64"
  lipo -create "$work/macos/arm64" "$work/macos/x86_64" -output "$work/macos/CSdrt"
  framework macos "$work/macos/CSdrt" "$work/macos"
  frameworks+=(-framework "$work/macos/CSdrt.framework")
fi

if [ "$want_ios" = 1 ]; then
  name="@rpath/CSdrt.framework/CSdrt"
  mkdir -p "$work/ios" "$work/ios-simulator"
  device="$(build aarch64-apple-ios)"
  thin_copy "$device" "$name" "$work/ios/CSdrt"
  framework ios "$work/ios/CSdrt" "$work/ios"
  frameworks+=(-framework "$work/ios/CSdrt.framework")

  sim_arm64="$(build aarch64-apple-ios-sim)"
  sim_x86_64="$(build x86_64-apple-ios)"
  thin_copy "$sim_arm64" "$name" "$work/ios-simulator/arm64"
  thin_copy "$sim_x86_64" "$name" "$work/ios-simulator/x86_64"
  lipo -create "$work/ios-simulator/arm64" "$work/ios-simulator/x86_64" \
    -output "$work/ios-simulator/CSdrt"
  framework ios-simulator "$work/ios-simulator/CSdrt" "$work/ios-simulator"
  frameworks+=(-framework "$work/ios-simulator/CSdrt.framework")
fi

xcframework="$out_dir/CSdrt.xcframework"
# xcodebuild refuses to overwrite an existing bundle.
rm -rf "$xcframework"
xcodebuild -create-xcframework "${frameworks[@]}" -output "$xcframework"
echo "built $xcframework (sdrt $version, $profile)"
if [ "$xcframework" = "$root/bindings/swift/CSdrt.xcframework" ]; then
  echo "Package.swift uses it (reset the package caches if the package was loaded before)"
else
  echo "use it: SDRT_XCFRAMEWORK=<its path from the repository root> swift build"
fi
