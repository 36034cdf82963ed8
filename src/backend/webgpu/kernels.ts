/** The kernels of this folder, by the tfjs kernel name each replaces (or adds: AdamStep, ReluGradBiasSum). */
import * as tf from '../../tf';
import { ADAM_STEP } from '../wasm/adam';
import { adamStepWebGpu } from './adam';
import { conv2DWebGpu, fusedConv2DWebGpu } from './conv_forward';
import { conv2DBackpropFilterWebGpu } from './conv_filter_grad';
import { conv2DBackpropInputWebGpu } from './conv_input_grad';
import { batchMatMulWebGpu } from './matmul';
import { RELU_GRAD_BIAS_SUM, reluGradBiasSumWebGpu } from './relu_grad';

export const WEBGPU_KERNELS: [string, tf.KernelFunc][] = [
  ['Conv2D', conv2DWebGpu as unknown as tf.KernelFunc],
  ['FusedConv2D', fusedConv2DWebGpu as unknown as tf.KernelFunc],
  ['Conv2DBackpropFilter', conv2DBackpropFilterWebGpu as unknown as tf.KernelFunc],
  ['Conv2DBackpropInput', conv2DBackpropInputWebGpu as unknown as tf.KernelFunc],
  ['BatchMatMul', batchMatMulWebGpu as unknown as tf.KernelFunc],
  [ADAM_STEP, adamStepWebGpu as unknown as tf.KernelFunc],
  [RELU_GRAD_BIAS_SUM, reluGradBiasSumWebGpu as unknown as tf.KernelFunc],
];
