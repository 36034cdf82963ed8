/**
 * A gradient for tfjs's FusedConv2D kernel (conv + bias + ReLU in one kernel), which tfjs does not have.
 *
 * Without it, `tf.fused.conv2d` falls back to three kernels whenever a gradient tape is recording
 * (conv2d, add, relu): three activation-sized tensors per layer are kept until the backward pass, and
 * two extra passes run per layer. With it, `Conv2d.apply` runs FusedConv2D in training too: one
 * tensor per layer (the output, which the ReLU gradient needs) and XNNPACK's fused bias + ReLU on wasm.
 * The gradient is the one of the three-kernel composition:
 *
 *   g  = dy * step(y)                      (ReLU; step(0) = 0, as tfjs's Relu gradient)
 *   dx = conv2dBackpropInput(g, filter)    dW = conv2dBackpropFilter(x, g)    db = sum(g, [0, 1, 2])
 *
 * Registered for NHWC, dilation 1, activation 'relu' or 'linear' (what the model uses); anything else
 * is refused with a message rather than given a wrong gradient. Gradients are lazy per input: a conv
 * whose input needs no gradient (conv1, on the images) computes no input gradient.
 */
import * as tf from '../../tf';

const KERNEL = 'FusedConv2D';

interface FusedConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dilations: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  activation: string;
}

let registered = false;

/**
 * The ReLU-masked dy, computed once per node and shared by its (up to three) gradient closures, which
 * the tape calls one after another, each in its own tidy scope. It is kept across them and freed when
 * the tape moves on to the next FusedConv2D node, or after the backward pass.
 */
let pendingReluGrad: tf.Tensor | null = null;
/** db made with g by the backend's one-pass kernel, until the bias closure hands it to the tape. */
let pendingBiasGrad: tf.Tensor | null = null;

/** g and db in one pass, where the backend has such a kernel (wasm: src/backend/wasm/relu_grad.ts). */
const RELU_GRAD_BIAS_SUM = 'ReluGradBiasSum';

function releaseReluGrad(): void {
  if (pendingReluGrad && !pendingReluGrad.isDisposed) pendingReluGrad.dispose();
  if (pendingBiasGrad && !pendingBiasGrad.isDisposed) pendingBiasGrad.dispose();
  pendingReluGrad = null;
  pendingBiasGrad = null;
}

/** Register the gradient (idempotent). */
export function registerFusedConvGradient(): void {
  if (registered) return;
  registered = true;
  tf.registerGradient({
    kernelName: KERNEL,
    inputsToSave: ['x', 'filter'],
    outputsToSave: [true],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dataFormat, dilations, dimRoundingMode, activation } = attrs as unknown as FusedConvAttrs;
      const d = typeof dilations === 'number' ? [dilations, dilations] : dilations;
      if (dataFormat !== 'NHWC' || d[0] !== 1 || d[1] !== 1 || (activation !== 'relu' && activation !== 'linear')) {
        throw new Error(`the FusedConv2D gradient here covers NHWC, dilation 1, relu or linear; got ${dataFormat}, dilation ${d}, ${activation}`);
      }
      releaseReluGrad(); // the previous node's closures have all run by now
      let relu: tf.Tensor | null = null;
      const g = (): tf.Tensor => {
        if (activation !== 'relu') return dy as tf.Tensor;
        if (relu === null || relu.isDisposed) {
          if (tf.getKernel(RELU_GRAD_BIAS_SUM, tf.getBackend())) {
            const [gr, db] = tf.engine().runKernel(RELU_GRAD_BIAS_SUM, { dy: dy as tf.Tensor, y }, {}) as unknown as tf.Tensor[];
            relu = tf.keep(gr);
            pendingBiasGrad = tf.keep(db);
          } else {
            relu = tf.keep(tf.mul(dy as tf.Tensor, tf.step(y)));
          }
          pendingReluGrad = relu;
          queueMicrotask(releaseReluGrad); // after the (synchronous) backward pass, for the last node
        }
        return relu;
      };
      const conv = { strides, pad, dataFormat, dimRoundingMode };
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: g(), filter }, { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g() }, { ...conv, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
        // The tape calls the closures in input order (x, filter, bias): after bias, g is done with.
        bias: () => {
          const gr = g();
          // The kept one-pass db handed to the tape as an ordinary tensor of this scope (a clone shares
          // its data): the tape frees the gradients it passes on, as when the bias is a concatenation
          // (./shared_input_convs.ts), and a kept one would outlive the step.
          const db = pendingBiasGrad ? pendingBiasGrad.clone() : tf.sum(gr, [0, 1, 2]);
          releaseReluGrad();
          return db;
        },
      };
    },
  });
}
