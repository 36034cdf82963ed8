/**
 * Sum for the wasm backend when it reduces leading axes (the bias gradient of every conv: dy [N,H,W,C]
 * summed over N, H, W). The shipped kernel first moves the reduced axes last with its generic N-d
 * transpose (an index computation per element, then a second pass); here the tensor is seen as a
 * matrix [outer, inner] and its columns are summed in one pass, in float64 as the cpu backend does.
 */
import * as tf from '../../tf';
import { BackendWasm, Info, KernelArgs, f32, sizeOf, view, wasmKernel } from './common';

export function sum(args: KernelArgs): Info {
  const backend = args.backend as unknown as BackendWasm;
  const { x } = args.inputs as { x: Info };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const original = () => wasmKernel('Sum').kernelFunc(args as never) as Info;
  if (x.dtype !== 'float32') return original();
  const axes = tf.util.parseAxisParam(axis, x.shape).slice().sort((a, b) => a - b);
  const k = axes.length;
  const leading = k > 0 && k < x.shape.length && axes.every((a, i) => a === i);
  if (!leading) return original();
  const outer = sizeOf(x.shape.slice(0, k));
  const inner = sizeOf(x.shape.slice(k));
  if (outer === 1) return original();
  const out = backend.makeOutput([inner], 'float32');
  const acc = f32(backend, out);
  const xs = f32(backend, x);
  const tmp = new Float64Array(inner);
  for (let r = 0; r < outer; r++) {
    const o = r * inner;
    for (let c = 0; c < inner; c++) tmp[c] += xs[o + c];
  }
  acc.set(tmp);
  const shape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  return view(out, shape);
}
