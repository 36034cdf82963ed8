/** What a checkpoint says about itself (metadata.json, and inside model.json). */
import type { Variant } from '../model/specs';

export interface Normalization {
  mean: [number, number, number];
  std: [number, number, number];
}

export interface CheckpointMetadata {
  format: 'googlenet-ts';
  formatVersion: 1;
  variant: Variant;
  numClasses: number;
  /** Input size the model was trained at / expects; predict resizes to it. */
  imageSize: number;
  /** Index -> class name, as ImageFolder's sorted class folders. */
  classNames: string[];
  normalization: Normalization;
  auxLogits: boolean;
  transformInput: boolean;
  /** Epochs completed (0 for an imported or untrained model). */
  epoch: number;
  bestValAccuracy: number | null;
  /** The training config (TrainConfig) or import details, for the record. */
  config: Record<string, unknown>;
  createdAt: string;
}

/** class_indices.json as the notes write it: {"0": "daisy", "1": "dandelion", ...}. */
export function classIndices(classNames: string[]): Record<string, string> {
  return Object.fromEntries(classNames.map((c, i) => [String(i), c]));
}
