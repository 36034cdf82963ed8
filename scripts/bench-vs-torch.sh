#!/usr/bin/env bash
# The README's benchmark table: `bin/googlenet bench` beside the PyTorch twin of the notes' model, in one
# run, same sizes, batch 16. Prints a Markdown table (and the raw JSON lines to stderr).
#   scripts/bench-vs-torch.sh [BACKEND] [STEPS] [ROUNDS]      e.g. scripts/bench-vs-torch.sh wasm 5 3
# VARIANT=torchvision compares the torchvision variant with torchvision's googlenet (Debian's
# python3-torchvision); SIZES="112" picks the sizes.
# Each size runs ROUNDS rounds (default 3) of ours then PyTorch, alternating, and each side's img/s is the
# median of its rounds: on a shared virtual machine single runs vary by 10-25%, and alternating gives
# both sides the same conditions. Peak RSS is the largest of the rounds.
set -euo pipefail
# TORCH_PYTHON: the Python whose PyTorch is measured (default Debian's 1.13, /usr/bin/python3), e.g. a
# venv with a PyTorch 2.x CPU wheel from PyPI.
torch_python=${TORCH_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
backend=${1:-wasm}
steps=${2:-5}
rounds=${3:-3}
variant=${VARIANT:-course}
rows=()
for size in ${SIZES:-112 224}; do
  ours=()
  torch=()
  for ((r = 1; r <= rounds; r++)); do
    o=$(bin/googlenet bench --backend "$backend" --variant "$variant" --image-size "$size" --batch-size 16 --steps "$steps" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({backend:r.backend,trainImagesPerSec:r.trainImagesPerSec,evalImagesPerSec:r.evalImagesPerSec,peakRssMB:r.peakRssMB}))})')
    t=$(OMP_NUM_THREADS=2 "$torch_python" scripts/bench-torch.py --variant "$variant" --image-size "$size" --batch-size 16 --steps "$steps" --threads 2)
    echo "$size round $r ours $o" >&2
    echo "$size round $r torch $t" >&2
    ours+=("$o")
    torch+=("$t")
  done
  rows+=("$size|$(IFS=';'; echo "${ours[*]}")|$(IFS=';'; echo "${torch[*]}")")
done
node -e '
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const side = (list) => {
  const runs = list.split(";").map((x) => JSON.parse(x));
  return { backend: runs[0].backend, train: median(runs.map((r) => r.trainImagesPerSec)), eval: median(runs.map((r) => r.evalImagesPerSec)), rss: Math.max(...runs.map((r) => r.peakRssMB)) };
};
const rows = process.argv.slice(1).map((r) => { const [size, a, b] = r.split("|"); return { size, ours: side(a), torch: side(b) }; });
const f = (x) => x.toFixed(1);
console.log("| backend | variant | size | batch | train img/s (ours / PyTorch) | ratio | eval img/s (ours / PyTorch) | ratio | peak RSS MB (ours / PyTorch) |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.ours.backend} | ${process.env.VARIANT || "course"} | ${r.size} | 16 | ${f(r.ours.train)} / ${f(r.torch.train)} | ${(r.ours.train / r.torch.train).toFixed(2)} | ${f(r.ours.eval)} / ${f(r.torch.eval)} | ${(r.ours.eval / r.torch.eval).toFixed(2)} | ${r.ours.rss} / ${r.torch.rss} |`);
}
' "${rows[@]}"
