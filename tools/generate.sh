#!/usr/bin/env bash
# Generates an image with the `generate` example (release build). Works on a fresh clone: it
# fetches ONNX Runtime 1.31.1 from PyPI into .ort/ when missing. Flags go to `generate`
# (see `tools/generate.sh --help`); without --model it uses the bundled tiny fixture.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
SDRT_ORT_LIBRARY="${SDRT_ORT_LIBRARY:-$("$root/tools/fetch_ort.sh")}"
export SDRT_ORT_LIBRARY
exec cargo run --quiet --release --locked --manifest-path "$root/Cargo.toml" --example generate -- "$@"
