/** The training recipe of the course notes' train.py, as a typed config with the reason for each default. */
import type { Variant } from '../model/specs';
import type { InitScheme } from '../model/nn/init';
import { AUX_LOSS_WEIGHT } from './loss';

export interface TrainConfig {
  /** The notes train for 30 epochs. */
  epochs: number;
  /** DataLoader(batch_size=32) in the notes. */
  batchSize: number;
  /** RandomResizedCrop(224) / Resize((224, 224)); CPU runs use 64-128 px. */
  imageSize: number;
  /** optim.Adam(lr=0.0003). */
  lr: number;
  /** Weight of each aux loss: loss0 + loss1 * 0.3 + loss2 * 0.3. */
  auxWeight: number;
  /** 'course' is the notes' model; 'torchvision' for pretrained ImageNet weights. */
  variant: Variant;
  /** Seeds init, shuffling, augmentation and dropout; the same seed gives the same run on one backend. */
  seed: number;
  /** 'constant' as in the notes, or cosine decay to 0 over the epochs. */
  lrSchedule: 'constant' | 'cosine';
  /** Stop when validation accuracy has not improved for this many epochs (null: never, as the notes). */
  earlyStopPatience: number | null;
  /** Train only the classifier heads (transfer learning with frozen features). */
  freezeFeatures: boolean;
  /** Initial weights (the notes call no init: PyTorch's defaults); recorded, used when a run starts. */
  init?: InitScheme;
}

export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  epochs: 30,
  batchSize: 32,
  imageSize: 224,
  lr: 3e-4,
  auxWeight: AUX_LOSS_WEIGHT,
  variant: 'course',
  seed: 0,
  lrSchedule: 'constant',
  earlyStopPatience: null,
  freezeFeatures: false,
};

/** Learning rate at the start of an epoch (0-based). */
export function learningRateAt(config: TrainConfig, epoch: number): number {
  if (config.lrSchedule === 'cosine') return (config.lr * (1 + Math.cos((Math.PI * epoch) / config.epochs))) / 2;
  return config.lr;
}
