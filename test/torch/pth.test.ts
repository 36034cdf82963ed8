/**
 * readStateDict against PyTorch as the oracle: test/torch/fixtures/*.py run under Debian's
 * /usr/bin/python3 (torch 1.13) write state dicts in both torch formats and their values as float32.
 * A missing torch is a failure, not a skip.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PthError, TorchTensor, readStateDict } from '../../src/torch/pth';
import { readReference, RefEntry, runFixture } from './reference';
import { Rng } from '../../src/util/rng';


/** Exact equality, -0 distinct from 0, any NaN equal to any NaN. */
function assertSameFloats(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!Object.is(a, e) && !(Number.isNaN(a) && Number.isNaN(e))) assert.fail(`${what}[${i}]: got ${a}, PyTorch has ${e}`);
  }
}

function assertMatchesReference(sd: Map<string, TorchTensor>, ref: { entries: RefEntry[]; values: Float32Array }): void {
  assert.deepEqual([...sd.keys()], ref.entries.map((e) => e.key), 'keys in file order');
  for (const e of ref.entries) {
    const t = sd.get(e.key)!;
    assert.deepEqual(t.shape, e.shape, `${e.key}: shape`);
    assert.equal(t.dtype, e.dtype, `${e.key}: dtype`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    assertSameFloats(t.data, ref.values.subarray(e.offset, e.offset + n), e.key);
  }
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(() => readStateDict(bytes), (e: unknown) => {
    assert.ok(e instanceof PthError, `expected a PthError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

let dir = '';
const file = (name: string) => new Uint8Array(fs.readFileSync(path.join(dir, name)));

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pth-test-'));
  runFixture('tensors.py', dir);
  runFixture('malicious.py', dir, path.join(dir, 'marker'), path.join(dir, 'control_marker'));
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

describe('readStateDict: values equal PyTorch', () => {
  test('zip format (torch.save default): every dtype, shape, stride and offset', () => {
    assertMatchesReference(readStateDict(file('dtypes_zip.pth')), readReference(dir, 'dtypes'));
  });

  test('legacy format (_use_new_zipfile_serialization=False)', () => {
    assertMatchesReference(readStateDict(file('dtypes_legacy.pth')), readReference(dir, 'dtypes'));
  });

  test('pickle protocol 4 (torch.save(pickle_protocol=4)), both formats', () => {
    assertMatchesReference(readStateDict(file('dtypes_p4_zip.pth')), readReference(dir, 'dtypes'));
    assertMatchesReference(readStateDict(file('dtypes_p4_legacy.pth')), readReference(dir, 'dtypes'));
  });

  test('a training checkpoint: the state dict under "state_dict"', () => {
    assertMatchesReference(readStateDict(file('checkpoint_zip.pth')), readReference(dir, 'dtypes'));
  });

  test('a non-contiguous view reads in row-major order', () => {
    const sd = readStateDict(file('dtypes_zip.pth'));
    const base = sd.get('shares_base')!;
    const tr = sd.get('transposed')!;
    assert.deepEqual(tr.shape, [8, 6]);
    for (let i = 0; i < 8; i++) for (let j = 0; j < 6; j++) assert.equal(tr.data[i * 6 + j], base.data[j * 8 + i]);
  });

  test('a dict that is not a state dict is refused, naming the entry', () => {
    rejects(file('not_state_dict.pth'), /'epoch' is an int, not a tensor .*save model\.state_dict\(\)/);
  });

  test('a whole pickled model (torch.save(model)) is refused, naming its class', () => {
    rejects(file('whole_model.pth'), /refuses to load global 'torch\.nn\.modules\.linear\.Linear': only tensor data is read .*state_dict/);
  });
});

describe('readStateDict executes nothing', () => {
  test('the payload is live: Python\'s own pickle ran it', () => {
    assert.ok(fs.existsSync(path.join(dir, 'control_marker')));
  });

  for (const name of ['evil_zip.pth', 'evil_legacy.pth', 'evil_nested_zip.pth']) {
    test(`${name}: GLOBAL posix.system is refused by name`, () => {
      rejects(file(name), /^refuses to load global 'posix\.system': only tensor data is read$/);
      assert.ok(!fs.existsSync(path.join(dir, 'marker')), 'the marker file must not exist');
    });
  }

  test('a bare malicious pickle is not a PyTorch file', () => {
    rejects(file('evil.pkl'), /^not a PyTorch file/);
    assert.ok(!fs.existsSync(path.join(dir, 'marker')));
  });

  test('an allowed name used as a function is refused', () => {
    rejects(file('call_storage_zip.pth'), /global 'torch\.FloatStorage' cannot be called/);
  });
});

describe('readStateDict on damaged input', () => {
  test('empty, random bytes, a plain pickle, a text file: not a PyTorch file', () => {
    const rng = new Rng(1);
    const random = Uint8Array.from({ length: 4096 }, () => rng.int(0, 255));
    rejects(new Uint8Array(0), /^not a PyTorch file \(it is empty\)/);
    rejects(random, /^not a PyTorch file/);
    rejects(Uint8Array.from([0x80, 0x02, 0x7d, 0x71, 0x00, 0x2e]), /^not a PyTorch file/); // pickle.dumps({})
    rejects(new TextEncoder().encode('hello, world\n'), /^not a PyTorch file/);
  });

  test('legacy file cut at every byte of its pickles and inside its storages: truncated', () => {
    const whole = file('dtypes_legacy.pth');
    const cuts = [...Array(4000).keys()].slice(1);
    for (let c = 4000; c < whole.length; c += 7919) cuts.push(c);
    cuts.push(whole.length - 1);
    for (const c of cuts) rejects(whole.subarray(0, c), new RegExp(`^truncated \\(file ends at byte ${c} while reading `));
  });

  test('the message says where and what', () => {
    const whole = file('dtypes_legacy.pth');
    rejects(whole.subarray(0, 3), /^truncated \(file ends at byte 3 while reading the file header\)$/);
    rejects(whole.subarray(0, whole.length - 10), /^truncated \(file ends at byte \d+ while reading the \d+ data bytes of storage '\d+' at byte \d+\)$/);
  });

  test('zip file cut anywhere: truncated', () => {
    const whole = file('dtypes_zip.pth');
    const cuts = [1, 3, 4, 100, 1000, whole.length - 22, whole.length - 1];
    for (let c = 2000; c < whole.length; c += 9973) cuts.push(c);
    for (const c of cuts) rejects(whole.subarray(0, c), new RegExp(`^truncated \\(file ends at byte ${c} while reading `));
  });

  test('random byte changes in the pickles give a PthError or a result, never another exception', () => {
    const rng = new Rng(7);
    for (const [name, region] of [['dtypes_legacy.pth', 3500], ['dtypes_zip.pth', 3000]] as const) {
      const whole = file(name);
      for (let trial = 0; trial < 400; trial++) {
        const bytes = whole.slice();
        for (let k = rng.int(1, 3); k > 0; k--) bytes[rng.int(0, region)] = rng.int(0, 255);
        try {
          readStateDict(bytes);
        } catch (e) {
          if (!(e instanceof PthError)) assert.fail(`${name} trial ${trial}: ${String(e)}`);
        }
      }
    }
  });
});
