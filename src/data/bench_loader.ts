/**
 * Loader throughput: the notes' training transform (RandomResizedCrop + flip + ToTensor + Normalize)
 * over a folder, batched into tensors as training gets them, in images per second. `bench --loader-only`
 * reports it; scripts/bench-loader.sh sets it beside torchvision's DataLoader on the same photos.
 * Needs a tfjs backend started (the batches are tensors).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageFolder, scanImageFolder } from './image_folder';
import { DataLoader } from './loader';
import { trainTransform } from './transforms';

export interface BenchLoaderArgs {
  /** An ImageFolder (`<class>/*.jpg`), or a split root, of which `train/` is used. */
  data: string;
  /** Output size of the crop. 224: the notes'. */
  imageSize: number;
  /** Images per batch. */
  batchSize: number;
  /** Use at most this many images, taken evenly across the folder so that every class is in. */
  limit?: number;
  /** Untimed warm-up images first (file cache, JIT, sharp's start). Default: one batch. */
  warmup?: number;
  /** Decoding concurrency, as DataLoaderArgs. */
  concurrency?: number;
  /** Told about skipped files. */
  onWarning?: (message: string, file: string) => void;
}

export interface BenchLoaderResult {
  images: number;
  seconds: number;
  imagesPerSec: number;
  /** CPU time of the whole process (every thread: sharp's pool too) per timed image, in milliseconds. */
  cpuMsPerImage: number;
  skipped: number;
}

/** Take `limit` samples spread evenly over the folder (every k-th), so all classes are in. */
function subset(folder: ImageFolder, limit?: number): ImageFolder {
  if (limit === undefined || limit >= folder.samples.length) return folder;
  const step = folder.samples.length / limit;
  const samples = Array.from({ length: limit }, (_, k) => folder.samples[Math.floor(k * step)]);
  return { ...folder, samples };
}

export async function benchLoader(args: BenchLoaderArgs): Promise<BenchLoaderResult> {
  const root = fs.existsSync(path.join(args.data, 'train')) ? path.join(args.data, 'train') : args.data;
  const dataset = subset(scanImageFolder(root), args.limit);
  const make = () =>
    new DataLoader({ dataset, transform: trainTransform(args.imageSize), batchSize: args.batchSize, shuffle: true, concurrency: args.concurrency, onWarning: args.onWarning });
  const warm = make();
  const warmup = args.warmup ?? args.batchSize;
  let seen = 0;
  for await (const b of warm.epoch(0)) {
    seen += b.files.length;
    b.dispose();
    if (seen >= warmup) break;
  }
  const loader = make();
  let images = 0;
  const t0 = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for await (const b of loader.epoch(1)) {
    images += b.files.length;
    b.dispose();
  }
  const cpu = process.cpuUsage(cpu0);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { images, seconds, imagesPerSec: images / seconds, cpuMsPerImage: (cpu.user + cpu.system) / 1000 / images, skipped: loader.skipped };
}
