#!/usr/bin/env bash
# The README's benchmark table: `bin/googlenet bench` beside the PyTorch twin of the notes' model, in one
# run, same sizes, batch 16. Prints a Markdown table (and the raw JSON lines to stderr).
#   scripts/bench-vs-torch.sh [BACKEND] [STEPS]       e.g. scripts/bench-vs-torch.sh wasm 5
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-wasm}
steps=${2:-5}
rows=()
for size in 112 224; do
  ours=$(bin/googlenet bench --backend "$backend" --image-size "$size" --batch-size 16 --steps "$steps" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({backend:r.backend,trainImagesPerSec:r.trainImagesPerSec,evalImagesPerSec:r.evalImagesPerSec,peakRssMB:r.peakRssMB}))})')
  torch=$(OMP_NUM_THREADS=2 /usr/bin/python3 scripts/bench-torch.py --image-size "$size" --batch-size 16 --steps "$steps" --threads 2)
  echo "$size ours $ours" >&2
  echo "$size torch $torch" >&2
  rows+=("$size|$ours|$torch")
done
node -e '
const rows = process.argv.slice(1).map((r) => { const [size, a, b] = r.split("|"); return { size, ours: JSON.parse(a), torch: JSON.parse(b) }; });
const f = (x) => x.toFixed(1);
console.log("| backend | size | batch | train img/s (ours / PyTorch) | ratio | eval img/s (ours / PyTorch) | ratio | peak RSS MB (ours / PyTorch) |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.ours.backend} | ${r.size} | 16 | ${f(r.ours.trainImagesPerSec)} / ${f(r.torch.trainImagesPerSec)} | ${(r.ours.trainImagesPerSec / r.torch.trainImagesPerSec).toFixed(2)} | ${f(r.ours.evalImagesPerSec)} / ${f(r.torch.evalImagesPerSec)} | ${(r.ours.evalImagesPerSec / r.torch.evalImagesPerSec).toFixed(2)} | ${r.ours.peakRssMB} / ${r.torch.peakRssMB} |`);
}
' "${rows[@]}"
