#!/usr/bin/env bash
# Side-by-side benchmark: sdrt (examples/bench.rs, release build) and optimum's
# ORTStableDiffusionPipeline (tools/bench_reference.py) on the same model and settings, both on
# ONNX Runtime 1.31.1's CPU provider with its default threads.
# Usage: tools/bench.sh [flags for both: --model DIR --width W --height H --steps N --runs N]
# Needs the Python environment of tools/requirements.txt ($PYTHON, default venv/bin/python).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$root/venv/bin/python}"
SDRT_ORT_LIBRARY="${SDRT_ORT_LIBRARY:-$("$root/tools/fetch_ort.sh")}"
export SDRT_ORT_LIBRARY
cargo build --quiet --release --locked --manifest-path "$root/Cargo.toml" --example bench
"$root/target/release/examples/bench" "$@"
"$PYTHON" "$root/tools/bench_reference.py" "$@" 2>/dev/null
