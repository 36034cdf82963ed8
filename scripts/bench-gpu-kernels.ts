/**
 * The project's webgpu kernels beside the tfjs kernels they replace, on GoogLeNet's layer shapes, in one
 * run: `node --import tsx scripts/bench-gpu-kernels.ts [--batch-size 8] [--image-size 64] [--rounds 3]`.
 * Prints one JSON line per (kernel, layer): GPU milliseconds (timestamp queries through tf.time) of the
 * project's kernel and of tfjs's, each the median of `--rounds` alternating rounds, and their ratio.
 * Where the adapter has no timestamp queries, wall-clock to the output read back is used instead
 * ("timing": "wall").
 *
 * Layers (course variant, at the given size): conv1 7x7/2 on 3 channels, conv2's 3x3, an inception 1x1,
 * 3x3 and 5x5 at each map size, the aux heads' adaptive pooling matmul.
 */
import * as tf from '../src/tf';
import { initBackend, releaseBackends } from '../src/backend/select';
import { setWebGpuTrainingKernels } from '../src/backend/webgpu/register';
import { GemmBlock, setGemmBlock } from '../src/backend/webgpu/gemm';

interface Layer {
  name: string;
  /** Input map side at this layer, as a fraction of the image size (conv1 sees the image). */
  div: number;
  ci: number;
  co: number;
  k: number;
  stride: number;
}

const LAYERS: Layer[] = [
  { name: 'conv1 7x7/2', div: 1, ci: 3, co: 64, k: 7, stride: 2 },
  { name: 'conv2 3x3', div: 4, ci: 64, co: 192, k: 3, stride: 1 },
  { name: 'inception3a 1x1', div: 8, ci: 192, co: 64, k: 1, stride: 1 },
  { name: 'inception3a 3x3', div: 8, ci: 96, co: 128, k: 3, stride: 1 },
  { name: 'inception4e 3x3', div: 16, ci: 160, co: 320, k: 3, stride: 1 },
  { name: 'inception4e 5x5', div: 16, ci: 32, co: 128, k: 5, stride: 1 },
  { name: 'inception5b 1x1', div: 32, ci: 832, co: 384, k: 1, stride: 1 },
  { name: 'inception5b 3x3', div: 32, ci: 192, co: 384, k: 3, stride: 1 },
];

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a whole number >= 1`);
  return v;
}

async function timeMs(f: () => tf.Tensor, wall: boolean): Promise<number> {
  if (wall) {
    const t0 = performance.now();
    const t = f();
    await t.data();
    t.dispose();
    return performance.now() - t0;
  }
  let out: tf.Tensor | null = null;
  const info = await tf.time(() => {
    out = f();
  });
  await out!.data();
  (out as tf.Tensor | null)?.dispose();
  return info.kernelMs as number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const batch = arg('--batch-size', 8);
  const size = arg('--image-size', 64);
  const rounds = arg('--rounds', 3);
  const bi = process.argv.indexOf('--block');
  const blocks: GemmBlock[] = bi >= 0 ? (process.argv[bi + 1].split(',').map(Number) as GemmBlock[]) : [8];
  const choice = await initBackend('webgpu');
  // tf.time gives 0 without timestamp queries: measure once to tell.
  const probe = await tf.time(() => tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64]))).dispose());
  const wall = !(typeof probe.kernelMs === 'number' && probe.kernelMs > 0);
  const cases: { kernel: string; layer: string; shapes: string; run: () => tf.Tensor; operands: tf.Tensor[] }[] = [];
  for (const l of LAYERS) {
    const s = Math.max(1, Math.ceil(size / l.div));
    const pad = (l.k - 1) / 2;
    const x = tf.randomUniform([batch, s, s, l.ci], -1, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomUniform([l.k, l.k, l.ci, l.co], -1, 1, 'float32', 2) as tf.Tensor4D;
    const bias = tf.randomUniform([l.co], -1, 1, 'float32', 3);
    const o = Math.ceil(s / l.stride);
    const dy = tf.randomUniform([batch, o, o, l.co], -1, 1, 'float32', 4) as tf.Tensor4D;
    const conv = { strides: [l.stride, l.stride], pad, dataFormat: 'NHWC', dilations: 1 };
    const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => () => tf.engine().runKernel(name, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    const shapes = `x [${x.shape}] w [${w.shape}] stride ${l.stride}`;
    const operands = [x, w, bias, dy];
    cases.push({ kernel: 'FusedConv2D', layer: l.name, shapes, operands, run: run('FusedConv2D', { x, filter: w, bias }, { ...conv, activation: 'relu' }) });
    cases.push({ kernel: 'Conv2DBackpropFilter', layer: l.name, shapes, operands, run: run('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: w.shape }) });
    if (l.ci > 3) cases.push({ kernel: 'Conv2DBackpropInput', layer: l.name, shapes, operands, run: run('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: x.shape }) });
  }
  const a = tf.randomUniform([4, 4], -1, 1, 'float32', 5);
  const b = tf.randomUniform([4, 528 * 4 * batch], -1, 1, 'float32', 6);
  cases.push({ kernel: 'BatchMatMul', layer: 'aux adaptive pooling', shapes: `[${a.shape}] x [${b.shape}]`, operands: [a, b], run: () => tf.matMul(a, b) });
  let totals = { project: 0, stock: 0 };
  for (const c of cases) {
    const kinds = [...blocks.map((b) => `project${b}`), 'stock'];
    const ms: Record<string, number[]> = {};
    const use = (kind: string) => {
      setWebGpuTrainingKernels(kind !== 'stock');
      if (kind !== 'stock') setGemmBlock(Number(kind.slice(7)) as GemmBlock);
    };
    for (const kind of kinds) {
      use(kind);
      ms[kind] = [];
      await timeMs(c.run, wall); // compile the pipeline
    }
    for (let r = 0; r < rounds; r++) {
      for (const kind of kinds) {
        use(kind);
        ms[kind].push(await timeMs(c.run, wall));
      }
    }
    const perBlock = Object.fromEntries(blocks.map((b) => [`block${b}Ms`, median(ms[`project${b}`])]));
    const project = Math.min(...blocks.map((b) => median(ms[`project${b}`])));
    const stock = median(ms.stock);
    totals = { project: totals.project + project, stock: totals.stock + stock };
    process.stdout.write(`${JSON.stringify({ kernel: c.kernel, layer: c.layer, shapes: c.shapes, batchSize: batch, imageSize: size, projectMs: project, stockMs: stock, speedup: stock / project, ...(blocks.length > 1 ? perBlock : {}), timing: wall ? 'wall' : 'gpu-timestamps' })}\n`);
  }
  process.stdout.write(`${JSON.stringify({ kernel: 'all of the above', device: choice.report.device, projectMs: totals.project, stockMs: totals.stock, speedup: totals.stock / totals.project, rounds })}\n`);
  tf.dispose(cases.flatMap((c) => c.operands));
  setWebGpuTrainingKernels(true);
  releaseBackends();
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench-gpu-kernels: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
