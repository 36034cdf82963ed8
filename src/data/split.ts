/**
 * The notes' split_data.py: an ImageFolder `source/<class>/*` into `out/train/<class>/` and
 * `out/val/<class>/`, floor(n * valRatio) of each class to val. Reproducible on every OS and file
 * system: each class's files are sorted (code points) before a seeded shuffle, one stream per class
 * (adding a class does not move the others' files). Files are hard-linked where the file system
 * allows (no copy, no extra space) and copied otherwise.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Rng } from '../util/rng';
import { DataError } from './errors';
import { compareCodePoints, scanImageFolder } from './image_folder';
import { deriveSeed, stringHash } from './seeds';

export interface SplitArgs {
  /** ImageFolder to split: `source/<class>/*.jpg`. */
  source: string;
  /** Output split root: gets `train/` and `val/`; must not hold either yet. */
  out: string;
  /** Fraction of each class for validation, floored. 0.1: the notes' 9:1. */
  valRatio?: number;
  /** Seed of the shuffle. */
  seed?: number;
  /** Only copy, never hard-link (for an output that will be edited). */
  copy?: boolean;
  /** Called after each file with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface SplitResult {
  classes: { name: string; train: number; val: number }[];
  train: number;
  val: number;
  /** Files hard-linked rather than copied. */
  linked: number;
}

/**
 * Which files of one class go to val: the first floor(n * ratio) of a seeded shuffle of the list
 * sorted by code point. `files` are '/'-separated relative paths, the same on every OS.
 */
export function chooseVal(files: string[], valRatio: number, seed: number, className: string): Set<string> {
  const shuffled = new Rng(deriveSeed(seed, stringHash(className))).shuffle([...files].sort(compareCodePoints));
  return new Set(shuffled.slice(0, Math.floor(files.length * valRatio)));
}

function place(src: string, dst: string, copy: boolean): boolean {
  fs.mkdirSync(path.dirname(dst), { recursive: true });
  if (!copy) {
    try {
      fs.linkSync(src, dst);
      return true;
    } catch {
      // another device, a file system without hard links, no permission: copy instead
    }
  }
  fs.copyFileSync(src, dst);
  return false;
}

export function splitImageFolder(args: SplitArgs): SplitResult {
  const valRatio = args.valRatio ?? 0.1;
  const seed = args.seed ?? 0;
  if (!(valRatio >= 0 && valRatio < 1)) throw new DataError(`the validation ratio must be in [0, 1), got ${valRatio}`);
  const folder = scanImageFolder(args.source);
  for (const s of ['train', 'val']) {
    const d = path.join(args.out, s);
    if (fs.existsSync(d) && fs.readdirSync(d).length > 0) {
      throw new DataError(`${d} already exists and is not empty: choose another --out or remove it first`);
    }
  }
  if (path.resolve(args.out).startsWith(path.resolve(args.source) + path.sep)) {
    throw new DataError(`--out ${args.out} is inside --source ${args.source}: its train/ and val/ would become classes`);
  }
  for (const s of ['train', 'val']) fs.mkdirSync(path.join(args.out, s), { recursive: true });
  const result: SplitResult = { classes: [], train: 0, val: 0, linked: 0 };
  const total = folder.samples.length;
  let done = 0;
  folder.classes.forEach((name, label) => {
    const dir = path.join(args.source, name);
    const files = folder.samples.filter((s) => s.label === label).map((s) => path.relative(dir, s.file).split(path.sep).join('/'));
    const val = chooseVal(files, valRatio, seed, name);
    for (const f of files) {
      const split = val.has(f) ? 'val' : 'train';
      if (place(path.join(dir, ...f.split('/')), path.join(args.out, split, name, ...f.split('/')), args.copy ?? false)) result.linked++;
      args.onProgress?.(++done, total);
    }
    result.classes.push({ name, train: files.length - val.size, val: val.size });
    result.train += files.length - val.size;
    result.val += val.size;
  });
  return result;
}
