/**
 * The gradient through a fused layer's bias and ReLU, shared by the gradients registered for the
 * fused kernels (./fused_conv_grad.ts: FusedConv2D, ./fused_mat_mul_grad.ts: _FusedMatMul):
 *
 *   g  = dy * step(y)              (ReLU; step(0) = 0, as tfjs's Relu gradient; g = dy when linear)
 *   db = sum of g over every axis but the last (channels, or a dense layer's outputs)
 *
 * g is computed once per tape node and shared by the node's (up to three) gradient closures, which
 * the tape calls one after another, in input order, each in its own tidy scope, and with the bias last.
 * It is kept across them and freed by the bias closure, when the tape moves on to the next fused node,
 * or after the backward pass. Where the backend has the one-pass kernel (ReluGradBiasSum: wasm,
 * src/backend/wasm/relu_grad.ts; WebGPU), g and db come from one pass.
 */
import * as tf from '../../tf';

/** g and db in one pass, where the backend has such a kernel. */
const RELU_GRAD_BIAS_SUM = 'ReluGradBiasSum';

/** The ReLU-masked dy of the node being differentiated. */
let pendingReluGrad: tf.Tensor | null = null;
/** db made with g by the backend's one-pass kernel, until the bias closure hands it to the tape. */
let pendingBiasGrad: tf.Tensor | null = null;

function release(): void {
  if (pendingReluGrad && !pendingReluGrad.isDisposed) pendingReluGrad.dispose();
  if (pendingBiasGrad && !pendingBiasGrad.isDisposed) pendingBiasGrad.dispose();
  pendingReluGrad = null;
  pendingBiasGrad = null;
}

export interface ReluBiasGrad {
  /** The gradient at the layer's pre-activation output (the product's or the convolution's). */
  g(): tf.Tensor;
  /** The bias's gradient; call it in the bias closure, the node's last. */
  db(): tf.Tensor;
}

/** For one fused node: dy the gradient at its output y (y = relu(z) where `relu`, else y = z). */
export function reluBiasGrad(dy: tf.Tensor, y: tf.Tensor, relu: boolean): ReluBiasGrad {
  release(); // the previous node's closures have all run by now
  let masked: tf.Tensor | null = null;
  const g = (): tf.Tensor => {
    if (!relu) return dy;
    if (masked === null || masked.isDisposed) {
      if (tf.getKernel(RELU_GRAD_BIAS_SUM, tf.getBackend())) {
        const [gr, db] = tf.engine().runKernel(RELU_GRAD_BIAS_SUM, { dy, y }, {}) as unknown as tf.Tensor[];
        masked = tf.keep(gr);
        pendingBiasGrad = tf.keep(db);
      } else {
        masked = tf.keep(tf.mul(dy, tf.step(y)));
      }
      pendingReluGrad = masked;
      queueMicrotask(release); // after the (synchronous) backward pass, for the last node
    }
    return masked;
  };
  const db = (): tf.Tensor => {
    const gr = g();
    // The kept one-pass db handed to the tape as an ordinary tensor of this scope (a clone shares its
    // data): the tape frees the gradients it passes on, as when the bias is a concatenation
    // (./shared_input_convs.ts), and a kept one would outlive the step.
    const out = pendingBiasGrad ? pendingBiasGrad.clone() : tf.sum(gr, [...Array(gr.rank - 1).keys()]);
    release();
    return out;
  };
  return { g, db };
}
