/** The model against the course notes: parameter counts, every stage's shape, train/eval outputs. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../src/tf';
import { initBackend } from '../../src/backend/select';
import { createGoogLeNet, STAGES } from '../../src/model/googlenet';
import { summarize } from '../../src/model/summary';
import { INCEPTION_SPECS, inceptionOutChannels } from '../../src/model/specs';

before(async () => {
  await initBackend('wasm');
});

test('course variant, 5 classes: 10,318,655 parameters, 5,978,677 without aux heads', () => {
  const m = createGoogLeNet({ variant: 'course', numClasses: 5 });
  assert.equal(m.numParameters(), 10_318_655);
  assert.equal(m.numParameters() - m.auxParameterCount(), 5_978_677);
  m.dispose();
});

test('torchvision variant, 1000 classes: 6,624,904 parameters without aux heads', () => {
  const m = createGoogLeNet({ variant: 'torchvision', numClasses: 1000, auxLogits: false });
  assert.equal(m.numParameters(), 6_624_904);
  m.dispose();
});

test('parameter names follow the notes / torchvision', () => {
  const m = createGoogLeNet({ variant: 'torchvision', numClasses: 5 });
  const names = new Set(m.stateDict().keys());
  for (const n of ['conv1.conv.weight', 'conv1.bn.running_var', 'inception4a.branch2.1.conv.weight', 'inception3a.branch4.1.bn.bias', 'aux1.conv.conv.weight', 'aux1.fc2.weight', 'fc.bias']) {
    assert.ok(names.has(n), `missing ${n}`);
  }
  m.dispose();
  const c = createGoogLeNet({ variant: 'course', numClasses: 5 });
  assert.ok(c.stateDict().has('inception3a.branch3.1.conv.bias'));
  assert.deepEqual(c.inception['3a'].branch3[1].conv.weight.shape, [5, 5, 16, 32]); // the notes' 5x5
  c.dispose();
});

test('Inception output channels add up as in Table 1 (3a: 64 + 128 + 32 + 32 = 256)', () => {
  assert.equal(inceptionOutChannels(INCEPTION_SPECS['3a']), 256);
  assert.equal(inceptionOutChannels(INCEPTION_SPECS['4e']), 832);
  assert.equal(inceptionOutChannels(INCEPTION_SPECS['5b']), 1024);
});

const DESIGN_SHAPES_224: Record<string, number[]> = {
  conv1: [112, 112, 64], maxpool1: [56, 56, 64], conv3: [56, 56, 192], maxpool2: [28, 28, 192],
  inception3a: [28, 28, 256], inception3b: [28, 28, 480], maxpool3: [14, 14, 480], inception4a: [14, 14, 512],
  inception4d: [14, 14, 528], inception4e: [14, 14, 832], maxpool4: [7, 7, 832], inception5b: [7, 7, 1024],
};

test('summary at 224 px gives the stage shapes of the notes, and a real forward pass agrees', () => {
  const m = createGoogLeNet({ variant: 'course', numClasses: 5 });
  const s = summarize(m, 224);
  const byName = Object.fromEntries(s.layers.map((l) => [l.name, l.outputShape]));
  for (const [k, v] of Object.entries(DESIGN_SHAPES_224)) assert.deepEqual(byName[k], v, k);
  assert.equal(s.auxPooling, 'avg5s3'); // exactly the notes' AvgPool2d(5, stride 3) at 224
  assert.deepEqual(s.notes, []);
  const seen: Record<string, number[]> = {};
  const x = tf.zeros([1, 224, 224, 3]) as tf.Tensor4D;
  const out = m.forward(x, { training: true }, (name, y) => (seen[name] = y.shape.slice(1)));
  for (const l of s.layers) assert.deepEqual(seen[l.name], l.outputShape, `${l.name}: forward ${seen[l.name]} vs summary ${l.outputShape}`);
  assert.deepEqual(Object.keys(seen).filter((n) => !n.startsWith('aux')), [...STAGES]);
  tf.dispose([x, out.logits, out.aux1!, out.aux2!]);
  m.dispose();
});

for (const size of [64, 96, 112, 128, 160]) {
  test(`course variant at ${size} px: summary shapes match a real forward pass; aux heads pool adaptively`, () => {
    const m = createGoogLeNet({ variant: 'course', numClasses: 3 });
    const s = summarize(m, size);
    assert.equal(s.auxPooling, 'adaptive4');
    assert.equal(s.notes.length, 1);
    const seen: Record<string, number[]> = {};
    const x = tf.zeros([2, size, size, 3]) as tf.Tensor4D;
    const out = m.forward(x, { training: true }, (name, y) => (seen[name] = y.shape.slice(1)));
    for (const l of s.layers) assert.deepEqual(seen[l.name], l.outputShape, l.name);
    assert.deepEqual(out.aux1!.shape, [2, 3]);
    tf.dispose([x, out.logits, out.aux1!, out.aux2!]);
    m.dispose();
  });
}

test('training mode with aux heads returns main, aux2, aux1; eval mode the main logits only', () => {
  const m = createGoogLeNet({ variant: 'course', numClasses: 4 });
  const x = tf.randomNormal([2, 64, 64, 3]) as tf.Tensor4D;
  const before = tf.memory().numTensors;
  const train = m.forward(x, { training: true });
  assert.deepEqual(Object.keys(train).sort(), ['aux1', 'aux2', 'logits']);
  const ev = m.forward(x, { training: false });
  assert.deepEqual(Object.keys(ev), ['logits']);
  // eval is deterministic (dropout off); training is not (dropout on)
  const ev2 = m.predictLogits(x);
  assert.deepEqual(Array.from(ev.logits.dataSync()), Array.from(ev2.dataSync()));
  tf.dispose([train.logits, train.aux1!, train.aux2!, ev.logits, ev2]);
  assert.equal(tf.memory().numTensors, before, 'forward leaks no tensors');
  const noAux = createGoogLeNet({ variant: 'course', numClasses: 4, auxLogits: false });
  const t2 = noAux.forward(x, { training: true });
  assert.deepEqual(Object.keys(t2), ['logits']);
  tf.dispose([t2.logits, x]);
  m.dispose();
  noAux.dispose();
});

test('bad configurations are refused with a clear message', () => {
  assert.throws(() => createGoogLeNet({ numClasses: 0 }), /numClasses must be a positive integer/);
  assert.throws(() => createGoogLeNet({ numClasses: 2.5 }), /numClasses must be a positive integer/);
  assert.throws(() => createGoogLeNet({ variant: 'vgg' as never }), /unknown variant 'vgg'/);
  const m = createGoogLeNet({});
  assert.throws(() => summarize(m, 16), /too small/);
  m.dispose();
});
