#!/usr/bin/env bash
# GoogLeNet training throughput on this machine's NVIDIA GPU, for each GPU path that works here:
# tensorflow-gpu (@tensorflow/tfjs-node-gpu, CUDA 11.2), webgpu (Dawn on the hardware Vulkan adapter) and
# PyTorch CUDA (test/reference/course_googlenet.py). Course variant, aux heads on, Adam, 224 px, batch 32
# and 64, warm-up steps then timed steps. Prints ONE JSON line per measurement on stdout, e.g.
#   {"backend":"webgpu","device":"NVIDIA H100 80GB HBM3","imageSize":224,"batchSize":32,"trainImagesPerSec":123.4,"steps":10,...}
# and a line with "error" for each measurement that cannot run (not installed, no GPU, out of memory,
# timed out). Runs offline from a copy of the repository with its node_modules; stays within --budget
# seconds (default 390) in all, --run-timeout seconds (default 150) per measurement. Exit status 0 unless
# the options are wrong.
#
#   scripts/bench-gpu.sh                                   # every GPU path, 224 px, batch 32 and 64
#   scripts/bench-gpu.sh --backend webgpu --image-size 64 --batch-size 2 --steps 2 --warmup 1
#                                                          # a named backend may use a software adapter
# Options: --backend all|tensorflow-gpu,webgpu,torch-cuda  --image-size N  --batch-size N[,N...]
#          --steps N  --warmup N  --budget S  --run-timeout S  --python PY  --verbose (workers' stderr)
set -u
cd "$(dirname "$0")/.." || exit 2
if [ ! -d node_modules/tsx ] || [ ! -d node_modules/@tensorflow/tfjs-core ]; then
  echo '{"backend":"all","error":"node_modules is missing: run npm install, or copy the repository together with its node_modules"}'
  exit 1
fi
if ! command -v node >/dev/null 2>&1; then
  echo '{"backend":"all","error":"node is not on PATH (Node.js >= 20.9)"}'
  exit 1
fi
exec node --import tsx scripts/bench-gpu.ts "$@"
