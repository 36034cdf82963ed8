#!/usr/bin/env bash
# Ours and PyTorch at several thread counts, in one run: `bin/googlenet bench --threads N` beside
# scripts/bench-torch.py --threads N (batch 16), ROUNDS alternating rounds each, medians. Counts above
# the machine's CPUs are left out (said on stderr). Prints a Markdown table.
#   scripts/bench-threads.sh [SIZE] [STEPS] [ROUNDS] [COUNTS]   e.g. scripts/bench-threads.sh 112 5 3 "1 2 4 8 16"
set -euo pipefail
# TORCH_PYTHON: the Python whose PyTorch is measured (default Debian's 1.13, /usr/bin/python3), e.g. a
# venv with a PyTorch 2.x CPU wheel from PyPI.
torch_python=${TORCH_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/.."
size=${1:-112}
steps=${2:-5}
rounds=${3:-3}
counts=${4:-1 2 4 8 16}
cpus=$(nproc)
pick='let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const r=JSON.parse(s);console.log(JSON.stringify({train:r.trainImagesPerSec,eval:r.evalImagesPerSec,device:r.device||r.backend}))})'
rows=()
for n in $counts; do
  if [ "$n" -gt "$cpus" ]; then
    echo "$n threads: left out, this machine has $cpus CPUs" >&2
    continue
  fi
  o=()
  t=()
  for ((r = 1; r <= rounds; r++)); do
    o+=("$(bin/googlenet bench --backend wasm --threads "$n" --image-size "$size" --batch-size 16 --steps "$steps" --json | node -e "$pick")")
    t+=("$(OMP_NUM_THREADS=$n "$torch_python" scripts/bench-torch.py --image-size "$size" --batch-size 16 --steps "$steps" --threads "$n" | node -e "$pick")")
    echo "$n threads round $r: ours ${o[-1]} torch ${t[-1]} (load $(uptime | sed 's/.*load average: //'))" >&2
  done
  rows+=("$n|$(IFS=';'; echo "${o[*]}")|$(IFS=';'; echo "${t[*]}")")
done
node -e '
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const side = (l) => { const rs = l.split(";").map((x) => JSON.parse(x)); return { train: median(rs.map((r) => r.train)), eval: median(rs.map((r) => r.eval)) }; };
const f = (x) => x.toFixed(1);
console.log(`| threads | train img/s (ours / PyTorch) | ratio | eval img/s (ours / PyTorch) | ratio |`);
console.log("| --- | --- | --- | --- | --- |");
for (const row of process.argv.slice(1)) {
  const [n, a, b] = row.split("|");
  const o = side(a), t = side(b);
  console.log(`| ${n} | ${f(o.train)} / ${f(t.train)} | ${(o.train / t.train).toFixed(2)} | ${f(o.eval)} / ${f(t.eval)} | ${(o.eval / t.eval).toFixed(2)} |`);
}
' "${rows[@]}"
