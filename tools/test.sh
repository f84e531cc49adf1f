#!/usr/bin/env bash
# Runs every test of sdrt: formatting, lints, the Rust unit and integration tests (goldens,
# the generate example, the C header and C programs, sanitizers, valgrind, fuzzing). Works
# on a fresh clone: it fetches ONNX Runtime 1.31.1 from PyPI into .ort/ when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SDRT_ORT_LIBRARY="$(tools/fetch_ort.sh)"
export SDRT_ORT_LIBRARY
# The graph cache is on by default (the platform's cache folder): the tests use it, in a
# folder of their own, so the images they check come through cached graphs too.
export SDRT_CACHE_DIR="${SDRT_CACHE_DIR:-$PWD/target/sdrt-test-cache}"
# --- Test groups and the packages they need ---------------------------------------------------
# Every group runs unless its variable is 0. A group that cannot run (a tool missing that this
# cannot install) fails the run instead of skipping in silence; the end says what ran.
#   SDRT_TEST_SANITIZERS  gcc and clang AddressSanitizer (+UBSan) rows      clang
#   SDRT_TEST_VALGRIND    valgrind memcheck of the C error suite            valgrind
#   SDRT_TEST_SDL         the C++ binding's SDL2 example (tests/cpp.rs)     cmake, libsdl2-dev
#   SDRT_TEST_SHELLCHECK  shellcheck of the shell scripts                   shellcheck
#   SDRT_TEST_PYTHON      the Python binding's pytest suite                 python3-venv
#   SDRT_TEST_PYTHON_EMBED  its embedded-interpreter test                   python3-dev
#   SDRT_TEST_SWIFT       the Swift package, built and tested              (tools/test_swift.sh)
#   SDRT_TEST_OPENVINO    OpenVINO through its plugin EP (tests/openvino*.rs): the plugin from
#                         PyPI (tools/fetch_ep.sh openvino), and an Intel CPU (the plugin
#                         offers devices on Intel hardware only)
# Always: the Rust, C and C++ tests, the installs and the Swift module map (tests/install.rs,
# tests/modules.rs: pkg-config, cmake, clang, readelf). Debian packages, installed when missing
# and this runs as root with apt-get.
ran=(rust c c++ install modules)
skipped=()
group() { # group NAME VARIABLE: whether the group runs (recorded for the summary)
  if [ "${!2:-1}" = 0 ]; then
    skipped+=("$1 ($2=0)")
    return 1
  fi
  ran+=("$1")
}
missing=()
want() { # want TOOL PACKAGE: the package is needed when the tool is not on PATH
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
want pkg-config pkg-config
want cmake cmake
want clang clang
[ "$(uname -s)" = Linux ] && want readelf binutils
if group sanitizers SDRT_TEST_SANITIZERS; then want clang clang; fi
if group valgrind SDRT_TEST_VALGRIND; then want valgrind valgrind; fi
if group sdl SDRT_TEST_SDL; then want sdl2-config libsdl2-dev; fi
if group shellcheck SDRT_TEST_SHELLCHECK; then want shellcheck shellcheck; fi
swift_runs=0
openvino_not_run=()
if group swift SDRT_TEST_SWIFT; then swift_runs=1; fi
if group openvino SDRT_TEST_OPENVINO; then
  # The plugin is fetched like ONNX Runtime; its goldens need OpenVINO's CPU device, which the
  # plugin offers on Intel CPUs only: say so now rather than after the whole run.
  if ! SDRT_OPENVINO_EP="${SDRT_OPENVINO_EP:-$(tools/fetch_ep.sh openvino)}"; then
    echo "tools/test.sh: could not fetch the OpenVINO plugin (tools/fetch_ep.sh openvino);" \
      "set SDRT_TEST_OPENVINO=0 to skip the OpenVINO group" >&2
    exit 1
  fi
  export SDRT_OPENVINO_EP
  if [ "$(uname -s)" = Linux ] && ! grep -q GenuineIntel /proc/cpuinfo; then
    # The plugin offers OpenVINO's devices on Intel hardware only. What needs no device runs
    # (registration, device listing, every fallback, the refused-graph path on virtual
    # devices); the two tests that run graphs on OpenVINO's CPU device cannot, and the run
    # names them at its start and its end.
    cpu_vendor="$(awk -F': ' '/^vendor_id/ {print $2; exit}' /proc/cpuinfo)"
    openvino_not_run=(tiny_goldens_through_openvino_f32 bf16_is_finite_and_nearest_its_own_f32_image)
    ran[${#ran[@]}-1]="openvino (not run on this ${cpu_vendor:-non-Intel} CPU: ${openvino_not_run[*]})"
  fi
fi
if group python SDRT_TEST_PYTHON; then
  python3 -c "import ensurepip" 2>/dev/null || missing+=(python3-venv)
  if group python-embed SDRT_TEST_PYTHON_EMBED; then
    # The embedded-interpreter test builds against the running python3's python3-config.
    py_version="$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("VERSION"))')"
    want "python$py_version-config" python3-dev
  fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
  # shellcheck disable=SC2207 # package names have no spaces
  missing=($(printf '%s\n' "${missing[@]}" | sort -u))
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "tools/test.sh: missing ${missing[*]}, and this cannot install them (root with" \
      "apt-get): install them, or set the variable of each group that needs them to 0" >&2
    exit 1
  fi
  echo "tools/test.sh: installing ${missing[*]} for the tests" >&2
  if ! apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q "${missing[@]}" >/dev/null || {
      echo "tools/test.sh: could not install ${missing[*]}: install them, or set the" \
        "variable of each group that needs them to 0" >&2
      exit 1
    }
  fi
fi
echo "tools/test.sh: test groups: ${ran[*]}${skipped[*]:+; skipped: ${skipped[*]}}" >&2
# --- end of test groups block -------------------------------------------------------------------
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The tests run with the `test-hooks` feature (a forced panic and a cancel placed inside a
# call, tests/threads.rs); libraries built for users never have it (tests/install.rs checks).
cargo clippy --all-targets --locked --features test-hooks -- -D warnings
not_run_here=()
for t in "${openvino_not_run[@]}"; do not_run_here+=(--skip "$t"); done
cargo test --locked --features test-hooks -- "${not_run_here[@]}"

# --- Python binding (issue 9): pytest in a venv of its own under the target folder, against
# the debug libsdrt built above (bindings/python/run_tests.sh). SDRT_TEST_PYTHON=0 skips it.
if [ "${SDRT_TEST_PYTHON:-1}" != 0 ]; then
  bindings/python/run_tests.sh
fi

# --- Swift binding: the package (Package.swift at the root, sources in bindings/swift) built in
# the Swift 5 and 6 language modes with warnings as errors and its XCTests run, with Debian 13's
# swiftlang in a trixie root folder made once (tools/test_swift.sh; needs root and, the first
# time, Debian's package registry). It fails when it cannot run, unless SDRT_TEST_SWIFT=0.
if [ "$swift_runs" = 1 ]; then
  tools/test_swift.sh
fi
echo "tools/test.sh: passed; groups that ran: ${ran[*]}${skipped[*]:+; skipped: ${skipped[*]}}"
