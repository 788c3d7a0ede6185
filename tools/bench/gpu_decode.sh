#!/usr/bin/env bash
# Decode on the GPU machine: attention of one token over a cache of 1K-128K
# (f16, H=32, Hkv=8, D=128), each length its own ei-bench run, against
# torch SDPA; and the matrix-vector products of a Llama-3-8B layer and its
# logits (F16 weights, one token) against torch.matmul. JSON lines to
# $OUT/decode.jsonl. Carry .gl and build.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
shape="--heads 32 --kv-heads 8 --dim 128 --dtype f16"
for len in 1024 2048 4096 8192 16384 32768 65536 131072; do
  build/tools/ei-bench --op decode $shape --len $len --reps 15 --json | tee -a "$out/decode.jsonl"
done
python3 tools/bench/torch_ref.py --op decode $shape --sweep --reps 15 | tee -a "$out/decode.jsonl"
for mv in 4096x4096 1024x4096 14336x4096 4096x14336 128256x4096; do
  rows=${mv%x*} cols=${mv#*x}
  build/tools/ei-bench --op matmul --rows "$rows" --cols "$cols" --len 1 --reps 15 --json | tee -a "$out/decode.jsonl"
  python3 tools/bench/torch_ref.py --op matmul --rows "$rows" --cols "$cols" --len 1 --reps 15 | tee -a "$out/decode.jsonl"
done
