#!/usr/bin/env bash
# The quality matrix for docs/quality.md, in one call on the lent GPU
# machine (build/ with ei-eval and .gl/ carried, as for gpu_run.sh): the
# prefill profile's heatmaps of one real long prompt (the repository's own
# docs and headers, ~27K tokens), then ei-eval's three tasks at 2K to 32K
# tokens (32640: the model's 32768 less room for the answer), needle depths
# 0-100%, full/full, entropy/full and critiprefill/full, and entropy with
# the latent, SnapKV and AdaKV caches. About 6 minutes in all
# ($EI_EVAL_SECONDS, default 330, for the tasks and the heatmaps): each task
# gets an equal share of the time left and starts no (sample, length) past
# it, so it runs what fits of $EI_EVAL_SAMPLES (default 3) samples, every
# length and configuration of a sample before the next; its JSON and table
# say what ran. Output in $OUT: TASK.json and TASK.txt, quality.md (the
# tables, markdown), heatmap/ (layer_NN.png, rigid.png, stats.json).
#   OUT=DIR tools/bench/gpu_eval.sh MODEL.gguf
set -uo pipefail
# gpu_env.sh unpacks the carried loader into /: only where the GPU is.
command -v nvidia-smi >/dev/null || { echo "gpu_eval.sh: for the GPU machine (no nvidia-smi here)" >&2; exit 1; }
source "$(dirname "$0")/gpu_env.sh"
model=${1:?usage: OUT=DIR tools/bench/gpu_eval.sh MODEL.gguf}
budget=${EI_EVAL_SECONDS:-330}
start=$(date +%s)
elapsed() { echo $(($(date +%s) - start)); }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt"
eval=build/tools/ei-eval

cat README.md docs/*.md include/*.h | head -c 80000 > "$out/heatmap_prompt.txt"
mkdir -p "$out/heatmap"
timeout 120 "$eval" heatmap -m "$model" -f "$out/heatmap_prompt.txt" --attn entropy --out "$out/heatmap" \
  2>&1 | tail -n 3
echo "heatmap: exit ${PIPESTATUS[0]}, $(ls "$out/heatmap" | tr '\n' ' ')after $(elapsed) s"

lengths=2048,4096,8192,16384,32640
configs=full/full,entropy/full,critiprefill/full,entropy/latent,entropy/snapkv,entropy/adakv
tasks=(passkey kv needle)
for i in 0 1 2; do
  task=${tasks[$i]}
  share=$(((budget - $(elapsed)) / (3 - i)))
  # Room for loading the model and for the (sample, length) in flight at the limit.
  limit=$((share > 45 ? share - 30 : 15))
  timeout $((share + 60)) "$eval" "$task" -m "$model" --len $lengths --depths 0,25,50,75,100 \
    --samples "${EI_EVAL_SAMPLES:-3}" --configs $configs --time-limit $limit --json "$out/$task.json" \
    2>&1 | tee "$out/$task.txt"
  echo "$task: exit ${PIPESTATUS[0]} after $(elapsed) s (limit $limit s)"
done
python3 tools/bench/eval_table.py "$out"/{passkey,kv,needle}.json > "$out/quality.md"
head -n 16 "$out/quality.md"
