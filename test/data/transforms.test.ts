import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  centerFallbackBox,
  compose,
  cropPlan,
  identityPlan,
  normalize,
  NOTES_NORMALIZATION,
  randomHorizontalFlip,
  randomResizedCrop,
  randomResizedCropBox,
  resize,
  roundHalfEven,
  toTensor,
  trainTransform,
  writeNormalized,
} from '../../src/data/transforms';
import { Rng } from '../../src/util/rng';

test('roundHalfEven is Python round()', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, 2.4999, 2.5001, 7].map(roundHalfEven), [0, 2, 2, 4, -0, -2, 2, 3, 7]);
});

test('RandomResizedCrop: areas and log-ratios in range over many samples, fairly spread', () => {
  const rng = new Rng(42);
  const [W, H] = [500, 375];
  const n = 20000;
  const scales: number[] = [];
  const logRatios: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = randomResizedCropBox(W, H, rng);
    assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= W && b.top + b.height <= H && b.width > 0 && b.height > 0);
    scales.push((b.width * b.height) / (W * H));
    logRatios.push(Math.log(b.width / b.height));
  }
  // Rounding to whole pixels moves a crop's area and ratio a little past the sampled range.
  assert.ok(Math.min(...scales) >= 0.075 && Math.max(...scales) <= 1);
  assert.ok(Math.min(...logRatios) >= Math.log(3 / 4) - 0.03 && Math.max(...logRatios) <= Math.log(4 / 3) + 0.03);
  // A draw is kept only if it fits, so large areas are thinned; the mean area stays well inside the range.
  const meanScale = scales.reduce((a, b) => a + b) / n;
  assert.ok(meanScale > 0.4 && meanScale < 0.55, `mean area fraction ${meanScale}`);
  // Log-uniform ratio, both halves used (a landscape image keeps more of the wide draws at large areas).
  assert.ok(logRatios.filter((r) => r < Math.log(0.85)).length > n * 0.1 && logRatios.filter((r) => r > Math.log(1 / 0.85)).length > n * 0.1);
  // Small crops of a square image always fit: log ratio uniform on [log 3/4, log 4/3], mean 0.
  const sq = Array.from({ length: n }, () => randomResizedCropBox(400, 400, rng, [0.08, 0.3])).map((b) => Math.log(b.width / b.height));
  const meanLog = sq.reduce((a, b) => a + b) / n;
  const sdLog = Math.sqrt(sq.reduce((a, b) => a + (b - meanLog) ** 2, 0) / n);
  assert.ok(Math.abs(meanLog) < 0.01, `mean log ratio ${meanLog}`);
  assert.ok(Math.abs(sdLog - Math.log(16 / 9) / Math.sqrt(12)) < 0.01, `sd of log ratio ${sdLog}`);
  // Positions are uniform: the left offset of small crops spans the image.
  const lefts = Array.from({ length: 2000 }, () => randomResizedCropBox(W, H, rng, [0.08, 0.1]).left);
  assert.ok(Math.min(...lefts) < 10 && Math.max(...lefts) > 330);
});

test('RandomResizedCrop: the centre-crop fallback after 10 failed tries, as torchvision', () => {
  // A 1000x10 strip: no 3/4..4/3 crop of >= 8% of its area fits its 10 px height, so every try fails.
  const rng = new Rng(1);
  const b = randomResizedCropBox(1000, 10, rng);
  assert.deepEqual(b, { left: Math.floor((1000 - 13) / 2), top: 0, width: 13, height: 10 }); // w = round(10 * 4/3)
  assert.deepEqual(centerFallbackBox(10, 1000), { left: 0, top: Math.floor((1000 - 13) / 2), width: 10, height: 13 }); // h = round(10 / (3/4))
  assert.deepEqual(centerFallbackBox(300, 280), { left: 0, top: 0, width: 300, height: 280 }); // ratio in range: the whole image
  // Exactly 10 tries, 2 draws each, before the fallback (no position draws).
  const a = new Rng(7);
  randomResizedCropBox(1000, 10, a);
  const ref = new Rng(7);
  for (let i = 0; i < 20; i++) ref.next();
  assert.equal(a.state, ref.state);
  // A 1x1 image: the whole pixel.
  assert.deepEqual(randomResizedCropBox(1, 1, new Rng(3)), { left: 0, top: 0, width: 1, height: 1 });
});

test('RandomHorizontalFlip: rate near p', () => {
  const rng = new Rng(5);
  const flip = randomHorizontalFlip();
  const n = 10000;
  let k = 0;
  for (let i = 0; i < n; i++) if (flip(identityPlan(10, 10), rng).flip) k++;
  assert.ok(Math.abs(k / n - 0.5) < 0.02, `flip rate ${k / n}`);
  const never = randomHorizontalFlip({ p: 0 });
  assert.equal(never(identityPlan(4, 4), rng).flip, false);
});

test('a fixed seed gives the same plans; another seed others', () => {
  const t = trainTransform(224);
  const plans = (seed: number) => {
    const rng = new Rng(seed);
    return Array.from({ length: 50 }, () => t(identityPlan(320, 240), rng));
  };
  assert.deepEqual(plans(9), plans(9));
  assert.notDeepEqual(plans(9), plans(10));
  for (const p of plans(9)) assert.deepEqual([p.width, p.height], [224, 224]);
});

test('plans compose: crop under a flip is mirrored, resize sizes, crop after resize refused', () => {
  const p = compose(randomHorizontalFlip({ p: 1 }))(identityPlan(100, 50), new Rng(0));
  const c = cropPlan(p, { left: 10, top: 5, width: 20, height: 10 });
  assert.deepEqual(c.crop, { left: 70, top: 5, width: 20, height: 10 });
  assert.equal(c.flip, true);
  assert.deepEqual(resize({ size: 32 })(identityPlan(100, 50), new Rng(0)), { ...identityPlan(100, 50), width: 64, height: 32 });
  assert.deepEqual(resize({ size: [20, 30] })(identityPlan(100, 50), new Rng(0)), { ...identityPlan(100, 50), width: 30, height: 20 });
  assert.throws(() => randomResizedCrop({ size: 8 })(resize({ size: [20, 30] })(identityPlan(100, 50), new Rng(0)), new Rng(0)), /crop after a resize/);
});

test('ToTensor + Normalize: x / 255, then (x - 0.5) / 0.5 in float32; the fused writer gives the same numbers', () => {
  const data = new Uint8Array(256 * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  const img = { data, width: 256, height: 1 };
  const t = toTensor(img);
  assert.equal(t[0], 0);
  assert.equal(t[1], Math.fround(37 / 255));
  const n = normalize(toTensor(img), NOTES_NORMALIZATION);
  for (let i = 0; i < n.length; i++) assert.equal(n[i], Math.fround(Math.fround(Math.fround(data[i] / 255) - 0.5) / 0.5));
  assert.equal(Math.min(...n), -1);
  assert.equal(Math.max(...n), 1);
  const out = new Float32Array(10 + n.length);
  writeNormalized(img, NOTES_NORMALIZATION, out, 10);
  assert.deepEqual(out.subarray(10), n);
  const imagenet = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
  const m = normalize(toTensor(img), imagenet);
  writeNormalized(img, imagenet, out, 10);
  assert.deepEqual(out.subarray(10), m);
});
