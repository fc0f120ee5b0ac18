// The status page: one server-rendered HTML document, no script, no framework, no build step. It
// reloads itself (meta refresh), so a browser tab left open is a live view of the pool.

import type { PodStatus, PoolStatus, StatusSnapshot } from "./status-view.js";

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

function pct(v: number | null, digits = 0): string {
  return v === null ? "–" : `${(v * 100).toFixed(digits)} %`;
}

function ago(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** A horizontal bar for a fraction in [0,1], with its number beside it. */
function bar(v: number | null, label: string, cls = ""): string {
  const w = v === null ? 0 : Math.max(0, Math.min(1, v)) * 100;
  return `<span class="bar ${cls}"><span style="width:${w.toFixed(1)}%"></span></span> <span class="num">${esc(label)}</span>`;
}

function health(p: PodStatus): string {
  const envoy = p.envoy ?? "n/a";
  const ok = p.ready && (p.envoy === null || p.envoy === "ok");
  const why = [!p.ready ? "not routed" : "", p.scrapeError ? `scrape: ${p.scrapeError}` : ""]
    .filter(Boolean)
    .join("; ");
  return `<span class="pill ${ok ? "ok" : "bad"}" title="${esc(why)}">${esc(p.ready ? "ready" : "not ready")}</span> <span class="pill ${envoy === "ok" ? "ok" : envoy === "n/a" ? "" : "bad"}">envoy: ${esc(envoy)}</span>`;
}

function podRows(pool: PoolStatus): string {
  if (pool.pods.length === 0) return `<tr><td colspan="9" class="muted">no pods selected</td></tr>`;
  return pool.pods
    .map(
      (p) => `<tr data-pod="${esc(p.name)}">
  <td><b>${esc(p.name)}</b><br><span class="muted">${esc(p.address)}</span></td>
  <td>${esc(p.role)}</td>
  <td>${health(p)}</td>
  <td class="r">${p.waiting}</td>
  <td class="r">${p.running}</td>
  <td>${bar(p.kvUsage, pct(p.kvUsage), p.kvUsage >= 0.8 ? "hot" : "")}</td>
  <td class="r" data-col="inflight">${p.inFlight ?? "–"}</td>
  <td data-col="share">${bar(p.share, `${pct(p.share)} (${p.recentRequests})`, "share")}</td>
  <td class="r muted">${p.scrapeAgeMs < 0 ? "never" : ago(p.scrapeAgeMs)}</td>
</tr>`,
    )
    .join("\n");
}

function settingsTable(pool: PoolStatus): string {
  const rows = pool.settings
    .map(
      (s) =>
        `<tr${s.source === "kept" ? ' class="bad-text"' : ""}><td><code>${esc(s.annotation)}</code></td><td><code>${esc(s.value || "(none)")}</code></td><td class="muted">${esc(s.source === "kept" ? "kept (value set is invalid)" : s.source)}</td></tr>`,
    )
    .join("\n");
  const invalid = pool.invalid
    .map((p) => `<li class="bad-text"><code>${esc(p.field)}</code> (${esc(p.document)}): ${esc(p.message)}</li>`)
    .join("\n");
  const warnings = pool.warnings.map((w) => `<li>${esc(w)}</li>`).join("\n");
  return `<details${pool.invalid.length ? " open" : ""}><summary>Settings in effect (${pool.settings.filter((s) => s.source !== "default").length} set, ${pool.invalid.length} invalid)</summary>
<table class="settings"><tr><th>annotation</th><th>value in effect</th><th>from</th></tr>
${rows}</table>
${invalid ? `<p><b>Invalid, not applied:</b></p><ul class="invalid">${invalid}</ul>` : ""}
${warnings ? `<p><b>Warnings:</b></p><ul>${warnings}</ul>` : ""}
</details>`;
}

function queueCell(pool: PoolStatus): string {
  const q = pool.queue;
  const held = q.held;
  const classes = held
    ? `Critical <b>${held.critical}</b> · Standard <b>${held.standard}</b> · Sheddable <b>${held.sheddable}</b> (${(held.bytes / 1024).toFixed(0)} KiB)`
    : "unknown (no Envoy answered)";
  return `${q.enabled ? "enabled" : "disabled"}; held now: ${classes}`;
}

function poolSection(pool: PoolStatus, windowSeconds: number): string {
  const hr = pool.prefix;
  const prefix =
    pool.strategy === "PREFIX_CACHE"
      ? `${pct(hr.hitRate)} of predictions confirmed by the pods (hit ${hr.hit}, over ${hr.over}, under ${hr.under})`
      : "n/a (strategy DEFAULT)";
  const rate = pool.recent.perSecond === null ? "–" : `${pool.recent.perSecond.toFixed(1)}/s`;
  return `<section class="pool" data-pool="${esc(pool.id)}">
<h2>${esc(pool.id)} <span class="pill">${esc(pool.strategy)}</span> <span class="pill">${esc(pool.runtime)}</span>${pool.invalid.length ? ` <span class="pill bad">${pool.invalid.length} invalid</span>` : ""}</h2>
<dl>
<dt>models</dt><dd>${pool.models.map((m) => `<code>${esc(m)}</code>`).join(", ") || '<span class="muted">none</span>'}</dd>
<dt>requests (last ${windowSeconds.toFixed(0)} s)</dt><dd>${pool.recent.routed} routed, ${pool.recent.rejected} rejected, ${rate}</dd>
<dt>prefix prediction</dt><dd data-col="prefix">${prefix}</dd>
<dt>gateway queue</dt><dd data-col="queue">${queueCell(pool)}</dd>
</dl>
<table class="pods">
<tr><th>pod</th><th>role</th><th>health</th><th class="r">waiting</th><th class="r">running</th><th>KV cache</th><th class="r">in flight</th><th>share of recent requests</th><th class="r">scraped</th></tr>
${podRows(pool)}
</table>
${settingsTable(pool)}
</section>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:1.2em 2em;color:#1d2330;background:#f7f8fa}
h1{font-size:20px;margin:0 0 .2em} h2{font-size:16px;margin:.2em 0 .5em}
.meta{color:#555;margin-bottom:1em} .muted{color:#777} .r{text-align:right} .num{font-variant-numeric:tabular-nums}
section.pool{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:.8em 1.2em;margin-bottom:1.2em}
table{border-collapse:collapse;width:100%} th,td{padding:.35em .6em;border-bottom:1px solid #eceff3;vertical-align:top}
th{text-align:left;font-weight:600;color:#444;background:#fafbfc}
table.settings{width:auto} table.settings td{padding:.15em .6em}
dl{display:grid;grid-template-columns:max-content auto;gap:.15em 1em;margin:.3em 0 .8em} dt{color:#555} dd{margin:0}
.pill{display:inline-block;padding:0 .5em;border-radius:9px;background:#e8ecf2;font-size:12px}
.pill.ok{background:#d7f2dd;color:#11632a} .pill.bad{background:#fadcdc;color:#8a1111} .bad-text{color:#8a1111}
.bar{display:inline-block;width:110px;height:10px;background:#e8ecf2;border-radius:5px;vertical-align:middle;overflow:hidden}
.bar>span{display:block;height:100%;background:#6b8fd6} .bar.share>span{background:#3aa675} .bar.hot>span{background:#d9822b}
code{font-size:12px} details{margin-top:.6em} summary{cursor:pointer;color:#333}
`;

export function renderStatusHtml(s: StatusSnapshot, refreshSeconds = 2): string {
  const table = s.table
    ? `table generation <b>${s.table.generation}</b>, built ${ago(s.table.ageMs)} ago${s.table.ageMs > s.table.stalenessMs ? ' <span class="pill bad">stale</span>' : ""}`
    : '<span class="pill bad">no table built yet</span>';
  const envoys = s.envoys
    .map(
      (e) =>
        `<li>${esc(e.url)}: accepted ${e.acceptedGeneration ?? "none"}, routing on ${e.routingGeneration ?? "unknown"}${e.lastError ? ` <span class="bad-text">(${esc(e.lastError)})</span>` : ""}</li>`,
    )
    .join("");
  const sampler = s.sampler.errors.length
    ? `<p class="bad-text">Envoy not read: ${s.sampler.errors.map(esc).join("; ")}</p>`
    : "";
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="${refreshSeconds}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>infergate status</title>
<style>${STYLE}</style></head>
<body>
<h1>infergate</h1>
<div class="meta">${table} · ${s.pools.length} pool${s.pools.length === 1 ? "" : "s"} · problems: ${s.problems.errors} errors, ${s.problems.warnings} warnings · shares over the last ${s.window.seconds.toFixed(0)} s · ${new Date(s.atMs).toISOString()}</div>
${sampler}
${s.pools.map((p) => poolSection(p, s.window.seconds)).join("\n")}
<details><summary>Envoy replicas (${s.envoys.length})</summary><ul>${envoys}</ul></details>
<p class="muted">JSON: <a href="status.json">status.json</a> · <a href="metrics">metrics</a> · <a href="debug/table">debug/table</a> · <a href="debug/model">debug/model</a></p>
</body></html>
`;
}
