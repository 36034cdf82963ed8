// What the test suite needs beyond `npm install`, checked before the tests run (scripts/run-tests.js),
// so that a missing piece is one line with the command that fixes it rather than a pile of failures.
// `npm run test:all` (scripts/setup-and-test.sh) installs all of them on Debian/Ubuntu.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { PROJECT_VENV, venvPython } = require('./jupyter-env');

const ALL = 'npm run test:all';

/** Whether `python` has all of `modules`, found without importing them (importing torch costs seconds). */
function hasModules(python, modules) {
  const code = `import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(m) for m in ${JSON.stringify(modules)}) else 1)`;
  const r = spawnSync(python, ['-c', code], { stdio: 'ignore', timeout: 60000 });
  return !r.error && r.status === 0;
}

function hasCommand(name) {
  return (process.env.PATH || '').split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, name)));
}

/** Debian's package version, or null (not installed, or not a Debian system). */
function debVersion(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8' });
  return !r.error && r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

/** Each check: [what is missing, the command that fixes it] when missing, null when present. */
const CHECKS = [
  () =>
    hasModules('/usr/bin/python3', ['torch', 'torchvision'])
      ? null
      : ['PyTorch, the tests\' oracle (/usr/bin/python3 cannot import torch, torchvision)', `${ALL}  (or: sudo apt-get install python3-torch python3-torchvision)`],
  () =>
    [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].some((c) => c && fs.existsSync(c))
      ? null
      : ['Chromium for the browser tests (/usr/bin/chromium, or set CHROMIUM_PATH)', `${ALL}  (or: sudo apt-get install chromium)`],
  () =>
    hasModules(venvPython(PROJECT_VENV), ['jupyterlab', 'notebook', 'nbconvert', 'nbclient'])
      ? null
      : [`JupyterLab 4 + Notebook 7 in ${path.basename(PROJECT_VENV)}/ (the notebook tests)`, 'npm run setup:jupyter  (needs python3-venv: sudo apt-get install python3-venv)'],
  () =>
    hasCommand('clang-16') && hasCommand('wasm-ld-16')
      ? null
      : ['clang-16 and wasm-ld-16 (a test rebuilds the wasm SIMD kernels)', `${ALL}  (or: sudo apt-get install clang-16 lld-16 wabt)`],
  () => {
    const v = debVersion('mesa-vulkan-drivers');
    if (v === null && !fs.existsSync('/var/lib/dpkg')) return null; // not Debian: the WebGPU tests say what they miss
    const major = v ? Number(v.replace(/^\d+:/, '').split('.')[0]) : 0;
    return major >= 25
      ? null
      : [`Mesa 25's software Vulkan for the WebGPU tests (mesa-vulkan-drivers ${v ?? 'not installed'}; Dawn refuses Mesa 22)`, `${ALL}  (installs it from bookworm-backports)`];
  },
];

/** The missing pieces, each {what, fix}. */
function missingPrerequisites() {
  return CHECKS.map((c) => c())
    .filter((m) => m)
    .map(([what, fix]) => ({ what, fix }));
}

/** Print one line per missing piece; exit 1 only when node_modules/ is missing (nothing could run). */
function report() {
  const root = path.resolve(__dirname, '..');
  if (!fs.existsSync(path.join(root, 'node_modules', 'tsx')) || !fs.existsSync(path.join(root, 'node_modules', 'typescript'))) {
    console.error(`missing: node_modules/ (the npm dependencies) -> run: npm ci  (or ${ALL}, which installs everything)`);
    process.exit(1);
  }
  const missing = missingPrerequisites();
  for (const m of missing) console.error(`missing: ${m.what} -> run: ${m.fix}`);
  if (missing.length) console.error(`${missing.length} prerequisite(s) missing: the tests that need them will fail. \`${ALL}\` installs everything.`);
}

module.exports = { missingPrerequisites, report };

if (require.main === module) report();
