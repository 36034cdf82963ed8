/**
 * _FusedMatMul (product + bias + ReLU) for the wasm backend, in training: a dense layer with a batch
 * of rows (the aux heads' fc1, [16, 2048] . [2048, 1024] at batch 16) on dense_forward, which reads
 * the weights in place and adds the bias and applies the ReLU as it stores the last k block. The
 * shipped kernel runs XNNPACK, which packs the weights first at several times the cost of the product
 * and caches the packing per tensor: free in inference, where the weights stay, and kept there; in
 * training the weights change every step (./batch_mat_mul.ts says the same of BatchMatMul).
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, view, wasmKernel } from './common';
import { FEW_ROWS, denseForward, singleProduct } from './batch_mat_mul';

export function fusedMatMul(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { a, b, bias, preluActivationWeights } = args.inputs as { a: Info; b: Info; bias?: Info; preluActivationWeights?: Info };
  const { transposeA, transposeB, activation } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean; activation: string };
  const original = () => wasmKernel('_FusedMatMul').kernelFunc(args as never) as Info;
  if (tf.engine().state.gradientDepth === 0 || transposeA || transposeB || preluActivationWeights || !bias) return original();
  if (activation !== 'relu' && activation !== 'linear') return original();
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || bias.dtype !== 'float32') return original();
  const dims = singleProduct(a, b, false, false);
  if (!dims) return original();
  const { m, k, n, outShape } = dims;
  if (m === 0 || m > FEW_ROWS || n % 8 !== 0 || bias.shape.length !== 1 || bias.shape[0] !== n) return original();
  return view(denseForward(backend, a, b, m, k, n, bias, activation === 'relu'), outShape);
}
