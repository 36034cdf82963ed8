#!/usr/bin/env bash
# The data loader against the notes' torchvision pipeline, on the same photos, in one run:
#   ours:        bin/googlenet bench --loader-only (sharp/libvips, concurrent decoding, batches as tensors)
#   torchvision: scripts/bench-loader-torch.py (ImageFolder + RandomResizedCrop(224) + RandomHorizontalFlip
#                + ToTensor + Normalize, DataLoader batch 32, num_workers=0: the notes' setup)
# Each side runs twice, alternating, and the better run counts (the machine may be shared); CPU time per
# image (every thread of the process) and the load average are printed beside, to judge the disturbance.
#
# Usage: scripts/bench-loader.sh [--data DIR] [--count N]
#   DIR: an ImageFolder (<class>/*.jpg); default ../shared/data/flower_photos beside the repository,
#        else data_set/flower_data/train. N photos (default 300) are taken evenly from each class.
# Needs /usr/bin/python3 with python3-torchvision (Debian), as CI installs it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DATA=""
COUNT=300
while [ $# -gt 0 ]; do
  case "$1" in
    --data) DATA="$2"; shift 2 ;;
    --count) COUNT="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench-loader.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$DATA" ]; then
  if [ -d "$ROOT/../shared/data/flower_photos" ]; then DATA="$ROOT/../shared/data/flower_photos"; else DATA="$ROOT/data_set/flower_data/train"; fi
fi
[ -d "$DATA" ] || { echo "bench-loader.sh: no folder $DATA" >&2; exit 1; }
PY=/usr/bin/python3
"$PY" -c 'import torchvision' 2>/dev/null || { echo "bench-loader.sh: $PY has no torchvision (apt-get install python3-torchvision)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# The same photos for both: COUNT spread evenly over the classes and over each class's sorted files.
node - "$DATA" "$WORK/photos" "$COUNT" <<'JS'
const fs = require('fs'), path = require('path');
const [src, dst, count] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const exts = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'];
const classes = fs.readdirSync(src).filter((c) => !c.startsWith('.') && fs.statSync(path.join(src, c)).isDirectory()).sort();
classes.forEach((c, i) => {
  const files = fs.readdirSync(path.join(src, c)).filter((f) => exts.some((e) => f.toLowerCase().endsWith(e))).sort();
  const n = Math.min(files.length, Math.floor(count / classes.length) + (i < count % classes.length ? 1 : 0));
  fs.mkdirSync(path.join(dst, c), { recursive: true });
  for (let k = 0; k < n; k++) {
    const f = files[Math.floor((k * files.length) / n)];
    try { fs.linkSync(path.join(src, c, f), path.join(dst, c, f)); } catch { fs.copyFileSync(path.join(src, c, f), path.join(dst, c, f)); }
  }
});
JS
N=$(find "$WORK/photos" -type f | wc -l)

# Each run prints "IMG_PER_SEC CPU_MS_PER_IMAGE" (CPU: the whole process, every thread, over the timed images).
ours() { "$ROOT/bin/googlenet" bench --loader-only --backend cpu --data "$WORK/photos" --image-size 224 --batch-size 32 --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.loaderImagesPerSec.toFixed(1),j.loaderCpuMsPerImage.toFixed(2))})'; }
torch() { OMP_NUM_THREADS=1 "$PY" "$ROOT/scripts/bench-loader-torch.py" "$WORK/photos" --batch-size 32 --image-size 224 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.imagesPerSec.toFixed(1),j.cpuMsPerImage.toFixed(2))})'; }
best() { node -e 'console.log(Math.max(...process.argv.slice(1).map(Number)).toFixed(1))' "$@"; }

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
read -r T1 TC1 <<<"$(torch)"; read -r O1 OC1 <<<"$(ours)"; read -r T2 TC2 <<<"$(torch)"; read -r O2 OC2 <<<"$(ours)"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)
T=$(best "$T1" "$T2"); O=$(best "$O1" "$O2")
RATIO=$(node -e "console.log(($O / $T).toFixed(2))")
echo "loader benchmark: $N photos from $DATA, training transform at 224 px, batch 32, $(nproc) CPU cores"
echo "load average (1, 5, 15 min) before: $LOAD0, after: $LOAD1 (other work on the machine disturbs img/s)"
printf '%-48s %10s %18s %22s\n' "pipeline" "img/s" "(runs)" "CPU ms/image (runs)"
printf '%-48s %10s %18s %22s\n' "torchvision 0.14, PIL, DataLoader num_workers=0" "$T" "($T1, $T2)" "($TC1, $TC2)"
printf '%-48s %10s %18s %22s\n' "googlenet-ts DataLoader (sharp, concurrent)" "$O" "($O1, $O2)" "($OC1, $OC2)"
printf '%-48s %10s\n' "ours / torchvision" "${RATIO}x"
