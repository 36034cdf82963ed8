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
import { reluBiasGrad } from './relu_bias_grad';

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
      const { g, db } = reluBiasGrad(dy as tf.Tensor, y, activation === 'relu');
      const conv = { strides, pad, dataFormat, dimRoundingMode };
      return {
        x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: g(), filter }, { ...conv, inputShape: x.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
        filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g() }, { ...conv, filterShape: filter.shape } as unknown as tf.NamedAttrMap) as tf.Tensor,
        // The tape calls the closures in input order (x, filter, bias): after bias, g is done with.
        bias: db,
      };
    },
  });
}
