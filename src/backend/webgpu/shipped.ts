/**
 * tfjs's own webgpu kernels that this folder replaces, kept when ours are registered: the cases ours
 * do not cover (NCHW, dilation, other activations) run them, and GOOGLENET_STOCK_KERNELS restores them.
 */
import * as tf from '../../tf';

const shipped = new Map<string, tf.KernelConfig | undefined>();

/** Remember tfjs's kernel for this name (the first time only: later it may be ours). */
export function keepShipped(kernelName: string): void {
  if (!shipped.has(kernelName)) shipped.set(kernelName, tf.getKernel(kernelName, 'webgpu'));
}

export function shippedKernel(kernelName: string): tf.KernelConfig | undefined {
  return shipped.get(kernelName);
}

/** Run tfjs's kernel for these arguments (a case the project's kernel does not handle). */
export function runShipped(kernelName: string, args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo | tf.TensorInfo[] {
  const k = shipped.get(kernelName);
  if (!k) throw new Error(`no shipped webgpu kernel ${kernelName} to fall back to`);
  return k.kernelFunc(args as never);
}
