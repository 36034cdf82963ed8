/**
 * `googlenet fetch-data [--out data_set/flower_data] [--from FILE_OR_DIR_OR_URL]`: the full flower
 * photos, downloaded (or from a local archive or folder), checked, and split 9:1 into OUT/{train,val}.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command } from 'commander';
import { fetchFlowerData, FetchProgress, FLOWER_PHOTOS_URL } from '../../data/fetch';
import { log, parseNumber, printJson } from '../io';

interface Opts {
  out?: string;
  from?: string;
  valRatio: number;
  seed: number;
  force?: boolean;
  json?: boolean;
}

/** The repository root: the nearest folder above this file with a package.json. */
function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function progressPrinter(): (p: FetchProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 500 && !(p.total && p.done === p.total)) return;
    last = now;
    const what = p.phase === 'download' ? `${(p.done / 1e6).toFixed(1)}${p.total ? ` / ${(p.total / 1e6).toFixed(1)}` : ''} MB` : `${p.done}${p.total ? ` / ${p.total}` : ''} files`;
    process.stderr.write(`\r${p.phase} ${what}   `);
    if (p.total && p.done === p.total) process.stderr.write('\n');
  };
}

export function register(program: Command): void {
  program
    .command('fetch-data')
    .description('download the full flower_photos set (or take a local .tgz / folder), check it and split it 9:1')
    .option('--out <dir>', 'split root to fill (default: data_set/flower_data in the repository)')
    .option('--from <source>', `URL, .tgz file or folder (default: ${FLOWER_PHOTOS_URL})`)
    .option('--val-ratio <r>', 'fraction of each class for validation', parseNumber('--val-ratio', { min: 0, max: 0.99 }), 0.1)
    .option('--seed <n>', 'seed of the split', parseNumber('--seed', { integer: true, min: 0 }), 0)
    .option('--force', 'replace what --out holds (the shipped sample is replaced without it)')
    .option('--json', 'print JSON')
    .action(async (opts: Opts) => {
      const out = opts.out ?? path.join(repoRoot(), 'data_set', 'flower_data');
      const r = await fetchFlowerData({ out, from: opts.from, valRatio: opts.valRatio, seed: opts.seed, force: opts.force, onLog: log, onProgress: opts.json ? undefined : progressPrinter() });
      if (opts.json) return printJson(r);
      log(`${r.train} train + ${r.val} val images in ${r.out}`);
    });
}
