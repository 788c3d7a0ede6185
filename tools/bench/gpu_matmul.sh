#!/usr/bin/env bash
# Prefill matmuls of a Llama-3-8B layer (F16 weights) on the GPU machine:
# the matmul test (validation on) and ei-bench --op matmul with the tuning
# tables' tiles, then with each of EI_MATMUL_TILE_SWEEP ("sg_r,sg_t,tm,tn,bk"
# words: matmul_coopmat, the workgroup-scope kernel off) and of
# EI_MATMUL_WG_SWEEP ("bm,bn,bk" words: matmul_coopmat2, which takes f16
# activations and runs only where a tile is named), activations in each of EI_MATMUL_DTYPES (f32 f16),
# against torch.matmul on the same shapes; the portable kernel for one shape.
# JSON lines to $OUT/matmul.jsonl. Carry .gl and build.
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
variants=("")
for t in ${EI_MATMUL_TILE_SWEEP:-}; do variants+=("EI_MATMUL_TILE=$t EI_MATMUL_WG_TILE=0"); done
for t in ${EI_MATMUL_WG_SWEEP:-}; do variants+=("EI_MATMUL_WG_TILE=$t"); done
for v in "${variants[@]}"; do
  name=${v:-table}; name=${name//[ =,]/_}  # commas do not come back from $OUT
  env $v stdbuf -oL build/tests/test_matmul > "$out/test_matmul_${name}.log" 2>&1
  echo "test_matmul ${v:-table}: exit $? ($(tail -n 1 "$out/test_matmul_${name}.log"))"
done
for n in ${EI_MATMUL_LENS:-4096 16384}; do
  for shape in 4096x4096 1024x4096 14336x4096 4096x14336; do
    rows=${shape%x*} cols=${shape#*x}
    for v in "${variants[@]}"; do
      for dtype in ${EI_MATMUL_DTYPES:-f32 f16}; do
        env $v build/tools/ei-bench --op matmul --rows "$rows" --cols "$cols" --len "$n" --dtype "$dtype" \
          --reps 5 --json | sed "s/}\$/,\"variant\":\"${v:-table}\"}/" | tee -a "$out/matmul.jsonl"
      done
    done
    python3 tools/bench/torch_ref.py --op matmul --rows "$rows" --cols "$cols" --len "$n" --reps 9 |
      tee -a "$out/matmul.jsonl"
  done
done
build/tools/ei-bench --op matmul --rows 4096 --cols 4096 --len 4096 --dtype f32 --reps 3 --json --portable | tee -a "$out/matmul.jsonl"
