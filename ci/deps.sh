#!/usr/bin/env bash
# Installs what building and testing need, from Debian's packages (as root,
# or through sudo). Safe to run again: apt-get skips what is installed.
set -euo pipefail
packages=(
  cmake ninja-build gcc pkg-config
  libvulkan-dev libvulkan-volk-dev glslc glslang-tools spirv-tools
  mesa-vulkan-drivers vulkan-validationlayers libcjson-dev
  clang libclang-rt-14-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
