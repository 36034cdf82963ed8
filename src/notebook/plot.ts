/**
 * Charts that render offline in JupyterLab and the classic Notebook and stay readable in a saved notebook.
 *
 * One output per chart, a MIME bundle of three representations:
 *   application/vnd.plotly.v1+json  the figure as data. Front ends with a plotly renderer (JupyterLab or
 *                                   Notebook 7 with plotly's extension, VS Code) draw it natively, trusted or not.
 *   text/html                       what JupyterLab and Notebook show otherwise: a static SVG copy of the
 *                                   chart (an <img> with a data: URL, drawn here by figure.ts) and a script
 *                                   that loads plotly.js from the Jupyter server itself and swaps the image
 *                                   for the interactive chart.
 *   text/plain                      a one-line description, for terminals and text exports.
 *
 * Why this shape:
 * - No CDN: plotly.js comes from the user's own Jupyter server. `npm run kernel:install` copies
 *   node_modules/plotly.js-dist-min into the Jupyter data dir, which Jupyter serves at
 *   <base>/nbextensions/googlenet-ts/ (classic Notebook) and <base>/lab/extensions/googlenet-ts/static/
 *   (JupyterLab, Notebook 7). The script tries those URLs (plus window.Plotly if a page already has it).
 * - Small notebooks: the 4.8 MB bundle is never written into a notebook; a chart's output is its data,
 *   a few kB of SVG and a 2 kB loader.
 * - Trust: outputs made in the running session are trusted, so the script runs and the chart is
 *   interactive. A notebook reopened untrusted (not signed by this user, e.g. executed by nbconvert or
 *   received from someone else) has its HTML sanitized in both Lab and Notebook: the script is removed
 *   and the data: image is kept (Jupyter's sanitizer does not filter img src), so the static copy shows.
 *   Nothing depends on Notebook-only behaviour (require.js, IPython globals).
 */
import { DisplayHandle, MimeBundle, displayBundle, escapeHtml } from './display';
import { DEFAULT_HEIGHT, DEFAULT_WIDTH, Figure, toPlotly, toSvg } from './figure';
import { randomBytes } from 'crypto';

export * from './figure';

export const PLOTLY_MIME = 'application/vnd.plotly.v1+json';

/** The folder Jupyter serves plotly.js from (scripts/jupyter-env.js ASSET_DIR). */
const ASSET_DIR = 'googlenet-ts';

/** Browser-side loader: ES5, no globals but one shared promise. `__ID__` and `__FIG__` are filled in. */
const LOADER = `(function () {
  var id = '__ID__', fig = __FIG__;
  function cfg() { try { var e = document.getElementById('jupyter-config-data'); return e ? JSON.parse(e.textContent) : {}; } catch (err) { return {}; } }
  function slash(u) { return u.charAt(u.length - 1) === '/' ? u : u + '/'; }
  function urls() {
    var c = cfg(), base = slash(c.baseUrl || (document.body && document.body.getAttribute('data-base-url')) || '/'), out = [];
    if (c.fullLabextensionsUrl) out.push(slash(c.fullLabextensionsUrl) + '${ASSET_DIR}/static/plotly.min.js');
    out.push(base + 'nbextensions/${ASSET_DIR}/plotly.min.js');
    out.push(base + 'lab/extensions/${ASSET_DIR}/static/plotly.min.js');
    return out.filter(function (u, i) { return out.indexOf(u) === i; });
  }
  if (!window.__googlenetPlotly) {
    window.__googlenetPlotly = new Promise(function (resolve, reject) {
      if (window.Plotly && window.Plotly.newPlot) return resolve(window.Plotly);
      var list = urls(), i = 0;
      (function next() {
        if (i >= list.length) return reject(new Error('plotly.js is not served at ' + list.join(' or ')));
        var s = document.createElement('script');
        s.src = list[i++];
        s.onload = function () { if (window.Plotly && window.Plotly.newPlot) resolve(window.Plotly); else next(); };
        s.onerror = function () { if (s.parentNode) s.parentNode.removeChild(s); next(); };
        document.head.appendChild(s);
      })();
    });
  }
  function withHost(f, tries) {
    var host = document.getElementById(id);
    if (host) return f(host);
    if ((tries || 0) < 200) setTimeout(function () { withHost(f, (tries || 0) + 1); }, 50);
  }
  window.__googlenetPlotly.then(function (Plotly) {
    withHost(function (host) {
      if (host.getAttribute('data-drawn')) return;
      host.setAttribute('data-drawn', '1');
      var div = document.createElement('div');
      div.className = 'googlenet-plot-live';
      host.appendChild(div);
      Plotly.newPlot(div, fig.data, fig.layout, fig.config).then(function () {
        var img = host.querySelector('img.googlenet-plot-static');
        if (img) img.style.display = 'none';
      });
    });
  }, function (err) {
    withHost(function (host) {
      if (host.querySelector('.googlenet-plot-note')) return;
      var note = document.createElement('div');
      note.className = 'googlenet-plot-note';
      note.style.cssText = 'font-size:11px;color:#777';
      note.textContent = 'Static copy: for the interactive chart run npm run kernel:install and reload (' + err.message + ')';
      host.appendChild(note);
    });
  });
})();`;

function describe(fig: Figure): string {
  const names = fig.data.map((t) => t.name).filter((n) => n);
  return `Chart: ${fig.title ?? 'untitled'}${names.length ? ` (${names.join(', ')})` : ''}`;
}

/** The MIME bundle for one chart (pure: no kernel needed). */
export function plotBundle(fig: Figure): MimeBundle {
  const plotly = toPlotly(fig);
  const id = `googlenet-plot-${randomBytes(6).toString('hex')}`;
  const svg = Buffer.from(toSvg(fig)).toString('base64');
  const w = fig.width ?? DEFAULT_WIDTH;
  const h = fig.height ?? DEFAULT_HEIGHT;
  const alt = escapeHtml(fig.title ?? 'chart');
  // JSON inside <script>: escape '<' so that no '</script>' can end the element early.
  const script = LOADER.replace('__ID__', id).replace('__FIG__', () => JSON.stringify(plotly).replace(/</g, '\\u003c'));
  const markup =
    `<div class="googlenet-plot" id="${id}">` +
    `<img class="googlenet-plot-static" alt="${alt}" width="${w}" height="${h}" src="data:image/svg+xml;base64,${svg}"/>` +
    `</div>\n<script type="text/javascript">\n${script}\n</script>`;
  return { [PLOTLY_MIME]: plotly, 'text/html': markup, 'text/plain': describe(fig) };
}

/** Show a chart. */
export function plot(fig: Figure): void {
  displayBundle(plotBundle(fig));
}

/** Let the kernel send queued messages (an update made in a busy loop must leave the process). */
export function yieldToKernel(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface LiveChartOptions {
  /** Redraw at most this often (ms); `finish()` always draws. Default 500. */
  minIntervalMs?: number;
}

/**
 * A chart that redraws in place while long work runs (training curves, timings): one output, replaced
 * on each update, and left showing the final state (with its static copy) when the cell ends.
 */
export class LiveChart {
  private readonly handle = new DisplayHandle();
  private lastDraw = 0;
  private fig: Figure;
  private readonly minIntervalMs: number;

  constructor(initial: Figure, opts: LiveChartOptions = {}) {
    this.fig = initial;
    this.minIntervalMs = opts.minIntervalMs ?? 500;
    this.draw();
  }

  private draw(): void {
    this.handle.show(plotBundle(this.fig));
    this.lastDraw = Date.now();
  }

  /** Replace the figure; redraws if the last redraw is older than minIntervalMs. */
  async update(fig: Figure): Promise<void> {
    this.fig = fig;
    if (Date.now() - this.lastDraw >= this.minIntervalMs) {
      this.draw();
      await yieldToKernel();
    }
  }

  /** Draw the final state. */
  finish(fig: Figure = this.fig): void {
    this.fig = fig;
    this.draw();
  }

  get figure(): Figure {
    return this.fig;
  }
}

/**
 * Line series that grow point by point, e.g. `await curves.push(epoch, {train: 0.9, val: 1.1})`.
 */
export class LiveSeries {
  private readonly xs: number[] = [];
  private readonly ys = new Map<string, number[]>();
  private readonly chart: LiveChart;

  constructor(private readonly base: Omit<Figure, 'data'>, series: string[], opts: LiveChartOptions = {}) {
    for (const s of series) this.ys.set(s, []);
    this.chart = new LiveChart(this.figure(), opts);
  }

  private figure(): Figure {
    return { ...this.base, data: [...this.ys].map(([name, y]) => ({ type: 'scatter', name, x: this.xs.slice(), y: y.slice() })) };
  }

  async push(x: number, values: Record<string, number>): Promise<void> {
    this.xs.push(x);
    for (const [name, y] of this.ys) y.push(values[name] ?? NaN);
    await this.chart.update(this.figure());
  }

  finish(): void {
    this.chart.finish(this.figure());
  }
}
