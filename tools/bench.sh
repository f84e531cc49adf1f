#!/usr/bin/env bash
# The benchmark: sdrt (examples/bench.rs, release build) against the bare ONNX Runtime sessions
# (tools/bench_bare.py: the floor) and optimum's ORTStableDiffusionPipeline
# (tools/bench_reference.py), on the same model and settings (CPU provider, ONNX Runtime's
# default threads, Euler, guidance 7.5), in alternating rounds: each round runs every system
# once, in an order that rotates from round to round, so the machine's drift spreads over all
# of them. Every run appends a JSON line to the results file; tools/bench_report.py turns the
# file into the tables of BENCHMARKS.md.
#
# Usage: tools/bench.sh [--model DIR] [--sizes 256x256,512x512] [--rounds N] [--steps N]
#                       [--runs N] [--warmup N] [--systems LIST] [--options-rounds N]
#                       [--variants "FLAGS;FLAGS;..."] [--results FILE] [--report FILE]
# Systems: sdrt (warm graph cache), low (sdrt --low-memory, warm cache), bare, optimum,
# cold (sdrt, cache emptied first: create only matters), off (sdrt without the cache),
# bare-save (the bare sessions writing their optimized graphs, as a cold cache does).
# cold, off and bare-save run at the first size only. --options-rounds N adds N alternating rounds of
# the UNet alone, at the first size, under the session settings that did not pay
# (tools/bench_bare.py options; --variants picks them, ';' between variants).
# The full-size models come from `python tools/make_tiny_model.py --full DIR` (SD 2 base) and
# `--full-sdxl DIR` (SDXL base 1.0).
# Needs the Python environment of tools/requirements.txt ($PYTHON, default venv/bin/python).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$root/venv/bin/python}"
SDRT_ORT_LIBRARY="${SDRT_ORT_LIBRARY:-$("$root/tools/fetch_ort.sh")}"
export SDRT_ORT_LIBRARY

model="$root/tests/fixtures/tiny-sd2"
sizes="256x256"
rounds=3
steps=4
runs=1
warmup=1
systems="sdrt,low,bare,optimum,cold,off"
options_rounds=0
variants="--spinning off;--spinning on;--arena off --spinning off;--mem-pattern off --spinning off;--cfg split --spinning off;--threads 1 --spinning off;--prepack off --spinning off;--io-binding --spinning off"
results="$root/target/bench/results.jsonl"
report=""
while [ $# -gt 0 ]; do
  case "$1" in
    --model) model="$2" ;;
    --sizes) sizes="$2" ;;
    --rounds) rounds="$2" ;;
    --steps) steps="$2" ;;
    --runs) runs="$2" ;;
    --warmup) warmup="$2" ;;
    --systems) systems="$2" ;;
    --options-rounds) options_rounds="$2" ;;
    --variants) variants="$2" ;;
    --results) results="$2" ;;
    --report) report="$2" ;;
    *) echo "tools/bench.sh: unknown flag $1" >&2; exit 2 ;;
  esac
  shift 2
done
mkdir -p "$(dirname "$results")"
cache="$root/target/bench/graph-cache"
cargo build --quiet --release --locked --manifest-path "$root/Cargo.toml" --example bench
bench="$root/target/release/examples/bench"
echo "# tools/bench.sh --model $model --sizes $sizes --rounds $rounds --steps $steps --runs $runs --warmup $warmup --systems $systems ($(date -u +%FT%TZ))" >&2

IFS=, read -r -a sys_list <<<"$systems"
IFS=, read -r -a size_list <<<"$sizes"
# The cache must be filled before the warm runs.
"$bench" --model "$model" --width 64 --height 64 --steps 1 --runs 1 --warmup 0 \
  --cache-dir "$cache" >/dev/null

run_one() { # system width height round
  local s="$1" w="$2" h="$3" label="round $4"
  local common=(--model "$model" --width "$w" --height "$h" --steps "$steps" --runs "$runs"
    --warmup "$warmup" --json "$results" --label "$label")
  echo "## $s ${w}x${h} $label" >&2
  case "$s" in
    sdrt) "$bench" "${common[@]}" --scheduler euler --cache-dir "$cache" ;;
    low) "$bench" "${common[@]}" --scheduler euler --cache-dir "$cache" --low-memory ;;
    cold) "$bench" "${common[@]}" --scheduler euler --cache-dir "$cache" --cache cold ;;
    off) "$bench" "${common[@]}" --scheduler euler --cache off ;;
    bare) "$PYTHON" "$root/tools/bench_bare.py" "${common[@]}" ;;
    bare-save)
      rm -rf "$root/target/bench/bare-save"
      "$PYTHON" "$root/tools/bench_bare.py" "${common[@]}" --save-optimized "$root/target/bench/bare-save"
      rm -rf "$root/target/bench/bare-save" ;;
    optimum) "$PYTHON" "$root/tools/bench_reference.py" "${common[@]}" --scheduler euler 2>/dev/null ;;
    *) echo "unknown system $s" >&2; return 2 ;;
  esac
}

first_size=1
for size in "${size_list[@]}"; do
  w="${size%x*}" h="${size#*x}"
  for ((r = 1; r <= rounds; r++)); do
    n=${#sys_list[@]}
    for ((i = 0; i < n; i++)); do
      s="${sys_list[$(((i + r - 1) % n))]}"
      case "$s" in cold | off | bare-save) [ "$first_size" = 1 ] || continue ;; esac
      run_one "$s" "$w" "$h" "$r"
    done
  done
  first_size=0
done

# Session settings that sdrt does not use, on the UNet alone (graphs from sdrt's cache, so
# each variant's create skips the optimizer), alternating with the settings it does use.
if [ "$options_rounds" -gt 0 ]; then
  w="${size_list[0]%x*}" h="${size_list[0]#*x}"
  IFS=';' read -r -a variant_list <<<"$variants"
  for ((r = 1; r <= options_rounds; r++)); do
    n=${#variant_list[@]}
    for ((i = 0; i < n; i++)); do
      v="${variant_list[$(((i + r - 1) % n))]}"
      echo "## options: $v ${w}x${h} round $r" >&2
      # shellcheck disable=SC2086
      "$PYTHON" "$root/tools/bench_bare.py" --model "$model" --graph "$cache" --level disable \
        --parts unet --width "$w" --height "$h" --steps "$steps" --runs "$runs" \
        --warmup "$warmup" --json "$results" --label "options round $r" $v
    done
  done
fi
if [ -n "$report" ]; then
  "$PYTHON" "$root/tools/bench_report.py" "$results" >"$report"
  echo "wrote $report" >&2
fi
