/**
 * What a lesson needs from its surroundings: quick mode, the backend asked for, the repository root and
 * sample photos. Only notebooks read the environment (the library takes everything as arguments).
 */
import * as fs from 'fs';
import * as path from 'path';
import { BackendChoice, initBackend } from '../backend/select';
import { BackendName, BACKEND_NAMES, isBackendName } from '../backend/names';

/** GOOGLENET_QUICK=1: heavy cells run small (small images, few steps) so a notebook takes seconds. */
export function isQuick(): boolean {
  return /^(1|true|yes|on)$/i.test(process.env.GOOGLENET_QUICK ?? '');
}

/** The backend asked for with GOOGLENET_BACKEND, or 'auto' (best available). */
export function requestedBackend(): BackendName | 'auto' {
  const v = (process.env.GOOGLENET_BACKEND ?? '').trim();
  if (v === '' || v === 'auto') return 'auto';
  if (!isBackendName(v)) throw new Error(`GOOGLENET_BACKEND=${v} is not a backend: use one of ${BACKEND_NAMES.join(', ')} (or unset it)`);
  return v;
}

/** Start the backend from GOOGLENET_BACKEND (best available when unset). */
export async function startBackend(): Promise<BackendChoice> {
  return initBackend(requestedBackend());
}

/** The repository root: the nearest folder above this file with the project's package.json. */
export function repoRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && fs.existsSync(path.join(dir, 'src', 'notebook'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json with src/notebook above ${from}`);
    dir = up;
  }
}

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;

/** Image files under `dir`, recursively, in sorted order (the same on every machine). */
export function findImages(dir: string, limit = Infinity): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (out.length >= limit) return;
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (IMAGE_EXT.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Sample photos for the lessons, one class after another (daisy, dandelion, ...) from
 * data_set/flower_data/train, the shipped sample; else any image under data_set/. Empty when there is
 * none (lessons then use a drawn test image).
 */
export function samplePhotos(limit = 5): string[] {
  const dataSet = path.join(repoRoot(), 'data_set');
  const train = path.join(dataSet, 'flower_data', 'train');
  const classes = fs.existsSync(train)
    ? fs.readdirSync(train, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()
    : [];
  const perClass = classes.map((c) => findImages(path.join(train, c), limit)).filter((l) => l.length > 0);
  const out: string[] = [];
  for (let i = 0; out.length < limit && perClass.some((l) => i < l.length); i++) {
    for (const l of perClass) if (i < l.length && out.length < limit) out.push(l[i]);
  }
  return out.length > 0 ? out : findImages(dataSet, limit);
}

/** The class of a photo under an ImageFolder (its folder name). */
export function photoClass(file: string): string {
  return path.basename(path.dirname(file));
}
