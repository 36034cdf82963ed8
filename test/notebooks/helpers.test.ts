/**
 * src/notebook without a kernel: chart bundles (offline, small, readable without scripts), live
 * updates in place, tables, images, and the exercise checkers against right, wrong and TODO answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { DisplayMessage, setDisplaySink, tableBundle } from '../../src/notebook/display';
import { LiveSeries, PLOTLY_MIME, plotBundle, Figure, toSvg, niceTicks } from '../../src/notebook/plot';
import { featureMapGrid, toPng } from '../../src/notebook/image';
import { TrainingCharts } from '../../src/notebook/training';
import { TODO, Verdict, report } from '../../src/notebook/checks';
import {
  batchNormVerdicts,
  branch3Verdicts,
  minSizeVerdicts,
  noAuxVerdicts,
  vggVerdicts,
  VGG_CONFIGS,
} from '../../src/notebook/exercises';
import { INCEPTION_SPECS, InceptionSpec } from '../../src/model/specs';
import { poolOutputSize } from '../../src/model/nn/pool';

const shown: { msg: DisplayMessage; update: boolean }[] = [];
before(async () => {
  await initBackend('cpu');
  setDisplaySink((msg, update) => shown.push({ msg, update }));
});
after(() => setDisplaySink(null));

const FIG: Figure = {
  title: 'a <test> & chart',
  data: [
    { type: 'bar', name: 'params', x: ['conv1', 'conv2', 'conv3'], y: [9472, 4160, 110784] },
    { type: 'scatter', name: 'line', x: ['conv1', 'conv2', 'conv3'], y: [1, 2, 3], dash: true },
  ],
  yaxis: { title: 'count' },
};

test('a chart bundle carries plotly JSON, an HTML loader with a static SVG, and plain text', async () => {
  const b = plotBundle(FIG);
  const plotly = b[PLOTLY_MIME] as { data: unknown[]; layout: { title: { text: string } } };
  assert.equal(plotly.data.length, 2);
  assert.equal(plotly.layout.title.text, 'a <test> & chart');
  const html = b['text/html'] as string;
  // The static copy: an <img> with a data: URL (kept by Jupyter's sanitizer when scripts are stripped).
  const m = /<img class="googlenet-plot-static"[^>]* src="data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)"/.exec(html);
  assert.ok(m, 'static SVG image in the HTML');
  const png = await sharp(Buffer.from(m[1], 'base64')).png().toBuffer(); // a valid SVG document
  assert.ok(png.length > 1000);
  // Offline: no CDN or other remote URL, and plotly.js itself is never inlined.
  assert.doesNotMatch(html, /https?:\/\//);
  assert.ok(html.length < 30000, `chart HTML is ${html.length} bytes`);
  assert.match(html, /nbextensions\/googlenet-ts\/plotly\.min\.js/);
  assert.match(html, /googlenet-ts\/static\/plotly\.min\.js/);
  // The figure JSON inside <script> cannot close the element early.
  const script = html.slice(html.indexOf('<script'));
  assert.equal(script.split('</script>').length, 2);
  assert.doesNotMatch(script.slice(0, script.indexOf('</script>')), /<test>/);
  assert.equal(b['text/plain'], 'Chart: a <test> & chart (params, line)');
});

test('the static SVG escapes text and draws every bar', () => {
  const svg = toSvg(FIG);
  assert.match(svg, /a &lt;test&gt; &amp; chart/);
  assert.equal((svg.match(/<rect x=/g) ?? []).length, 3 + 2); // 3 bars + 2 legend swatches
  assert.match(svg, /stroke-dasharray/);
  assert.deepEqual(niceTicks(0, 1024), [0, 200, 400, 600, 800, 1000, 1200]);
});

test('a live chart replaces one output in place', async () => {
  shown.length = 0;
  const live = new LiveSeries({ title: 'loss' }, ['train', 'val'], { minIntervalMs: 0 });
  await live.push(1, { train: 1.5, val: 1.7 });
  await live.push(2, { train: 1.1, val: 1.3 });
  live.finish();
  assert.equal(shown.length, 4);
  const ids = new Set(shown.map((s) => s.msg.transient.display_id));
  assert.equal(ids.size, 1, 'one display id');
  assert.deepEqual(shown.map((s) => s.update), [false, true, true, true]);
  const last = shown[3].msg.data[PLOTLY_MIME] as { data: { y: number[] }[] };
  assert.deepEqual(last.data[0].y, [1.5, 1.1]);
});

test("training charts: SIGINT (Jupyter's stop button) stops training, finish() then throws and stops listening", () => {
  shown.length = 0;
  const listeners = process.listenerCount('SIGINT');
  const calm = new TrainingCharts({ minIntervalMs: 0 });
  assert.equal(calm.callbacks().shouldStop!(), false);
  calm.finish(); // not interrupted: no throw
  assert.equal(process.listenerCount('SIGINT'), listeners, 'finish() stops listening');

  const charts = new TrainingCharts({ minIntervalMs: 0 });
  const cb = charts.callbacks();
  assert.equal(process.listenerCount('SIGINT'), listeners + 1);
  cb.onEpochStart!({ epoch: 1, epochs: 3, steps: 4 });
  cb.onBatchEnd!({ epoch: 1, step: 1, steps: 4, loss: 2.5, imagesPerSec: 10 });
  assert.equal(cb.shouldStop!(), false);
  process.emit('SIGINT', 'SIGINT'); // what the kernel receives (our listener is there, so the process lives on)
  assert.equal(cb.shouldStop!(), true, 'the trainer polls shouldStop between batches');
  assert.throws(() => charts.finish(), /training interrupted at epoch 0\.25/);
  assert.equal(process.listenerCount('SIGINT'), listeners);
  const title = (shown[shown.length - 1].msg.data[PLOTLY_MIME] as { layout: { title: { text: string } } }).layout.title.text;
  assert.match(title, /interrupted/, 'the final chart says so');
});

test('tables escape HTML and align numbers', () => {
  const b = tableBundle([{ name: '<b>', n: 123456, x: 0.5 }, { name: 'c', n: 7, x: 2 }], { digits: 2 });
  assert.match(b['text/html'] as string, /&lt;b&gt;/);
  assert.equal(b['text/plain'], 'name        n     x\n<b>   123,456  0.50\nc           7     2');
});

test('images and feature-map grids become PNGs of the expected size', async () => {
  const img = tf.randomUniform([10, 20, 3]);
  const meta = await sharp(await toPng(img, { scale: 2 })).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 40, 20]);
  const grid = await featureMapGrid(tf.randomNormal([1, 8, 8, 6]), { cols: 3, cellSize: 10 });
  const g = await sharp(grid).metadata();
  assert.deepEqual([g.width, g.height], [3 * 10 + 4 * 4, 2 * 10 + 3 * 4]);
  img.dispose();
});

// ---------------------------------------------------------------------------------------------------
// Exercise checkers: right answers pass, TODO is "not done yet", wrong answers fail with a reason.

const statuses = (vs: Verdict[]) => vs.map((v) => v.status);

const branch3 = (spec: InceptionSpec, k: number, bn: boolean) => {
  const [inC, , , , red, out] = spec;
  return bn ? inC * red + 2 * red + k * k * red * out + 2 * out : inC * red + red + k * k * red * out + out;
};
const saved = Object.values(INCEPTION_SPECS).reduce((s, spec) => s + (25 - 9) * spec[4] * spec[5], 0);

test('exercise 1 (branch3 kernel)', () => {
  assert.deepEqual(statuses(branch3Verdicts({ branch3Params: branch3, savedBy3x3: saved })), ['pass', 'pass']);
  assert.deepEqual(statuses(branch3Verdicts({ branch3Params: () => TODO, savedBy3x3: TODO })), ['todo', 'todo']);
  const noBn = branch3Verdicts({ branch3Params: (s, k) => branch3(s, k, false), savedBy3x3: saved + 1 });
  assert.deepEqual(statuses(noBn), ['fail', 'fail']);
  assert.match(noBn[0].message, /BatchNorm/);
});

test('exercise 2 (BatchNorm)', () => {
  const right = (x: tf.Tensor4D, m: tf.Tensor1D, v: tf.Tensor1D, g: tf.Tensor1D, b: tf.Tensor1D, eps: number) =>
    tf.tidy(() => x.sub(m).div(v.add(eps).sqrt()).mul(g).add(b) as tf.Tensor4D);
  const before = tf.memory().numTensors;
  assert.deepEqual(statuses(batchNormVerdicts({ batchNormEval: right, conv1ParamsWithBn: 9536 })), ['pass', 'pass']);
  assert.equal(tf.memory().numTensors, before, 'the checker frees its tensors');
  const noEps = (x: tf.Tensor4D, m: tf.Tensor1D, v: tf.Tensor1D, g: tf.Tensor1D, b: tf.Tensor1D) => tf.tidy(() => x.sub(m).div(v.sqrt()).mul(g).add(b) as tf.Tensor4D);
  const wrong = batchNormVerdicts({ batchNormEval: noEps, conv1ParamsWithBn: 9472 });
  assert.deepEqual(statuses(wrong), ['fail', 'fail']);
  assert.deepEqual(statuses(batchNormVerdicts({ batchNormEval: () => TODO, conv1ParamsWithBn: TODO })), ['todo', 'todo']);
});

test('exercise 3 (no aux heads)', () => {
  const aux = (inC: number) => inC * 128 + 128 + 2048 * 1024 + 1024 + 1024 * 5 + 5;
  assert.deepEqual(statuses(noAuxVerdicts({ auxParams: aux(512) + aux(528), trainingOutputKeys: ['logits'] })), ['pass', 'pass']);
  assert.deepEqual(statuses(noAuxVerdicts({ auxParams: aux(512), trainingOutputKeys: ['logits', 'aux1', 'aux2'] })), ['fail', 'fail']);
  assert.deepEqual(statuses(noAuxVerdicts({ auxParams: TODO, trainingOutputKeys: TODO })), ['todo', 'todo']);
});

test('exercise 4 (minimum input size)', () => {
  const pool = (h: number) => poolOutputSize(h, 3, 2, 0, true);
  const mapSizeAt4a = (s: number) => pool(pool(pool(Math.floor((s - 1) / 2) + 1)));
  assert.deepEqual(statuses(minSizeVerdicts({ mapSizeAt4a, minCourseSize: 31, minNotesAuxSize: 223 })), ['pass', 'pass', 'pass']);
  const floorOnly = (s: number) => Math.floor(s / 32); // ignores ceil_mode
  const wrong = minSizeVerdicts({ mapSizeAt4a: floorOnly, minCourseSize: 32, minNotesAuxSize: 224 });
  assert.deepEqual(statuses(wrong), ['fail', 'fail', 'fail']);
});

test('exercise 5 (VGG vs GoogLeNet)', () => {
  const vggParams = (cfg: (number | 'M')[], classes: number) => {
    let c = 3;
    let n = 0;
    for (const v of cfg) if (v !== 'M') (n += 9 * c * v + v), (c = v);
    return n + 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * classes + classes;
  };
  assert.equal(vggParams(VGG_CONFIGS.vgg16, 1000), 138357544);
  const head = 7 * 7 * 1024 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000;
  assert.deepEqual(statuses(vggVerdicts({ vggParams, googlenetWithVggHead: 6624904 - 1025000 + head })), ['pass', 'pass']);
  assert.deepEqual(statuses(vggVerdicts({ vggParams: () => 138357544, googlenetWithVggHead: 6624904 + head })), ['fail', 'fail']);
});

test('report shows the overall status and never throws', () => {
  shown.length = 0;
  assert.equal(report('t', [{ status: 'pass', message: 'a' }, { status: 'todo', message: 'b' }]), 'todo');
  assert.match(shown[0].msg.data['text/plain'] as string, /not done yet/);
  assert.equal(report('t', [{ status: 'pass', message: 'a' }, { status: 'fail', message: 'b' }]), 'fail');
});
