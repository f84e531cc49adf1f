#!/usr/bin/env bash
# Runs the Python binding's tests (bindings/python/tests, pytest) against the debug libsdrt.
# pytest, setuptools, numpy and Pillow go into a venv of their own under the cargo target
# folder ($CARGO_TARGET_DIR or target/python-venv), made on first use and remade when
# requirements-test.txt changes; nothing is installed globally. Needs python3 (with venv),
# a C compiler, and python3-config (python3-dev) for the embedding test, which fails without it
# unless SDRT_TEST_PYTHON_EMBED=0.
# Usage: bindings/python/run_tests.sh [pytest args]   (SDRT_LIBRARY=... to test another build)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
SDRT_ORT_LIBRARY="${SDRT_ORT_LIBRARY:-$(tools/fetch_ort.sh)}"
export SDRT_ORT_LIBRARY
if [ -z "${SDRT_LIBRARY:-}" ]; then
  cargo build --lib --locked >&2 # a no-op after cargo test
  case "$(uname -s)" in Darwin) name=libsdrt.dylib ;; *) name=libsdrt.so ;; esac
  SDRT_LIBRARY="$target/debug/$name"
fi
export SDRT_LIBRARY
venv="$target/python-venv"
req=bindings/python/requirements-test.txt
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements-test.txt"; then
  # Debian's python3 needs python3-venv for ensurepip; install it when this can.
  if ! python3 -c "import ensurepip" 2>/dev/null && [ "$(id -u)" = 0 ] &&
    command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -q python3-venv >/dev/null 2>&1 ||
      { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-venv >/dev/null 2>&1; } ||
      { echo "run_tests.sh: could not install python3-venv (or set SDRT_TEST_PYTHON=0)" >&2; exit 1; }
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  cp "$req" "$venv/requirements-test.txt"
fi
exec "$venv/bin/python" -m pytest -p no:cacheprovider -q bindings/python/tests "$@"
