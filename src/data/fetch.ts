/**
 * The full flower_photos set (3,670 CC-BY photos, 5 classes) for users with internet: download the
 * archive TensorFlow publishes, or take a local .tgz or folder, check it, and split it 9:1 into
 * `out/{train,val}` as the notes' split_data.py does. The sample shipped in data_set/flower_data is
 * replaced (it stays in git: `git checkout data_set` brings it back); other data only with `force`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import * as tar from 'tar';
import { DataError } from './errors';
import { findClasses, scanImageFolder } from './image_folder';
import { splitImageFolder } from './split';

export const FLOWER_PHOTOS_URL = 'https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz';

/** Images per class in the published archive. */
export const FLOWER_COUNTS: Readonly<Record<string, number>> = { daisy: 633, dandelion: 898, roses: 641, sunflowers: 699, tulips: 799 };

/** First line of the shipped sample's LICENSE.txt: marks a folder fetch-data may replace. */
export const SAMPLE_MARKER = 'A sample of the flower_photos data set shipped with googlenet-ts';

export interface FetchProgress {
  phase: 'download' | 'extract' | 'split';
  done: number;
  /** Bytes or files in all, when known. */
  total?: number;
}

export interface FetchArgs {
  /** Split root to fill: gets train/, val/ and LICENSE.txt. */
  out: string;
  /** A URL, a .tgz/.tar.gz/.tar file, or a folder (holding the class folders, or flower_photos/). Default: FLOWER_PHOTOS_URL. */
  from?: string;
  /** Validation fraction per class. 0.1: the notes' 9:1. */
  valRatio?: number;
  seed?: number;
  /** Replace whatever `out` holds. Without it only the shipped sample is replaced. */
  force?: boolean;
  onProgress?: (p: FetchProgress) => void;
  onLog?: (message: string) => void;
}

export interface FetchResult {
  out: string;
  source: string;
  counts: Record<string, number>;
  /** Every class has the published number of images. */
  complete: boolean;
  train: number;
  val: number;
}

function isDir(p: string): boolean {
  return fs.existsSync(p) && fs.statSync(p).isDirectory();
}

/** The folder whose sub-folders are the five classes: `dir` itself or one level down (flower_photos/). */
export function findFlowerRoot(dir: string): string {
  const expected = Object.keys(FLOWER_COUNTS);
  const has = (d: string) => expected.every((c) => isDir(path.join(d, c)));
  if (has(dir)) return dir;
  const subs = findClasses(dir).filter((s) => has(path.join(dir, s)));
  if (subs.length === 1) return path.join(dir, subs[0]);
  throw new DataError(`no flower_photos folder in ${dir}: expected ${expected.map((c) => `${c}/`).join(', ')} there or in one sub-folder`);
}

/** Check a flower_photos folder: exactly the five classes, each with images. Returns the counts. */
export function checkFlowerFolder(root: string): { counts: Record<string, number>; complete: boolean } {
  const folder = scanImageFolder(root);
  const expected = Object.keys(FLOWER_COUNTS);
  const extra = folder.classes.filter((c) => !expected.includes(c));
  const missing = expected.filter((c) => !folder.classes.includes(c));
  if (extra.length > 0 || missing.length > 0) {
    throw new DataError(
      `${root} is not flower_photos: ${missing.length ? `missing ${missing.join(', ')}` : ''}${missing.length && extra.length ? '; ' : ''}${extra.length ? `unexpected ${extra.join(', ')}` : ''}`,
    );
  }
  const counts: Record<string, number> = {};
  folder.classes.forEach((c, i) => (counts[c] = folder.samples.filter((s) => s.label === i).length));
  return { counts, complete: expected.every((c) => counts[c] === FLOWER_COUNTS[c]) };
}

async function download(url: string, file: string, onProgress?: (p: FetchProgress) => void): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new DataError(`cannot download ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message} (no internet? download it elsewhere and pass --from FILE)`);
  }
  if (!res.ok || !res.body) throw new DataError(`cannot download ${url}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length')) || undefined;
  let done = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      done += chunk.length;
      onProgress?.({ phase: 'download', done, total });
      cb(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(res.body as import('stream/web').ReadableStream<Uint8Array>), count, fs.createWriteStream(file));
}

async function extract(file: string, dir: string, onProgress?: (p: FetchProgress) => void): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  let done = 0;
  try {
    // node-tar refuses absolute paths and '..' unless told otherwise: nothing lands outside `dir`.
    await tar.x({ file, cwd: dir, strict: true, onReadEntry: () => onProgress?.({ phase: 'extract', done: ++done }) });
  } catch (e) {
    throw new DataError(`cannot extract ${file}: ${(e as Error).message} (is it a .tgz or .tar archive?)`);
  }
}

/** Refuse an `out` that holds data other than the shipped sample, unless forced. */
function checkReplaceable(out: string, force: boolean): void {
  if (force || !fs.existsSync(out) || fs.readdirSync(out).length === 0) return;
  const license = path.join(out, 'LICENSE.txt');
  const isSample = fs.existsSync(license) && fs.readFileSync(license, 'utf8').startsWith(SAMPLE_MARKER);
  if (!isSample) throw new DataError(`${out} already holds data: pass --force to replace it, or choose another --out`);
}

/** Remove what a previous fetch or the shipped sample left in `out`. */
function clearOut(out: string): void {
  for (const name of ['train', 'val', 'LICENSE.txt']) fs.rmSync(path.join(out, name), { recursive: true, force: true });
}

export async function fetchFlowerData(args: FetchArgs): Promise<FetchResult> {
  const source = args.from ?? FLOWER_PHOTOS_URL;
  const log = args.onLog ?? (() => undefined);
  const out = path.resolve(args.out);
  checkReplaceable(out, args.force ?? false); // before any download
  const work = `${out}.partial-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  try {
    let folder: string;
    if (/^https?:\/\//i.test(source)) {
      const file = path.join(work, 'flower_photos.tgz');
      log(`downloading ${source}`);
      await download(source, file, args.onProgress);
      log('extracting');
      await extract(file, path.join(work, 'extracted'), args.onProgress);
      fs.rmSync(file);
      folder = path.join(work, 'extracted');
    } else if (isDir(source)) {
      folder = source;
    } else if (fs.existsSync(source)) {
      log(`extracting ${source}`);
      await extract(source, path.join(work, 'extracted'), args.onProgress);
      folder = path.join(work, 'extracted');
    } else {
      throw new DataError(`--from ${source}: no such file or folder (give a URL, a .tgz file or a folder)`);
    }
    const root = findFlowerRoot(folder);
    const { counts, complete } = checkFlowerFolder(root);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    log(`${total} images: ${Object.entries(counts).map(([c, n]) => `${c} ${n}`).join(', ')}${complete ? '' : ` (the published set has ${Object.values(FLOWER_COUNTS).reduce((a, b) => a + b, 0)}: this is a subset)`}`);
    const staged = path.join(work, 'split');
    const r = splitImageFolder({
      source: root,
      out: staged,
      valRatio: args.valRatio ?? 0.1,
      seed: args.seed ?? 0,
      onProgress: (done, n) => args.onProgress?.({ phase: 'split', done, total: n }),
    });
    clearOut(out);
    fs.mkdirSync(out, { recursive: true });
    for (const s of ['train', 'val']) fs.renameSync(path.join(staged, s), path.join(out, s));
    const license = path.join(root, 'LICENSE.txt');
    if (fs.existsSync(license)) fs.copyFileSync(license, path.join(out, 'LICENSE.txt'));
    return { out: args.out, source, counts, complete, train: r.train, val: r.val };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
