/** The kernels of this folder, by the tfjs kernel name each replaces (or adds, for AdamStep). */
import * as tf from '../../tf';
import { conv2DBackpropFilterWebGpu } from './conv_filter_grad';
import { conv2DBackpropInputWebGpu } from './conv_input_grad';

export const WEBGPU_KERNELS: [string, tf.KernelFunc][] = [
  ['Conv2DBackpropFilter', conv2DBackpropFilterWebGpu as unknown as tf.KernelFunc],
  ['Conv2DBackpropInput', conv2DBackpropInputWebGpu as unknown as tf.KernelFunc],
];
