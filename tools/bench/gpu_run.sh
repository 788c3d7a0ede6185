#!/usr/bin/env bash
# What one call on the lent GPU machine runs: the test binaries (with the
# validation layer carried in .gl), then ei-bench and torch_ref.py sweeps on
# the same GPU. Build here first (ci/build.sh); carry .gl and build.
# Logs and JSON go to $OUT (or ./gpu-out).
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for t in context pool attention entropy kvcache; do
  build/tests/test_$t > "$out/test_$t.log" 2>&1
  echo "test_$t: exit $? ($(tail -n 1 "$out/test_$t.log"))"
done
build/examples/adopt_device > "$out/adopt_device.log" 2>&1; echo "adopt_device: exit $?"
shape="--heads 32 --kv-heads 8 --dim 128 --dtype f16"
# The portable prefill takes tens of seconds a run past 32K: sweep it to
# ${EI_ATTN_MAX_LEN:-32768}; everything else to 128K.
build/tools/ei-bench --op attn $shape --sweep --max-len "${EI_ATTN_MAX_LEN:-32768}" --reps 5 --json | tee -a "$out/bench.jsonl"
build/tools/ei-bench --op decode $shape --sweep --reps 9 --json | tee -a "$out/bench.jsonl"
# One layer of EntropyInfer prefill (the paper's constants). Dense (full)
# only to 32K: the portable dense kernel takes 10-50 s a run beyond.
for len in 32768 131072; do
  for inputs in random structured; do
    build/tools/ei-bench --op prefill --method entropy --inputs $inputs $shape --len $len --reps 3 --json | tee -a "$out/bench.jsonl"
  done
  build/tools/ei-bench --op prefill --method critiprefill $shape --len $len --reps 3 --json | tee -a "$out/bench.jsonl"
done
build/tools/ei-bench --op prefill --method full $shape --len 32768 --reps 3 --json | tee -a "$out/bench.jsonl"
for op in attn decode; do
  python3 tools/bench/torch_ref.py --op $op $shape --sweep --reps 9 | tee -a "$out/bench.jsonl"
done
