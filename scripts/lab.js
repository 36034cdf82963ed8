#!/usr/bin/env node
// npm run lab [-- extra args] — register the kernel (idempotent), then open the lessons in notebooks/
// with JupyterLab if this machine has it, else with the classic Notebook.
'use strict';
const path = require('path');
const { spawn } = require('child_process');
const { findPython, installKernel, root } = require('./jupyter-env');

function main() {
  const lab = findPython(['jupyterlab']);
  const python = lab || findPython(['notebook']);
  if (!python) {
    process.stderr.write(
      'lab: neither JupyterLab nor Notebook found. Install one (pip install jupyterlab, or on Debian/Ubuntu: ' +
        'apt-get install jupyter-notebook), or set GOOGLENET_PYTHON to the Python that has it.\n',
    );
    return process.exit(1);
  }
  try {
    installKernel({ python: findPython() || python });
  } catch (e) {
    process.stderr.write(`lab: could not register the kernel: ${e.message}\n`);
    return process.exit(1);
  }
  const app = lab ? 'jupyterlab' : 'notebook';
  process.stderr.write(`Starting ${lab ? 'JupyterLab' : 'Jupyter Notebook'} in notebooks/ (${python} -m ${app})\n`);
  const child = spawn(python, ['-m', app, ...process.argv.slice(2)], { cwd: path.join(root, 'notebooks'), stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => process.exit(signal ? 1 : code ?? 0));
}

main();
