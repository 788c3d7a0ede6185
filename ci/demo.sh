#!/usr/bin/env bash
# The README's main command: installs dependencies, builds, and runs the demo
# (device facts, then segment and block pooling of a random 16K-token prompt).
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh
ci/build.sh
"${EI_BUILD_DIR:-build}"/tools/ei-demo "$@"
