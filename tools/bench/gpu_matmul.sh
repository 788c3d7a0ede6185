#!/usr/bin/env bash
# Prefill matmuls of a Llama-3-8B layer (F16 weights) on the GPU machine:
# the matmul test (validation on) and ei-bench --op matmul with the tuning
# table's tile, then with each of EI_MATMUL_TILE_SWEEP ("sg_r,sg_t,tm,tn,bk"
# words), against torch.matmul on the same shapes; the portable kernel for
# one shape. JSON lines to $OUT/matmul.jsonl. Carry .gl and build.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
for tile in "" ${EI_MATMUL_TILE_SWEEP:-}; do
  tile_name=${tile:-table}; tile_name=${tile_name//,/_}  # commas do not come back from $OUT
  EI_MATMUL_TILE=$tile build/tests/test_matmul > "$out/test_matmul_${tile_name}.log" 2>&1
  echo "test_matmul tile ${tile:-table}: exit $? ($(tail -n 1 "$out/test_matmul_${tile_name}.log"))"
done
for n in ${EI_MATMUL_LENS:-4096 16384}; do
  for shape in 4096x4096 1024x4096 14336x4096 4096x14336; do
    rows=${shape%x*} cols=${shape#*x}
    for tile in "" ${EI_MATMUL_TILE_SWEEP:-}; do
      EI_MATMUL_TILE=$tile build/tools/ei-bench --op matmul --rows "$rows" --cols "$cols" --len "$n" --reps 5 --json |
        sed "s/}\$/,\"tile\":\"${tile:-table}\"}/" | tee -a "$out/matmul.jsonl"
    done
    python3 tools/bench/torch_ref.py --op matmul --rows "$rows" --cols "$cols" --len "$n" --reps 9 |
      tee -a "$out/matmul.jsonl"
  done
done
build/tools/ei-bench --op matmul --rows 4096 --cols 4096 --len 4096 --reps 3 --json --portable | tee -a "$out/matmul.jsonl"
