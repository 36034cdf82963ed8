/**
 * What the browser tests do and read inside a JupyterLab 4 or Notebook 7 page, through the application
 * object the server exposes (`window.jupyterapp`). Every script is a string: the tests run through tsx,
 * whose helpers (e.g. `__name`) do not exist in the page, so no compiled function is sent to it.
 */
import type { Page } from 'playwright-core';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** The notebook panel for `rel` once loaded (and its kernel idle, if `kernel`), kept as window.__gn.panel; else false. */
const READY = (rel: string, kernel: boolean) => `(() => {
  const app = window.jupyterapp;
  if (!app || !app.shell) return false;
  const list = [];
  try { list.push(...Array.from(app.shell.widgets('main'))); } catch (e) { /* a shell without areas */ }
  if (app.shell.currentWidget) list.push(app.shell.currentWidget);
  const w = list.find((x) => x && x.context && x.context.path === ${JSON.stringify(rel)});
  if (!w || !w.context.isReady || !w.sessionContext) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (${kernel} && (!k || k.status !== 'idle' || w.sessionContext.isRestarting)) return false;
  if (!window.__gn || window.__gn.panel !== w) window.__gn = { panel: w, events: [] };
  return true;
})()`;

/**
 * Record every change to every code cell's outputs: 'add' (a new output) or 'set' (an output replaced
 * in place, as update_display_data does), whether it holds a plotly figure, and whether the cell was
 * still running (its execution count is cleared while it runs).
 */
const HOOK = `(() => {
  const w = window.__gn.panel, ev = (window.__gn.events = []);
  w.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    cell.model.outputs.changed.connect((_, a) => {
      const vals = a.newValues || [];
      ev.push({ cell: i, type: a.type, index: a.newIndex, t: Date.now(), running: cell.model.executionCount === null,
        plotly: vals.some((o) => o && o.data && o.data['${PLOTLY_MIME}'] !== undefined) });
    });
  });
  return true;
})()`;

const DONE = `(() => {
  const w = window.__gn.panel;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle' && w.content.widgets.every((c) => c.model.type !== 'code' || typeof c.model.executionCount === 'number');
})()`;

/** Per code cell: its execution count, outputs (as nbformat JSON, shortened) and what the page shows. */
const STATE = `(async () => {
  const w = window.__gn.panel;
  window.jupyterapp.shell.activateById(w.id); // what the learner looks at (a hidden tab shows no picture)
  const shown = (im) => im.complete && im.naturalWidth > 0 && im.offsetParent !== null && getComputedStyle(im).display !== 'none';
  const cells = [];
  w.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    const node = cell.outputArea ? cell.outputArea.node : cell.node;
    const outputs = cell.model.outputs.toJSON().map((o) => {
      const data = o.data || {};
      const html = [].concat(data['text/html'] || []).join('');
      const text = [].concat(o.text || data['text/plain'] || []).join('');
      return { type: o.output_type, name: o.name || null, ename: o.ename || null, evalue: o.evalue || null, text: text.slice(0, 2000),
        plotly: data['${PLOTLY_MIME}'] !== undefined,
        pictures: (data['image/png'] || data['image/jpeg'] ? 1 : 0) + (html.match(/<img (?![^>]*googlenet-plot-static)/g) || []).length };
    });
    const plots = Array.from(node.querySelectorAll('.js-plotly-plot'));
    const imgs = Array.from(node.querySelectorAll('img'));
    cells.push({ index: i, count: cell.model.executionCount, source: cell.model.sharedModel.getSource().slice(0, 100), outputs: outputs,
      drawn: plots.filter((p) => p.querySelector('.main-svg')).length,
      pictures: imgs.filter((im) => !im.classList.contains('googlenet-plot-static') && shown(im)).length,
      staticCharts: imgs.filter((im) => im.classList.contains('googlenet-plot-static') && shown(im)).length,
      notes: Array.from(node.querySelectorAll('.googlenet-plot-note')).map((n) => n.textContent) });
  });
  const kernel = w.sessionContext.session && w.sessionContext.session.kernel;
  const info = kernel ? await kernel.info : { language_info: { name: null } };
  const toolbarName = document.querySelector('.jp-KernelName, .jp-NotebookKernelName');
  return { cells: cells, events: window.__gn.events, kernelDisplayName: w.sessionContext.kernelDisplayName,
    kernelToolbar: toolbarName ? toolbarName.textContent.trim() : null, language: info.language_info.name,
    mimetype: w.content.codeMimetype };
})()`;

export interface OutputState {
  type: string;
  name: string | null;
  ename: string | null;
  evalue: string | null;
  text: string;
  plotly: boolean;
  pictures: number;
}

export interface CellState {
  index: number;
  count: number | null;
  source: string;
  outputs: OutputState[];
  /** plotly charts drawn by plotly.js (.js-plotly-plot with its .main-svg) */
  drawn: number;
  /** pictures other than the charts' static copies, loaded and visible */
  pictures: number;
  /** static chart copies visible */
  staticCharts: number;
  /** "Static copy: ..." notes (plotly.js could not be loaded) */
  notes: string[];
}

export interface OutputEvent {
  cell: number;
  type: string;
  index: number;
  t: number;
  running: boolean;
  plotly: boolean;
}

export interface NotebookState {
  cells: CellState[];
  events: OutputEvent[];
  kernelDisplayName: string;
  kernelToolbar: string | null;
  language: string;
  mimetype: string;
}

/**
 * Open `rel` (a path under the served folder) by loading `url` (null: open it in the Lab page already
 * loaded, as the file browser does) and wait until it is loaded and, if `kernel`, its kernel is idle.
 */
export async function openNotebook(page: Page, url: string | null, rel: string, kernel = true, timeoutMs = 120000): Promise<void> {
  if (url) await page.goto(url, { timeout: timeoutMs, waitUntil: 'domcontentloaded' });
  else await page.evaluate(`window.jupyterapp.commands.execute('docmanager:open', { path: ${JSON.stringify(rel)} }).then(() => true)`);
  await page.waitForFunction(READY(rel, kernel), null, { timeout: timeoutMs, polling: 250 });
  // Its tab in front: a notebook opened beside another may stay behind it, and a hidden tab shows no picture.
  await page.evaluate('window.jupyterapp.shell.activateById(window.__gn.panel.id)');
  await page.evaluate(HOOK);
}

/** Reload the page (the notebook reopens from the saved file) and wait until it is loaded. */
export async function reload(page: Page, rel: string, timeoutMs = 120000): Promise<void> {
  await page.reload({ timeout: timeoutMs, waitUntil: 'domcontentloaded' });
  await page.waitForFunction(READY(rel, false), null, { timeout: timeoutMs, polling: 250 });
  await page.evaluate(HOOK);
}

/** Run all cells (the Run menu's "Run All Cells"), then wait until every code cell has run and the kernel is idle. */
export async function runAll(page: Page, timeoutMs: number): Promise<void> {
  await page.evaluate(`(async () => {
    const app = window.jupyterapp, w = window.__gn.panel;
    app.shell.activateById(w.id);
    await app.commands.execute('notebook:run-all-cells');
  })()`);
  try {
    await page.waitForFunction(DONE, null, { timeout: timeoutMs, polling: 250 });
  } catch (e) {
    const s = await notebookState(page).catch(() => null);
    const waiting = s ? s.cells.filter((c) => typeof c.count !== 'number').map((c) => `cell ${c.index} (${c.source.split('\n')[0].slice(0, 60)})`) : [];
    throw new Error(`not done after ${timeoutMs / 1000} s; not run yet: ${waiting.slice(0, 3).join(', ')}${waiting.length > 3 ? ` and ${waiting.length - 3} more` : ''} (${(e as Error).message.split('\n')[0]})`);
  }
}

export async function waitForIdle(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(DONE, null, { timeout: timeoutMs, polling: 100 });
}

export function notebookState(page: Page): Promise<NotebookState> {
  return page.evaluate(STATE) as Promise<NotebookState>;
}

/** Wait until every plotly output is drawn or shown as its static copy (plotly.js loads asynchronously). */
export async function waitForCharts(page: Page, allowStatic: boolean, timeoutMs = 90000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    // Keep the watched notebook's tab in front: on a busy machine Lab can bring the other open
    // notebook back to the front (its kernel reconnecting), and a hidden tab shows no picture.
    await page.evaluate('window.jupyterapp.shell.activateById(window.__gn.panel.id)');
    const s = await notebookState(page);
    // Charts not drawn yet, or pictures not loaded yet (a busy machine renders a reopened notebook slowly).
    const pending = s.cells.filter(
      (c) =>
        c.outputs.filter((o) => o.plotly).length > c.drawn + (allowStatic ? c.staticCharts : 0) ||
        c.outputs.reduce((n, o) => n + o.pictures, 0) > c.pictures,
    );
    if (pending.length === 0 || Date.now() - t0 > timeoutMs) return;
    await page.waitForTimeout(500);
  }
}

/** Save through the notebook's context (what Ctrl-S does); the server signs it, so it reopens trusted. */
export async function save(page: Page): Promise<void> {
  await page.evaluate('window.__gn.panel.context.save()');
}

export async function shutdownKernel(page: Page): Promise<void> {
  await page.evaluate('window.__gn.panel.sessionContext.shutdown()');
}

/** Index of the first code cell whose source contains `text` (-1: none). */
export function findCell(page: Page, text: string): Promise<number> {
  return page.evaluate(`window.__gn.panel.content.widgets.findIndex((c) => c.model.type === 'code' && c.model.sharedModel.getSource().includes(${JSON.stringify(text)}))`) as Promise<number>;
}

/** Run the cells above cell `index` (Run > Run All Above Selected Cell) and wait for them. */
export async function runAbove(page: Page, index: number, timeoutMs: number): Promise<void> {
  await page.evaluate(`(async () => {
    const app = window.jupyterapp, w = window.__gn.panel;
    app.shell.activateById(w.id);
    w.content.activeCellIndex = ${index};
    await app.commands.execute('notebook:run-all-above');
  })()`);
  const done = `(() => {
    const w = window.__gn.panel, k = w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && w.content.widgets.slice(0, ${index}).every((c) => c.model.type !== 'code' || typeof c.model.executionCount === 'number');
  })()`;
  await page.waitForFunction(done, null, { timeout: timeoutMs, polling: 250 });
}

/** Start cell `index` (Run > Run Selected Cell) without waiting for it. */
export async function startCell(page: Page, index: number): Promise<void> {
  await page.evaluate(`(() => {
    const app = window.jupyterapp, w = window.__gn.panel;
    w.content.activeCellIndex = ${index};
    void app.commands.execute('notebook:run-cell');
  })()`);
}

/** Whether cell `index` has finished (an execution count) and the kernel is idle. */
export function cellDone(index: number): string {
  return `(() => {
    const w = window.__gn.panel, k = w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle' && typeof w.content.widgets[${index}].model.executionCount === 'number';
  })()`;
}

/** Append a code cell holding `source` at the end and start it without waiting; returns its index. */
export async function appendAndStart(page: Page, source: string): Promise<number> {
  return (await page.evaluate(`(async () => {
    const app = window.jupyterapp, w = window.__gn.panel;
    w.content.activeCellIndex = w.content.widgets.length - 1;
    await app.commands.execute('notebook:insert-cell-below');
    w.content.activeCell.model.sharedModel.setSource(${JSON.stringify(source)});
    void app.commands.execute('notebook:run-cell');
    return w.content.activeCellIndex;
  })()`)) as number;
}

/** One output of a cell as nbformat JSON (stream, error, display_data, ...). */
export interface NbOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  ename?: string;
  evalue?: string;
}

/** The page expression for the outputs of cell `index`, as nbformat JSON. */
const outputsOf = (index: number) => `window.__gn.panel.content.widgets[${index}].model.outputs.toJSON()`;

/** Whether the outputs of cell `index`, as nbformat JSON, contain `text`. */
export function cellOutputsInclude(index: number, text: string): string {
  return `JSON.stringify(${outputsOf(index)}).includes(${JSON.stringify(text)})`;
}

/** The outputs of cell `index`. */
export function cellOutputs(page: Page, index: number): Promise<NbOutput[]> {
  return page.evaluate(outputsOf(index)) as Promise<NbOutput[]>;
}

/** Append a code cell holding `source` at the end and run it; returns its index once it has run. */
export async function appendAndRun(page: Page, source: string, timeoutMs: number): Promise<number> {
  const index = await appendAndStart(page, source);
  await page.waitForFunction(cellDone(index), null, { timeout: timeoutMs, polling: 250 });
  return index;
}

/** Append a code cell holding `source`, put the cursor at its end in edit mode; returns its index. */
export async function appendForEditing(page: Page, source: string): Promise<number> {
  return (await page.evaluate(`(async () => {
    const app = window.jupyterapp, w = window.__gn.panel;
    w.content.activeCellIndex = w.content.widgets.length - 1;
    await app.commands.execute('notebook:insert-cell-below');
    const cell = w.content.activeCell;
    cell.model.sharedModel.setSource(${JSON.stringify(source)});
    w.content.mode = 'edit';
    cell.editor.focus();
    cell.editor.setCursorPosition(cell.editor.getPositionAt(${source.length}));
    return w.content.activeCellIndex;
  })()`)) as number;
}

export function cellSource(page: Page, index: number): Promise<string> {
  return page.evaluate(`window.__gn.panel.content.widgets[${index}].model.sharedModel.getSource()`) as Promise<string>;
}
