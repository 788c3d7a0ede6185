#!/usr/bin/env bash
# One call on the lent GPU machine for vkinfer's numbers: the test binaries
# under validation, then the prompt-length sweep and the methods at 32K on
# MODEL (default /tmp/gemma.gguf), f16 caches (vkinfer's default) and f32
# at 32K. Logs and JSON lines go to $OUT.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
model=${1:-/tmp/gemma.gguf}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
for t in build/tests/test_*; do
  [ "$t" = build/tests/test_quant ] && continue # needs the Python oracle's file
  timeout 120 "$t" > "$out/$(basename "$t").log" 2>&1
  echo "$(basename "$t"): exit $? ($(tail -n 1 "$out/$(basename "$t").log"))"
done
export VKINFER=build/tools/vkinfer
timeout 200 tools/bench/vkinfer_sweep.sh "$model" 512 4096 16384 32630 2>>"$out/vkinfer.err" | tee "$out/sweep.jsonl" | cut -c1-80
timeout 200 tools/bench/vkinfer_methods.sh "$model" 32630 2>>"$out/vkinfer.err" | tee "$out/methods.jsonl" | cut -c1-80
# f32 caches (the portable attention kernel) at 32K, for comparison.
VKINFER_ARGS="--cache-type f32" timeout 100 tools/bench/vkinfer_sweep.sh "$model" 32630 2>>"$out/vkinfer.err" |
  tee "$out/sweep_f32.jsonl" | cut -c1-80
