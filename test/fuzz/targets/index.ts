/** The fuzz targets by name, for the test and scripts/fuzz.ts. */
import * as tf from '../../../src/tf';
import type { Target } from '../harness';
import { seedSet } from '../seeds';
import { checkpointTarget } from './checkpoint';
import { imageTarget } from './image';
import { pthTarget } from './pth';
import { zipTarget } from './zip';

export const TARGETS = ['pth', 'zip', 'checkpoint', 'image'] as const;
export type TargetName = (typeof TARGETS)[number];

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTarget = Target<any> & { dispose?(): void };

/** The target `name`; its seeds from `seedDir` where seedSet() already made them (scripts/fuzz.ts's workers). */
export async function makeTarget(name: TargetName, seedDir?: string): Promise<AnyTarget> {
  if (name === 'checkpoint') {
    await tf.setBackend('cpu');
    return checkpointTarget();
  }
  const seeds = seedSet(seedDir);
  return name === 'pth' ? pthTarget(seeds) : name === 'zip' ? zipTarget(seeds) : imageTarget(seeds);
}
