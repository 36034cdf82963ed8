/**
 * A data loader for an ImageFolder: seeded shuffling per epoch, decoding through sharp's thread pool
 * ahead of the caller, batches as NHWC float32 tensors.
 *
 *   const loader = new DataLoader({ dataset: scanImageFolder('data_set/flower_data/train'), transform: trainTransform(224), shuffle: true });
 *   for await (const batch of loader.epoch(epoch)) {
 *     try { trainStep(batch.images, batch.labels); } finally { batch.dispose(); }
 *   }
 *
 * Ownership: each batch's tensors belong to the caller, who must dispose them (`batch.dispose()`).
 * The loader keeps no tensor: images wait as bytes and become a tensor only when their batch is handed
 * over, so leaving an epoch early (`break`) leaks nothing.
 *
 * Memory stays flat: at most `prefetch` batches of decoded bytes wait ahead of the caller, plus the
 * one being gathered; a batch's float buffer is made when it is handed over.
 *
 * A file that cannot be decoded (corrupt, truncated, empty, not an image) is skipped: reported once
 * through `onWarning`, counted in `skipped`, replaced in its batch by the next good image, and not
 * tried again in later epochs. Good images are never dropped.
 */
import * as fs from 'fs';
import * as tf from '../tf';
import { Rng } from '../util/rng';
import { deriveSeed } from './seeds';
import { loadPending, PendingImage } from './decode';
import { writeResized } from './resample';
import { ImageFolder } from './image_folder';
import { NOTES_NORMALIZATION, Normalization, normalizationTable, Transform } from './transforms';

export interface DataLoaderArgs {
  /** The images and their labels (image_folder.ts). */
  dataset: ImageFolder;
  /** Geometric transforms per image: trainTransform(size) or evalTransform(size). Must give one fixed size. */
  transform: Transform;
  /** Images per batch. 32: the notes' batch_size. */
  batchSize?: number;
  /** Reshuffle every epoch (training); false keeps the folder order (evaluation). */
  shuffle?: boolean;
  /** Seed for the order and the random transforms; epoch e is the same whatever ran before it. 0 by default. */
  seed?: number;
  /** Per-channel normalisation after ToTensor. The notes' mean = std = 0.5 by default. */
  normalization?: Normalization;
  /** Batches decoded ahead of the caller. 2: enough to hide decoding behind a training step. */
  prefetch?: number;
  /**
   * Most decodes handed to sharp at once. sharp runs them on libuv's threads (UV_THREADPOOL_SIZE, 4 by
   * default), which sets the CPU parallelism; queueing the whole prefetch window (the default) lets
   * decoding go on while a long synchronous training step holds the main thread.
   */
  concurrency?: number;
  /** Drop a last batch smaller than batchSize, as torch's drop_last. false by default. */
  dropLast?: boolean;
  /** Told about each file that is skipped, once. Library code never prints: the caller decides. */
  onWarning?: (message: string, file: string) => void;
}

export interface Batch {
  /** [N, H, W, 3] float32, normalised. */
  images: tf.Tensor4D;
  /** [N] int32 class indices. */
  labels: tf.Tensor1D;
  /** The files in the batch, in order. */
  files: string[];
  /** Disposes both tensors. */
  dispose(): void;
}

type Decoded = { ok: true; image: PendingImage } | { ok: false; error: string };

export class DataLoader {
  readonly dataset: ImageFolder;
  readonly batchSize: number;
  private readonly transform: Transform;
  private readonly shuffle: boolean;
  private readonly seed: number;
  private readonly normalization: Normalization;
  private readonly prefetch: number;
  private readonly concurrency: number;
  private readonly dropLast: boolean;
  private readonly onWarning?: (message: string, file: string) => void;
  private readonly bad = new Set<number>();
  private decodedCount = 0;

  constructor(args: DataLoaderArgs) {
    this.dataset = args.dataset;
    this.transform = args.transform;
    this.batchSize = args.batchSize ?? 32;
    this.shuffle = args.shuffle ?? false;
    this.seed = args.seed ?? 0;
    this.normalization = args.normalization ?? NOTES_NORMALIZATION;
    this.prefetch = args.prefetch ?? 2;
    this.concurrency = args.concurrency ?? (this.prefetch + 1) * this.batchSize;
    this.dropLast = args.dropLast ?? false;
    this.onWarning = args.onWarning;
    for (const [name, v, min] of [['batchSize', this.batchSize, 1], ['prefetch', this.prefetch, 0], ['concurrency', this.concurrency, 1]] as const) {
      if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer >= ${min}, got ${v}`);
    }
  }

  /** Files skipped so far because they could not be decoded. */
  get skipped(): number {
    return this.bad.size;
  }

  /** Images decoded so far, all epochs together (progress, benchmarks, tests). */
  get decoded(): number {
    return this.decodedCount;
  }

  /** Batches in an epoch, counting the files not known to be bad. */
  get batchesPerEpoch(): number {
    const n = this.dataset.samples.length - this.bad.size;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** The sample indices of epoch `epoch` in the order they are served. */
  order(epoch: number): number[] {
    const idx = this.dataset.samples.map((_, i) => i);
    return this.shuffle ? new Rng(deriveSeed(this.seed, epoch)).shuffle(idx) : idx;
  }

  /** The batches of one epoch. Dispose each batch; see the file comment. */
  async *epoch(epoch = 0): AsyncGenerator<Batch, void, undefined> {
    const order = this.order(epoch).filter((i) => !this.bad.has(i));
    const window = Math.max(this.concurrency, (this.prefetch + 1) * this.batchSize);
    const pending = new Map<number, Promise<Decoded>>();
    let nextToStart = 0;
    let cursor = 0;
    let inFlight = 0;
    let closed = false;
    const pump = () => {
      while (!closed && nextToStart < order.length && inFlight < this.concurrency && nextToStart - cursor < window) {
        const pos = nextToStart++;
        inFlight++;
        pending.set(
          pos,
          this.decode(order[pos], epoch).then((d) => {
            inFlight--;
            pump();
            return d;
          }),
        );
      }
    };
    try {
      let images: PendingImage[] = [];
      let labels: number[] = [];
      let files: string[] = [];
      while (cursor < order.length) {
        pump();
        const pos = cursor;
        const d = await pending.get(pos)!;
        pending.delete(pos);
        cursor++;
        const i = order[pos];
        const { file, label } = this.dataset.samples[i];
        // `=== false`, not `!d.ok`: tslab compiles src without strictNullChecks, where only an equality
        // test narrows this union (notebooks import the loader).
        if (d.ok === false) {
          this.bad.add(i);
          this.onWarning?.(`skipped ${file}: ${d.error}`, file);
          continue;
        }
        images.push(d.image);
        labels.push(label);
        files.push(file);
        if (images.length === this.batchSize) {
          const batch = this.toBatch(images, labels, files);
          images = [];
          labels = [];
          files = [];
          pump();
          yield batch;
        }
      }
      if (images.length > 0 && !this.dropLast) yield this.toBatch(images, labels, files);
    } finally {
      closed = true; // in-flight decodes finish on their own and are dropped
    }
  }

  private async decode(index: number, epoch: number): Promise<Decoded> {
    const { file } = this.dataset.samples[index];
    try {
      const rng = new Rng(deriveSeed(this.seed, epoch, index));
      // Read synchronously (a few tens of microseconds from the page cache): the decode then needs a
      // single turn of the main thread to start, which matters when training steps block it for seconds.
      const { pending } = await loadPending(fs.readFileSync(file), { transform: this.transform, rng });
      this.decodedCount++;
      return { ok: true, image: pending };
    } catch (e) {
      return { ok: false, error: ((e as Error).message ?? String(e)).split('\n')[0] };
    }
  }

  private toBatch(images: PendingImage[], labels: number[], files: string[]): Batch {
    const { width, height } = images[0];
    const size = width * height * 3;
    const data = new Float32Array(images.length * size);
    const lut = normalizationTable(this.normalization);
    images.forEach((img, k) => {
      if (img.width !== width || img.height !== height) {
        throw new Error(`images of different sizes in one batch (${width}x${height} and ${img.width}x${img.height}): the transform must end with a fixed-size resize`);
      }
      writeResized(img.pixels, width, height, img.flip, lut, data, k * size);
    });
    const imagesT = tf.tensor4d(data, [images.length, height, width, 3], 'float32');
    const labelsT = tf.tensor1d(Int32Array.from(labels), 'int32');
    return { images: imagesT, labels: labelsT, files, dispose: () => tf.dispose([imagesT, labelsT]) };
  }
}
