/**
 * Failing inputs saved by scripts/fuzz.ts as regression fixtures, replayed by fuzz.test.ts:
 * test/fuzz/fixtures/<target>-<seed>-<index>.bin (the input's bytes) beside a .json holding the rest
 * of the input (its seed file, mutation, how it is decoded) and what failed when it was found.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Failure } from './harness';

export const FIXTURES_DIR = path.join(__dirname, 'fixtures');

export interface Fixture {
  file: string;
  target: string;
  found: Failure;
  input: { bytes: Uint8Array } & Record<string, unknown>;
}

export function saveFixture(dir: string, failure: Failure, input: { bytes: Uint8Array }): string {
  fs.mkdirSync(dir, { recursive: true });
  const base = path.join(dir, `${failure.target}-${failure.seed}-${failure.index}`);
  const { bytes, ...rest } = input;
  fs.writeFileSync(`${base}.bin`, bytes);
  fs.writeFileSync(`${base}.json`, JSON.stringify({ target: failure.target, found: failure, input: rest }, null, 2) + '\n');
  return `${base}.bin`;
}

export function loadFixtures(dir = FIXTURES_DIR): Fixture[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const meta = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Omit<Fixture, 'file' | 'input'> & { input: Record<string, unknown> };
      const bytes = new Uint8Array(fs.readFileSync(path.join(dir, f.replace(/\.json$/, '.bin'))));
      return { file: f, target: meta.target, found: meta.found, input: { ...meta.input, bytes } };
    });
}
