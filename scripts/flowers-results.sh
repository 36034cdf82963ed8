#!/usr/bin/env bash
# The README's results: the course recipe on the flower photos, ours (wasm) and the PyTorch twin
# (scripts/train-torch.py), same split, same settings, one run per side and seed. Long: on a 2-core CPU
# at 112 px, a 10-epoch run takes about 20 minutes for ours and 10 for PyTorch.
#   scripts/flowers-results.sh [PHOTOS_DIR] [EPOCHS] [IMAGE_SIZE] [OUT] [SEEDS] [SIDES]
#   e.g. scripts/flowers-results.sh ../shared/data/flower_photos 10 112 runs/flowers-112 "0 1 2" "torch ours"
# Each run goes to OUT/seed-S/{ours,torch.jsonl}. A run already complete is skipped; ours interrupted
# (Ctrl-C) continues with --resume when the script is run again, so a long comparison can be done in
# several sittings. Then scripts/flowers-summary.ts prints per-epoch mean and spread of both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
photos=${1:-../shared/data/flower_photos}
epochs=${2:-10}
size=${3:-112}
out=${4:-runs/flowers-$size}
seeds=${5:-0}
sides=${6:-ours torch}
mkdir -p "$out"
[ -d "$out/split/train" ] || bin/googlenet split --source "$photos" --out "$out/split" --val-ratio 0.1 --seed 0
lines() { [ -f "$1" ] && grep -c '"epoch"' "$1" || echo 0; }
for seed in $seeds; do
  run="$out/seed-$seed"
  mkdir -p "$run"
  for side in $sides; do
    case $side in
      ours)
        if [ "$(lines "$run/ours/metrics.jsonl")" -ge "$epochs" ]; then echo "== ours, seed $seed: done" >&2; continue; fi
        resume=()
        [ -f "$run/ours/last/model.json" ] && resume=(--resume)
        echo "== ours (wasm), seed $seed, $epochs epochs at $size px ${resume[*]}" >&2
        bin/googlenet train --data "$out/split" --out "$run/ours" --epochs "$epochs" --image-size "$size" --batch-size 32 --backend wasm --seed "$seed" "${resume[@]}" 2>> "$run/ours.log"
        tail -n 1 "$run/ours.log" >&2
        ;;
      torch)
        if [ "$(lines "$run/torch.jsonl")" -ge "$epochs" ]; then echo "== PyTorch, seed $seed: done" >&2; continue; fi
        echo "== PyTorch twin, seed $seed, $epochs epochs at $size px" >&2
        /usr/bin/python3 scripts/train-torch.py --data "$out/split" --epochs "$epochs" --image-size "$size" --batch-size 32 --seed "$seed" > "$run/torch.jsonl.part"
        mv "$run/torch.jsonl.part" "$run/torch.jsonl"
        tail -n 1 "$run/torch.jsonl" >&2
        ;;
      *) echo "unknown side '$side': use ours and/or torch" >&2; exit 2 ;;
    esac
  done
done
node --import tsx scripts/flowers-summary.ts "$out"
