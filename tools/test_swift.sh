#!/usr/bin/env bash
# Builds and tests the Swift package (Package.swift at the repository root, sources in
# bindings/swift) on Linux. Debian 12 has no Swift; Debian 13 ("trixie") ships swiftlang 6.0.3,
# so the toolchain runs in a trixie root folder:
#
#   1. the root folder, made once (debootstrap --variant=minbase trixie, then swiftlang
#      libc6-dev libstdc++-14-dev pkgconf without recommends: ~450 MB of packages) and reused
#      from $SDRT_SWIFT_ROOT (default ~/.cache/sdrt-swift-root); remade when the recipe below
#      changes (delete the folder to remake it by hand);
#   2. libsdrt installed by tools/install.sh into target/swift/prefix (the debug build);
#   3. in a mount namespace of its own (nothing stays mounted on the host), the checkout, the
#      prefix and ONNX Runtime's folder bind-mounted at their own paths inside the root, then
#      chroot: `swift build` of the package and its tests in the Swift 5 and Swift 6 language
#      modes with warnings as errors, `swift test` (of the Swift 5 build: see below), and a
#      consumer package that adds sdrt by path and uses the `Sdrt` product (Swift 6 mode).
#
# Time on 2 idle cores: the first run ~1.8 min (the root folder 50-85 s, 2.6 GB on disk; the
# Swift 5 build and the tests ~35 s, the Swift 6 build ~10 s, the consumer ~10 s); later runs
# ~40 s (~60 s after Swift sources changed), 2-2.5 min with other builds sharing the cores.
#
# Needs root (debootstrap, mount, chroot; CI runs as root) and, for the first run, Debian's
# package registry; installs debootstrap with apt-get when missing. It fails when it cannot
# run: tools/test.sh skips it only with SDRT_TEST_SWIFT=0.
#
# Usage: tools/test_swift.sh [swift test args, e.g. --filter PipelineTests]
#   SDRT_SWIFT_ROOT     the root folder (default ~/.cache/sdrt-swift-root)
#   SDRT_SWIFT_MIRROR   the Debian mirror for the first run (default http://deb.debian.org/debian)
#   SDRT_ORT_LIBRARY    ONNX Runtime (default: tools/fetch_ort.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
checkout="$PWD"
started=$SECONDS

die() {
  echo "tools/test_swift.sh: $*" >&2
  echo "tools/test_swift.sh: the Swift group FAILED (SDRT_TEST_SWIFT=0 skips it)" >&2
  exit 1
}

root="${SDRT_SWIFT_ROOT:-${HOME:-/root}/.cache/sdrt-swift-root}"
mirror="${SDRT_SWIFT_MIRROR:-http://deb.debian.org/debian}"
# What the root folder holds; a root made from another recipe is remade.
packages=(swiftlang libc6-dev libstdc++-14-dev pkgconf)
recipe="trixie minbase ${packages[*]} v1"

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mount and chroot), this is uid $(id -u)"
for tool in chroot unshare mount flock; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

# --- 1. The root folder -----------------------------------------------------------------------
make_root() {
  if ! command -v debootstrap >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get"
    echo "tools/test_swift.sh: installing debootstrap" >&2
    apt-get install -y -q debootstrap >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q debootstrap >/dev/null 2>&1; } ||
      die "could not install debootstrap"
  fi
  local new="$root.new"
  rm -rf "$new" "$root"
  mkdir -p "$new"
  echo "tools/test_swift.sh: making the Swift root folder $root (once; a few minutes)" >&2
  debootstrap --variant=minbase trixie "$new" "$mirror" >"$new.log" 2>&1 ||
    die "debootstrap failed, see $new.log"
  cp /etc/resolv.conf "$new/etc/resolv.conf" 2>/dev/null || true
  # apt-get in the new root, in a mount namespace that ends with it.
  # shellcheck disable=SC2016 # expanded by the inner shell
  unshare --mount --propagation private bash -euc '
    mount -t proc proc "$1/proc"
    mount --bind /dev "$1/dev"
    shift
    exec chroot "$@"
  ' _ "$new" "$new" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    DEBIAN_FRONTEND=noninteractive sh -euc '
      apt-get update -q
      apt-get install -y -q --no-install-recommends "$@"
      apt-get clean
    ' _ "${packages[@]}" >>"$new.log" 2>&1 || die "apt-get in the root failed, see $new.log"
  echo "$recipe" >"$new/.sdrt-swift-root"
  mv "$new" "$root"
  mv "$new.log" "$root.log"
}

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock 9 # one maker at a time; users of a made root only read it
if [ "$(cat "$root/.sdrt-swift-root" 2>/dev/null)" != "$recipe" ]; then
  make_root
fi
flock -u 9
echo "tools/test_swift.sh: root folder $root ($((SECONDS - started)) s)" >&2

# --- 2. libsdrt, installed ----------------------------------------------------------------------
SDRT_ORT_LIBRARY="${SDRT_ORT_LIBRARY:-$(tools/fetch_ort.sh)}"
SDRT_ORT_LIBRARY="$(cd "$(dirname "$SDRT_ORT_LIBRARY")" && pwd)/$(basename "$SDRT_ORT_LIBRARY")"
[ -f "$SDRT_ORT_LIBRARY" ] || die "no ONNX Runtime at $SDRT_ORT_LIBRARY"
work="$checkout/target/swift"
prefix="$work/prefix"
mkdir -p "$work/home"
tools/install.sh --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; die "tools/install.sh failed"; }

# --- 3. Build and test in the root --------------------------------------------------------------
# The consumer: a package that adds sdrt by path, as an app would (the package's identity is
# the checkout folder's name, lowercased).
consumer="$work/consumer"
identity="$(basename "$checkout" | tr '[:upper:]' '[:lower:]')"
mkdir -p "$consumer/Sources/Consumer"
cat >"$consumer/Package.swift" <<EOF
// swift-tools-version:5.9
// Written by tools/test_swift.sh: sdrt added by path, its Sdrt product used.
import PackageDescription

let package = Package(
    name: "Consumer",
    dependencies: [.package(path: "$checkout")],
    targets: [
        .executableTarget(name: "Consumer",
                          dependencies: [.product(name: "Sdrt", package: "$identity")]),
    ]
)
EOF
cat >"$consumer/Sources/Consumer/main.swift" <<'EOF'
import Sdrt

// Nested names only: an app importing Apple's StableDiffusion or Combine as well sees no
// top-level Configuration, Scheduler, Generator, Status or Runtime from Sdrt.
var configuration = Pipeline.Configuration(prompt: "consumer")
configuration.schedulerType = Pipeline.Scheduler.euler
configuration.rngType = Pipeline.Generator.torch
print("sdrt \(Pipeline.Runtime.version), ABI compatible: \(Pipeline.Runtime.isCompatible)")
EOF

# Mounted at their own paths, so every path (pkg-config's prefix, #filePath in the tests,
# SDRT_ORT_LIBRARY) is the same inside and out.
mounts=("$checkout")
case "$prefix/" in "$checkout"/*) ;; *) mounts+=("$prefix") ;; esac
ort_dir="$(dirname "$SDRT_ORT_LIBRARY")"
case "$ort_dir/" in "$checkout"/*) ;; *) mounts+=("$ort_dir") ;; esac
for m in "${mounts[@]}"; do mkdir -p "$root$m"; done
# A /tmp of this checkout's own: temporary files stay out of the shared root folder.
tmp="$work/tmp"
rm -rf "$tmp"
mkdir -p "$tmp"
chmod 1777 "$tmp"

inner_env=(
  PATH=/usr/local/bin:/usr/bin:/bin
  HOME="$work/home"
  LANG=C.UTF-8
  PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  LD_LIBRARY_PATH="$prefix/lib"
  SDRT_ORT_LIBRARY="$SDRT_ORT_LIBRARY"
  SDRT_CACHE_DIR="$work/graph-cache"
  SDRT_SWIFT_WORK="$work"
)

# The steps inside the root. $1: the checkout; the rest: swift test arguments.
# shellcheck disable=SC2016 # expanded by the inner shell
inner='
set -euo pipefail
cd "$1"
shift
swift --version 2>&1 | head -n 1
for mode in 5 6; do
  scratch=(--scratch-path "$SDRT_SWIFT_WORK/build-swift$mode")
  t=$SECONDS
  echo "== swift build and its tests, Swift $mode language mode, warnings as errors"
  # Package.swift: -warnings-as-errors on sdrt'"'"'s own targets (not on the test runner
  # SwiftPM generates on Linux, whose code warns in the Swift 6 mode).
  SDRT_SWIFT_WARNINGS_AS_ERRORS=1 swift build --build-tests "${scratch[@]}" \
    -Xswiftc -swift-version -Xswiftc "$mode"
  # The tests run from the Swift 5 build: the Linux test runner of Swift 6.0.3 built in the
  # Swift 6 mode aborts before the first test ("Could not cast value of type @Sendable
  # (LoggingTests) -> ..."), in the code SwiftPM generates.
  if [ "$mode" = 5 ]; then
    echo "== swift test"
    SDRT_SWIFT_WARNINGS_AS_ERRORS=1 swift test --skip-build "${scratch[@]}" "$@"
  fi
  echo "== Swift $mode: $((SECONDS - t)) s"
done
echo "== Package.swift: the C module from bindings/swift/CSdrt.xcframework, else pkg-config"
probe="$SDRT_SWIFT_WORK/manifest-probe"
rm -rf "$probe"
mkdir -p "$probe"
cp Package.swift "$probe/"
# No manifest cache: SwiftPM keys it by the manifest and the environment, not by which files
# exist (README: reset the package caches after adding or removing the frameworks).
# expect TEXT [VAR=VALUE...]: the dumped manifest, with the environment given, holds TEXT.
expect() {
  local want="$1"
  shift
  env "$@" swift package --package-path "$probe" --manifest-cache none dump-package \
    >"$probe/dump.json"
  grep -qF "$want" "$probe/dump.json" ||
    { echo "Package.swift: no $want in $probe/dump.json"; exit 1; }
}
expect "\"pkgConfig\" : \"sdrt\""
mkdir -p "$probe/bindings/swift/CSdrt.xcframework"
expect "\"path\" : \"bindings/swift/CSdrt.xcframework\""
expect "\"path\" : \"elsewhere/CSdrt.xcframework\"" SDRT_XCFRAMEWORK=elsewhere/CSdrt.xcframework
echo "== a consumer package that adds sdrt by path, Swift 6 language mode"
t=$SECONDS
swift build --package-path "$SDRT_SWIFT_WORK/consumer" \
  --scratch-path "$SDRT_SWIFT_WORK/consumer-build" \
  -Xswiftc -warnings-as-errors -Xswiftc -swift-version -Xswiftc 6
"$SDRT_SWIFT_WORK/consumer-build/debug/Consumer"
echo "== consumer: $((SECONDS - t)) s"
'


echo "tools/test_swift.sh: running the Swift group (Swift 5 and 6 builds, swift test)" >&2
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private bash -euc '
  root="$1"; tmp="$2"; n="$3"; shift 3
  for ((i = 0; i < n; i++)); do
    mount --bind "$1" "$root$1"
    shift
  done
  mount -t proc proc "$root/proc"
  mount --bind /dev "$root/dev"
  mount --bind "$tmp" "$root/tmp"
  exec chroot "$root" "$@"
' _ "$root" "$tmp" "${#mounts[@]}" "${mounts[@]}" \
  /usr/bin/env -i "${inner_env[@]}" bash -c "$inner" _ "$checkout" "$@" ||
  die "swift build or swift test failed (output above)"
echo "tools/test_swift.sh: the Swift group passed ($((SECONDS - started)) s)" >&2
