#!/usr/bin/env bash
# One GPU-machine call for the cooperative-matrix prefill: the attention
# test (both paths, validation on), then dense f16 prefill with
# cooperative matrices, the portable kernel and torch SDPA on the same
# shapes, and one layer of EntropyInfer prefill. Carry .gl and build.
# Logs and JSON lines go to $OUT (or ./gpu-out).
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
build/tests/test_attention > "$out/test_attention.log" 2>&1
echo "test_attention: exit $? ($(grep -c . "$out/test_attention.log") lines; $(tail -n 1 "$out/test_attention.log"))"
grep -E "prefill:|FAIL|error" "$out/test_attention.log" | head -20
shape="--heads 32 --kv-heads 8 --dim 128 --dtype f16"
max=${EI_ATTN_MAX_LEN:-131072}
# Subgroups (16 query rows each) per workgroup: the tuning table's choice,
# then each candidate.
for sub in "" ${EI_ATTN_SUBGROUP_SWEEP:-}; do
  EI_ATTN_SUBGROUPS=$sub build/tools/ei-bench --op attn $shape --sweep --max-len "$max" --reps 5 --json |
    sed "s/}\$/,\"subgroups\":\"${sub:-table}\"}/" | tee -a "$out/bench.jsonl"
done
build/tools/ei-bench --op attn $shape --len 4096 --reps 3 --json --portable | tee -a "$out/bench.jsonl"
for len in 32768 65536 131072; do
  for method in entropy critiprefill full; do
    build/tools/ei-bench --op prefill --method $method --inputs structured $shape --len $len --reps 3 --json |
      tee -a "$out/bench.jsonl"
  done
done
[ -n "${EI_SKIP_TORCH:-}" ] || python3 tools/bench/torch_ref.py --op attn $shape --sweep --reps 9 | tee -a "$out/bench.jsonl"
