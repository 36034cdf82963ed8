#!/usr/bin/env node
// `npm start`: the main job on a fresh clone, in a few minutes on a 2-core CPU. Trains the course
// notes' GoogLeNet briefly on the bundled sample (data_set/flower_data), evaluates it on the sample's
// val/ photos, predicts one photo, and says where the checkpoint is. Each step is a plain
// bin/googlenet command, printed before it runs, so you can run them yourself with other flags.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const cli = path.join(root, 'bin', 'googlenet');
const data = path.join('data_set', 'flower_data');
const run = path.join('runs', `start-${new Date().toISOString().replace(/[:.]/g, '-')}`);
const epochs = process.env.GOOGLENET_START_EPOCHS || '3';

function step(title, args) {
  process.stderr.write(`\n== ${title}\n$ bin/googlenet ${args.join(' ')}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status === null ? 1 : r.status);
}

const valDaisy = path.join(data, 'val', 'daisy');
const photo = path.join(valDaisy, fs.readdirSync(path.join(root, valDaisy)).sort()[0]);
step(`train ${epochs} epochs on the bundled sample (200 photos, 96 px; the notes use 224 px and 30 epochs)`, [
  'train', '--data', data, '--out', run, '--epochs', epochs, '--image-size', '96', '--batch-size', '16',
]);
step('evaluate on the sample\'s val/ photos', ['evaluate', '--checkpoint', run, '--data', path.join(data, 'val')]);
step('predict one photo', ['predict', '--checkpoint', run, photo, '--top-k', '3']);
process.stderr.write(
  `\nDone. Checkpoint: ${run}/ (model.json + weights, metadata.json, class_indices.json, metrics.jsonl, last/)\n` +
    'A few epochs on 200 photos learn little; for the real run get the full set (bin/googlenet fetch-data) and\n' +
    `train longer: bin/googlenet train --data data_set/flower_data --out runs/flowers --epochs 30 --image-size 224\n`,
);
