/**
 * Rich output for the lessons, through the tslab kernel. tslab's own `display` sends one MIME type per
 * output; a chart needs several (plotly JSON, HTML with a static fallback, plain text), so we send
 * Jupyter `display_data` messages with a full MIME bundle through tslab's kernel connection, and fall
 * back to tslab's single-type display (or plain text on stdout outside a kernel).
 *
 * An output with a display id can be replaced in place later (`update_display_data`), which is how live
 * charts and progress lines work in both JupyterLab and the classic Notebook.
 */
import { randomBytes } from 'crypto';

/** MIME type -> content: text, base64 for binary images, or a JSON object (e.g. plotly's). */
export type MimeBundle = Record<string, string | object>;

export interface DisplayMessage {
  data: MimeBundle;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

/** Where outputs go: (message, update) as tslab's kernel takes them. Tests install their own. */
export type DisplaySink = (msg: DisplayMessage, update: boolean) => void;

let customSink: DisplaySink | null = null;

/** Send outputs to `sink` instead of the kernel (null: back to the kernel). */
export function setDisplaySink(sink: DisplaySink | null): void {
  customSink = sink;
}

interface TslabJupyter {
  lastWriteDisplayData: DisplaySink | null;
}

/** The running tslab kernel's writer for the cell being executed, if this process is a tslab kernel. */
function kernelSink(): DisplaySink | null {
  try {
    // The kernel (scripts/tslab-kernel.js) runs this project's tslab, so this is the module it uses.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const jupyter = require('tslab/dist/jupyter') as TslabJupyter;
    return jupyter.lastWriteDisplayData ?? null;
  } catch {
    return null;
  }
}

interface TslabDisplay {
  raw(contentType: string, b: string | Uint8Array): void;
}

/** tslab's public display (one MIME type per output), from any tslab kernel. */
function tslabDisplay(): TslabDisplay | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('tslab') as { display: TslabDisplay }).display;
  } catch {
    return null;
  }
}

/** The richest single type, for a kernel that takes only one. */
const SINGLE_TYPE_ORDER = ['text/html', 'image/png', 'image/svg+xml', 'text/markdown', 'text/plain'];

function send(data: MimeBundle, displayId: string | undefined, update: boolean): void {
  const msg: DisplayMessage = { data, metadata: {}, transient: displayId ? { display_id: displayId } : {} };
  const sink = customSink ?? kernelSink();
  if (sink) return sink(msg, update);
  const single = tslabDisplay(); // no in-place updates here: each update is a new output
  const type = SINGLE_TYPE_ORDER.find((t) => typeof data[t] === 'string');
  if (single && type) {
    const value = data[type] as string;
    return single.raw(type, type.startsWith('image/') && type !== 'image/svg+xml' ? Buffer.from(value, 'base64') : value);
  }
  // Not in a kernel (a script running lesson code): the plain-text form.
  const text = data['text/plain'];
  if (typeof text === 'string') process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Show a MIME bundle as a new output. */
export function displayBundle(data: MimeBundle): void {
  send(data, undefined, false);
}

/** An output that can be replaced in place (live charts, progress). */
export class DisplayHandle {
  readonly id = `googlenet-${randomBytes(6).toString('hex')}`;
  private shown = false;

  /** The first call creates the output, later calls replace it. */
  show(data: MimeBundle): void {
    send(data, this.id, this.shown);
    this.shown = true;
  }
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function html(markup: string, plain = 'HTML output'): void {
  displayBundle({ 'text/html': markup, 'text/plain': plain });
}

export function markdown(md: string): void {
  displayBundle({ 'text/markdown': md, 'text/plain': md });
}

/** A PNG image (bytes from sharp). */
export function png(bytes: Uint8Array, alt = 'image'): void {
  displayBundle({ 'image/png': Buffer.from(bytes).toString('base64'), 'text/plain': `<${alt}>` });
}

/** A table cell: numbers are formatted (thousands separators, `digits` decimals), anything else as text. */
export type Cell = unknown;

export interface TableOptions {
  /** Column order (default: keys of the first row). */
  columns?: string[];
  /** Decimal places for non-integer numbers (default 4). */
  digits?: number;
  caption?: string;
}

function formatCell(v: Cell, digits: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isInteger(v)) return Math.abs(v) >= 1000 ? v.toLocaleString('en-US') : String(v);
    return v.toFixed(digits);
  }
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  return String(v);
}

/** Rows (objects, one key per column) as an HTML table, with an aligned plain-text twin for exports and terminals. */
export function tableBundle(records: readonly object[], opts: TableOptions = {}): MimeBundle {
  const rows = records as readonly Record<string, Cell>[];
  const columns = opts.columns ?? (rows.length ? Object.keys(rows[0]) : []);
  const digits = opts.digits ?? 4;
  const cells = rows.map((r) => columns.map((c) => formatCell(r[c], digits)));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((r) => typeof r[c] === 'number' || r[c] === null || r[c] === undefined));
  const align = (i: number) => (numeric[i] ? ' style="text-align:right"' : ' style="text-align:left"');
  const head = columns.map((c, i) => `<th${align(i)}>${escapeHtml(c)}</th>`).join('');
  const body = cells.map((r) => `<tr>${r.map((v, i) => `<td${align(i)}>${escapeHtml(v)}</td>`).join('')}</tr>`).join('\n');
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : '';
  const markup = `<table class="googlenet-table">${caption}<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const line = (vals: string[]) => vals.map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i]))).join('  ').trimEnd();
  const plain = [...(opts.caption ? [opts.caption] : []), line(columns), ...cells.map(line)].join('\n');
  return { 'text/html': markup, 'text/plain': plain };
}

export function table(rows: readonly object[], opts: TableOptions = {}): void {
  displayBundle(tableBundle(rows, opts));
}
