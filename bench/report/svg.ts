// Hand-written SVG charts (no dependencies): CDF / line charts and grouped bar charts, readable at
// 720x400 with a legend, axis ticks and labels.
const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceTicks(min: number, max: number, n = 5): number[] {
  if (!(max > min)) return [min];
  const step0 = (max - min) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + 1e-9 && out.length < 50; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}
const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(2)}`);

export interface Series {
  name: string;
  points: [number, number][];
}

export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  /** log10 y axis (TTFT spans 10 ms to tens of seconds across contenders) */
  logY?: boolean;
  /** a dot on every point (per-step curves) */
  markers?: boolean;
  width?: number;
  height?: number;
  yMax?: number;
  xMax?: number;
}): string {
  const W = o.width ?? 760,
    H = o.height ?? 420,
    L = 70,
    R = 250,
    T = 40,
    B = 50;
  const pts = o.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0));
  const tx = (x: number) => (o.logX ? Math.log10(x) : x);
  let x0 = pts.length ? Math.min(...pts.map((p) => tx(p[0]))) : 0,
    x1 = pts.length ? Math.max(...pts.map((p) => tx(p[0]))) : 1;
  if (o.xMax !== undefined) x1 = Math.min(x1, tx(o.xMax));
  if (!o.logX) x0 = Math.min(0, x0);
  if (x1 <= x0) x1 = x0 + 1;
  const ty = (y: number) => (o.logY ? Math.log10(y) : y);
  let y0 = 0,
    y1 = o.yMax ?? (pts.length ? Math.max(...pts.map((p) => p[1])) * 1.05 : 1);
  if (o.logY) {
    y0 = pts.length ? Math.floor(Math.log10(Math.min(...pts.map((p) => p[1])))) : 0;
    y1 = pts.length ? Math.ceil(Math.log10(Math.max(...pts.map((p) => p[1])))) : 1;
    if (y1 <= y0) y1 = y0 + 1;
  }
  const sx = (x: number) => L + ((tx(x) - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - (ty(y) - y0) / (y1 - y0 || 1)) * (H - T - B);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica,Arial,sans-serif" font-size="12">`;
  s += `<rect width="${W}" height="${H}" fill="white"/><text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`;
  const xt = o.logX
    ? Array.from({ length: Math.floor(x1) - Math.floor(x0) + 1 }, (_, i) => Math.floor(x0) + i)
        .flatMap((e) => [1, 2, 5].map((m) => m * 10 ** e))
        .filter((v) => Math.log10(v) >= x0 - 1e-9 && Math.log10(v) <= x1 + 1e-9)
    : niceTicks(x0, x1);
  for (const v of xt) {
    const X = sx(v);
    s += `<line x1="${X}" y1="${T}" x2="${X}" y2="${H - B}" stroke="#eee"/><text x="${X}" y="${H - B + 16}" text-anchor="middle">${fmt(v)}</text>`;
  }
  const yt = o.logY
    ? Array.from({ length: y1 - y0 + 1 }, (_, i) => y0 + i)
        .flatMap((e) => [1, 2, 5].map((m) => m * 10 ** e))
        .filter((v) => Math.log10(v) >= y0 - 1e-9 && Math.log10(v) <= y1 + 1e-9)
    : niceTicks(y0, y1);
  for (const v of yt) {
    const Y = sy(v);
    s += `<line x1="${L}" y1="${Y}" x2="${W - R}" y2="${Y}" stroke="#eee"/><text x="${L - 6}" y="${Y + 4}" text-anchor="end">${fmt(v)}</text>`;
  }
  s += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`;
  s += `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(o.xLabel)}</text><text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`;
  o.series.forEach((se, i) => {
    const c = PALETTE[i % PALETTE.length];
    const p = se.points.filter(
      ([x, y]) =>
        Number.isFinite(x) && Number.isFinite(y) && (!o.logX || x > 0) && (!o.logY || y > 0) && tx(x) <= x1 + 1e-9,
    );
    if (p.length)
      s += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")}"/>`;
    if (o.markers)
      for (const [x, y] of p)
        s += `<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${c}"><title>${esc(`${se.name}: ${x}, ${y}`)}</title></circle>`;
    const ly = T + 10 + i * 18;
    s += `<line x1="${W - R + 12}" y1="${ly}" x2="${W - R + 32}" y2="${ly}" stroke="${c}" stroke-width="3"/><text x="${W - R + 38}" y="${ly + 4}">${esc(se.name)}</text>`;
  });
  return `${s}</svg>\n`;
}

/** Empirical CDF of each series' values (downsampled to ≤ 400 points). */
export function cdfChart(o: {
  title: string;
  xLabel: string;
  series: { name: string; values: number[] }[];
  logX?: boolean;
  clipPercentile?: number;
}): string {
  const series: Series[] = o.series
    .filter((s) => s.values.length)
    .map((s) => {
      const v = [...s.values].sort((a, b) => a - b);
      const step = Math.max(1, Math.floor(v.length / 400));
      const pts: [number, number][] = [];
      for (let i = 0; i < v.length; i += step) pts.push([v[i], (i + 1) / v.length]);
      pts.push([v[v.length - 1], 1]);
      return { name: s.name, points: pts };
    });
  const all = o.series.flatMap((s) => s.values).sort((a, b) => a - b);
  const xMax = all.length
    ? all[Math.min(all.length - 1, Math.floor(all.length * (o.clipPercentile ?? 0.995)))]
    : undefined;
  return lineChart({
    title: o.title,
    xLabel: o.xLabel,
    yLabel: "fraction of requests ≤ x",
    series,
    logX: o.logX,
    yMax: 1,
    xMax,
  });
}

/** Grouped bars: one group per category, one bar per series; optional horizontal reference lines. */
export function barChart(o: {
  title: string;
  yLabel: string;
  categories: string[];
  series: { name: string; values: (number | null)[] }[];
  refLines?: { y: number; label: string }[];
  /** log10 y axis (TTFT) */
  logY?: boolean;
  width?: number;
  height?: number;
}): string {
  const W = o.width ?? 760,
    H = o.height ?? 420,
    L = 70,
    R = 250,
    T = 40,
    B = 90;
  const vals = o.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  const lin1 = Math.max(1e-9, ...vals, ...(o.refLines ?? []).map((r) => r.y)) * 1.1;
  const pos = [...vals, ...(o.refLines ?? []).map((r) => r.y)].filter((v) => v > 0);
  const e0 = pos.length ? Math.floor(Math.log10(Math.min(...pos))) : 0;
  const e1 = Math.max(e0 + 1, pos.length ? Math.ceil(Math.log10(Math.max(...pos) * 1.05)) : 1);
  const y1 = o.logY ? e1 : lin1;
  const sy = o.logY
    ? (y: number) => T + (1 - (Math.log10(Math.max(y, 10 ** e0)) - e0) / (e1 - e0)) * (H - T - B)
    : (y: number) => T + (1 - y / y1) * (H - T - B);
  const gw = (W - L - R) / Math.max(1, o.categories.length);
  const bw = (gw * 0.8) / Math.max(1, o.series.length);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica,Arial,sans-serif" font-size="12">`;
  s += `<rect width="${W}" height="${H}" fill="white"/><text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`;
  const ticks = o.logY
    ? Array.from({ length: e1 - e0 + 1 }, (_, i) => e0 + i)
        .flatMap((e) => [1, 2, 5].map((m) => m * 10 ** e))
        .filter((v) => Math.log10(v) <= e1 + 1e-9)
    : niceTicks(0, y1);
  for (const v of ticks) {
    const Y = sy(v);
    s += `<line x1="${L}" y1="${Y}" x2="${W - R}" y2="${Y}" stroke="#eee"/><text x="${L - 6}" y="${Y + 4}" text-anchor="end">${fmt(v)}</text>`;
  }
  s += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#333"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`;
  s += `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`;
  o.categories.forEach((c, gi) => {
    const gx = L + gi * gw + gw * 0.1;
    o.series.forEach((se, si) => {
      const v = se.values[gi];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const x = gx + si * bw,
        y = sy(v);
      s += `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${(H - B - y).toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${c} ${se.name}: ${v}`)}</title></rect>`;
      if (o.series.length * o.categories.length <= 24)
        s += `<text x="${(x + bw / 2 - 1).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10">${fmt(v)}</text>`;
    });
    s += `<text transform="translate(${(L + gi * gw + gw / 2).toFixed(1)} ${H - B + 12}) rotate(25)" text-anchor="start" font-size="11">${esc(c)}</text>`;
  });
  for (const r of o.refLines ?? []) {
    const Y = sy(r.y);
    s += `<line x1="${L}" y1="${Y}" x2="${W - R}" y2="${Y}" stroke="#555" stroke-dasharray="5,4"/><text x="${W - R - 4}" y="${Y - 4}" text-anchor="end" font-size="11" fill="#555">${esc(r.label)}</text>`;
  }
  if (o.series.length > 1 || o.series[0]?.name)
    o.series.forEach((se, i) => {
      const ly = T + 10 + i * 18;
      s += `<rect x="${W - R + 12}" y="${ly - 7}" width="14" height="12" fill="${PALETTE[i % PALETTE.length]}"/><text x="${W - R + 32}" y="${ly + 4}">${esc(se.name)}</text>`;
    });
  return `${s}</svg>\n`;
}
