/**
 * The lessons in a real browser: JupyterLab 4 from the project's
 * .venv-jupyter/, on localhost, driven by headless Chromium through playwright-core (test/notebooks/lab.ts).
 * For every lesson and exercise (listNotebooks()): run all cells from the Run menu's command, wait for
 * the kernel, and check what a learner sees: every cell ran, no error output, nothing on stderr, no
 * failed check, every plotly output drawn by plotly.js (served offline by the user's own Jupyter, see
 * src/notebook/plot.ts), every picture shown; in lesson 08 the live chart redrawn in place while the
 * training cell runs. Then save and reload (the server signed it: trusted, charts interactive again),
 * and open an untrusted copy (no errors; each chart drawn or its static SVG shown). Also the kernel's
 * name and language. Lessons 01 and 08 the same way in Notebook 7 (its page's own errors on an empty
 * notebook are not the lessons'). Lab's stop button during a long training run in lesson 08: the cell ends
 * within seconds with the interruption's message, the run folder resumes, the model still predicts. Tab
 * completion and Shift+Tab documentation on an import from src. Screenshots go to test-artifacts/.
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
  appendAndRun, appendAndStart, appendForEditing, CellState, cellSource, cellDone, cellOutputs, cellOutputsInclude, NotebookState, notebookState, openNotebook, reload, runAll, save,
  shutdownKernel, waitForCharts,
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

let notebook7Baseline: string[] | null = null;
/**
 * What Notebook 7's page logs by itself on an empty notebook with no kernel: its own errors, not the
 * lessons' (7.6.5 throws "Cannot read properties of undefined (reading 'schema')" from its shortcuts
 * plugin once the notebook panel's settings load). A lesson's page is checked for anything else.
 */
async function notebook7OwnErrors(): Promise<string[]> {
  if (notebook7Baseline) return notebook7Baseline;
  const rel = 'empty.ipynb';
  fs.writeFileSync(path.join(lab.dir, rel), JSON.stringify({ cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  const { page, errors } = await newPage();
  try {
    await openNotebook(page, pageUrl('notebook7', rel), rel, false);
    await page.waitForTimeout(3000);
  } finally {
    await page.close();
  }
  notebook7Baseline = [...new Set(errors)];
  console.log(`# Notebook 7's own page errors on an empty notebook, not counted against the lessons: ${notebook7Baseline.join(' | ') || 'none'}`);
  return notebook7Baseline;
}

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
    const own = ui === 'notebook7' ? await notebook7OwnErrors() : [];
    const seen = errors.filter((e) => !own.includes(e));
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

/** Notebook 7 (one notebook per page, its own shell): the first lesson and the training lesson. */
const NOTEBOOK7 = ['01-setup-and-backends.ipynb', TRAINING];
for (const name of NOTEBOOK7) {
  const nb = notebooks.find((n) => path.basename(n) === name);
  test(`Notebook 7: ${name} runs, its charts are interactive, saved/reloaded/untrusted copies show them`, { timeout: RUN_TIMEOUT_MS + 180_000 }, () => {
    assert.ok(nb, `${name} is not among the notebooks`);
    return runInBrowser('notebook7', nb);
  });
}


/** A model and a run folder for a training run far longer than the test waits: only the stop button ends it. */
const BEFORE_STOP = `const STOP_RUN = RUN + '-stop';
fs.rmSync(STOP_RUN, { recursive: true, force: true });
const stopModel = createGoogLeNet({ variant: 'course', numClasses: classNames.length, auxLogits: true, seed: 1 });`;
/** (A cell that throws keeps none of its declarations in tslab: what the next cell needs is declared above.) */
const LONG_TRAINING = `const stopCharts = new TrainingCharts({ label: 'press stop' });
await trainModel({
  model: stopModel, config: { ...config, epochs: 500 }, classNames: classNames, normalization: normalization, outDir: STOP_RUN,
  train: fromDataLoader(trainLoader), val: fromDataLoader(valLoader), callbacks: stopCharts.callbacks(),
});
stopCharts.finish();`;
/** After the stop: the run folder resumes, and the model in memory still predicts. */
const AFTER_STOP = `const afterStop = await loadResumeState(STOP_RUN);
const probs = tf.tidy(() => tf.softmax(stopModel.predictLogits(tf.zeros([1, SIZE, SIZE, 3]) as tf.Tensor4D)).arraySync() as number[][]);
check(\`the run folder resumes at epoch \${afterStop.startEpoch + 1}, with Adam's state (\${afterStop.optimizerState.length} tensors)\`, afterStop.optimizerState.length > 0);
checkClose('the model still predicts: probabilities sum to 1', probs[0].reduce((a, b) => a + b, 0), 1, 1e-4);
tf.dispose(afterStop.optimizerState.map((s) => s.tensor));
afterStop.model.dispose();
stopModel.dispose();`;
/** The stop button's longest acceptable wait: one training step (quick mode: batch 8 at 64 px) and a save. */
const STOP_WITHIN_MS = 20_000;

test(`JupyterLab: the stop button ends lesson 08's training within ${STOP_WITHIN_MS / 1000} s and leaves the run usable`, { timeout: RUN_TIMEOUT_MS + 180_000 }, async () => {
  const nb = notebooks.find((n) => path.basename(n) === TRAINING)!;
  const { page, errors } = await newPage();
  try {
    await openNotebook(page, pageUrl('lab', nb), nb);
    await runAll(page, RUN_TIMEOUT_MS);
    await appendAndRun(page, BEFORE_STOP, 60_000);
    const cell = await appendAndStart(page, LONG_TRAINING);
    // Training is under way once the live chart's title shows its second step.
    await page.waitForFunction(cellOutputsInclude(cell, 'step 2/'), null, { timeout: 120_000, polling: 250 });
    const t0 = Date.now();
    await page.click('.jp-NotebookPanel-toolbar [data-jp-item-name="interrupt"]');
    await page.waitForFunction(cellDone(cell), null, { timeout: STOP_WITHIN_MS, polling: 100 }).catch((e: Error) => {
      throw new Error(`${e.message.split('\n')[0]}; the server's log ends: ${lab.log().slice(-800)}`);
    });
    const seconds = (Date.now() - t0) / 1000;
    const outputs = await cellOutputs(page, cell);
    // tslab shows a cell's exception on its stderr stream.
    const said = outputs.map((o) => `${o.evalue ?? ''}${[o.text ?? []].flat().join('')}`).join('\n');
    assert.match(said, /training interrupted at epoch [\d.]+ \(the stop button\)/, `the cell ended without the interruption's message: ${JSON.stringify(outputs).slice(0, 600)}`);
    // Nothing keeps training in the background: the chart stays as it was when the cell ended.
    const before = JSON.stringify(await cellOutputs(page, cell));
    await page.waitForTimeout(3000);
    assert.equal(JSON.stringify(await cellOutputs(page, cell)), before, 'the training cell\'s outputs changed after it ended');
    const next = await appendAndRun(page, AFTER_STOP, 60_000);
    const after = await cellOutputs(page, next);
    assert.ok(after.every((o) => o.output_type !== 'error' && o.name !== 'stderr'), `after the stop: ${JSON.stringify(after).slice(0, 600)}`);
    assert.ok(!JSON.stringify(after).includes('✗'), `after the stop, a check failed: ${JSON.stringify(after).slice(0, 600)}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'lab-stop-button.png') });
    assert.deepEqual(errors, [], 'errors in the page');
    console.log(`# stop button: the training cell ended ${seconds.toFixed(1)} s after the click`);
    await page.evaluate('window.jupyterapp.serviceManager.sessions.shutdownAll()');
  } finally {
    await page.close();
  }
});

test('JupyterLab: tab completion and hover documentation on an import from src', { timeout: 180_000 }, async () => {
  // A notebook of one cell on the project's kernel, as a learner's own would start.
  const lesson = JSON.parse(fs.readFileSync(path.join(lab.dir, notebooks[0]), 'utf8')) as { metadata: unknown };
  const rel = 'notebooks/completion.ipynb';
  const cell = (source: string) => ({ cell_type: 'code', execution_count: null, metadata: {}, outputs: [], source });
  fs.writeFileSync(path.join(lab.dir, rel), JSON.stringify({ cells: [cell("import { createGoogLeNet } from './src/model/googlenet';")], metadata: lesson.metadata, nbformat: 4, nbformat_minor: 5 }));
  const { page, errors } = await newPage();
  try {
    await openNotebook(page, pageUrl('lab', rel), rel);
    await runAll(page, 120_000);
    // Tab after "createGoo": the completer lists createGoogLeNet; Enter takes it.
    const completerShows = (name: string) => `Array.from(document.querySelectorAll('.jp-Completer')).some((e) => !e.classList.contains('lm-mod-hidden') && e.textContent.includes(${JSON.stringify(name)}))`;
    const typed = await appendForEditing(page, 'const net = createGoo');
    await page.keyboard.press('Tab');
    await page.waitForFunction(completerShows('createGoogLeNet'), null, { timeout: 60_000, polling: 250 });
    await page.keyboard.press('Enter');
    await page.waitForFunction(`window.__gn.panel.content.widgets[${typed}].model.sharedModel.getSource() === 'const net = createGoogLeNet'`, null, { timeout: 10_000, polling: 100 })
      .catch(async () => assert.fail(`Enter did not take the completion: the cell holds '${await cellSource(page, typed)}'`));
    // A member of the model: predictLogits among the completions after "net.pre".
    await appendForEditing(page, 'createGoogLeNet({ numClasses: 5 }).pre');
    await page.keyboard.press('Tab');
    await page.waitForFunction(completerShows('predictLogits'), null, { timeout: 60_000, polling: 250 });
    await page.keyboard.press('Escape');
    // Shift+Tab (contextual help) on the name: the signature and the doc comment from src/model/googlenet.ts.
    await appendForEditing(page, 'createGoogLeNet');
    await page.keyboard.press('Shift+Tab');
    await page.waitForFunction("Array.from(document.querySelectorAll('.jp-Tooltip')).some((e) => e.textContent.includes('GoogLeNet(num_classes=5'))", null, { timeout: 60_000, polling: 250 })
      .catch(async () => assert.fail(`no tooltip with createGoogLeNet's documentation; tooltips: ${JSON.stringify(await page.evaluate("Array.from(document.querySelectorAll('.jp-Tooltip')).map((e) => e.textContent.slice(0, 200))"))}`));
    const tooltip = (await page.evaluate("document.querySelector('.jp-Tooltip').textContent")) as string;
    assert.match(tooltip, /function createGoogLeNet\(config\?: Partial<GoogLeNetConfig>\): GoogLeNet/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'lab-tooltip.png') });
    assert.deepEqual(errors, [], 'errors in the page');
    await page.evaluate('window.jupyterapp.serviceManager.sessions.shutdownAll()');
  } finally {
    await page.close();
  }
});
