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
# The sanitizer and memcheck tests need clang and valgrind (Debian packages); install them
# when missing and this can (root with apt-get). SDRT_TEST_SANITIZERS=0 / SDRT_TEST_VALGRIND=0
# skip those tests instead.
missing=()
if [ "${SDRT_TEST_SANITIZERS:-1}" != 0 ] && ! command -v clang >/dev/null 2>&1; then missing+=(clang); fi
if [ "${SDRT_TEST_VALGRIND:-1}" != 0 ] && ! command -v valgrind >/dev/null 2>&1; then missing+=(valgrind); fi
# The C++ binding's SDL2 example test (tests/cpp.rs) needs cmake and SDL2's development
# files, installed the same way; SDRT_TEST_SDL=0 skips that test instead.
if [ "${SDRT_TEST_SDL:-1}" != 0 ] && ! command -v cmake >/dev/null 2>&1; then missing+=(cmake); fi
if [ "${SDRT_TEST_SDL:-1}" != 0 ] && ! command -v sdl2-config >/dev/null 2>&1; then missing+=(libsdl2-dev); fi
if [ "${#missing[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tools/test.sh: installing ${missing[*]} for the tests" >&2
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${missing[@]}" >/dev/null 2>&1; } ||
    echo "tools/test.sh: could not install ${missing[*]}" >&2
fi
# --- Host bindings and installs (tests/install.rs, tests/modules.rs) ---------------------------
# They build against an installed sdrt with pkg-config and CMake, import the Swift package's
# C module with clang -fmodules and check the shell scripts with shellcheck (Debian packages);
# installed when missing and this can, as above.
host_tools=()
for tool in pkg-config cmake clang shellcheck; do
  command -v "$tool" >/dev/null 2>&1 || host_tools+=("$tool")
done
if [ "${#host_tools[@]}" -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "tools/test.sh: installing ${host_tools[*]} for the host binding tests" >&2
  apt-get install -y -q "${host_tools[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "${host_tools[@]}" >/dev/null 2>&1; } ||
    echo "tools/test.sh: could not install ${host_tools[*]}" >&2
fi
# --- end of host bindings block ---------------------------------------------------------------
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
# The tests run with the `test-hooks` feature (a forced panic and a cancel placed inside a
# call, tests/threads.rs); libraries built for users never have it (tests/install.rs checks).
cargo clippy --all-targets --locked --features test-hooks -- -D warnings
cargo test --locked --features test-hooks

# --- Python binding (issue 9): pytest in a venv of its own under the target folder, against
# the debug libsdrt built above (bindings/python/run_tests.sh). SDRT_TEST_PYTHON=0 skips it.
if [ "${SDRT_TEST_PYTHON:-1}" != 0 ]; then
  bindings/python/run_tests.sh
fi

# --- Swift binding: the package (Package.swift at the root, sources in bindings/swift) built in
# the Swift 5 and 6 language modes with warnings as errors and its XCTests run, with Debian 13's
# swiftlang in a trixie root folder made once (tools/test_swift.sh; needs root and, the first
# time, Debian's package registry). SDRT_TEST_SWIFT=0 skips it; otherwise it fails when it
# cannot run.
if [ "${SDRT_TEST_SWIFT:-1}" != 0 ]; then
  tools/test_swift.sh
else
  echo "tools/test.sh: SDRT_TEST_SWIFT=0, the Swift group is skipped" >&2
fi
