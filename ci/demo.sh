#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the demo
# (device facts, pooling of a random 16K-token prompt, one layer of
# EntropyInfer prefill on its first 2K tokens).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh
ci/build.sh
"${EI_BUILD_DIR:-build}"/tools/ei-demo "$@"
