#!/usr/bin/env bash
# gpu-check on a GPU machine that has no package registry and maybe no Node.js (issue 11, item 4).
#
#   bash scripts/device-gpu-check.sh prepare   # here: writes .device/ (git-ignored, ~35 MB)
#   bash scripts/device-gpu-check.sh run       # there, in a copy of this checkout with .device/
#
# prepare builds the project, packs gpu-check (`gpu-check --pack`: one bundled script, the
# linux-x64 dawn.node, the wasm files), adds this machine's `node` binary (x86-64 glibc; used
# there only when that machine has no node of its own), compresses both into
# .device/bundle.tar.xz, and downloads Debian's Vulkan and EGL loader packages into .device/gl/
# (a GPU machine's NVIDIA driver brings the ICDs, not always the loaders).
# run unpacks the loaders into /, points Vulkan and EGL at the NVIDIA driver's ICDs where they are
# in the usual place, and runs gpu-check on the hardware adapter (it fails, never falls back),
# writing gpu-check.json, gpu-check.log and nvidia-smi.txt to $OUT (or .device/out).
# GPU_CHECK_ARGS adds arguments (default --max-seconds 420, which leaves room in a
# 10-minute command for the unpacking).
set -euo pipefail
cd "$(dirname "$0")/.."
D=.device

prepare() {
  rm -rf "$D" && mkdir -p "$D/gl" "$D/stage"
  node scripts/bootstrap.cjs
  node scripts/build.cjs
  node examples/dist/gpu-check/gpu-check.js --pack "$D/stage/pack" --target linux-x64 >/dev/null
  cp "$(command -v node)" "$D/stage/node"
  XZ_OPT='-6 -T0' tar -C "$D/stage" -cJf "$D/bundle.tar.xz" node pack
  rm -rf "$D/stage"
  local lists=/tmp/selfsup-amd64-lists
  local o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  mkdir -p "$lists/partial"
  apt-get "${o[@]}" -qq update
  (cd "$D/gl" && apt-get "${o[@]}" -qq download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  du -sh "$D" "$D"/* >&2
  echo "prepared $D: on the GPU machine run 'bash scripts/device-gpu-check.sh run' with $D carried along" >&2
}

run() {
  [ -f "$D/bundle.tar.xz" ] || { echo "device-gpu-check: no $D/bundle.tar.xz; run 'bash scripts/device-gpu-check.sh prepare' first" >&2; exit 2; }
  local out="${OUT:-$D/out}"
  mkdir -p "$out"
  for f in "$D"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  local nv=/usr/local/nvidia/share
  [ -f "$nv/vulkan/icd.d/nvidia_icd.json" ] && export VK_DRIVER_FILES="$nv/vulkan/icd.d/nvidia_icd.json"
  [ -f "$nv/glvnd/egl_vendor.d/10_nvidia.json" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$nv/glvnd/egl_vendor.d/10_nvidia.json"
  (nvidia-smi -L; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv) >"$out/nvidia-smi.txt" 2>&1 || true
  local work=/tmp/selfsup-gpu-check
  rm -rf "$work" && mkdir -p "$work"
  tar -C "$work" -xJf "$D/bundle.tar.xz"
  local node_bin
  node_bin="$(command -v node || true)"
  [ -n "$node_bin" ] || node_bin="$work/node"
  echo "device-gpu-check: $("$node_bin" -v) at $node_bin; VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}" | tee "$out/gpu-check.log" >&2
  # shellcheck disable=SC2086
  "$node_bin" "$work/pack/gpu-check.js" --adapter hardware ${GPU_CHECK_ARGS:---max-seconds 420} \
    >"$out/gpu-check.json" 2> >(tee -a "$out/gpu-check.log" >&2)
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: bash scripts/device-gpu-check.sh prepare|run" >&2; exit 2 ;;
esac
