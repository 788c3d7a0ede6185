#!/usr/bin/env bash
# vkinfer's refusals: each bad input is one line on stderr starting with
# "vkinfer: error:" and a non-zero exit, never a crash.
#   cli_errors.sh VKINFER PYTHON TESTS_DIR WORKDIR
set -uo pipefail
vkinfer=$1 python=$2 tests=$3 work=$4
mkdir -p "$work"
"$python" "$tests/model_tiny.py" "$work" llama >/dev/null || { echo "cannot write the tiny model"; exit 1; }
model=$work/tiny-llama.gguf
head -c 1000 "$model" > "$work/truncated.gguf"
printf 'GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x00\x00\x00\x00\x00\x00' > "$work/huge.gguf"
failed=0
# expect WHAT-THE-MESSAGE-SAYS ARGS...
expect() {
  local want=$1
  shift
  local err status
  err=$("$vkinfer" "$@" 2>&1 >/dev/null)
  status=$?
  if [ $status -eq 0 ] || [ $status -ge 128 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] ||
    [[ $err != "vkinfer: error:"*"$want"* ]]; then
    echo "FAIL: vkinfer $* -> exit $status, stderr: $err"
    failed=1
  else
    echo "ok: $err"
  fi
}
expect "cannot read the model file" -m "$work/missing.gguf" -p hi
expect "cannot fit" -m "$work/truncated.gguf" -p hi
expect "tensor" -m "$work/huge.gguf" -p hi
expect "exceed the context" -m "$model" -p "a long enough prompt" -n 100 -c 16
expect "outside the vocabulary" -m "$model" --ids 1,99999 -n 1
expect "--temp" -m "$model" -p hi --temp -1
expect "--attn" -m "$model" -p hi --attn sparse
expect "segment" -m "$model" -p hi --segment 12 --block 8
expect "exactly one of" -m "$model"
expect "unknown or incomplete option" -m "$model" -p hi --frobnicate
expect "cannot write" -m "$model" -p hi -n 1 --stats "$work/missing/stats.json"
exit $failed
