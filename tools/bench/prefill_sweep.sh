#!/usr/bin/env bash
# One layer of EntropyInfer prefill against our dense attention and torch
# SDPA, in one call on the GPU machine (after tools/bench/gpu_run.sh's setup:
# build/ and .gl/ carried). Dense runs once at 128K (about 50 s on an H100).
# JSON lines to $OUT/prefill.jsonl (or ./gpu-out).
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
shape="--heads 32 --kv-heads 8 --dim 128 --dtype f16"
for len in 16384 32768 65536 131072; do
  for method in entropy critiprefill; do
    build/tools/ei-bench --op prefill --method $method $shape --len $len --reps 3 --json
  done
  build/tools/ei-bench --op prefill --method entropy --inputs structured $shape --len $len --reps 3 --json
  reps=3; [ $len -ge 131072 ] && reps=1
  build/tools/ei-bench --op prefill --method full $shape --len $len --reps $reps --json
  python3 tools/bench/torch_ref.py --op attn $shape --len $len --reps 9
done | tee "$out/prefill.jsonl"
