#!/usr/bin/env bash
# Decode over a compressed cache, every --kv method, at 32K and 128K, in one
# call on the GPU machine (build/ and .gl/ carried). JSON lines to
# $OUT/kv.jsonl (or ./gpu-out).
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
for len in 32768 131072; do
  for kv in full latent snapkv adakv; do
    build/tools/ei-bench --op decode --kv $kv --heads 32 --kv-heads 8 --dim 128 --dtype f16 --len $len --reps 9 --json
  done
done | tee "$out/kv.jsonl"
