#!/usr/bin/env bash
# GoogLeNet on this machine's GPU, every figure of a GPU run in one go (scripts/bench-gpu.ts says what
# each one is): the WebGPU adapter and driver; the step profile (time per kernel of a training step);
# train and eval img/s at 224 px, batch 32 and 64, on webgpu with the project's kernels and with tfjs's
# stock ones, on tensorflow-gpu where it loads, and on PyTorch CUDA where it is installed (fp32, and AMP as
# a reference), course model, same settings; GPU memory of a step and whether batch 64 at 224 px fits in
# 16 GB; the data loader's img/s on all cores. ONE JSON line per figure on stdout, each with "figure":
#   {"figure":"train","backend":"webgpu","kernels":"project","device":"NVIDIA H200","imageSize":224,"batchSize":32,"trainImagesPerSec":...}
# and a line with "error" for each figure that cannot be measured (not installed, no GPU, out of memory,
# timed out). Runs offline from a copy of the repository with its node_modules, within --budget seconds
# (default 450) in all and --run-timeout seconds (default 120) per measurement. Exit status 0 unless the
# options are wrong. Write the lines to a file with: scripts/bench-gpu.sh > "$OUT/bench-gpu.jsonl"
#
#   scripts/bench-gpu.sh                 # a GPU machine: 224 px, batch 32 and 64, every backend
#   scripts/bench-gpu.sh --small         # here on lavapipe: 32 px, batch 1, 1 step, PyTorch on cpu
#   scripts/bench-gpu.sh --kernels       # also each project kernel beside tfjs's (bench-gpu-kernels.ts)
# Options: --backend all|webgpu,tensorflow-gpu,torch-cuda  --image-size N  --batch-size N[,N...]
#          --steps N  --warmup N  --budget S  --run-timeout S  --python PY  --small  --kernels  --verbose
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
