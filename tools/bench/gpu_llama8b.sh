#!/usr/bin/env bash
# vkinfer on a Llama-3-8B-shaped model with random F16 weights, on the GPU
# machine: writes /tmp/llama8b.gguf once (tools/bench/make_llama_gguf.py,
# ~16 GB, never committed), then for each LEN a filler prompt of about LEN
# tokens, 32 generated tokens, greedy: full/full (dense, the prompt in
# chunks of -b tokens), entropy/full and entropy/latent (the prompt in one
# call, layer by layer, -b tokens at a time inside each layer); -b is
# EI_BATCH (default 4096); EI_PAIRS picks --attn/--kv pairs. JSON lines to $OUT/llama8b.jsonl.
#     tools/bench/gpu_llama8b.sh LEN...
set -uo pipefail
source "$(dirname "$0")/gpu_env.sh"
model=/tmp/llama8b.gguf
[ -f "$model" ] || python3 tools/bench/make_llama_gguf.py "$model"
prompt=$(mktemp)
for len in "$@"; do
  : > "$prompt"
  for ((i = 0; i < len / 10; i++)); do printf 'The quick brown fox jumps over the lazy dog. ' >> "$prompt"; done
  ctx=$((len + 64))
  for pair in ${EI_PAIRS:-full/full entropy/full entropy/latent}; do
    build/tools/vkinfer -m "$model" -f "$prompt" -n 32 -c "$ctx" -b "${EI_BATCH:-4096}" --temp 0 --ignore-eos --json \
      --attn "${pair%/*}" --kv "${pair#*/}" 2>>"$out/llama8b.err" | tail -n 1 | tee -a "$out/llama8b.jsonl" |
      python3 -c 'import sys, json; o = json.loads(sys.stdin.read())
print(o["prompt_tokens"], o["attn"], o["kv"], "prefill GPU %.0f ms wall %.0f ms, decode %.2f ms/token, %.1f tok/s" % (
    o["prefill_gpu_ms"], o["prefill_ms"], o["decode_gpu_ms"] / max(o["generated_tokens"] - 1, 1), o["generation_tokens_per_s"]))'
  done
done
rm -f "$prompt"
