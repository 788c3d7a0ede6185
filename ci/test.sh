#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, and runs every
# test on the default Vulkan device (lavapipe on a machine without a GPU)
# with the Khronos validation layer; any validation message fails a test.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/deps.sh
ci/build.sh
cd "${EI_BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600
