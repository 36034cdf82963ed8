/** The CAM overlay of lesson 11: the jet colour map's ends and middle, the blend, refused sizes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jet, overlayMap } from '../../src/notebook/cam_overlay';

test('jet: dark blue at 0, green at 0.5, dark red at 1, clamped outside 0..1', () => {
  assert.deepEqual(jet(0), [0, 0, 128]);
  assert.deepEqual(jet(0.5), [128, 255, 128]);
  assert.deepEqual(jet(1), [128, 0, 0]);
  assert.deepEqual(jet(-3), jet(0));
  assert.deepEqual(jet(7), jet(1));
});

test('overlayMap blends (1 - alpha) photo + alpha colour per pixel and refuses a map of the wrong size', () => {
  const photo = { data: Uint8Array.from([200, 100, 0, 10, 20, 30]), width: 2, height: 1 };
  const o = overlayMap(photo, [0, 1], { alpha: 0.25 });
  assert.deepEqual([o.width, o.height, o.channels], [2, 1, 3]);
  assert.deepEqual(Array.from(o.data), [150, 75, 32, 40, 15, 23]);
  assert.deepEqual(Array.from(overlayMap(photo, [0.3, 0.9], { alpha: 0 }).data), Array.from(photo.data));
  assert.throws(() => overlayMap(photo, [0, 1, 2]), /the map has 3 values but the photo 2x1 has 2 pixels/);
  assert.throws(() => overlayMap(photo, [0, 1], { alpha: 2 }), /alpha is a weight in 0..1/);
});
