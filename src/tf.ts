/**
 * The one entry to TensorFlow.js for the whole project: tfjs-core with its gradients and chained ops
 * (`x.mul(y)`), which the core package alone does not register. Every module imports tf from here.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';

export * from '@tensorflow/tfjs-core';
