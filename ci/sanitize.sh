#!/usr/bin/env bash
# The library and the test suite built with clang's AddressSanitizer and
# UndefinedBehaviorSanitizer, run on lavapipe with validation, with
# LeakSanitizer: its reports go to files, and ci/lsan_ours.py fails on any
# leak allocated by our code (the Vulkan driver and layers leave their own
# allocations behind and are unloaded before exit, so LSan suppressions
# cannot name them; our leaked Vulkan objects are the validation layer's
# object tracking's to catch).
set -euo pipefail
cd "$(dirname "$0")/.."
python=()
[ -x .venv/bin/python ] && python=(-DPython3_EXECUTABLE="$PWD/.venv/bin/python")
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
CC=clang cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DEI_WERROR=ON "${python[@]}" \
  -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
cmake --build build-asan --parallel
root=$PWD
lsan=$root/build-asan/lsan
rm -rf "$lsan" && mkdir -p "$lsan"
cd build-asan
# install: builds a consumer with the system compiler, not the sanitized one.
ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=exitcode=0:log_path="$lsan/lsan" UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --timeout 600 --parallel "$(nproc)" -E '^install$'
python3 "$root/ci/lsan_ours.py" "$lsan" "$root"
