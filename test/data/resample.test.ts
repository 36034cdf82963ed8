import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flipHorizontal, resampleHeight, resampleWidth, resizeBilinear, writeResized } from '../../src/data/resample';
import { NOTES_NORMALIZATION, normalizationTable, writeNormalized } from '../../src/data/transforms';
import { testCard } from './fixtures';

test('writeResized (the loader fast path) equals resize, mirror, ToTensor + Normalize done one by one', () => {
  const lut = normalizationTable(NOTES_NORMALIZATION);
  const cases: [number, number, number, number][] = [
    [50, 40, 224, 224], // both grow
    [224, 100, 224, 224], // height grows
    [100, 224, 224, 224], // width grows
    [64, 64, 64, 64], // nothing to do
    [1, 1, 7, 5], // one pixel
    [30, 200, 97, 200],
  ];
  for (const [w, h, W, H] of cases) {
    const img = { data: testCard(w, h, w + h), width: w, height: h };
    for (const flip of [false, true]) {
      let ref = resizeBilinear(img, W, H);
      if (flip) ref = flipHorizontal(ref);
      const want = new Float32Array(W * H * 3);
      writeNormalized(ref, NOTES_NORMALIZATION, want, 0);
      const got = new Float32Array(5 + W * H * 3);
      writeResized(img, W, H, flip, lut, got, 5);
      assert.deepEqual(got.subarray(5), want, `${w}x${h} -> ${W}x${H} flip=${flip}`);
    }
  }
  assert.throws(() => writeResized({ data: testCard(100, 100), width: 100, height: 100 }, 100, 20, false, lut, new Float32Array(6000), 0), /libvips/);
});

test('one axis at a time, as Pillow: widths then heights; unchanged axes are left alone', () => {
  const img = { data: testCard(20, 10, 1), width: 20, height: 10 };
  assert.equal(resampleWidth(img, 20), img);
  assert.equal(resampleHeight(img, 10), img);
  const r = resizeBilinear(img, 40, 30);
  assert.deepEqual(r, resampleHeight(resampleWidth(img, 40), 30));
  // Enlarging a constant image keeps it constant (weights sum to one after rounding).
  const flat = { data: new Uint8Array(6 * 4 * 3).fill(77), width: 6, height: 4 };
  assert.ok(resizeBilinear(flat, 50, 31).data.every((v) => v === 77));
});
