/**
 * Per-epoch mean and spread of the runs scripts/flowers-results.sh made: OUT/seed-S/ours/metrics.jsonl
 * (bin/googlenet train) and OUT/seed-S/torch.jsonl (scripts/train-torch.py). Prints a Markdown table
 * (validation accuracy and loss per epoch: mean, and min-max over the seeds), each seed's best accuracy,
 * and whether the two sides differ beyond the seeds' spread; then one JSON line.
 *   node --import tsx scripts/flowers-summary.ts OUT
 */
import * as fs from 'fs';
import * as path from 'path';

interface Epoch {
  epoch: number;
  valAccuracy: number;
  valLoss: number;
  trainLoss: number;
}

function read(file: string): Epoch[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l) as Partial<Epoch>)
    .filter((r): r is Epoch => typeof r.epoch === 'number' && typeof r.valAccuracy === 'number');
}

const out = process.argv[2];
if (!out || !fs.existsSync(out)) {
  process.stderr.write('usage: node --import tsx scripts/flowers-summary.ts OUT (the folder flowers-results.sh wrote)\n');
  process.exit(2);
}
const seeds = fs.readdirSync(out).filter((d) => /^seed-\d+$/.test(d)).sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
const sides = {
  ours: seeds.map((s) => ({ seed: s, rows: read(path.join(out, s, 'ours', 'metrics.jsonl')) })).filter((r) => r.rows.length),
  pytorch: seeds.map((s) => ({ seed: s, rows: read(path.join(out, s, 'torch.jsonl')) })).filter((r) => r.rows.length),
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const spread = (xs: number[]) => (xs.length > 1 ? ` (${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})` : '');
const cell = (xs: number[]) => (xs.length ? `${mean(xs).toFixed(3)}${spread(xs)}` : '');
const epochs = Math.max(0, ...Object.values(sides).flatMap((runs) => runs.map((r) => r.rows.length)));
const at = (runs: { rows: Epoch[] }[], e: number, k: keyof Epoch) => runs.map((r) => r.rows.find((x) => x.epoch === e)?.[k]).filter((x): x is number => typeof x === 'number');

console.log(`Runs in ${out}: ours ${sides.ours.map((r) => `${r.seed} (${r.rows.length} epochs)`).join(', ') || 'none'}; PyTorch ${sides.pytorch.map((r) => `${r.seed} (${r.rows.length} epochs)`).join(', ') || 'none'}.`);
console.log('Mean over the seeds, (min-max) in brackets.\n');
console.log('| epoch | val accuracy, ours | val accuracy, PyTorch | val loss, ours | val loss, PyTorch |');
console.log('| --- | --- | --- | --- | --- |');
for (let e = 1; e <= epochs; e++) {
  console.log(`| ${e} | ${cell(at(sides.ours, e, 'valAccuracy'))} | ${cell(at(sides.pytorch, e, 'valAccuracy'))} | ${cell(at(sides.ours, e, 'valLoss'))} | ${cell(at(sides.pytorch, e, 'valLoss'))} |`);
}
const best = (runs: { rows: Epoch[] }[]) => runs.map((r) => Math.max(...r.rows.map((x) => x.valAccuracy)));
const [bo, bp] = [best(sides.ours), best(sides.pytorch)];
console.log(`\nBest val accuracy per seed: ours ${bo.map((x) => x.toFixed(3)).join(', ') || '-'}; PyTorch ${bp.map((x) => x.toFixed(3)).join(', ') || '-'}.`);
// The validation photos are a sample too: one accuracy p on n photos has a standard error sqrt(p(1-p)/n).
const valDir = path.join(out, 'split', 'val');
const nVal = fs.existsSync(valDir) ? fs.readdirSync(valDir).reduce((n, c) => n + fs.readdirSync(path.join(valDir, c)).length, 0) : 0;
const se = nVal ? Math.sqrt(0.25 / nVal) : 0;
let verdict = 'not enough runs to compare (at least two seeds on each side)';
if (bo.length >= 2 && bp.length >= 2) {
  const overlap = Math.min(...bo) <= Math.max(...bp) && Math.min(...bp) <= Math.max(...bo);
  const d = mean(bo) - mean(bp);
  const sign = `${d >= 0 ? '+' : ''}${d.toFixed(3)}`;
  if (overlap) verdict = `the seeds' ranges of best accuracy overlap: the difference of the means (${sign}) is within the seed noise`;
  else if (nVal && Math.abs(d) < se) verdict = `the seeds' ranges do not overlap, but the difference of the means (${sign}) is below one standard error of an accuracy on ${nVal} photos (${se.toFixed(3)}): no difference shown`;
  else verdict = `ours is ${d >= 0 ? 'above' : 'below'} PyTorch by ${Math.abs(d).toFixed(3)} on average: the seeds' ranges do not overlap${nVal ? ` and the gap exceeds one standard error on ${nVal} photos (${se.toFixed(3)})` : ' (the split is not there to count the validation photos)'}`;
}
console.log(`Ours against PyTorch: ${verdict}.`);
console.log(JSON.stringify({ out, epochs, valPhotos: nVal, oursBest: bo, pytorchBest: bp, verdict }));
