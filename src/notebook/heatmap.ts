/**
 * A heatmap chart (the confusion matrix of lesson 09), in the same three representations as plot.ts's
 * charts: plotly JSON (a `heatmap` trace, drawn natively by front ends with a plotly renderer), HTML with
 * a static SVG copy drawn here, and a plain-text table.
 *
 * figure.ts's `Figure` has bar and scatter traces only, so this chart has its own small renderer. Its
 * HTML script draws the interactive version only when plotly.js is already on the page (an earlier
 * chart's loader from plot.ts put it there); otherwise the static copy stays, which shows every number.
 */
import { randomBytes } from 'crypto';
import { displayBundle, escapeHtml, MimeBundle } from './display';
import { PLOTLY_MIME } from './plot';

export interface Heatmap {
  /** Values, row by row: z[row][column]. */
  z: number[][];
  /** Column labels (x axis, left to right). */
  x: string[];
  /** Row labels (y axis, top to bottom). */
  y: string[];
  title?: string;
  xTitle?: string;
  yTitle?: string;
  /** Cell size of the static copy in pixels (default 64). */
  cellSize?: number;
}

/** plotly's 'Blues' end points: white to dark blue. */
const LOW = [247, 251, 255];
const HIGH = [8, 48, 107];

function blue(t: number): string {
  const c = LOW.map((l, k) => Math.round(l + (HIGH[k] - l) * Math.max(0, Math.min(1, t))));
  return `rgb(${c.join(',')})`;
}

function check(h: Heatmap): void {
  if (h.z.length !== h.y.length) throw new Error(`heatmap: ${h.z.length} rows of values but ${h.y.length} row labels`);
  const bad = h.z.findIndex((r) => r.length !== h.x.length);
  if (bad >= 0) throw new Error(`heatmap: row ${bad} has ${h.z[bad].length} values but there are ${h.x.length} column labels`);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

/** The static copy as a standalone SVG document. */
export function heatmapSvg(h: Heatmap): string {
  check(h);
  const cell = h.cellSize ?? 64;
  const font = 'font-family="Helvetica, Arial, sans-serif"';
  const longest = Math.max(0, ...h.y.map((s) => s.length));
  const m = { l: 40 + 7 * longest, t: h.title ? 50 : 20, r: 20, b: 60 };
  const W = m.l + cell * h.x.length + m.r;
  const H = m.t + cell * h.y.length + m.b;
  const max = Math.max(1e-12, ...h.z.flat().filter((v) => Number.isFinite(v)));
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="#ffffff"/>`];
  if (h.title) parts.push(`<text x="${W / 2}" y="28" text-anchor="middle" font-size="16" ${font} fill="#222">${escapeHtml(h.title)}</text>`);
  h.z.forEach((row, i) =>
    row.forEach((v, j) => {
      const x = m.l + j * cell;
      const y = m.t + i * cell;
      const t = Number.isFinite(v) ? v / max : 0;
      parts.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${blue(t)}" stroke="#ffffff"/>`);
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 5}" text-anchor="middle" font-size="14" ${font} fill="${t > 0.5 ? '#fff' : '#222'}">${fmt(v)}</text>`);
    }),
  );
  h.x.forEach((label, j) =>
    parts.push(`<text x="${m.l + (j + 0.5) * cell}" y="${m.t + h.y.length * cell + 16}" text-anchor="middle" font-size="11" ${font} fill="#444">${escapeHtml(label)}</text>`),
  );
  h.y.forEach((label, i) =>
    parts.push(`<text x="${m.l - 6}" y="${m.t + (i + 0.5) * cell + 4}" text-anchor="end" font-size="11" ${font} fill="#444">${escapeHtml(label)}</text>`),
  );
  if (h.xTitle) parts.push(`<text x="${m.l + (h.x.length * cell) / 2}" y="${H - 14}" text-anchor="middle" font-size="12" ${font} fill="#222">${escapeHtml(h.xTitle)}</text>`);
  if (h.yTitle) {
    const cy = m.t + (h.y.length * cell) / 2;
    parts.push(`<text x="14" y="${cy}" text-anchor="middle" transform="rotate(-90 14 ${cy})" font-size="12" ${font} fill="#222">${escapeHtml(h.yTitle)}</text>`);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}

/** The figure as plotly.js takes it. */
export function heatmapPlotly(h: Heatmap): { data: object[]; layout: object; config: object } {
  check(h);
  const cell = h.cellSize ?? 64;
  return {
    data: [
      {
        type: 'heatmap',
        z: h.z,
        x: h.x,
        y: h.y,
        text: h.z.map((r) => r.map(fmt)),
        texttemplate: '%{text}',
        colorscale: 'Blues',
        hovertemplate: `${h.yTitle ?? 'row'}: %{y}<br>${h.xTitle ?? 'column'}: %{x}<br>%{z}<extra></extra>`,
      },
    ],
    layout: {
      title: { text: h.title ?? '' },
      xaxis: { title: { text: h.xTitle ?? '' }, side: 'bottom' },
      yaxis: { title: { text: h.yTitle ?? '' }, autorange: 'reversed' },
      width: Math.max(360, 160 + cell * h.x.length),
      height: Math.max(300, 140 + cell * h.y.length),
    },
    config: { displaylogo: false, responsive: false },
  };
}

export function heatmapBundle(h: Heatmap): MimeBundle {
  const plotly = heatmapPlotly(h);
  const id = `googlenet-heatmap-${randomBytes(6).toString('hex')}`;
  const svg = Buffer.from(heatmapSvg(h)).toString('base64');
  const json = JSON.stringify(plotly).replace(/</g, '\\u003c');
  const script =
    `(function () { var w = window, fig = ${json};` +
    ` var p = w.__googlenetPlotly || (w.Plotly && w.Plotly.newPlot ? Promise.resolve(w.Plotly) : null); if (!p) return;` +
    ` p.then(function (Plotly) { var host = document.getElementById('${id}'); if (!host || host.getAttribute('data-drawn')) return;` +
    ` host.setAttribute('data-drawn', '1'); var div = document.createElement('div'); host.appendChild(div);` +
    ` Plotly.newPlot(div, fig.data, fig.layout, fig.config).then(function () { var img = host.querySelector('img'); if (img) img.style.display = 'none'; }); }, function () {}); })();`;
  const markup =
    `<div class="googlenet-plot" id="${id}"><img class="googlenet-plot-static" alt="${escapeHtml(h.title ?? 'heatmap')}" src="data:image/svg+xml;base64,${svg}"/></div>\n` +
    `<script type="text/javascript">\n${script}\n</script>`;
  const width = Math.max(...h.y.map((s) => s.length), 0);
  const rows = h.z.map((r, i) => `${h.y[i].padEnd(width)}  ${r.map((v) => fmt(v).padStart(6)).join('')}`);
  const plain = [`Heatmap: ${h.title ?? 'untitled'}`, `${''.padEnd(width)}  ${h.x.map((s) => s.slice(0, 6).padStart(6)).join('')}`, ...rows].join('\n');
  return { [PLOTLY_MIME]: plotly, 'text/html': markup, 'text/plain': plain };
}

/** Show a heatmap. */
export function showHeatmap(h: Heatmap): void {
  displayBundle(heatmapBundle(h));
}
