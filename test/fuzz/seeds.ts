/**
 * The real files the harness mutates, made once per process in a temp folder: PyTorch's own .pth files
 * (test/torch/fixtures' tensors.py and malicious.py, and make_seeds.py's torchvision-layout state
 * dicts), zip archives from Python's zipfile, and one bundled photo in every image format the loader
 * reads (PIL). make_seeds.py also writes where each file's structures and integer fields are.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, runPython, tmpDir } from '../helpers';
import { FIXTURES } from '../torch/reference';
import type { Field, Seed } from './mutate';

export interface SeedSet {
  dir: string;
  /** The file malicious.py's payloads would create if anything ran them. */
  marker: string;
  all: Map<string, Seed>;
  pick(names: (n: string) => boolean): Seed[];
}

let cached: SeedSet | undefined;

/** The photo the image seeds are made from (a bundled flower). */
export const PHOTO = path.join(ROOT, 'data_set', 'flower_data', 'train', 'daisy', '11124324295_503f3a0804.jpg');

/** Make the seeds in a new temp folder (removed at exit), or read them from `dir` where an earlier call made them. */
export function seedSet(dir?: string): SeedSet {
  if (cached) return cached;
  const made = dir === undefined;
  dir ??= tmpDir('fuzz-seeds-');
  const marker = path.join(dir, 'marker');
  if (made) {
    // generous limits: PyTorch's start-up is slow on a busy machine
    runPython(path.join(FIXTURES, 'tensors.py'), [dir], 600_000);
    runPython(path.join(FIXTURES, 'malicious.py'), [dir, marker, path.join(dir, 'control_marker')], 600_000);
    runPython(path.join(__dirname, 'make_seeds.py'), [dir, PHOTO], 600_000);
    process.on('exit', () => fs.rmSync(dir!, { recursive: true, force: true }));
  }
  const regions = JSON.parse(fs.readFileSync(path.join(dir, 'regions.json'), 'utf8')) as Record<string, { boundaries: number[]; fields: Field[] }>;
  const all = new Map<string, Seed>();
  for (const [name, r] of Object.entries(regions)) {
    all.set(name, { name, bytes: new Uint8Array(fs.readFileSync(path.join(dir, name))), boundaries: r.boundaries, fields: r.fields });
  }
  cached = { dir, marker, all, pick: (f) => [...all.values()].filter((s) => f(s.name)) };
  return cached;
}
