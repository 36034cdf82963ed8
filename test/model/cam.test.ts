/**
 * Class activation maps: the spatial mean of a class's map plus fc's bias is the model's logit (global
 * average pooling and the linear layer commute), on real photos for both variants; each pixel is the fc
 * column applied to inception5b's features; bilinear upsampling as PyTorch's align_corners=False; no leaks.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { createGoogLeNet } from '../../src/model/googlenet';
import { allClassMaps, camForward, camsFromFeatures, classActivationMaps, normalizeMaps, upsampleMaps } from '../../src/model/cam';
import { VARIANTS, Variant } from '../../src/model/specs';
import { preprocessForEval } from '../../src/train/predict';
import { ROOT } from '../helpers';

const SIZE = 96; // inception5b's map is 3x3 here
const VAL = path.join(ROOT, 'data_set', 'flower_data', 'val');

/** One photo from each of the first `n` val classes, as one [n, S, S, 3] batch. */
async function photos(variant: Variant, n: number): Promise<tf.Tensor4D> {
  const classes = fs.readdirSync(VAL).sort().slice(0, n);
  const files = classes.map((c) => path.join(VAL, c, fs.readdirSync(path.join(VAL, c)).sort()[0]));
  const xs = await Promise.all(files.map((f) => preprocessForEval(f, { imageSize: SIZE, normalization: VARIANTS[variant].normalization })));
  const x = tf.concat(xs) as tf.Tensor4D;
  tf.dispose(xs);
  return x;
}

/**
 * Weights whose outputs move with the input (DESIGN.md: a freshly initialised GoogLeNet's features can
 * vanish, which would let a wrong map pass): fan-in Kaiming convs, small conv biases, a non-zero fc bias.
 */
function kaiming(model: ReturnType<typeof createGoogLeNet>, seed: number): void {
  let s = seed;
  for (const [name, v] of model.namedParameters()) {
    if (/\.bn\./.test(name)) continue; // BatchNorm keeps gamma 1, beta 0
    const fan = v.shape.length === 4 ? v.shape[0] * v.shape[1] * v.shape[2] : v.shape[0];
    const value = tf.tidy(() =>
      v.shape.length === 4 ? tf.randomNormal(v.shape, 0, Math.sqrt(2 / fan), 'float32', s++)
        : v.shape.length === 2 ? tf.randomUniform(v.shape, -1 / Math.sqrt(fan), 1 / Math.sqrt(fan), 'float32', s++)
        : tf.randomUniform(v.shape, name === 'fc.bias' ? -1 : -0.01, name === 'fc.bias' ? 1 : 0.01, 'float32', s++),
    );
    v.assign(value);
    value.dispose();
  }
}

before(async () => {
  await initBackend('wasm');
});

for (const variant of ['course', 'torchvision'] as const) {
  test(`${variant}: spatial mean of the map + fc's bias = predictLogits, for every class, on real photos`, async () => {
    const model = createGoogLeNet({ variant, numClasses: 5, auxLogits: false, seed: 2 });
    kaiming(model, 10);
    const x = await photos(variant, 4);
    const logits = model.predictLogits(x);
    const z = (await logits.array()) as number[][];
    const bias = Array.from(model.fc.bias.dataSync());
    const means: number[][] = []; // means[c][n]
    for (let c = 0; c < 5; c++) {
      const maps = classActivationMaps(model, x, [c, c, c, c]);
      assert.deepEqual(maps.shape, [4, 3, 3]);
      means.push(Array.from(maps.mean([1, 2]).dataSync()));
      const per = tf.tidy(() => tf.moments(maps, [1, 2]).variance.dataSync());
      assert.ok(Array.from(per).every((v) => v > 0), 'each map varies over the 3x3 positions');
      maps.dispose();
    }
    const misses: number[] = [];
    for (let c = 0; c < 5; c++) {
      for (let n = 0; n < 4; n++) {
        const want = z[n][c];
        const got = means[c][n] + bias[c];
        assert.ok(Math.abs(got - want) <= 1e-4 * Math.max(1, Math.abs(want)), `${variant} image ${n} class ${c}: ${got} vs ${want}`);
        // The check can fail: another class's map in place of this one misses the logit by far more than the tolerance.
        misses.push(Math.abs(means[(c + 1) % 5][n] + bias[c] - want));
      }
    }
    const smallest = Math.min(...misses);
    assert.ok(smallest > 1e-2 * Math.max(1, ...z.flat().map(Math.abs)), `a wrong class's map would be caught (smallest miss ${smallest})`);
    // Different photos give different maps (the features move with the input).
    const m = classActivationMaps(model, x, [0, 0, 0, 0]);
    const a = (await m.array()) as number[][][];
    assert.ok(Math.max(...a[0].flat().map((v, i) => Math.abs(v - a[1].flat()[i]))) > 1e-3, 'two photos, two maps');
    tf.dispose([x, logits, m]);
    model.dispose();
  });
}

test('each position of the map is the fc column applied to inception5b features (direct dot products)', async () => {
  const model = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: false, seed: 4 });
  kaiming(model, 20);
  const x = await photos('course', 2);
  const { features, logits } = camForward(model, x);
  assert.deepEqual(features.shape, [2, 3, 3, 1024]);
  const classes = [3, 1];
  const maps = camsFromFeatures(features, model.fc, classes);
  const all = allClassMaps(features, model.fc);
  const f = features.dataSync();
  const w = model.fc.weight.dataSync(); // [1024, 5]
  const got = maps.dataSync();
  const gotAll = all.dataSync();
  for (let n = 0; n < 2; n++) {
    for (let p = 0; p < 9; p++) {
      for (let c = 0; c < 5; c++) {
        let dot = 0;
        for (let k = 0; k < 1024; k++) dot += f[(n * 9 + p) * 1024 + k] * w[k * 5 + c];
        assert.ok(Math.abs(gotAll[(n * 9 + p) * 5 + c] - dot) <= 1e-4 * Math.max(1, Math.abs(dot)), `all-class map n${n} p${p} c${c}`);
        if (c === classes[n]) assert.ok(Math.abs(got[n * 9 + p] - dot) <= 1e-4 * Math.max(1, Math.abs(dot)), `map n${n} p${p}`);
      }
    }
  }
  // camForward's logits are predictLogits'.
  const direct = model.predictLogits(x);
  assert.ok(tf.tidy(() => tf.max(tf.abs(tf.sub(direct, logits))).dataSync()[0]) < 1e-5);
  tf.dispose([x, features, logits, maps, all, direct]);
  model.dispose();
});

test('bad class indices are refused with a message', () => {
  const model = createGoogLeNet({ variant: 'course', numClasses: 5, auxLogits: false });
  const x = tf.zeros([2, 64, 64, 3]) as tf.Tensor4D;
  assert.throws(() => classActivationMaps(model, x, [0]), /one class index per image: 2 images, 1 class indices/);
  assert.throws(() => classActivationMaps(model, x, [0, 5]), /class index 5 is not in 0..4/);
  x.dispose();
  model.dispose();
});

/** PyTorch's bilinear, align_corners=False: source coordinate (i + 0.5) / scale - 0.5, clamped at 0 and at the edge. */
function bilinearReference(src: number[][], H: number, W: number): number[][] {
  const h = src.length;
  const w = src[0].length;
  const coord = (i: number, inSize: number, outSize: number) => {
    const s = Math.max(0, ((i + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, s - i0] as const;
  };
  return Array.from({ length: H }, (_, y) => {
    const [y0, y1, fy] = coord(y, h, H);
    return Array.from({ length: W }, (_, x) => {
      const [x0, x1, fx] = coord(x, w, W);
      const top = src[y0][x0] * (1 - fx) + src[y0][x1] * fx;
      const bottom = src[y1][x0] * (1 - fx) + src[y1][x1] * fx;
      return top * (1 - fy) + bottom * fy;
    });
  });
}

test("upsampleMaps is PyTorch's bilinear with align_corners=False; normalizeMaps scales each map to 0..1", async () => {
  const src = [
    [[0, 1, 4], [2, -1, 3], [5, 0, 1]],
    [[7, 7, 7], [7, 7, 7], [7, 7, 7]],
  ];
  const maps = tf.tensor3d(src);
  const up = upsampleMaps(maps, [96, 80]);
  assert.deepEqual(up.shape, [2, 96, 80]);
  const got = (await up.array()) as number[][][];
  const want = bilinearReference(src[0], 96, 80);
  const diff = Math.max(...got[0].flatMap((r, y) => r.map((v, x) => Math.abs(v - want[y][x]))));
  assert.ok(diff < 1e-5, `max |diff| ${diff}`);
  assert.ok(got[1].flat().every((v) => Math.abs(v - 7) < 1e-6), 'a constant map stays constant');
  const norm = (await normalizeMaps(maps).array()) as number[][][];
  assert.deepEqual(norm[0][0], [1 / 6, 2 / 6, 5 / 6].map((v) => Math.fround(v)));
  assert.equal(Math.min(...norm[0].flat()), 0);
  assert.equal(Math.max(...norm[0].flat()), 1);
  assert.ok(norm[1].flat().every((v) => v === 0), 'a constant map becomes 0, not NaN');
  tf.dispose([maps, up]);
});

test('no tensor leaks: maps out, nothing else left', async () => {
  const model = createGoogLeNet({ variant: 'torchvision', numClasses: 5, auxLogits: false, seed: 1 });
  const x = await photos('torchvision', 2);
  const before = tf.memory().numTensors;
  const maps = classActivationMaps(model, x, [0, 4]);
  const up = upsampleMaps(maps, [SIZE, SIZE]);
  const norm = normalizeMaps(up);
  const fw = camForward(model, x);
  const all = allClassMaps(fw.features, model.fc);
  assert.equal(tf.memory().numTensors, before + 6);
  tf.dispose([maps, up, norm, fw.features, fw.logits, all]);
  assert.throws(() => classActivationMaps(model, x, [9, 9]));
  assert.equal(tf.memory().numTensors, before);
  x.dispose();
  model.dispose();
});
