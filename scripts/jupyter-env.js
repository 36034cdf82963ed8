// Finding the user's Jupyter (its Python) and registering the project's kernel with it.
// Used by scripts/kernel-install.js, scripts/lab.js and the notebook tests.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '..');
const KERNEL_NAME = 'googlenet-ts';
const KERNEL_DISPLAY_NAME = 'TypeScript (GoogLeNet)';
/** Folder name of the plotly.js copy that Jupyter serves to the notebooks' charts (see src/notebook/plot.ts). */
const ASSET_DIR = 'googlenet-ts';

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Executables called `name` on PATH, in order. */
function onPath(name) {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', '.bat', ''] : [''];
  const out = [];
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const p = path.join(dir, name + ext);
      if (isFile(p)) out.push(p);
    }
  }
  return out;
}

/** The interpreter named in a `jupyter` launcher script's #! line, or beside jupyter.exe on Windows. */
function pythonOfJupyter(jupyter) {
  if (process.platform === 'win32') {
    const dir = path.dirname(jupyter);
    return [path.join(dir, 'python.exe'), path.join(dir, '..', 'python.exe')].filter(isFile);
  }
  let head;
  try {
    head = fs.readFileSync(jupyter, { encoding: 'latin1' }).slice(0, 300);
  } catch {
    return [];
  }
  const m = /^#!\s*(\S+)(?:[ \t]+(\S+))?/.exec(head);
  if (!m) return [];
  if (path.basename(m[1]) === 'env' && m[2]) return [m[2]];
  return [m[1]];
}

function canImport(python, modules) {
  const r = spawnSync(python, ['-c', `import ${modules.join(', ')}`], { stdio: 'ignore', timeout: 60000 });
  return r.status === 0;
}

/** The project's own Jupyter environment (npm run setup:jupyter), git-ignored. */
const PROJECT_VENV = path.join(root, '.venv-jupyter');
const SETUP_HINT = 'npm run setup:jupyter (JupyterLab 4 + Notebook 7 from PyPI into .venv-jupyter/)';

/** The interpreter of a virtual environment (or a conda prefix) at `dir`. */
function venvPython(dir) {
  return process.platform === 'win32' ? path.join(dir, 'Scripts', 'python.exe') : path.join(dir, 'bin', 'python');
}

function condaPython(prefix) {
  return process.platform === 'win32' ? path.join(prefix, 'python.exe') : path.join(prefix, 'bin', 'python');
}

/**
 * Where a Python with Jupyter is looked for, in order, each as [python, where it came from]:
 * $GOOGLENET_PYTHON; the active virtual environment ($VIRTUAL_ENV) and conda environment
 * ($CONDA_PREFIX); the interpreter of every `jupyter` on PATH; the project's .venv-jupyter/; python3 and
 * python on PATH; /usr/bin/python3. (The first python3 on PATH may be a pyenv or venv interpreter
 * without Jupyter, so it comes late.)
 */
function pythonCandidates(env = process.env) {
  const out = [];
  if (env.GOOGLENET_PYTHON) out.push([env.GOOGLENET_PYTHON, '$GOOGLENET_PYTHON']);
  if (env.VIRTUAL_ENV) out.push([venvPython(env.VIRTUAL_ENV), `the active virtual environment ${env.VIRTUAL_ENV}`]);
  if (env.CONDA_PREFIX) out.push([condaPython(env.CONDA_PREFIX), `the active conda environment ${env.CONDA_PREFIX}`]);
  for (const j of onPath('jupyter')) for (const p of pythonOfJupyter(j)) out.push([p, `the Python of ${j}`]);
  out.push([venvPython(PROJECT_VENV), "the project's .venv-jupyter/"]);
  for (const p of [...onPath('python3'), ...onPath('python')]) out.push([p, 'PATH']);
  if (process.platform !== 'win32') out.push(['/usr/bin/python3', 'the system Python']);
  return out;
}

/** The first candidate that can import `modules`, as {python, source}, or null. */
function locatePython(modules = ['jupyter_client'], env = process.env) {
  const seen = new Set();
  for (const [python, source] of pythonCandidates(env)) {
    if (seen.has(python)) continue;
    seen.add(python);
    if ((path.isAbsolute(python) ? isFile(python) : true) && canImport(python, modules)) return { python, source };
  }
  return null;
}

/** A Python that can import `modules` (default: jupyter_client, which registers kernels); see pythonCandidates. */
function findPython(modules = ['jupyter_client']) {
  const found = locatePython(modules);
  return found ? found.python : null;
}

/**
 * The Python the tests run Jupyter with: the project's .venv-jupyter/ (pinned versions) when it has
 * `modules`, else the first one findPython finds.
 */
function testPython(modules) {
  const own = venvPython(PROJECT_VENV);
  if (isFile(own) && canImport(own, modules)) return own;
  return findPython(modules);
}

/** Run a Python snippet that prints one JSON document; throws with Python's stderr on failure. */
function runPythonJson(python, code, args = [], env = process.env) {
  const r = spawnSync(python, ['-c', code, ...args], { encoding: 'utf8', env, timeout: 120000 });
  if (r.status !== 0) throw new Error(`${python} failed: ${(r.stderr || r.error || '').toString().trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** The kernelspec: our launcher, run by the same Node that runs npm, both by absolute path. */
function kernelSpec() {
  return {
    argv: [process.execPath, path.join(root, 'scripts', 'tslab-kernel.js'), '--config-path', '{connection_file}'],
    display_name: KERNEL_DISPLAY_NAME,
    language: 'typescript',
    metadata: { googlenet_repo: root },
  };
}

const INSTALL_PY = `
import json, os, sys, tempfile
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.paths import jupyter_data_dir
spec, name = json.loads(sys.argv[1]), sys.argv[2]
with tempfile.TemporaryDirectory() as td:
    os.chmod(td, 0o755)
    with open(os.path.join(td, 'kernel.json'), 'w') as f:
        json.dump(spec, f, indent=1)
    dest = KernelSpecManager().install_kernel_spec(td, name, user=True)
print(json.dumps({'dest': dest, 'dataDir': jupyter_data_dir()}))
`;

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** Copy `src` to `dest` unless an identical copy is there; returns whether it wrote. */
function copyIfChanged(src, dest) {
  if (isFile(dest) && fs.statSync(dest).size === fs.statSync(src).size && sha256(dest) === sha256(src)) return false;
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.copyFileSync(src, tmp);
  fs.renameSync(tmp, dest);
  return true;
}

/**
 * Where Jupyter serves plotly.js from for the charts: classic Notebook at <base>/nbextensions/...,
 * JupyterLab and Notebook 7 at <base>/lab/extensions/... (a folder without package.json is not an
 * extension to Lab, only static files).
 */
function plotlyAssetPaths(dataDir) {
  return [
    path.join(dataDir, 'nbextensions', ASSET_DIR, 'plotly.min.js'),
    path.join(dataDir, 'labextensions', ASSET_DIR, 'static', 'plotly.min.js'),
  ];
}

/**
 * Register the kernel for this user (idempotent: the spec is replaced) and install plotly.js where
 * Jupyter serves it. Honours JUPYTER_DATA_DIR like Jupyter itself.
 */
function installKernel({ python = findPython(), env = process.env } = {}) {
  if (!python) {
    throw new Error(
      'no Python with Jupyter found (tried $GOOGLENET_PYTHON, $VIRTUAL_ENV, $CONDA_PREFIX, jupyter on PATH, .venv-jupyter/, python3, python, /usr/bin/python3): ' +
        `install JupyterLab into your environment (pip install jupyterlab), or run ${SETUP_HINT}, or pass --python PATH`,
    );
  }
  for (const dep of ['tslab/package.json', 'tsx/package.json']) {
    try {
      require.resolve(dep, { paths: [root] });
    } catch {
      throw new Error(`${dep.split('/')[0]} is not installed in ${root}/node_modules: run npm install first`);
    }
  }
  const spec = kernelSpec();
  const { dest, dataDir } = runPythonJson(python, INSTALL_PY, [JSON.stringify(spec), KERNEL_NAME], env);
  const plotly = require.resolve('plotly.js-dist-min/plotly.min.js', { paths: [root] });
  const assets = plotlyAssetPaths(dataDir).map((p) => ({ path: p, written: copyIfChanged(plotly, p) }));
  return { python, name: KERNEL_NAME, displayName: KERNEL_DISPLAY_NAME, dest, dataDir, spec, assets };
}

/** Fresh, private Jupyter directories for tests (kernelspecs, runtime files, config). */
function isolatedJupyterEnv(base = fs.mkdtempSync(path.join(os.tmpdir(), 'googlenet-jupyter-'))) {
  const env = { ...process.env };
  for (const [k, d] of [
    ['JUPYTER_DATA_DIR', 'data'],
    ['JUPYTER_CONFIG_DIR', 'config'],
    ['JUPYTER_RUNTIME_DIR', 'runtime'],
    ['IPYTHONDIR', 'ipython'],
    ['JUPYTERLAB_SETTINGS_DIR', 'lab-settings'],
    ['JUPYTERLAB_WORKSPACES_DIR', 'lab-workspaces'],
  ]) {
    env[k] = path.join(base, d);
    fs.mkdirSync(env[k], { recursive: true });
  }
  return { base, env };
}

module.exports = {
  root,
  KERNEL_NAME,
  KERNEL_DISPLAY_NAME,
  ASSET_DIR,
  PROJECT_VENV,
  SETUP_HINT,
  venvPython,
  pythonCandidates,
  locatePython,
  findPython,
  testPython,
  canImport,
  onPath,
  kernelSpec,
  installKernel,
  plotlyAssetPaths,
  isolatedJupyterEnv,
};
