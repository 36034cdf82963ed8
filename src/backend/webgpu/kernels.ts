/** The kernels of this folder, by the tfjs kernel name each replaces (or adds, for AdamStep). */
import * as tf from '../../tf';

export const WEBGPU_KERNELS: [string, tf.KernelFunc][] = [];
