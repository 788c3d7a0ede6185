#!/usr/bin/env bash
# Configures and builds into build/ (or $EI_BUILD_DIR), warnings as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${EI_BUILD_DIR:-build}
python=()
[ -x .venv/bin/python ] && python=(-DPython3_EXECUTABLE="$PWD/.venv/bin/python")
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEI_WERROR=ON "${python[@]}" "$@"
cmake --build "$build" --parallel
