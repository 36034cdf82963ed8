/**
 * Seeds derived from a run's seed, so that each stream (epoch order, one image's crop, one class's
 * split) is fixed by its own coordinates and not by what ran before it: epoch 7 after --resume is
 * epoch 7, whatever the decode order under concurrency.
 */

/** Mix numbers into a 32-bit seed (murmur3's finaliser per step). */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** FNV-1a of a string's UTF-8 bytes: a number for a name (a class's own stream). */
export function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}
