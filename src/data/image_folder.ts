/**
 * torchvision's ImageFolder, the scan only: `root/<class>/**\/<image>` with classes sorted by name
 * (`classToIdx`, as `class_to_idx`) and files sorted, so the same folder gives the same indices on
 * every OS. Decoding is elsewhere (decode.ts); this file only lists and checks.
 *
 * Deviations from torchvision, on purpose: names starting with '.' are ignored (`.ipynb_checkpoints`,
 * which Jupyter leaves in folders, and `.DS_Store` would otherwise become a class or a sample).
 */
import * as fs from 'fs';
import * as path from 'path';
import { DataError } from './errors';

/** torchvision.datasets.folder.IMG_EXTENSIONS, matched case-insensitively as there. */
export const IMG_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp'] as const;

export interface Sample {
  /** Path of the image file (root joined with the relative path). */
  file: string;
  /** Class index, into `classes`. */
  label: number;
}

export interface ImageFolder {
  root: string;
  /** Class names, sorted: index i is class i. */
  classes: string[];
  /** `{daisy: 0, dandelion: 1, ...}` as torchvision's `class_to_idx`. */
  classToIdx: Record<string, number>;
  /** Every image, class by class, files sorted within each class. */
  samples: Sample[];
}

/** The train and val ImageFolders of a split root `DIR/{train,val}`, with the same classes. */
export interface SplitFolders {
  root: string;
  train: ImageFolder;
  val: ImageFolder;
}

/** The command that makes a split root, for the messages. */
const SPLIT_HINT = 'bin/googlenet split --source DIR --out DIR, or bin/googlenet fetch-data';

export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMG_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** Python's sorted() on str compares code points; so does this (JS's default compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function isVisible(name: string): boolean {
  return !name.startsWith('.');
}

/** Sub-folders of `dir` (following symlinks), sorted: the class names. */
export function findClasses(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => isVisible(e.name) && (e.isDirectory() || (e.isSymbolicLink() && isDirectory(path.join(dir, e.name)))))
    .map((e) => e.name)
    .sort(compareCodePoints);
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Image files under `dir`, relative to it, in the order of torchvision's
 * `for root, _, fnames in sorted(os.walk(dir)): for fname in sorted(fnames)`.
 */
export function listImages(dir: string): string[] {
  const byFolder: [string, string[]][] = [];
  const walk = (rel: string) => {
    const names: string[] = [];
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      if (!isVisible(e.name)) continue;
      const relPath = rel ? path.join(rel, e.name) : e.name;
      const isDir = e.isDirectory() || (e.isSymbolicLink() && isDirectory(path.join(dir, relPath)));
      if (isDir) walk(relPath);
      else if (isImageFile(e.name)) names.push(e.name);
    }
    byFolder.push([rel, names.sort(compareCodePoints)]);
  };
  walk('');
  byFolder.sort((a, b) => compareCodePoints(a[0], b[0]));
  return byFolder.flatMap(([rel, names]) => names.map((n) => (rel ? path.join(rel, n) : n)));
}

/**
 * Scan an ImageFolder. Refuses a missing folder, a folder without class folders and a class folder
 * without images (torchvision raises for the last two as well), each with what to do.
 */
export function scanImageFolder(root: string): ImageFolder {
  if (!isDirectory(root)) {
    throw new DataError(`No such folder: ${root} (expected ${root}/<class>/*.jpg)`);
  }
  const classes = findClasses(root);
  if (classes.length === 0) {
    throw new DataError(`No class folders in ${root}: expected ${root}/<class>/*.jpg (run: ${SPLIT_HINT})`);
  }
  const classToIdx: Record<string, number> = {};
  classes.forEach((c, i) => (classToIdx[c] = i));
  const samples: Sample[] = [];
  const empty: string[] = [];
  classes.forEach((c, label) => {
    const files = listImages(path.join(root, c));
    if (files.length === 0) empty.push(c);
    for (const f of files) samples.push({ file: path.join(root, c, f), label });
  });
  if (empty.length > 0) {
    throw new DataError(
      `No images in class folder${empty.length > 1 ? 's' : ''} ${empty.map((c) => path.join(root, c)).join(', ')}: ` +
        `put ${IMG_EXTENSIONS.join('/')} files there or remove the folder`,
    );
  }
  return { root, classes, classToIdx, samples };
}

/**
 * Open a split root `DIR/{train,val}`: both ImageFolders, refused if one is missing or if their class
 * sets differ (a model trained on one set of classes cannot be validated on another).
 */
export function openSplit(dir: string): SplitFolders {
  if (!isDirectory(dir)) throw new DataError(`No such folder: ${dir} (expected ${dir}/train and ${dir}/val; run: ${SPLIT_HINT})`);
  const missing = ['train', 'val'].filter((s) => !isDirectory(path.join(dir, s)));
  if (missing.length > 0) {
    throw new DataError(
      `No ${missing.map((s) => `${s}/`).join(' or ')} in ${dir}: expected ${dir}/train/<class>/*.jpg and ${dir}/val/<class>/*.jpg ` +
        `(split an ImageFolder with: bin/googlenet split --source FOLDER --out ${dir})`,
    );
  }
  const train = scanImageFolder(path.join(dir, 'train'));
  const val = scanImageFolder(path.join(dir, 'val'));
  const trainSet = new Set(train.classes);
  const valSet = new Set(val.classes);
  const onlyTrain = train.classes.filter((c) => !valSet.has(c));
  const onlyVal = val.classes.filter((c) => !trainSet.has(c));
  if (onlyTrain.length > 0 || onlyVal.length > 0) {
    const parts: string[] = [];
    if (onlyTrain.length > 0) parts.push(`only in train/: ${onlyTrain.join(', ')}`);
    if (onlyVal.length > 0) parts.push(`only in val/: ${onlyVal.join(', ')}`);
    throw new DataError(
      `train/ and val/ in ${dir} have different classes (${parts.join('; ')}): ` +
        `give both the same class folders, e.g. re-split with: bin/googlenet split --source FOLDER --out ${dir}`,
    );
  }
  return { root: dir, train, val };
}
