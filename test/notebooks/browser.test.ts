/**
 * The lessons in a real browser: JupyterLab 4 from the project's
 * .venv-jupyter/, on localhost, driven by headless Chromium through playwright-core (test/notebooks/lab.ts).
 * For every lesson and exercise (listNotebooks()): run all cells from the Run menu's command, wait for
 * the kernel, and check what a learner sees: every cell ran, no error output, nothing on stderr, no
 * failed check, every plotly output drawn by plotly.js (served offline by the user's own Jupyter, see
 * src/notebook/plot.ts), every picture shown; in lesson 08 the live chart redrawn in place while the
 * training cell runs. Then save and reload (the server signed it: trusted, charts interactive again),
 * and open an untrusted copy (no errors; each chart drawn or its static SVG shown). Also the kernel's
 * name and language. Screenshots go to test-artifacts/. (Not here yet: Lab's stop button during
 * lesson 08's training, and tab completion: a first test of both did not pass; Notebook 7, whose page
 * threw "Cannot read properties of undefined (reading 'schema')" and "Command 'filebrowser:open-path'
 * not registered" under this test; see issue 15's notes.)
 * Needs: npm run setup:jupyter, Debian's chromium. Not the internet.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import type { Browser, Page } from 'playwright-core';
import { jupyterEnv, listNotebooks } from './jupyter';
import { ARTIFACTS, LabServer, launchChromium, startLab } from './lab';
import {
  CellState, NotebookState, notebookState, openNotebook, reload, runAll, save, shutdownKernel, waitForCharts,
} from './lab_page';

/** Quick mode keeps a notebook well under a minute; this catches one gone badly slow (GOOGLENET_BROWSER_TIMEOUT_S on a busy machine). */
const RUN_TIMEOUT_MS = Number(process.env.GOOGLENET_BROWSER_TIMEOUT_S || 300) * 1000;
/** An executed notebook (photos, feature maps, a dozen charts) stays well under this. */
const MAX_BYTES = 1_500_000;
const TRAINING = '08-loss-optimizer-training.ipynb';
const VIEWPORT = { width: 1280, height: 1000 };
/** Lab's debugger panel asks a kernel without debugging support for its state and logs this; nothing else is ignored. */
const IGNORED_CONSOLE = /No active debugger session/;

let lab: LabServer;
let browser: Browser;
const notebooks = listNotebooks();

before(async () => {
  lab = await startLab();
  browser = await launchChromium();
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await lab?.stop();
});

interface Watched {
  page: Page;
  /** Uncaught exceptions and console errors in the page. */
  errors: string[];
}

async function newPage(): Promise<Watched> {
  const page = await browser.newPage({ viewport: VIEWPORT });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    // A kernel the test shut down (before reloading) can still be polled once by the page: a 404 from the kernels/sessions API.
    const goneKernel = /status of 404/.test(m.text()) && /\/api\/(kernels|sessions)\b/.test(m.location().url ?? '');
    if (m.type() === 'error' && !IGNORED_CONSOLE.test(m.text()) && !goneKernel) errors.push(`console: ${m.text().slice(0, 300)}${m.location().url ? ` (${m.location().url})` : ''}`);
  });
  return { page, errors };
}

const slug = (nb: string) => nb.replace(/^notebooks\//, '').replace(/\//g, '-').replace(/\.ipynb$/, '');

async function screenshot(page: Page, name: string): Promise<void> {
  // Bring the first chart into view: the screenshot shows it drawn (or its static copy).
  await page.evaluate(`(() => { const n = window.__gn.panel.node; const e = n.querySelector('.js-plotly-plot') || n.querySelector('.jp-OutputArea img'); if (e) e.scrollIntoView({ block: 'center' }); })()`);
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

/** What is wrong in a run notebook as a learner would see it (empty: nothing). */
function problems(s: NotebookState, opts: { ran: boolean; allowStatic: boolean }): string[] {
  const out: string[] = [];
  const at = (c: CellState) => `cell ${c.index} (${c.source.split('\n')[0].slice(0, 50)})`;
  for (const c of s.cells) {
    if (opts.ran && typeof c.count !== 'number') out.push(`${at(c)} did not run`);
    for (const o of c.outputs) {
      if (o.type === 'error') out.push(`${at(c)}: ${o.ename}: ${o.evalue}`);
      if (o.type === 'stream' && o.name === 'stderr') out.push(`${at(c)} wrote to stderr: ${o.text.slice(0, 600)}`);
      if (o.text.includes('✗')) out.push(`${at(c)}: a check failed: ${o.text.split('\n').filter((l) => l.includes('✗')).join(' | ')}`);
    }
    const charts = c.outputs.filter((o) => o.plotly).length;
    const shown = c.drawn + (opts.allowStatic ? c.staticCharts : 0);
    if (shown < charts) out.push(`${at(c)}: ${charts} plotly output(s), ${c.drawn} drawn interactive${opts.allowStatic ? `, ${c.staticCharts} static` : ''}`);
    const pictures = c.outputs.reduce((n, o) => n + o.pictures, 0);
    if (c.pictures < pictures) out.push(`${at(c)}: ${pictures} picture(s) in the outputs, ${c.pictures} shown`);
    if (!opts.allowStatic && c.notes.length) out.push(`${at(c)}: ${c.notes.join(' ')}`);
  }
  return out;
}

const count = (s: NotebookState, f: (c: CellState) => number) => s.cells.reduce((n, c) => n + f(c), 0);

/** Lesson 08's training cell: the one whose chart was replaced in place while it ran. */
function liveUpdates(s: NotebookState): { cell: number; updates: number; added: number } {
  const byCell = new Map<number, { updates: number; added: number }>();
  for (const e of s.events) {
    if (!e.plotly || !e.running) continue;
    const c = byCell.get(e.cell) ?? { updates: 0, added: 0 };
    if (e.type === 'set') c.updates++;
    if (e.type === 'add') c.added++;
    byCell.set(e.cell, c);
  }
  const best = [...byCell].sort((a, b) => b[1].updates - a[1].updates)[0];
  return best ? { cell: best[0], ...best[1] } : { cell: -1, updates: 0, added: 0 };
}

type Ui = 'lab' | 'notebook7';
/** The page that opens `rel`: JupyterLab's (with a fresh workspace) or Notebook 7's. */
const pageUrl = (ui: Ui, rel: string) => lab.url(ui === 'lab' ? `/lab/tree/${rel}?reset` : `/notebooks/${rel}`);

async function runInBrowser(ui: Ui, nb: string): Promise<void> {
  const rel = nb; // the served folder holds notebooks/ as the repository does
  const { page, errors } = await newPage();
  try {
    await openNotebook(page, pageUrl(ui, rel), rel);
    const t0 = Date.now();
    await runAll(page, RUN_TIMEOUT_MS);
    const seconds = (Date.now() - t0) / 1000;
    await waitForCharts(page, false);
    const run = await notebookState(page);
    await screenshot(page, `${ui}-${slug(nb)}-run.png`);
    assert.deepEqual(problems(run, { ran: true, allowStatic: false }), [], `${nb} in ${ui}${errors.length ? `; page errors: ${errors.join(' | ')}` : ''}`);
    assert.ok(count(run, (c) => c.drawn) + count(run, (c) => c.pictures) > 0, `${nb} shows no chart or picture`);
    if (nb.includes('exercises')) assert.ok(run.cells.some((c) => c.outputs.some((o) => /not done yet/.test(o.text))), `${nb}: the TODO answer is not reported as not done`);
    assert.equal(run.kernelDisplayName, jupyterEnv.KERNEL_DISPLAY_NAME);
    assert.equal(run.language, 'typescript');
    if (path.basename(nb) === TRAINING) {
      const live = liveUpdates(run);
      assert.ok(live.updates >= 2, `${nb}: the live chart was redrawn ${live.updates} time(s) while training ran`);
      assert.ok(live.added <= 2, `${nb}: cell ${live.cell} added ${live.added} chart outputs while running (updates should replace one output)`);
    }
    // Saved: small, plotly.js neither inlined nor from a CDN.
    await save(page);
    const file = path.join(lab.dir, rel);
    const size = fs.statSync(file).size;
    assert.ok(size < MAX_BYTES, `${nb}: saved with outputs it is ${size} bytes`);
    assert.doesNotMatch(fs.readFileSync(file, 'utf8'), /cdn\.plot\.ly|Copyright 2012-\d+, Plotly/, `${nb}: plotly.js is inlined or loaded from a CDN`);
    await shutdownKernel(page);

    // Reloaded: the server signed the saved notebook, so it opens trusted and its charts are drawn again.
    await reload(page, rel);
    await waitForCharts(page, false);
    const again = await notebookState(page);
    await screenshot(page, `${ui}-${slug(nb)}-reloaded.png`);
    assert.deepEqual(problems(again, { ran: true, allowStatic: false }), [], `${nb} reloaded`);
    assert.equal(count(again, (c) => c.drawn), count(run, (c) => c.drawn), `${nb} reloaded: charts drawn`);

    // An untrusted copy (any change breaks the signature): scripts stripped, the static copies show.
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as { metadata: Record<string, unknown> };
    doc.metadata.copied = true;
    const copy = rel.replace(/\.ipynb$/, '-untrusted.ipynb');
    fs.writeFileSync(path.join(lab.dir, copy), JSON.stringify(doc));
    // Lab opens it beside the reloaded one, as the file browser would; Notebook 7 has one notebook per page.
    await openNotebook(page, ui === 'lab' ? null : pageUrl(ui, copy), copy, false);
    await waitForCharts(page, true);
    const untrusted = await notebookState(page);
    await screenshot(page, `${ui}-${slug(nb)}-untrusted.png`);
    assert.deepEqual(problems(untrusted, { ran: true, allowStatic: true }), [], `${nb}, untrusted copy`);
    // Checked before the kernels are shut down: the page's polling of a kernel just shut down can 404.
    const seen = [...errors];
    await page.evaluate('window.jupyterapp.serviceManager.sessions.shutdownAll()');
    assert.deepEqual(seen, [], `${nb}: errors in the page`);
    console.log(`# ${ui} ${nb}: ran in ${seconds.toFixed(1)} s; ${count(run, (c) => c.drawn)} charts drawn, ${count(run, (c) => c.pictures)} pictures; untrusted: ${count(untrusted, (c) => c.drawn)} drawn, ${count(untrusted, (c) => c.staticCharts)} static`);
  } finally {
    await page.close();
  }
}

test('JupyterLab 4 and Notebook 7 from the project venv', () => {
  assert.match(lab.versions.jupyterlab, /^4\./);
  assert.match(lab.versions.notebook, /^7\./);
});

for (const nb of notebooks) {
  test(`JupyterLab: ${nb} runs, its charts are interactive, saved/reloaded/untrusted copies show them`, { timeout: RUN_TIMEOUT_MS + 180_000 }, () => runInBrowser('lab', nb));
}

