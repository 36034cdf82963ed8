#!/usr/bin/env bash
# The README's results table: the course recipe on the flower photos, ours (wasm) and the PyTorch twin,
# same split, same settings. Long: about an hour or two on a 2-core CPU for both.
#   scripts/flowers-results.sh [PHOTOS_DIR] [EPOCHS] [IMAGE_SIZE] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
photos=${1:-../shared/data/flower_photos}
epochs=${2:-10}
size=${3:-112}
out=${4:-runs/flowers-$size}
mkdir -p "$out"
[ -d "$out/split/train" ] || bin/googlenet split --source "$photos" --out "$out/split" --val-ratio 0.1 --seed 0
echo "== ours (wasm), $epochs epochs at $size px" >&2
bin/googlenet train --data "$out/split" --out "$out/ours" --epochs "$epochs" --image-size "$size" --batch-size 32 --backend wasm 2> "$out/ours.log"
tail -n 1 "$out/ours.log" >&2
echo "== PyTorch twin, $epochs epochs at $size px" >&2
/usr/bin/python3 scripts/train-torch.py --data "$out/split" --epochs "$epochs" --image-size "$size" --batch-size 32 > "$out/torch.jsonl"
tail -n 1 "$out/torch.jsonl" >&2
node -e '
const fs = require("fs");
const [ours, torch] = [process.argv[1] + "/ours/metrics.jsonl", process.argv[1] + "/torch.jsonl"].map((f) => fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse).filter((r) => r.epoch));
const best = (rows) => Math.max(...rows.map((r) => r.valAccuracy));
const ips = (rows) => rows.reduce((s, r) => s + r.imagesPerSec, 0) / rows.length;
console.log(JSON.stringify({ epochs: ours.length, oursBest: best(ours), torchBest: best(torch), oursImagesPerSec: ips(ours), torchImagesPerSec: ips(torch) }));
' "$out"
