/**
 * loadTorchStateDict with torchvision's googlenet as written by PyTorch (test/torch/fixtures/googlenet.py
 * under Debian's /usr/bin/python3, torch 1.13 + torchvision 0.14). A missing torch is a failure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '../../src/tf';
import { GoogLeNet, createGoogLeNet } from '../../src/model/googlenet';
import { loadTorchStateDict } from '../../src/torch/load_state_dict';
import { PthError, TorchTensor, readStateDict } from '../../src/torch/pth';
import { readReference, RefEntry, runFixture } from './reference';


/** Exact equality, -0 distinct from 0. */
function assertSameFloats(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
  }
}

/** numpy's transpose: output axis k is input axis perm[k] (written apart from the loader's loops). */
function permute(data: ArrayLike<number>, shape: number[], perm: number[]): Float32Array {
  const strides = shape.map((_, k) => shape.slice(k + 1).reduce((a, b) => a * b, 1));
  const outShape = perm.map((p) => shape[p]);
  const out = new Float32Array(data.length);
  const idx = outShape.map(() => 0);
  for (let i = 0; i < out.length; i++) {
    let src = 0;
    for (let k = 0; k < perm.length; k++) src += idx[k] * strides[perm[k]];
    out[i] = data[src];
    for (let k = outShape.length - 1; k >= 0 && ++idx[k] === outShape[k]; k--) idx[k] = 0;
  }
  return out;
}

/** PyTorch layout -> ours: OIHW -> HWIO, [out, in] -> [in, out]. */
function toOurs(data: Float32Array, shape: number[]): Float32Array {
  if (shape.length === 4) return permute(data, shape, [2, 3, 1, 0]);
  if (shape.length === 2) return permute(data, shape, [1, 0]);
  return data;
}

/** A model's weights as a PyTorch state dict (what the model would save from PyTorch). */
function asTorchStateDict(model: GoogLeNet): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  for (const [name, v] of model.stateDict()) {
    const perm = v.rank === 4 ? [3, 2, 0, 1] : v.rank === 2 ? [1, 0] : v.shape.map((_, k) => k);
    out.set(name, { shape: perm.map((p) => v.shape[p]), dtype: 'float32', data: permute(v.dataSync(), v.shape, perm) });
  }
  return out;
}

function zeroAll(model: GoogLeNet): void {
  for (const [, v] of model.stateDict()) tf.tidy(() => v.assign(tf.zerosLike(v)));
}

function snapshot(model: GoogLeNet, name: string): Float32Array {
  return model.stateDict().get(name)!.dataSync() as Float32Array;
}

function rejects(fn: () => unknown, ...patterns: (RegExp | string)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PthError, `expected a PthError, got ${String(e)}`);
    for (const p of patterns) {
      if (typeof p === 'string') assert.ok(e.message.includes(p), `message lacks ${JSON.stringify(p)}:\n${e.message}`);
      else assert.match(e.message, p);
    }
    return true;
  });
}

const CLASSIFIER = (n: string) => /^(fc|aux[12]\.fc2)\./.test(n);

let dir = '';
let ref: { entries: RefEntry[]; values: Float32Array };
let zipSd: Map<string, TorchTensor>;
let legacySd: Map<string, TorchTensor>;
let tv1000: GoogLeNet;
let tv5: GoogLeNet;

function refValues(key: string): { shape: number[]; data: Float32Array } {
  const e = ref.entries.find((x) => x.key === key)!;
  const n = e.shape.reduce((a, b) => a * b, 1);
  return { shape: e.shape, data: ref.values.subarray(e.offset, e.offset + n) };
}

/** Every model tensor equals PyTorch's after OIHW -> HWIO / [out, in] -> [in, out]. */
function assertModelEqualsReference(model: GoogLeNet, skip: (n: string) => boolean = () => false): void {
  for (const [name, v] of model.stateDict()) {
    if (skip(name)) continue;
    const r = refValues(name);
    assertSameFloats(v.dataSync(), toOurs(r.data, r.shape), name);
  }
}

before(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'load-sd-test-'));
  runFixture('googlenet.py', dir);
  ref = readReference(dir, 'googlenet');
  zipSd = readStateDict(new Uint8Array(fs.readFileSync(path.join(dir, 'googlenet_zip.pth'))));
  legacySd = readStateDict(new Uint8Array(fs.readFileSync(path.join(dir, 'googlenet_legacy.pth'))));
  fs.rmSync(dir, { recursive: true, force: true });
  dir = '';
  tv1000 = createGoogLeNet({ variant: 'torchvision', numClasses: 1000, auxLogits: true });
  tv5 = createGoogLeNet({ variant: 'torchvision', numClasses: 5, auxLogits: true });
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  tv1000?.dispose();
  tv5?.dispose();
});

describe('torchvision googlenet from PyTorch', () => {
  test('readStateDict gives PyTorch values in both formats', () => {
    for (const sd of [zipSd, legacySd]) {
      assert.deepEqual([...sd.keys()], ref.entries.map((e) => e.key));
      for (const e of ref.entries) {
        const t = sd.get(e.key)!;
        assert.deepEqual(t.shape, e.shape, e.key);
        assertSameFloats(t.data, refValues(e.key).data, e.key);
      }
    }
  });

  for (const format of ['zip', 'legacy'] as const) {
    test(`${format}: every tensor loads and equals the source after the layout change, no tensor leaks`, () => {
      const sd = format === 'zip' ? zipSd : legacySd;
      zeroAll(tv1000);
      const before = tf.memory().numTensors;
      const r = loadTorchStateDict(tv1000, sd);
      assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      const params = tv1000.stateDict();
      assert.equal(r.loaded.length, params.size);
      assert.deepEqual([r.missing, r.unexpected, r.skipped], [[], [], []]);
      // every checkpoint tensor but num_batches_tracked has its place
      assert.equal(ref.entries.filter((e) => !e.key.endsWith('num_batches_tracked')).length, params.size);
      assertModelEqualsReference(tv1000);
    });
  }

  test('a DataParallel state dict (module. prefix) loads the same', () => {
    zeroAll(tv1000);
    const prefixed = new Map([...zipSd].map(([k, t]) => [`module.${k}`, t] as [string, TorchTensor]));
    const r = loadTorchStateDict(tv1000, prefixed);
    assert.equal(r.loaded.length, tv1000.stateDict().size);
    assertModelEqualsReference(tv1000);
  });
});

describe('mismatches are clear errors', () => {
  test('other number of classes: names the key and both shapes, assigns nothing, strict or not', () => {
    zeroAll(tv5);
    const before = tf.memory().numTensors;
    for (const strict of [true, false]) {
      rejects(
        () => loadTorchStateDict(tv5, zipSd, { strict }),
        'fc.weight: checkpoint has [1000, 1024], model expects [5, 1024] (--num-classes 1000?)',
        'fc.bias: checkpoint has [1000], model expects [5] (--num-classes 1000?)',
        'aux1.fc2.weight: checkpoint has [1000, 1024], model expects [5, 1024]',
      );
    }
    assert.equal(tf.memory().numTensors, before, 'tensors leaked');
    assert.ok(snapshot(tv5, 'conv1.conv.weight').every((x) => x === 0), 'nothing may be assigned when a check fails');
  });

  test('skip: fine-tuning keeps the classifiers and loads the rest', () => {
    zeroAll(tv5);
    const r = loadTorchStateDict(tv5, zipSd, { skip: CLASSIFIER });
    assert.deepEqual(r.skipped.sort(), ['aux1.fc2.bias', 'aux1.fc2.weight', 'aux2.fc2.bias', 'aux2.fc2.weight', 'fc.bias', 'fc.weight']);
    assert.equal(r.loaded.length, tv5.stateDict().size - 6);
    assertModelEqualsReference(tv5, CLASSIFIER);
    assert.ok(snapshot(tv5, 'fc.weight').every((x) => x === 0));
  });

  test('a missing and an unexpected key: strict names them; not strict reports them', () => {
    const sd = new Map(zipSd);
    sd.delete('inception4a.branch2.1.bn.running_var');
    sd.set('extra.weight', { shape: [2], dtype: 'float32', data: new Float32Array(2) });
    rejects(
      () => loadTorchStateDict(tv5, sd, { skip: CLASSIFIER }),
      /missing from the checkpoint \(1\): inception4a\.branch2\.1\.bn\.running_var$/m,
      /unexpected in the checkpoint \(1\): extra\.weight$/m,
    );
    zeroAll(tv5);
    const r = loadTorchStateDict(tv5, sd, { skip: CLASSIFIER, strict: false });
    assert.deepEqual(r.missing, ['inception4a.branch2.1.bn.running_var']);
    assert.deepEqual(r.unexpected, ['extra.weight']);
    assert.equal(r.loaded.length, tv5.stateDict().size - 7);
    assert.ok(snapshot(tv5, 'inception4a.branch2.1.bn.running_var').every((x) => x === 0));
  });

  test('aux heads on one side only: hints --no-aux or skipping them', () => {
    const noAuxSd = new Map([...zipSd].filter(([k]) => !k.startsWith('aux')));
    rejects(() => loadTorchStateDict(tv1000, noAuxSd), 'missing from the checkpoint (18): aux1.conv.conv.weight', 'hint: the checkpoint has no aux heads: build the model with --no-aux');
    const noAux = createGoogLeNet({ variant: 'torchvision', numClasses: 1000, auxLogits: false });
    try {
      rejects(() => loadTorchStateDict(noAux, zipSd), 'unexpected in the checkpoint (18): aux1.conv.conv.weight', 'hint: the checkpoint has aux heads');
      const r = loadTorchStateDict(noAux, zipSd, { skip: (n) => n.startsWith('aux') });
      assert.equal(r.loaded.length, noAux.stateDict().size);
      assertModelEqualsReference(noAux);
    } finally {
      noAux.dispose();
    }
  });

  test('course file <-> torchvision model: round trip, and hints naming the variant', () => {
    const a = createGoogLeNet({ variant: 'course', numClasses: 5, seed: 1 });
    const b = createGoogLeNet({ variant: 'course', numClasses: 5, seed: 2 });
    try {
      const courseSd = asTorchStateDict(a);
      assert.deepEqual(courseSd.get('inception3a.branch3.1.conv.weight')!.shape, [32, 16, 5, 5]);
      loadTorchStateDict(b, courseSd);
      for (const [name, v] of a.stateDict()) assertSameFloats(b.stateDict().get(name)!.dataSync(), v.dataSync(), name);

      rejects(
        () => loadTorchStateDict(tv5, courseSd),
        'inception3a.branch3.1.conv.weight: checkpoint has [32, 16, 5, 5], model expects [32, 16, 3, 3]',
        'hint: the checkpoint has conv biases and no BatchNorm',
        "hint: branch3's second conv is 5x5 in the checkpoint and 3x3 in the model",
        '--variant course',
      );
      rejects(
        () => loadTorchStateDict(b, zipSd),
        "hint: the checkpoint has BatchNorm layers (torchvision's googlenet): build the model with --variant torchvision",
        "hint: branch3's second conv is 3x3 in the checkpoint and 5x5 in the model",
        /unexpected in the checkpoint \(\d+\): conv1\.bn\.weight/,
      );
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
