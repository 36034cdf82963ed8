#!/usr/bin/env node
// npm run kernel:install [-- --python PATH] — register the project's TypeScript kernel ("TypeScript
// (GoogLeNet)", a tslab kernel started from this repository) with the Jupyter the user runs, and copy
// plotly.js where that Jupyter serves it (Lab and Notebook 7: labextensions/; classic Notebook:
// nbextensions/), so that the lessons' charts render offline. Safe to run again: the spec is replaced.
// Which Jupyter: --python PATH, else $GOOGLENET_PYTHON, else the active venv ($VIRTUAL_ENV) or conda
// environment ($CONDA_PREFIX), else the one behind `jupyter` on PATH, else the project's .venv-jupyter/
// (npm run setup:jupyter), else python3/python on PATH, else /usr/bin/python3.
'use strict';
const { installKernel, locatePython, canImport, SETUP_HINT } = require('./jupyter-env');

function parseArgs(argv) {
  const out = { python: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--python') out.python = argv[++i] ?? '';
    else if (a.startsWith('--python=')) out.python = a.slice('--python='.length);
    else throw new Error(`unknown argument ${a} (usage: npm run kernel:install [-- --python PATH])`);
  }
  if (out.python === '') throw new Error('--python needs the path of a Python that has Jupyter');
  return out;
}

try {
  const args = parseArgs(process.argv.slice(2));
  let found;
  if (args.python) {
    if (!canImport(args.python, ['jupyter_client'])) {
      throw new Error(`${args.python} cannot import jupyter_client: give the Python of your Jupyter (e.g. venv/bin/python), or run ${SETUP_HINT}`);
    }
    found = { python: args.python, source: '--python' };
  } else {
    found = locatePython(['jupyter_client']);
  }
  const r = installKernel({ python: found ? found.python : null });
  const lines = [
    `Registered Jupyter kernel '${r.name}' ("${r.displayName}") in ${r.dest}`,
    `  for the Jupyter of ${r.python} (found by: ${found.source})`,
    `  runs:   ${r.spec.argv.slice(0, 2).join(' ')}`,
    ...r.assets.map((a) => `  plotly.js for offline charts: ${a.path}${a.written ? '' : ' (up to date)'}`),
    'Open the lessons with: npm run lab',
  ];
  process.stdout.write(lines.join('\n') + '\n');
} catch (e) {
  process.stderr.write(`kernel:install: ${e.message}\n`);
  process.exit(1);
}
