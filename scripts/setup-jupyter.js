#!/usr/bin/env node
// npm run setup:jupyter — JupyterLab 4 and Notebook 7 (with nbconvert, nbclient, ipykernel) from PyPI in
// a virtual environment inside the project, .venv-jupyter/, at the versions pinned in
// scripts/jupyter-requirements.txt. Never installs into the system Python. Safe to run again: an
// environment already at those pins is left alone (its stamp holds the requirements file's hash).
// Python for the venv: $GOOGLENET_VENV_PYTHON, else /usr/bin/python3 (Debian's), else python3 on PATH.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');
const { PROJECT_VENV, venvPython } = require('./jupyter-env');

const REQUIREMENTS = path.join(__dirname, 'jupyter-requirements.txt');
const STAMP = path.join(PROJECT_VENV, '.requirements.sha256');

function fail(line) {
  process.stderr.write(`setup:jupyter: ${line}\n`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.error) fail(`${cmd}: ${r.error.message}`);
  return r.status === 0;
}

function basePython() {
  if (process.env.GOOGLENET_VENV_PYTHON) return process.env.GOOGLENET_VENV_PYTHON;
  if (fs.existsSync('/usr/bin/python3')) return '/usr/bin/python3';
  return process.platform === 'win32' ? 'python' : 'python3';
}

function main() {
  const want = crypto.createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).digest('hex');
  const py = venvPython(PROJECT_VENV);
  if (fs.existsSync(py) && fs.existsSync(STAMP) && fs.readFileSync(STAMP, 'utf8').trim() === want) {
    process.stdout.write(`setup:jupyter: ${path.relative(process.cwd(), PROJECT_VENV) || PROJECT_VENV} is up to date (${REQUIREMENTS})\n`);
    return;
  }
  const base = basePython();
  if (!fs.existsSync(py)) {
    const probe = spawnSync(base, ['-c', 'import ensurepip, venv'], { stdio: 'ignore' });
    if (probe.error || probe.status !== 0) {
      fail(`${base} cannot create a virtual environment (no venv/ensurepip): on Debian/Ubuntu run: sudo apt-get install -y python3-venv`);
    }
    process.stdout.write(`setup:jupyter: creating ${PROJECT_VENV} with ${base} -m venv\n`);
    if (!run(base, ['-m', 'venv', PROJECT_VENV])) fail(`${base} -m venv ${PROJECT_VENV} failed`);
  }
  process.stdout.write(`setup:jupyter: installing JupyterLab 4, Notebook 7, nbconvert, nbclient, ipykernel from PyPI (pinned in ${path.relative(process.cwd(), REQUIREMENTS)})\n`);
  const ok = run(py, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '-r', REQUIREMENTS]);
  if (!ok) fail(`pip could not install ${REQUIREMENTS} into ${PROJECT_VENV} (is PyPI reachable?)`);
  fs.writeFileSync(STAMP, `${want}\n`);
  const v = spawnSync(py, ['-c', 'import jupyterlab, notebook; print(jupyterlab.__version__, notebook.__version__)'], { encoding: 'utf8' });
  const [lab, nb] = (v.stdout || '').trim().split(' ');
  process.stdout.write(`setup:jupyter: ready: JupyterLab ${lab}, Notebook ${nb} in ${PROJECT_VENV} (python: ${py})\n`);
}

main();
