/** What training and evaluation consume: batches of normalised NHWC images and int32 labels. */
import * as tf from '../tf';

export interface Batch {
  /** [N, H, W, 3] float32, normalised. The consumer disposes it. */
  x: tf.Tensor4D;
  /** [N] int32 class indices. The consumer disposes it. */
  y: tf.Tensor1D;
}

export interface BatchSource {
  /** Number of images per epoch. */
  readonly size: number;
  batchesPerEpoch(): number;
  /** Batches of one epoch; the order may depend on the epoch (seeded shuffling). */
  epoch(epoch: number): AsyncIterable<Batch>;
}

/** A fixed in-memory batch source (tests, lessons): the same tensors every epoch, not disposed by consumers. */
export function tensorSource(x: tf.Tensor4D, y: tf.Tensor1D, batchSize: number): BatchSource {
  const n = x.shape[0];
  return {
    size: n,
    batchesPerEpoch: () => Math.ceil(n / batchSize),
    async *epoch() {
      for (let i = 0; i < n; i += batchSize) {
        const m = Math.min(batchSize, n - i);
        yield { x: x.slice([i, 0, 0, 0], [m, -1, -1, -1]), y: y.slice([i], [m]) };
      }
    },
  };
}

/** The part of data/loader.ts's DataLoader that training needs. */
export interface ImageBatchLoader {
  readonly dataset: { samples: unknown[] };
  readonly batchesPerEpoch: number;
  epoch(epoch: number): AsyncIterable<{ images: tf.Tensor4D; labels: tf.Tensor1D }>;
}

/** A DataLoader as a BatchSource (tensors handed over to the consumer, who disposes them). */
export function fromDataLoader(loader: ImageBatchLoader): BatchSource {
  return {
    get size() {
      return loader.dataset.samples.length;
    },
    batchesPerEpoch: () => loader.batchesPerEpoch,
    async *epoch(e: number) {
      for await (const b of loader.epoch(e)) yield { x: b.images, y: b.labels };
    },
  };
}
