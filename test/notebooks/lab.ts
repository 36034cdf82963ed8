/**
 * A real JupyterLab 4 server for the browser tests, and headless Chromium to drive it.
 *
 * The server runs from the project's .venv-jupyter/ (npm run setup:jupyter) with private Jupyter and
 * JupyterLab directories (kernelspecs, config, settings, workspaces: nothing of the user's is read or
 * written), on a free localhost port with a random token, serving a copy of notebooks/ (the server
 * saves, the repository's notebooks stay without outputs), in quick mode (GOOGLENET_QUICK=1). With
 * Notebook 7 installed beside it, the same server also serves Notebook 7's pages (/notebooks/...).
 * Both expose their application object as `window.jupyterapp` (expose_app_in_browser) for the tests.
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { Browser } from 'playwright-core';
import { PrivateJupyter, privateJupyter, ROOT, SETUP_HINT } from './jupyter';

export const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

export function findChromium(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((c): c is string => !!c);
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`no Chromium found (tried ${candidates.join(', ')}): apt-get install -y chromium, or set CHROMIUM_PATH`);
  return found;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** User settings for the test: every cell in the DOM (no windowing), no news or update checks, no autosave. */
const LAB_SETTINGS: Record<string, object> = {
  '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': { windowingMode: 'none' },
  '@jupyterlab/apputils-extension/notification.jupyterlab-settings': { fetchNews: 'false', checkForUpdates: false },
  '@jupyterlab/docmanager-extension/plugin.jupyterlab-settings': { autosave: false },
};

export interface LabServer {
  jupyter: PrivateJupyter;
  /** http://127.0.0.1:PORT */
  base: string;
  token: string;
  /** The folder the server serves (a copy of notebooks/). */
  dir: string;
  versions: { jupyterlab: string; notebook: string };
  log(): string;
  /** `${base}${p}?token=...` */
  url(p: string): string;
  stop(): Promise<void>;
}

function versions(python: string): { jupyterlab: string; notebook: string } {
  const r = spawnSync(python, ['-c', 'import jupyterlab, notebook, json; print(json.dumps({"jupyterlab": jupyterlab.__version__, "notebook": notebook.__version__}))'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${python} has no JupyterLab and Notebook: run ${SETUP_HINT}`);
  return JSON.parse(r.stdout.trim()) as { jupyterlab: string; notebook: string };
}

function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const e of fs.readdirSync(from, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const src = path.join(from, e.name);
    if (e.isDirectory()) copyDir(src, path.join(to, e.name));
    else if (e.name.endsWith('.ipynb')) fs.copyFileSync(src, path.join(to, e.name));
  }
}

export async function startLab(): Promise<LabServer> {
  const jupyter = privateJupyter(['jupyter_client', 'jupyterlab', 'notebook']);
  const v = versions(jupyter.python);
  if (!/^4\./.test(v.jupyterlab) || !/^7\./.test(v.notebook)) {
    throw new Error(`the browser tests need JupyterLab 4 and Notebook 7, ${jupyter.python} has ${v.jupyterlab} and ${v.notebook}: run ${SETUP_HINT}`);
  }
  for (const [file, value] of Object.entries(LAB_SETTINGS)) {
    const p = path.join(jupyter.env.JUPYTERLAB_SETTINGS_DIR!, file);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, JSON.stringify(value));
  }
  fs.writeFileSync(
    path.join(jupyter.env.JUPYTER_CONFIG_DIR!, 'jupyter_server_config.json'),
    JSON.stringify({ LabApp: { expose_app_in_browser: true }, JupyterNotebookApp: { expose_app_in_browser: true } }),
  );
  const dir = path.join(jupyter.base, 'served');
  copyDir(path.join(ROOT, 'notebooks'), path.join(dir, 'notebooks'));
  const port = await freePort();
  const token = randomBytes(16).toString('hex');
  const base = `http://127.0.0.1:${port}`;
  const args = [
    '-m', 'jupyterlab', '--no-browser', `--port=${port}`, '--port-retries=0', '--ip=127.0.0.1',
    `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${dir}`, '--LabApp.expose_app_in_browser=True',
  ];
  // As root, Jupyter refuses to start without this.
  if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--allow-root');
  let log = '';
  const server: ChildProcess = spawn(jupyter.python, args, { cwd: dir, env: { ...jupyter.env, GOOGLENET_QUICK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = (p: string) => `${base}${p}${p.includes('?') ? '&' : '?'}token=${token}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url('/api/status'))).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300 || server.exitCode !== null) throw new Error(`JupyterLab did not start:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const stop = async () => {
    if (server.exitCode === null) {
      try {
        const kernels = (await (await fetch(url('/api/kernels'))).json()) as { id: string }[];
        await Promise.all(kernels.map((k) => fetch(url(`/api/kernels/${k.id}`), { method: 'DELETE' })));
      } catch {
        // the server is already gone
      }
      server.kill('SIGTERM');
      const exited = await Promise.race([
        new Promise((r) => server.once('exit', () => r(true))),
        new Promise((r) => setTimeout(() => r(false), 10000)),
      ]);
      if (!exited) server.kill('SIGKILL');
    }
    jupyter.cleanup();
  };
  return { jupyter, base, token, dir, versions: v, log: () => log, url, stop };
}
