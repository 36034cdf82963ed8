/**
 * A lesson in a real browser: classic Notebook on a free localhost port (no token, private Jupyter dirs),
 * headless Chromium through playwright-core. Run all cells from the Cell menu and check that the plotly
 * charts render (plotly.js served offline by the Notebook server), that pictures show and that no cell
 * errs; then save, reopen (trusted: interactive again) and open an untrusted copy (scripts stripped:
 * the static copies of the charts show). Screenshots go to test-artifacts/.
 * Needs Notebook 6 (Debian's jupyter-notebook), chromium and npm playwright-core; not the internet.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { APT_HINT, PrivateJupyter, privateJupyter, ROOT } from './jupyter';

const LESSON = '01-setup-and-backends.ipynb';
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function findChromium(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((c): c is string => !!c);
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`no Chromium found (tried ${candidates.join(', ')}): apt-get install -y chromium, or set CHROMIUM_PATH`);
  return found;
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

let jupyter: PrivateJupyter;
let server: ChildProcess | null = null;
let serverLog = '';
let browser: Browser | null = null;
let base = '';
let notebookDir = '';

before(async () => {
  jupyter = privateJupyter(['jupyter_client', 'notebook']);
  const version = spawnSync(jupyter.python, ['-c', 'import notebook; print(notebook.__version__)'], { encoding: 'utf8' }).stdout.trim();
  assert.match(version, /^6\./, `the browser test drives the classic Notebook 6 UI, found notebook ${version}: ${APT_HINT}`);
  // Serve a copy: the Notebook server autosaves, and the repository's notebooks stay without outputs.
  notebookDir = path.join(jupyter.base, 'notebooks');
  fs.mkdirSync(notebookDir);
  fs.copyFileSync(path.join(ROOT, 'notebooks', LESSON), path.join(notebookDir, LESSON));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(
    jupyter.python,
    ['-m', 'notebook', '--no-browser', `--port=${port}`, '--port-retries=0', '--ip=127.0.0.1', "--NotebookApp.token=", "--NotebookApp.password=", '--allow-root', `--notebook-dir=${notebookDir}`],
    { env: { ...jupyter.env, GOOGLENET_QUICK: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  server.stdout!.on('data', (d: Buffer) => (serverLog += d.toString()));
  server.stderr!.on('data', (d: Buffer) => (serverLog += d.toString()));
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/api/status`)).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 150 || server.exitCode !== null) throw new Error(`Notebook server did not start:\n${serverLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({ executablePath: findChromium(), args: CHROMIUM_ARGS });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  if (server && server.exitCode === null) {
    // Shut the kernels down through the API, then the server.
    try {
      const kernels = (await (await fetch(`${base}/api/kernels`)).json()) as { id: string }[];
      await Promise.all(kernels.map((k) => fetch(`${base}/api/kernels/${k.id}`, { method: 'DELETE' })));
    } catch {
      // the server is already gone
    }
    server.kill('SIGTERM');
    const exited = await Promise.race([
      new Promise((r) => server!.once('exit', () => r(true))),
      new Promise((r) => setTimeout(() => r(false), 10000)),
    ]);
    if (!exited) server.kill('SIGKILL');
  }
  jupyter?.cleanup();
});

interface PageState {
  mainSvgs: number;
  images: number;
  staticCharts: number;
  errors: number;
  stderr: string[];
  notes: string[];
}

/**
 * Evaluated in the page as a string: the test runs through tsx, whose helpers (e.g. `__name` for named
 * functions) do not exist in the browser, so no compiled function is handed to page.evaluate.
 */
const PAGE_STATE = `(() => {
  const all = (sel) => Array.from(document.querySelectorAll(sel));
  const visible = (e) => e.offsetParent !== null;
  return {
    mainSvgs: all('.output_area .main-svg').length,
    images: all('.output_area img').filter(visible).length,
    staticCharts: all('.output_area img.googlenet-plot-static').filter(visible).length,
    errors: all('.output_area .output_error').length,
    stderr: all('.output_area .output_stderr').map((e) => (e.textContent || '').slice(0, 300)),
    notes: all('.googlenet-plot-note').map((e) => e.textContent || ''),
  };
})()`;

function pageState(page: Page): Promise<PageState> {
  return page.evaluate(PAGE_STATE) as Promise<PageState>;
}

async function openNotebook(page: Page, name: string): Promise<void> {
  await page.goto(`${base}/notebooks/${encodeURIComponent(name)}`);
  await page.waitForFunction('!!(window.Jupyter && Jupyter.notebook && Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected())', null, { timeout: 60000 });
}

async function screenshot(page: Page, name: string): Promise<void> {
  // Classic Notebook scrolls inside #site: let the page grow so that the screenshot holds every cell.
  await page.addStyleTag({ content: 'html, body, #site { height: auto !important; overflow: visible !important; } #header { position: static !important; }' });
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

test(`${LESSON} runs in the browser: charts render offline, pictures show, no errors`, async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await openNotebook(page, LESSON);
  await page.click('#celllink'); // Cell menu
  await page.click('#run_all_cells'); // Run All
  // Done when every code cell has its execution number (a running cell shows '*').
  await page.waitForFunction(
    "Jupyter.notebook.get_cells().filter((c) => c.cell_type === 'code').every((c) => typeof c.input_prompt_number === 'number')",
    null,
    { timeout: 240000, polling: 500 },
  );
  // plotly.js loads asynchronously from the server, then draws.
  await page.waitForSelector('.output_area .main-svg', { timeout: 30000 }).catch(() => undefined);
  const state = await pageState(page);
  await screenshot(page, 'notebook-01-run.png');
  assert.equal(state.errors, 0, 'error outputs');
  assert.deepEqual(state.stderr, [], 'stderr outputs');
  assert.deepEqual(state.notes, [], 'a chart fell back to its static copy');
  assert.ok(state.mainSvgs > 0, 'no plotly chart (.main-svg) in the page');
  assert.ok(state.images > 0, 'no picture in the page');
  assert.equal(state.staticCharts, 0, 'static chart copies stay hidden behind the interactive charts');
  assert.deepEqual(pageErrors.filter((e) => /googlenet|plotly/i.test(e)), [], 'script errors from the charts');
  // Save (signed: trusted for this server), for the reopening tests below.
  await page.evaluate('Jupyter.notebook.save_notebook()');
  await page.close();
});

test('reopened, the saved lesson is trusted and its charts are interactive again', async () => {
  const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
  await openNotebook(page, LESSON);
  await page.waitForSelector('.output_area .main-svg', { timeout: 30000 });
  const state = await pageState(page);
  assert.ok(state.mainSvgs > 0);
  assert.equal(state.errors, 0);
  await page.close();
});

test('an untrusted copy shows the static charts (scripts stripped) and its pictures', async () => {
  const saved = JSON.parse(fs.readFileSync(path.join(notebookDir, LESSON), 'utf8')) as { metadata: Record<string, unknown> };
  saved.metadata.copied = true; // any change breaks the signature: the copy is untrusted
  const copy = 'untrusted-copy.ipynb';
  fs.writeFileSync(path.join(notebookDir, copy), JSON.stringify(saved));
  const page = await browser!.newPage({ viewport: { width: 1280, height: 1000 } });
  await openNotebook(page, copy);
  await page.waitForTimeout(2000); // give any (wrongly) running script time to draw
  const state = await pageState(page);
  await screenshot(page, 'notebook-01-untrusted.png');
  assert.equal(await page.locator('#notification_trusted').innerText(), 'Not Trusted');
  assert.equal(state.mainSvgs, 0, 'scripts ran in an untrusted notebook');
  assert.ok(state.staticCharts > 0, 'no static chart in the untrusted notebook');
  assert.ok(state.images > state.staticCharts, 'the photo is missing');
  assert.equal(state.errors, 0);
  await page.close();
});
