#!/usr/bin/env bash
# Prompt and generation speed of vkinfer on one model: prompts of about
# 512, 4K and 32K tokens (a filler sentence repeated), 128 generated tokens,
# greedy, one JSON line per length on stdout.
#   tools/bench/vkinfer_sweep.sh MODEL.gguf [lengths...]   (default: 512 4096 32640)
set -euo pipefail
model=$1
shift
lengths=("$@")
[ ${#lengths[@]} -gt 0 ] || lengths=(512 4096 32640)
vkinfer=${VKINFER:-build/tools/vkinfer}
prompt=$(mktemp)
trap 'rm -f "$prompt"' EXIT
for len in "${lengths[@]}"; do
  # About 10 tokens a sentence; the JSON reports the exact prompt length.
  : > "$prompt"
  for ((i = 0; i < len / 10; i++)); do printf 'The quick brown fox jumps over the lazy dog. ' >> "$prompt"; done
  ctx=$((len + 136 > 32768 ? 32768 : len + 136))
  "$vkinfer" -m "$model" -f "$prompt" -n 128 -c "$ctx" --temp 0 --ignore-eos --json ${VKINFER_ARGS:-}
done
