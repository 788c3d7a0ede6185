# Sourced by the GPU-machine scripts: unpacks the carried Vulkan loader,
# validation layers and libraries (.gl), points the loader at NVIDIA's
# driver and the binaries at build/, and makes the output folder ($out).
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
# It unpacks newer Vulkan libraries into /: never on a machine without the
# GPU (it replaced the build machine's loader once).
command -v nvidia-smi >/dev/null || { echo "$(basename "$0"): for the GPU machine (no nvidia-smi here)" >&2; exit 1; }
out=${OUT:-gpu-out}
mkdir -p "$out"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export LD_LIBRARY_PATH=$PWD/build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
