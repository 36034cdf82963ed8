/** Shared by the torch tests: run a fixture script with PyTorch, and read the reference values it writes. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runPython } from '../helpers';

export const FIXTURES = path.join(__dirname, 'fixtures');

/** Run test/torch/fixtures/<script> with Debian's PyTorch. */
export function runFixture(script: string, ...args: string[]): void {
  runPython(path.join(FIXTURES, script), args, 120_000);
}

/** One tensor in a reference written by fixtures/common.py's write_reference. */
export interface RefEntry {
  key: string;
  shape: number[];
  dtype: string;
  offset: number;
}

/** <name>.json (entries) and <name>.bin (float32 values) from write_reference. */
export function readReference(dir: string, name: string): { entries: RefEntry[]; values: Float32Array } {
  const entries = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as RefEntry[];
  const bin = fs.readFileSync(path.join(dir, `${name}.bin`));
  const values = new Float32Array(bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length));
  return { entries, values };
}
