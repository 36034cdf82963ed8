/**
 * 'ReluGradBiasSum' for webgpu: the backward pass through conv + bias + ReLU's ReLU and bias, for the
 * registered FusedConv2D gradient (src/model/nn/fused_conv_grad.ts uses it where the backend has it; the
 * wasm backend has its own, src/backend/wasm/relu_grad.ts):
 *
 *   g [n, h, w, c] = y > 0 ? dy : 0        (y: the layer's output)
 *   db [c]         = sum of g over n, h, w
 *
 * Inputs dy, y (float32, one shape, channels last); outputs [g, db]. Three passes in place of Step,
 * Multiply, and Sum's transpose and reduction: g elementwise; the column sums of the masked dy in
 * `chunks` row ranges (each invocation one channel of one range, neighbouring invocations neighbouring
 * channels); and the ranges' sums added (./gemm.ts's SumSplitsProgram).
 */
import * as tf from '../../tf';
import { sumSplitsProgram } from './gemm';
import { ceilDiv, elementwiseProgram, GpuProgram, ints, release, WebGpuBackendLike } from './program';

export const RELU_GRAD_BIAS_SUM = 'ReluGradBiasSum';

/** partial[s, c] = sum over rows r in chunk s of (y > 0 ? dy : 0)[r, c]. */
function columnSumsProgram(chunks: number, c: number): GpuProgram {
  return {
    shaderKey: 'gn_relu_bias_sums',
    outputShape: [chunks, c],
    variableNames: ['dy', 'y'],
    uniforms: 'rows : i32, C : i32, rowsPerChunk : i32, ',
    workgroupSize: [64, 1, 1],
    dispatch: [ceilDiv(c, 64), chunks, 1],
    dispatchLayout: { x: [1], y: [0] },
    getUserCode: () => `
  fn main() {
    let ch = i32(globalId.x);
    let s = i32(globalId.y);
    if (ch >= uniforms.C) { return; }
    let r0 = s * uniforms.rowsPerChunk;
    let r1 = min(uniforms.rows, r0 + uniforms.rowsPerChunk);
    var acc = 0.0;
    for (var r = r0; r < r1; r = r + 1) {
      let i = r * uniforms.C + ch;
      acc = acc + select(0.0, dy[i], y[i] > 0.0);
    }
    result[s * uniforms.C + ch] = acc;
  }`,
  };
}

export function reluGradBiasSumWebGpu(args: { inputs: tf.NamedTensorInfoMap; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }): tf.TensorInfo[] {
  const { dy, y } = args.inputs as { dy: tf.TensorInfo; y: tf.TensorInfo };
  const backend = args.backend as unknown as WebGpuBackendLike;
  const shape = dy.shape.slice();
  const c = shape[shape.length - 1];
  const rows = shape.reduce((a, b) => a * b, 1) / c;
  const g = backend.runWebGPUProgram(elementwiseProgram('relu_grad', ['dy', 'y'], '', 'result[i] = select(0.0, dy[i], y[i] > 0.0);', shape), [dy, y], 'float32');
  // Enough row ranges to fill a GPU (a few hundred invocations per channel block), at least 64 rows each.
  const chunks = Math.max(1, Math.min(256, Math.floor(rows / 64)));
  const rowsPerChunk = ceilDiv(rows, chunks);
  const used = ceilDiv(rows, rowsPerChunk);
  const partial = backend.runWebGPUProgram(columnSumsProgram(used, c), [dy, y], 'float32', ints(rows, c, rowsPerChunk));
  const db = backend.runWebGPUProgram(sumSplitsProgram([c]), [partial], 'float32', ints(used));
  release(backend, partial);
  return [g, db];
}
