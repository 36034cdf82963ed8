/** The notes' data setup: ImageFolder train/ and val/, RandomResizedCrop + flip for training, Resize for validation. */
import { openSplit } from '../data/image_folder';
import { DataLoader } from '../data/loader';
import { evalTransform, trainTransform } from '../data/transforms';
import type { Normalization } from '../checkpoint/metadata';
import { BatchSource, fromDataLoader } from './batches';

export interface TrainingData {
  classNames: string[];
  train: BatchSource;
  val: BatchSource;
  /** Files skipped so far (could not be decoded), train and val together. */
  skipped(): number;
}

export interface TrainingDataArgs {
  /** A split root holding train/ and val/ ImageFolders. */
  dir: string;
  imageSize: number;
  batchSize: number;
  seed: number;
  normalization: Normalization;
  onWarning?: (message: string, file: string) => void;
}

export function openTrainingData(args: TrainingDataArgs): TrainingData {
  const split = openSplit(args.dir);
  const common = { batchSize: args.batchSize, seed: args.seed, normalization: args.normalization, onWarning: args.onWarning };
  const train = new DataLoader({ ...common, dataset: split.train, transform: trainTransform(args.imageSize), shuffle: true });
  const val = new DataLoader({ ...common, dataset: split.val, transform: evalTransform(args.imageSize), shuffle: false });
  return {
    classNames: split.train.classes,
    train: fromDataLoader(train),
    val: fromDataLoader(val),
    skipped: () => train.skipped + val.skipped,
  };
}
