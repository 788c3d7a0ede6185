#!/usr/bin/env bash
# Prefill matmuls of a Llama-3-8B layer (F16 weights) on the GPU machine:
# ei-bench --op matmul (cooperative-matrix kernel, and the portable one for
# one shape) against torch.matmul on the same shapes. JSON lines to
# $OUT/matmul.jsonl. Carry .gl and build.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
for n in 4096 16384; do
  for shape in 4096x4096 1024x4096 14336x4096 4096x14336; do
    rows=${shape%x*} cols=${shape#*x}
    build/tools/ei-bench --op matmul --rows "$rows" --cols "$cols" --len "$n" --reps 5 --json | tee -a "$out/matmul.jsonl"
    python3 tools/bench/torch_ref.py --op matmul --rows "$rows" --cols "$cols" --len "$n" --reps 9 |
      tee -a "$out/matmul.jsonl"
  done
done
build/tools/ei-bench --op matmul --rows 4096 --cols 4096 --len 4096 --reps 3 --json --portable | tee -a "$out/matmul.jsonl"
