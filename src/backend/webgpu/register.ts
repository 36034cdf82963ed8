/**
 * The project's own WebGPU training kernels (this folder), registered for tfjs's 'webgpu' backend under
 * the names and attributes of the kernels they replace, or removed again so that tfjs's shipped kernels
 * run (InitBackendOptions.stockKernels, GOOGLENET_STOCK_KERNELS=1). Each replaced kernel's shipped
 * registration is kept, so switching back and forth in one process restores it exactly.
 */
import * as tf from '../../tf';
import { WEBGPU_KERNELS } from './kernels';
import { keepShipped, shippedKernel } from './shipped';

let active = false;

/** Register the project's kernels for 'webgpu' (on = true) or restore tfjs's shipped ones (idempotent). */
export function setWebGpuTrainingKernels(on: boolean): void {
  if (on === active) return;
  // The package registers its kernels for 'webgpu' when it loads.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-webgpu');
  for (const [kernelName, kernelFunc] of WEBGPU_KERNELS) {
    if (on) {
      keepShipped(kernelName);
      if (tf.getKernel(kernelName, 'webgpu')) tf.unregisterKernel(kernelName, 'webgpu'); // re-registering would warn
      tf.registerKernel({ kernelName, backendName: 'webgpu', kernelFunc });
    } else {
      tf.unregisterKernel(kernelName, 'webgpu');
      const original = shippedKernel(kernelName);
      if (original) tf.registerKernel(original);
    }
  }
  active = on;
}

/** Whether the project's kernels are registered for 'webgpu' now. */
export function webGpuTrainingKernelsActive(): boolean {
  return active;
}
