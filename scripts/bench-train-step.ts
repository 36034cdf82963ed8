/**
 * Times a GoogLeNet training step (course variant, aux heads on, loss = CE(main) + 0.3 (CE(aux1) +
 * CE(aux2)), Adam 3e-4 through optimizer.minimize) on one backend, and prints where the time goes.
 *
 *   node --import tsx scripts/bench-train-step.ts --backend wasm --image-size 112 --batch-size 16 --steps 5
 *
 * Options: --warmup N (default 1), --profile-steps N (steps profiled per kernel, default 1; 0 = none),
 * --top N (kernels listed, default 25), --no-aux, --json, --threads N (wasm; default one per CPU).
 *
 * img/s is wall-clock; on a machine shared with other jobs the rate by this process's CPU time is also
 * printed. The profile times kernels as tfjs's profiler does (wall-clock per kernel, one step).
 */
import * as tf from '../src/tf';
import { initBackend } from '../src/backend/select';
import { BackendName } from '../src/backend/names';
import { createGoogLeNet } from '../src/model/googlenet';
import { createAdam } from '../src/train/adam';

interface Args {
  backend: string;
  imageSize: number;
  batchSize: number;
  steps: number;
  warmup: number;
  profileSteps: number;
  top: number;
  aux: boolean;
  json: boolean;
  threads?: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { backend: 'wasm', imageSize: 112, batchSize: 16, steps: 5, warmup: 1, profileSteps: 1, top: 25, aux: true, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = (): string => {
      const s = argv[++i];
      if (s === undefined) throw new Error(`${k} needs a value`);
      return s;
    };
    const n = (): number => {
      const x = Number(v());
      if (!Number.isFinite(x) || x < 0) throw new Error(`${k} needs a non-negative number`);
      return x;
    };
    switch (k) {
      case '--backend': a.backend = v(); break;
      case '--image-size': a.imageSize = n(); break;
      case '--batch-size': a.batchSize = n(); break;
      case '--steps': a.steps = n(); break;
      case '--warmup': a.warmup = n(); break;
      case '--profile-steps': a.profileSteps = n(); break;
      case '--top': a.top = n(); break;
      case '--no-aux': a.aux = false; break;
      case '--json': a.json = true; break;
      case '--threads': a.threads = n(); break;
      default: throw new Error(`unknown option ${k}`);
    }
  }
  return a;
}

function shapeKey(shapes: number[][]): string {
  return shapes.map((s) => (s ? `[${s.join(',')}]` : '-')).join(' ');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const choice = await initBackend(args.backend as BackendName, args.threads ? { wasmThreads: args.threads } : {});
  const { batchSize: n, imageSize: s } = args;
  const numClasses = 5;
  const model = createGoogLeNet({ variant: 'course', numClasses, auxLogits: args.aux, seed: 1 });
  const vars = model.namedParameters().map(([, p]) => p);
  const x = tf.randomNormal([n, s, s, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
  const labels = tf.oneHot(tf.tensor1d(Array.from({ length: n }, (_, i) => i % numClasses), 'int32'), numClasses);
  const optimizer = createAdam(3e-4);
  let seed = 1;
  const ce = (logits: tf.Tensor2D) => tf.losses.softmaxCrossEntropy(labels, logits);
  const step = (): number => {
    const loss = optimizer.minimize(
      () => {
        const out = model.forward(x, { training: true, nextSeed: () => seed++ });
        let l = ce(out.logits) as tf.Scalar;
        if (out.aux1 && out.aux2) l = l.add(ce(out.aux1).add(ce(out.aux2)).mul(0.3));
        return l;
      },
      true,
      vars,
    );
    const v = loss!.dataSync()[0];
    loss!.dispose();
    return v;
  };

  for (let i = 0; i < args.warmup; i++) step();
  const tensorsBefore = tf.memory().numTensors;
  const times: number[] = [];
  let lastLoss = NaN;
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < args.steps; i++) {
    const t0 = performance.now();
    lastLoss = step();
    times.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  // CPU time of this process: on a machine shared with other jobs, closer to what an idle core gives.
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const tensorsAfter = tf.memory().numTensors;
  const total = times.reduce((a, b) => a + b, 0);
  const imgPerSec = times.length ? (n * times.length) / (total / 1000) : NaN;
  const best = times.length ? Math.min(...times) : NaN;

  // Per-kernel profile: total ms per kernel name, and the heaviest (kernel, shapes) calls.
  const byName = new Map<string, { ms: number; calls: number }>();
  const byShape = new Map<string, { ms: number; calls: number }>();
  let profiledMs = 0;
  let wallMs = 0;
  for (let i = 0; i < args.profileSteps; i++) {
    const t0 = performance.now();
    const info = await tf.profile(() => {
      step();
    });
    wallMs += performance.now() - t0;
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      profiledMs += ms;
      const a = byName.get(k.name) ?? { ms: 0, calls: 0 };
      a.ms += ms;
      a.calls++;
      byName.set(k.name, a);
      const key = `${k.name} ${shapeKey(k.inputShapes as number[][])} -> ${shapeKey(k.outputShapes as number[][])}`;
      const b = byShape.get(key) ?? { ms: 0, calls: 0 };
      b.ms += ms;
      b.calls++;
      byShape.set(key, b);
    }
  }
  const steps = Math.max(1, args.profileSteps);
  const kernels = [...byName.entries()]
    .map(([name, v]) => ({ name, msPerStep: v.ms / steps, callsPerStep: v.calls / steps }))
    .sort((a, b) => b.msPerStep - a.msPerStep);
  const calls = [...byShape.entries()]
    .map(([call, v]) => ({ call, msPerStep: v.ms / steps, callsPerStep: v.calls / steps }))
    .sort((a, b) => b.msPerStep - a.msPerStep)
    .slice(0, args.top);

  const result = {
    backend: choice.name,
    imageSize: s,
    batchSize: n,
    steps: times.length,
    stepMs: times.map((t) => Math.round(t)),
    trainImagesPerSec: imgPerSec,
    bestImagesPerSec: n / (best / 1000),
    cpuTimeImagesPerSec: times.length ? (n * times.length) / (cpuMs / 1000) : NaN,
    loss: lastLoss,
    tensorsBefore,
    tensorsAfter,
    profile: args.profileSteps > 0 ? { kernelMsPerStep: profiledMs / steps, wallMsPerStep: wallMs / steps, kernels: kernels.slice(0, args.top), calls } : undefined,
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return;
  }
  const out: string[] = [];
  out.push(
    `backend ${result.backend}, ${s} px, batch ${n}, ${times.length} steps: ${imgPerSec.toFixed(2)} img/s ` +
      `(best step ${result.bestImagesPerSec.toFixed(2)} img/s; by process CPU time ${result.cpuTimeImagesPerSec.toFixed(2)} img/s)`,
  );
  out.push(`step ms: ${result.stepMs.join(' ')}; loss ${lastLoss.toFixed(4)}; tensors ${tensorsBefore} -> ${tensorsAfter}`);
  if (result.profile) {
    const p = result.profile;
    out.push(`profile (${steps} step${steps > 1 ? 's' : ''}): kernels ${p.kernelMsPerStep.toFixed(0)} ms/step of ${p.wallMsPerStep.toFixed(0)} ms wall`);
    for (const k of p.kernels) {
      const pct = (100 * k.msPerStep) / p.kernelMsPerStep;
      out.push(`  ${k.msPerStep.toFixed(1).padStart(9)} ms ${pct.toFixed(1).padStart(5)}%  ${String(k.callsPerStep).padStart(5)} calls  ${k.name}`);
    }
    out.push('heaviest calls:');
    for (const c of p.calls) out.push(`  ${c.msPerStep.toFixed(1).padStart(9)} ms  x${c.callsPerStep}  ${c.call}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
