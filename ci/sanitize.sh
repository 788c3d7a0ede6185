#!/usr/bin/env bash
# The library and the test suite built with clang's AddressSanitizer and
# UndefinedBehaviorSanitizer, run on lavapipe with validation. Leak checking
# is off: the Vulkan driver and layers are unloaded before exit, so their
# allocations cannot be told from ours (left for the reliability work).
set -euo pipefail
cd "$(dirname "$0")/.."
python=()
[ -x .venv/bin/python ] && python=(-DPython3_EXECUTABLE="$PWD/.venv/bin/python")
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
CC=clang cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEI_WERROR=ON "${python[@]}" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan --parallel
cd build-asan
# install: builds a consumer with the system compiler, not the sanitized one.
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure --timeout 600 -E '^install$'
