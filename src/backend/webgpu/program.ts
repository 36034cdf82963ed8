/**
 * What this folder's kernels use of tfjs-backend-webgpu 4.22: its program interface (WebGPUProgram) and
 * `backend.runWebGPUProgram`, which compiles a program once per shader key (a pipeline cache), binds the
 * output then the inputs as storage buffers, and passes the shapes plus the program's own uniforms.
 *
 * A program's WGSL sees `result: array<f32>` (the output), one `array<f32>` per name in `variableNames`,
 * and `uniforms.<field>` for each field declared in `uniforms` ('M : i32, N : i32, '), filled in order
 * from the `int32` values given at run time. Shapes travel as uniforms, never in the source, so one
 * pipeline serves every layer: the shader key names only the program and its tile shape.
 */
import * as tf from '../../tf';

/** tfjs-backend-webgpu's WebGPUProgram, the fields this folder sets. */
export interface GpuProgram {
  /** Which compiled pipeline to use; tfjs appends the ranks and dtypes of the operands. */
  shaderKey: string;
  outputShape: number[];
  /** Input names, in binding order: each becomes a WGSL `array<f32>` of that name. */
  variableNames: string[];
  /** Extra uniform fields, WGSL struct syntax, each followed by ', '. */
  uniforms: string;
  workgroupSize: [number, number, number];
  /** Workgroups to launch. */
  dispatch: [number, number, number];
  /**
   * Output dimensions per dispatch axis. tfjs derives two things from it: whether the entry point is
   * `main(index)` (a flat layout, x only) or `main()`, and a coordinate helper this folder does not use.
   */
  dispatchLayout: { x: number[]; y?: number[]; z?: number[] };
  /** tfjs appends `uniforms.size` (the output's element count) when set. */
  size?: boolean;
  getUserCode(): string;
}

/** The parts of tfjs's WebGPUBackend used here. */
export interface WebGpuBackendLike {
  runWebGPUProgram(program: GpuProgram, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms?: { type: 'int32' | 'float32'; data: number[] }[], output?: tf.TensorInfo): tf.TensorInfo;
  disposeData(dataId: unknown, force?: boolean): boolean;
}

/** Uniform values in declaration order, all i32. */
export function ints(...values: number[]): { type: 'int32'; data: number[] }[] {
  return values.map((v) => ({ type: 'int32', data: [v] }));
}

/** Free an intermediate that a kernel made and does not return. */
export function release(backend: WebGpuBackendLike, t: tf.TensorInfo): void {
  backend.disposeData(t.dataId);
}

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

export type Conv2DAttrs = {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

/** tfjs's convolution geometry for NHWC, dilation 1. */
export function convInfo(xShape: number[], filterShape: number[], a: Conv2DAttrs): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    1,
    a.pad as never,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/**
 * One invocation per output element, `main(i)`: `body` writes `result[i]` from the inputs (named in
 * `variableNames`) at i. `uniforms.size` is the element count.
 */
export function elementwiseProgram(key: string, variableNames: string[], uniforms: string, body: string, shape: number[]): GpuProgram {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    shaderKey: `gn_${key}`,
    outputShape: shape,
    variableNames,
    uniforms,
    workgroupSize: [64, 1, 1],
    dispatch: [ceilDiv(size, 64), 1, 1],
    dispatchLayout: { x: shape.map((_, i) => i) },
    size: true,
    getUserCode: () => `
  fn main(i : i32) {
    if (i >= uniforms.size) { return; }
    ${body}
  }`,
  };
}
