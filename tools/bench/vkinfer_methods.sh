#!/usr/bin/env bash
# Time to first token and decode speed of vkinfer on one model at one
# prompt length, dense vs the methods: full/full, entropy/full,
# entropy/latent, critiprefill/full, full/snapkv (the prompt in one pass,
# -b = its length). One JSON line per run on stdout.
#   tools/bench/vkinfer_methods.sh MODEL.gguf LEN
set -euo pipefail
model=$1
len=$2
vkinfer=${VKINFER:-build/tools/vkinfer}
prompt=$(mktemp)
trap 'rm -f "$prompt"' EXIT
for ((i = 0; i < len / 10; i++)); do printf 'The quick brown fox jumps over the lazy dog. '; done > "$prompt"
ctx=$((len + 136 > 32768 ? 32768 : len + 136))
for pair in full/full entropy/full entropy/latent critiprefill/full full/snapkv; do
  "$vkinfer" -m "$model" -f "$prompt" -n 128 -c "$ctx" -b "$ctx" --temp 0 --ignore-eos --json \
    --attn "${pair%/*}" --kv "${pair#*/}" ${VKINFER_ARGS:-}
done
