/**
 * The one entry to TensorFlow.js for the whole project.
 *
 * tfjs-core's CommonJS bundle has no gradients and no chained ops (`x.mul(y)`); its separate files that
 * register them are ES modules with extensionless imports, which plain Node and tslab cannot load.
 * The @tensorflow/tfjs package's Node bundle registers both in CommonJS, so we load it for that side
 * effect, after tfjs-core, so that tfjs-core's Tensor class (with all its methods) stays the global one.
 */
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs';

export * from '@tensorflow/tfjs-core';
