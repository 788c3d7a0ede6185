#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds and runs a consumer
# through find_package(EntropyInfer) and through pkg-config.
# Usage: check.sh BUILD_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cmake --install "$build" --prefix "$scratch/prefix" >/dev/null
test -f "$scratch/prefix/include/entropyinfer.h"
libdir=$(dirname "$(find "$scratch/prefix" -name 'libentropyinfer.so' | head -n 1)")
cmake -S "$here" -B "$scratch/cmake" -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
cmake --build "$scratch/cmake" >/dev/null
LD_LIBRARY_PATH="$libdir" "$scratch/cmake/consumer"
PKG_CONFIG_PATH="$libdir/pkgconfig" cc "$here/consumer.c" -o "$scratch/pc-consumer" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs entropyinfer)
LD_LIBRARY_PATH="$libdir" "$scratch/pc-consumer"
echo "install: find_package and pkg-config consumers ran"
