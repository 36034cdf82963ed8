#!/usr/bin/env node
// npm run lab [-- extra args for Jupyter] — register the kernel (idempotent), then open the lessons in
// notebooks/ with JupyterLab: the user's own (active venv or conda environment, `jupyter` on PATH,
// $GOOGLENET_PYTHON), else the project's .venv-jupyter/ (npm run setup:jupyter); with a Notebook
// (7 or classic) only where no JupyterLab is found. As root, Jupyter refuses to start without --allow-root,
// so it is added.
'use strict';
const path = require('path');
const { spawn } = require('child_process');
const { locatePython, installKernel, root, SETUP_HINT } = require('./jupyter-env');

function main() {
  const lab = locatePython(['jupyterlab']);
  const found = lab || locatePython(['notebook']);
  if (!found) {
    process.stderr.write(`lab: no JupyterLab or Notebook found (looked at $GOOGLENET_PYTHON, $VIRTUAL_ENV, $CONDA_PREFIX, jupyter on PATH, .venv-jupyter/, python3): run ${SETUP_HINT}, or pip install jupyterlab into your environment\n`);
    return process.exit(1);
  }
  const { python, source } = found;
  let r;
  try {
    r = installKernel({ python });
  } catch (e) {
    process.stderr.write(`lab: could not register the kernel: ${e.message}\n`);
    return process.exit(1);
  }
  const app = lab ? 'jupyterlab' : 'notebook';
  const extra = process.argv.slice(2);
  if (typeof process.getuid === 'function' && process.getuid() === 0 && !extra.includes('--allow-root')) extra.push('--allow-root');
  process.stderr.write(
    `Kernel '${r.name}' registered in ${r.dest}\n` +
      `Starting ${lab ? 'JupyterLab' : 'Jupyter Notebook'} in notebooks/: ${python} -m ${app} ${extra.join(' ')} (found by: ${source})\n`,
  );
  const child = spawn(python, ['-m', app, ...extra], { cwd: path.join(root, 'notebooks'), stdio: 'inherit' });
  child.on('error', (e) => {
    process.stderr.write(`lab: could not start ${python} -m ${app}: ${e.message}\n`);
    process.exit(1);
  });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 0));
}

main();
