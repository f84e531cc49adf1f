#!/usr/bin/env bash
# Runs every test of sdrt: formatting, lints, the Rust unit and integration tests (goldens,
# the generate example, the C header and C programs). Works on a fresh clone: it fetches
# ONNX Runtime 1.31.1 from PyPI into .ort/ when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
SDRT_ORT_LIBRARY="$(tools/fetch_ort.sh)"
export SDRT_ORT_LIBRARY
cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked
