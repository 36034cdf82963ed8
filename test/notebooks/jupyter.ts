/**
 * Shared by the notebook tests: a private Jupyter (its own data/config/runtime dirs, so nothing of the
 * user's is read or written) with the project's kernel registered, the list of notebooks, and
 * executing one with nbconvert.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

interface InstallResult {
  dest: string;
  dataDir: string;
  spec: { argv: string[] };
  assets: { path: string; written: boolean }[];
}

interface JupyterEnvModule {
  root: string;
  KERNEL_NAME: string;
  KERNEL_DISPLAY_NAME: string;
  SETUP_HINT: string;
  testPython(modules: string[]): string | null;
  installKernel(opts: { python?: string | null; env?: NodeJS.ProcessEnv }): InstallResult;
  isolatedJupyterEnv(): { base: string; env: NodeJS.ProcessEnv };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const jupyterEnv = require('../../scripts/jupyter-env.js') as JupyterEnvModule;
export const ROOT = jupyterEnv.root;

/** What installs the tests' Jupyter (JupyterLab 4, Notebook 7, nbconvert) into the project's .venv-jupyter/. */
export const SETUP_HINT = jupyterEnv.SETUP_HINT;

export interface PrivateJupyter {
  python: string;
  env: NodeJS.ProcessEnv;
  base: string;
  install: InstallResult;
  cleanup(): void;
}

/**
 * A private Jupyter with the project's kernel installed, run by the project's .venv-jupyter/ (else the
 * first Python with `modules`); throws with what to install if there is none.
 */
export function privateJupyter(modules: string[]): PrivateJupyter {
  const python = jupyterEnv.testPython(modules);
  if (!python) throw new Error(`no Python with ${modules.join(', ')} found: run ${SETUP_HINT}`);
  const { base, env } = jupyterEnv.isolatedJupyterEnv();
  const install = jupyterEnv.installKernel({ python, env });
  return { python, env, base, install, cleanup: () => fs.rmSync(base, { recursive: true, force: true }) };
}

/** Lessons then exercises, in reading order (paths relative to the repository root). */
export function listNotebooks(): string[] {
  const list = (dir: string) =>
    fs
      .readdirSync(path.join(ROOT, dir))
      .filter((f) => f.endsWith('.ipynb'))
      .sort()
      .map((f) => path.join(dir, f));
  return [...list('notebooks'), ...list(path.join('notebooks', 'exercises'))];
}

export interface Output {
  output_type: string;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
  data?: Record<string, unknown>;
}

export interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}

export interface Notebook {
  cells: Cell[];
  metadata: { kernelspec?: { name: string } };
}

export const joinText = (t: string | string[] | undefined): string => (Array.isArray(t) ? t.join('') : t ?? '');

export function readNotebook(file: string): Notebook {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Notebook;
}

export interface Execution {
  code: number | null;
  seconds: number;
  stderr: string;
  /** The executed copy (absent if nbconvert failed before writing). */
  output: string;
}

/**
 * Execute a notebook top to bottom with nbconvert into `outDir`, on the project's kernel. Errors do not
 * stop the run (`--allow-errors`): tslab reports a failing cell on its stderr stream, which nbconvert's
 * own message leaves out, so callers find the details in the executed notebook (inspectOutputs).
 */
export function executeNotebook(j: PrivateJupyter, notebook: string, outDir: string, extraEnv: NodeJS.ProcessEnv = {}, timeoutS = 300): Promise<Execution> {
  const name = path.basename(notebook);
  const args = [
    '-m', 'nbconvert', '--to', 'notebook', '--execute', '--allow-errors',
    `--ExecutePreprocessor.timeout=${timeoutS}`,
    `--ExecutePreprocessor.kernel_name=${jupyterEnv.KERNEL_NAME}`,
    '--output-dir', outDir, '--output', name,
    path.join(ROOT, notebook),
  ];
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(j.python, args, { cwd: ROOT, env: { ...j.env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, seconds: (Date.now() - t0) / 1000, stderr, output: path.join(outDir, name) }));
  });
}

/** What the executed notebook shows: errors (error outputs, anything on stderr) and rich outputs. */
export function inspectOutputs(nb: Notebook): { errors: string[]; charts: number; images: number; text: string } {
  const errors: string[] = [];
  let charts = 0;
  let images = 0;
  let text = '';
  nb.cells.forEach((cell, i) => {
    for (const o of cell.outputs ?? []) {
      if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
      if (o.output_type === 'stream') {
        const t = joinText(o.text);
        text += t;
        if (o.name === 'stderr') errors.push(`cell ${i} wrote to stderr:\n${t.slice(0, 1500)}`);
      }
      const data = o.data ?? {};
      const html = joinText(data['text/html'] as string | string[] | undefined);
      if (data['application/vnd.plotly.v1+json']) charts++;
      if (data['image/png'] || data['image/jpeg'] || /<img /.test(html)) images++;
      text += joinText(data['text/plain'] as string | string[] | undefined) + '\n';
    }
  });
  return { errors, charts, images, text };
}
