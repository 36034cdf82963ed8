/** `googlenet split --source DIR --out DIR`: the notes' split_data.py, floor(n * ratio) per class to val. */
import { Command } from 'commander';
import { splitImageFolder } from '../../data/split';
import { log, parseNumber, printJson } from '../io';

interface Opts {
  source: string;
  out: string;
  valRatio: number;
  seed: number;
  copy?: boolean;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('split')
    .description('split an ImageFolder (DIR/<class>/*.jpg) into OUT/train and OUT/val, per class, reproducibly')
    .requiredOption('--source <dir>', 'ImageFolder to split: one folder per class')
    .requiredOption('--out <dir>', 'where train/ and val/ go')
    .option('--val-ratio <r>', 'fraction of each class for validation (floored)', parseNumber('--val-ratio', { min: 0, max: 0.99 }), 0.1)
    .option('--seed <n>', 'seed of the shuffle', parseNumber('--seed', { integer: true, min: 0 }), 0)
    .option('--copy', 'copy files instead of hard-linking them')
    .option('--json', 'print JSON')
    .action((opts: Opts) => {
      const r = splitImageFolder({ source: opts.source, out: opts.out, valRatio: opts.valRatio, seed: opts.seed, copy: opts.copy });
      if (opts.json) return printJson({ source: opts.source, out: opts.out, valRatio: opts.valRatio, seed: opts.seed, ...r });
      for (const c of r.classes) log(`${c.name.padEnd(16)} train ${String(c.train).padStart(5)}  val ${String(c.val).padStart(5)}`);
      log(`${r.train} train + ${r.val} val images in ${opts.out} (${r.linked === r.train + r.val ? 'hard-linked' : r.linked === 0 ? 'copied' : `${r.linked} hard-linked, the rest copied`})`);
    });
}
