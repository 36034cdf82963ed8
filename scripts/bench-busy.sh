#!/usr/bin/env bash
# Ours and PyTorch on an idle machine and with two busy-loop processes competing for the cores, in one
# run: `bin/googlenet bench` beside scripts/bench-torch.py (112 px, batch 16, 2 threads), ROUNDS rounds
# of ours then PyTorch for each condition, each side the median of its rounds. Prints a Markdown table;
# the issue's bar: our ratio to PyTorch under load at least 0.9 of the idle ratio.
#   scripts/bench-busy.sh [STEPS] [ROUNDS] [SIZE]      e.g. scripts/bench-busy.sh 5 3 112
set -euo pipefail
# TORCH_PYTHON: the Python whose PyTorch is measured (default Debian's 1.13, /usr/bin/python3), e.g. a
# venv with a PyTorch 2.x CPU wheel from PyPI.
torch_python=${TORCH_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
steps=${1:-5}
rounds=${2:-3}
size=${3:-112}
busy=()
stop_busy() {
  for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done
  busy=()
}
trap stop_busy EXIT
ours() { bin/googlenet bench --backend wasm --image-size "$size" --batch-size 16 --steps "$steps" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({train:r.trainImagesPerSec,eval:r.evalImagesPerSec}))})'; }
torch() { OMP_NUM_THREADS=2 "$torch_python" scripts/bench-torch.py --image-size "$size" --batch-size 16 --steps "$steps" --threads 2 | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({train:r.trainImagesPerSec,eval:r.evalImagesPerSec}))})'; }
rows=()
for load in idle busy; do
  if [ "$load" = busy ]; then
    for _ in 1 2; do
      bash -c 'while :; do :; done' &
      busy+=("$!")
    done
  fi
  o=()
  t=()
  for ((r = 1; r <= rounds; r++)); do
    echo "$load round $r: uptime $(uptime | sed 's/.*load average: //')" >&2
    o+=("$(ours)")
    t+=("$(torch)")
    echo "$load round $r ours ${o[-1]} torch ${t[-1]}" >&2
  done
  stop_busy
  rows+=("$load|$(IFS=';'; echo "${o[*]}")|$(IFS=';'; echo "${t[*]}")")
done
node -e '
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const side = (l) => { const rs = l.split(";").map((x) => JSON.parse(x)); return { train: median(rs.map((r) => r.train)), eval: median(rs.map((r) => r.eval)) }; };
const rows = process.argv.slice(1).map((r) => { const [load, a, b] = r.split("|"); return { load, ours: side(a), torch: side(b) }; });
const f = (x) => x.toFixed(1);
console.log("| load | train img/s (ours / PyTorch) | ratio | eval img/s (ours / PyTorch) | ratio |");
console.log("| --- | --- | --- | --- | --- |");
for (const r of rows) console.log(`| ${r.load === "busy" ? "two busy loops" : "idle"} | ${f(r.ours.train)} / ${f(r.torch.train)} | ${(r.ours.train / r.torch.train).toFixed(2)} | ${f(r.ours.eval)} / ${f(r.torch.eval)} | ${(r.ours.eval / r.torch.eval).toFixed(2)} |`);
const [idle, busy] = rows;
const keep = (busy.ours.train / busy.torch.train) / (idle.ours.train / idle.torch.train);
console.log(`\ntraining ratio under load / idle ratio: ${keep.toFixed(2)} (the bar: at least 0.9)`);
' "${rows[@]}"
