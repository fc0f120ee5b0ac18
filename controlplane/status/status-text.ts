// `infergate status` in a terminal: the same snapshot as the status page, as aligned plain text.

import type { PoolStatus, StatusSnapshot } from "./status-view.js";

function pct(v: number | null): string {
  return v === null ? "-" : `${Math.round(v * 100)}%`;
}

function ago(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.round(ms / 60_000)}m`;
}

/** Left-aligned columns, two spaces apart; numeric columns (by index) right-aligned. */
function columns(rows: string[][], right: Set<number>): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) => (right.has(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join("  ")
      .trimEnd(),
  );
}

function pool(p: PoolStatus, windowSeconds: number): string[] {
  const out: string[] = [];
  out.push(`pool ${p.id}  strategy ${p.strategy}  runtime ${p.runtime}  models ${p.models.join(", ") || "(none)"}`);
  const rate = p.recent.perSecond === null ? "" : ` (${p.recent.perSecond.toFixed(1)}/s)`;
  out.push(`  last ${Math.round(windowSeconds)}s: ${p.recent.routed} routed, ${p.recent.rejected} rejected${rate}`);
  if (p.strategy === "PREFIX_CACHE")
    out.push(
      `  prefix prediction: ${pct(p.prefix.hitRate)} confirmed (hit ${p.prefix.hit}, over ${p.prefix.over}, under ${p.prefix.under})`,
    );
  const h = p.queue.held;
  out.push(
    `  queue ${p.queue.enabled ? "enabled" : "disabled"}: held ${h ? `critical ${h.critical}, standard ${h.standard}, sheddable ${h.sheddable} (${h.bytes} bytes)` : "unknown (no Envoy answered)"}`,
  );
  const rows = [
    ["POD", "ADDRESS", "ROLE", "READY", "ENVOY", "WAITING", "RUNNING", "KV", "INFLIGHT", "SHARE", "REQS", "SCRAPED"],
  ];
  for (const d of p.pods)
    rows.push([
      d.name,
      d.address,
      d.role,
      d.ready ? "yes" : "no",
      d.envoy ?? "-",
      String(d.waiting),
      String(d.running),
      pct(d.kvUsage),
      d.inFlight === null ? "-" : String(d.inFlight),
      pct(d.share),
      String(d.recentRequests),
      d.scrapeError ? `failing: ${d.scrapeError}` : d.scrapeAgeMs < 0 ? "never" : ago(d.scrapeAgeMs),
    ]);
  for (const line of columns(rows, new Set([5, 6, 7, 8, 9, 10]))) out.push(`  ${line}`);
  const set = p.settings.filter((s) => s.source !== "default");
  out.push(
    `  settings: ${set.length ? set.map((s) => `${s.annotation}=${s.value} (${s.source})`).join(", ") : "all defaults"}`,
  );
  for (const inv of p.invalid) out.push(`  INVALID ${inv.field} (${inv.document}): ${inv.message}`);
  for (const w of p.warnings) out.push(`  warning: ${w}`);
  return out;
}

export function renderStatusText(s: StatusSnapshot): string {
  const out: string[] = [];
  out.push(
    s.table
      ? `table generation ${s.table.generation}, built ${ago(s.table.ageMs)} ago${s.table.ageMs > s.table.stalenessMs ? " (STALE)" : ""}`
      : "no table built yet",
  );
  for (const e of s.envoys)
    out.push(
      `envoy ${e.url}: accepted ${e.acceptedGeneration ?? "none"}, routing on ${e.routingGeneration ?? "unknown"}${e.lastError ? ` (${e.lastError})` : ""}`,
    );
  for (const err of s.sampler.errors) out.push(`envoy not read: ${err}`);
  if (s.problems.errors || s.problems.warnings)
    out.push(`problems: ${s.problems.errors} errors, ${s.problems.warnings} warnings (GET /debug/model)`);
  for (const p of s.pools) out.push("", ...pool(p, s.window.seconds));
  return `${out.join("\n")}\n`;
}
