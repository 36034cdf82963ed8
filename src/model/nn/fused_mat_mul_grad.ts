/**
 * A gradient for tfjs's _FusedMatMul kernel (product + bias + ReLU in one kernel), registered so that
 * a dense layer with a ReLU (the aux heads' fc1) runs one kernel in training too.
 *
 * `tf.fused.matMul` splits a ReLU'd product into three kernels (matMul, add, relu) whenever a gradient
 * tape is recording: the broadcast bias add runs on the backend's generic kernel (wasm: 0.8 ms for the
 * aux heads' [16, 1024], twice a step) and two more [batch, 1024] tensors are kept for the backward
 * pass. With this gradient, `Linear.apply` runs _FusedMatMul directly; the gradient is the one of the
 * composition, with a [1, m, k], b [1, k, n] (the kernel's rank-3 operands), y [1, m, n]:
 *
 *   g = dy * step(y) (ReLU; dy when linear)    da = g b^T    db = a^T g    dbias = sum(g, [0, 1])
 *
 * Registered for untransposed operands, a bias and activation 'relu' or 'linear' (what Linear runs);
 * anything else is refused with a message rather than given a wrong gradient. Gradients are lazy per
 * input, as in ./fused_conv_grad.ts, with which it shares the ReLU and bias gradient (./relu_bias_grad.ts).
 */
import * as tf from '../../tf';
import { reluBiasGrad } from './relu_bias_grad';

const KERNEL = '_FusedMatMul';

interface FusedMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
  activation: string;
}

let registered = false;

/** Register the gradient (idempotent). */
export function registerFusedMatMulGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: KERNEL,
    inputsToSave: ['a', 'b'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [a, b, y] = saved as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
      const { transposeA, transposeB, activation } = attrs as unknown as FusedMatMulAttrs;
      if (transposeA || transposeB || (activation !== 'relu' && activation !== 'linear')) {
        throw new Error(`the _FusedMatMul gradient here covers untransposed operands, relu or linear; got transposeA ${transposeA}, transposeB ${transposeB}, ${activation}`);
      }
      const { g, db } = reluBiasGrad(dy as tf.Tensor, y, activation === 'relu');
      return {
        a: () => tf.matMul(g() as tf.Tensor3D, b, false, true), // [1, m, k]
        b: () => tf.matMul(a, g() as tf.Tensor3D, true, false), // [1, k, n]
        // The tape calls the closures in input order (a, b, bias): after bias, g is done with.
        bias: db, // [n]
      };
    },
  });
}
