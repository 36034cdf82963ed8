/**
 * The charts the lessons draw, as data: a small subset of plotly's figure (bar and scatter traces),
 * converted to plotly's JSON for the interactive chart and drawn to SVG for the static copy that a
 * saved notebook shows when scripts do not run (see plot.ts).
 */

export interface Trace {
  /** 'bar' or 'scatter' (lines and/or markers). */
  type: 'bar' | 'scatter';
  name?: string;
  x: (number | string)[];
  y: number[];
  /** scatter only (default 'lines+markers'). */
  mode?: 'lines' | 'markers' | 'lines+markers';
  /** CSS colour; the default palette is plotly's. */
  color?: string;
  /** Labels drawn on bars (or shown on hover). */
  text?: string[];
  /** Dashed line (scatter only): for reference lines such as "fc1 expects 2048". */
  dash?: boolean;
}

export interface Axis {
  title?: string;
  type?: 'linear' | 'log';
  /** Fixed [min, max] (linear axes), e.g. to draw two charts on the same scale. */
  range?: [number, number];
}

export interface Figure {
  data: Trace[];
  title?: string;
  xaxis?: Axis;
  yaxis?: Axis;
  /** How bar traces share a category: side by side (default) or stacked. */
  barmode?: 'group' | 'stack';
  width?: number;
  height?: number;
}

/** plotly's default colour sequence (D3 category10), used by both renderers so they match. */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export const DEFAULT_WIDTH = 720;
export const DEFAULT_HEIGHT = 400;

export function traceColor(fig: Figure, i: number): string {
  return fig.data[i].color ?? PALETTE[i % PALETTE.length];
}

export interface PlotlyJson {
  data: Record<string, unknown>[];
  layout: Record<string, unknown>;
  config: Record<string, unknown>;
}

/** The figure as plotly.js takes it (titles as {text}, which plotly.js 3+ requires). */
export function toPlotly(fig: Figure): PlotlyJson {
  const data = fig.data.map((t, i) => {
    const color = traceColor(fig, i);
    const out: Record<string, unknown> = { type: t.type, x: t.x, y: t.y };
    if (t.name !== undefined) out.name = t.name;
    if (t.text) out.text = t.text;
    if (t.type === 'bar') {
      out.marker = { color };
      if (t.text) out.textposition = 'auto';
    } else {
      out.mode = t.mode ?? 'lines+markers';
      out.line = { color, dash: t.dash ? 'dash' : 'solid' };
      out.marker = { color };
    }
    return out;
  });
  const axis = (a?: Axis) => ({ title: { text: a?.title ?? '' }, type: a?.type ?? '-', automargin: true, ...(a?.range ? { range: a.range } : {}) });
  const layout: Record<string, unknown> = {
    title: { text: fig.title ?? '' },
    xaxis: axis(fig.xaxis),
    yaxis: axis(fig.yaxis),
    barmode: fig.barmode ?? 'group',
    width: fig.width ?? DEFAULT_WIDTH,
    height: fig.height ?? DEFAULT_HEIGHT,
    showlegend: fig.data.length > 1,
    margin: { t: 50, r: 20, b: 60, l: 70 },
  };
  return { data, layout, config: { displaylogo: false, responsive: false } };
}

// ---------------------------------------------------------------------------------------------------
// Static SVG

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Short number labels: 1.5M, 250k, 0.25, 3e-4. */
export function formatTick(v: number): string {
  const a = Math.abs(v);
  if (a === 0) return '0';
  const trim = (s: string) => s.replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1');
  if (a >= 1e9) return `${trim((v / 1e9).toFixed(2))}G`;
  if (a >= 1e6) return `${trim((v / 1e6).toFixed(2))}M`;
  if (a >= 1e4) return `${trim((v / 1e3).toFixed(1))}k`;
  if (a >= 1) return trim(v.toFixed(2));
  if (a >= 1e-3) return trim(v.toFixed(4));
  return v.toExponential(1);
}

/** About `count` round tick values from a multiple of the step at or below `lo` to one at or above `hi`. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= count + 1) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const out: number[] = [];
  for (let k = first; k <= last; k++) out.push(Math.abs(k * step) < step * 1e-9 ? 0 : Number((k * step).toPrecision(12)));
  return out;
}

interface Scale {
  toPx(v: number): number;
  ticks: number[];
}

function linearScale(lo: number, hi: number, pxLo: number, pxHi: number): Scale {
  const ticks = niceTicks(lo, hi);
  const a = Math.min(lo, ticks[0]);
  const b = Math.max(hi, ticks[ticks.length - 1]);
  const span = b - a || 1;
  return { toPx: (v) => pxLo + ((v - a) / span) * (pxHi - pxLo), ticks };
}

function logScale(lo: number, hi: number, pxLo: number, pxHi: number): Scale {
  const a = Math.floor(Math.log10(Math.max(lo, 1e-300)));
  const b = Math.max(a + 1, Math.ceil(Math.log10(Math.max(hi, 1e-300))));
  const ticks: number[] = [];
  for (let e = a; e <= b; e++) ticks.push(Math.pow(10, e));
  return { toPx: (v) => pxLo + ((Math.log10(Math.max(v, 1e-300)) - a) / (b - a)) * (pxHi - pxLo), ticks };
}

/** Draw the figure as a standalone SVG document (what the chart shows where plotly.js cannot run). */
export function toSvg(fig: Figure): string {
  const W = fig.width ?? DEFAULT_WIDTH;
  const H = fig.height ?? DEFAULT_HEIGHT;
  const legend = fig.data.length > 1;
  const longest = Math.max(0, ...fig.data.map((t, i) => (t.name ?? `trace ${i}`).length));
  const m = { l: 78, r: legend ? Math.min(300, 40 + 7 * longest) : 20, t: fig.title ? 50 : 20, b: 70 };
  const plotW = W - m.l - m.r;
  const plotH = H - m.t - m.b;
  const parts: string[] = [];
  const font = 'font-family="Helvetica, Arial, sans-serif"';

  // x: categories when any x is a string or any trace is a bar; numbers otherwise.
  const categorical = fig.data.some((t) => t.type === 'bar' || t.x.some((v) => typeof v === 'string'));
  const categories: string[] = [];
  if (categorical) for (const t of fig.data) for (const v of t.x) if (!categories.includes(String(v))) categories.push(String(v));
  const slot = categorical ? plotW / Math.max(1, categories.length) : 0;
  const xNums = categorical ? [] : fig.data.flatMap((t) => t.x as number[]);
  const xScale = categorical ? null : linearScale(Math.min(...xNums), Math.max(...xNums), m.l, m.l + plotW);
  const xOf = (v: number | string) => (categorical ? m.l + slot * (categories.indexOf(String(v)) + 0.5) : xScale!.toPx(v as number));

  // y: include 0 for bars; stacked bars stack positives per category.
  const bars = fig.data.map((t, i) => ({ t, i })).filter(({ t }) => t.type === 'bar');
  const stack = fig.barmode === 'stack';
  const ys: number[] = fig.data.filter((t) => t.type !== 'bar' || !stack).flatMap((t) => t.y.filter((v) => Number.isFinite(v)));
  if (stack) {
    for (const c of categories) {
      let s = 0;
      for (const { t } of bars) t.x.forEach((x, k) => String(x) === c && Number.isFinite(t.y[k]) && (s += t.y[k]));
      ys.push(s);
    }
  }
  const log = fig.yaxis?.type === 'log';
  let lo = Math.min(...ys);
  let hi = Math.max(...ys);
  if (!log && bars.length > 0) lo = Math.min(0, lo);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi === lo) hi = lo + (log ? lo * 10 : 1);
  if (fig.yaxis?.range && !log) [lo, hi] = fig.yaxis.range;
  const yScale = log ? logScale(lo, hi, m.t + plotH, m.t) : linearScale(lo, hi, m.t + plotH, m.t);
  const y = (v: number) => yScale.toPx(v);

  parts.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  if (fig.title) parts.push(`<text x="${W / 2}" y="28" text-anchor="middle" font-size="16" ${font} fill="#222">${esc(fig.title)}</text>`);
  // Grid and y ticks.
  for (const v of yScale.ticks) {
    const py = y(v).toFixed(1);
    parts.push(`<line x1="${m.l}" x2="${m.l + plotW}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.l - 6}" y="${py}" dy="4" text-anchor="end" font-size="11" ${font} fill="#444">${esc(formatTick(v))}</text>`);
  }
  // x ticks.
  const rotate = categorical && categories.some((c) => c.length * 6.5 > slot);
  const xTicks: { v: number | string; label: string }[] = categorical
    ? categories.map((c) => ({ v: c, label: c }))
    : xScale!.ticks.map((v) => ({ v, label: formatTick(v) }));
  for (const { v, label } of xTicks) {
    const px = xOf(v).toFixed(1);
    const base = m.t + plotH + 16;
    parts.push(
      rotate
        ? `<text x="${px}" y="${base - 4}" text-anchor="end" transform="rotate(-35 ${px} ${base - 4})" font-size="11" ${font} fill="#444">${esc(label)}</text>`
        : `<text x="${px}" y="${base}" text-anchor="middle" font-size="11" ${font} fill="#444">${esc(label)}</text>`,
    );
  }
  // Bars.
  const groupW = slot * 0.8;
  const barW = stack ? groupW : groupW / Math.max(1, bars.length);
  const stackTop = new Map<string, number>();
  const base0 = log ? yScale.ticks[0] : 0;
  bars.forEach(({ t, i }, bi) => {
    const color = traceColor(fig, i);
    t.x.forEach((xv, k) => {
      const v = t.y[k];
      if (!Number.isFinite(v)) return;
      const c = String(xv);
      const start = stack ? stackTop.get(c) ?? base0 : base0;
      const end = stack ? start + v : v;
      if (stack) stackTop.set(c, end);
      const left = xOf(c) - groupW / 2 + (stack ? 0 : bi * barW);
      const top = Math.min(y(start), y(end));
      const h = Math.abs(y(end) - y(start));
      parts.push(`<rect x="${left.toFixed(1)}" y="${top.toFixed(1)}" width="${Math.max(1, barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`);
      const label = t.text?.[k];
      if (label && !stack) {
        parts.push(`<text x="${(left + barW / 2).toFixed(1)}" y="${(top - 3).toFixed(1)}" text-anchor="middle" font-size="10" ${font} fill="#333">${esc(label)}</text>`);
      }
    });
  });
  // Lines and markers.
  fig.data.forEach((t, i) => {
    if (t.type !== 'scatter') return;
    const color = traceColor(fig, i);
    const pts = t.x.map((xv, k) => [xOf(xv), t.y[k]] as const).filter(([, v]) => Number.isFinite(v)).map(([px, v]) => [px, y(v)] as const);
    const mode = t.mode ?? 'lines+markers';
    if (mode.includes('lines') && pts.length > 1) {
      const d = pts.map(([px, py], k) => `${k ? 'L' : 'M'}${px.toFixed(1)},${py.toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${t.dash ? ' stroke-dasharray="6,4"' : ''}/>`);
    }
    if (mode.includes('markers')) for (const [px, py] of pts) parts.push(`<circle cx="${px.toFixed(1)}" cy="${py.toFixed(1)}" r="3.5" fill="${color}"/>`);
  });
  // Axes frame and titles.
  parts.push(`<line x1="${m.l}" x2="${m.l + plotW}" y1="${m.t + plotH}" y2="${m.t + plotH}" stroke="#444"/>`);
  parts.push(`<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + plotH}" stroke="#444"/>`);
  if (fig.xaxis?.title) parts.push(`<text x="${m.l + plotW / 2}" y="${H - 8}" text-anchor="middle" font-size="12" ${font} fill="#222">${esc(fig.xaxis.title)}</text>`);
  if (fig.yaxis?.title) {
    const cy = m.t + plotH / 2;
    parts.push(`<text x="16" y="${cy}" text-anchor="middle" transform="rotate(-90 16 ${cy})" font-size="12" ${font} fill="#222">${esc(fig.yaxis.title)}</text>`);
  }
  if (legend) {
    fig.data.forEach((t, i) => {
      const ly = m.t + 10 + i * 20;
      const lx = W - m.r + 14;
      parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="12" fill="${traceColor(fig, i)}"/>`);
      parts.push(`<text x="${lx + 18}" y="${ly + 1}" font-size="12" ${font} fill="#222">${esc(t.name ?? `trace ${i}`)}</text>`);
    });
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${parts.join('')}</svg>`;
}
