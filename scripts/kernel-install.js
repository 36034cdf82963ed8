#!/usr/bin/env node
// npm run kernel:install — register the project's TypeScript kernel ("TypeScript (GoogLeNet)", a tslab
// kernel started from this repository) with the user's Jupyter, and copy plotly.js where Jupyter serves
// it so that the lessons' charts render offline. Safe to run again: the kernelspec is replaced.
// Python: $GOOGLENET_PYTHON, else the one behind `jupyter` on PATH, else python3/python, else /usr/bin/python3.
'use strict';
const { installKernel } = require('./jupyter-env');

try {
  const r = installKernel();
  const lines = [
    `Registered Jupyter kernel '${r.name}' ("${r.displayName}") in ${r.dest}`,
    `  python: ${r.python}`,
    `  runs:   ${r.spec.argv.slice(0, 2).join(' ')}`,
    ...r.assets.map((a) => `  plotly.js for offline charts: ${a.path}${a.written ? '' : ' (up to date)'}`),
    'Open the lessons with: npm run lab',
  ];
  process.stdout.write(lines.join('\n') + '\n');
} catch (e) {
  process.stderr.write(`kernel:install: ${e.message}\n`);
  process.exit(1);
}
