// Shared pieces of the bench scenarios: running the load generator as its own process, statistics,
// progress output, and reading what the simulated pods saw.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import type { Fleet } from "../../test/sim/fleet.js";
import type { LoadJob, LoadOutput, LoadRecord } from "../loadgen-process.js";

export { setTimeout as sleep } from "node:timers/promises";

export const BENCH_START = Date.now();

/** Progress: one line per step on stderr, with the time since the bench started. */
export function progress(msg: string): void {
  const s = ((Date.now() - BENCH_START) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[bench ${s}s] ${msg}\n`);
}

/** Runs one load job in a separate Node process and returns its output. Bounded by a timeout. */
export async function runLoadProcess(job: LoadJob, hardTimeoutMs: number): Promise<LoadOutput> {
  const dir = mkdtempSync(join(tmpdir(), "infergate-load-"));
  const jobPath = join(dir, "job.json");
  const outPath = join(dir, "out.json");
  writeFileSync(jobPath, JSON.stringify(job));
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, "build/js/bench/loadgen-process.js"), jobPath, outPath], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      child.stderr!.on("data", (b: Buffer) => {
        err += b.toString();
      });
      child.stdout!.resume();
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`load generator exceeded ${hardTimeoutMs} ms`));
      }, hardTimeoutMs);
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`load generator exited ${code}: ${err.slice(-2000)}`));
      });
    });
    return JSON.parse(readFileSync(outPath, "utf8")) as LoadOutput;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}

export function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

export const round = (x: number, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

export interface LatencyStats {
  n: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  mean: number | null;
}
export function stats(xs: number[]): LatencyStats {
  return {
    n: xs.length,
    p50: round(percentile(xs, 50)),
    p90: round(percentile(xs, 90)),
    p99: round(percentile(xs, 99)),
    mean: round(mean(xs)),
  };
}

/** Requests, errors and throughput of the measured (non-warm-up) part of a load run. */
export function summarizeLoad(out: LoadOutput) {
  const m = out.records.filter((r) => !r.warmup);
  const ok = m.filter((r) => r.status === 200 && !r.error);
  const errors = m.length - ok.length;
  const byStatus: Record<string, number> = {};
  for (const r of m) {
    const k = r.error && r.status === 0 ? "conn_error" : String(r.status);
    byStatus[k] = (byStatus[k] ?? 0) + 1;
  }
  const sampleErrors = [...new Set(m.filter((r) => r.error).map((r) => r.error!.slice(0, 160)))].slice(0, 3);
  const prompt = ok.reduce((a, r) => a + (r.promptTokens ?? 0), 0);
  const cached = ok.reduce((a, r) => a + (r.cachedTokens ?? 0), 0);
  // measured window: from the end of warm-up to the last measured completion
  const endMs = m.length ? Math.max(...m.map((r) => r.atMs + r.e2eMs)) : out.elapsedMs;
  const startMs = m.length ? Math.min(...m.map((r) => r.atMs)) : 0;
  const windowMs = Math.max(1, endMs - startMs);
  return {
    requests: m.length,
    ok: ok.length,
    errors,
    errorRate: round(m.length ? errors / m.length : 0, 4),
    byStatus,
    sampleErrors,
    throughputRps: round((ok.length / windowMs) * 1000, 2),
    ttftMs: stats(ok.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs!)),
    e2eMs: stats(ok.map((r) => r.e2eMs)),
    clientCachedRate: round(prompt ? cached / prompt : 0, 4),
    maxLateMs: round(Math.max(0, ...out.records.map((r) => r.lateMs)), 1),
    warmupRequests: out.records.length - m.length,
  };
}

export function okRecords(out: LoadOutput): LoadRecord[] {
  return out.records.filter((r) => !r.warmup && r.status === 200 && !r.error);
}

// ---- the pods' own view ----

export async function resetPods(fleet: Fleet): Promise<void> {
  await Promise.all(
    fleet.pods.map(async (p) => {
      const r = await fetch(`${p.url}/admin/reset`, { method: "POST" });
      await r.arrayBuffer();
    }),
  );
}

export interface PodRecord {
  id: string;
  path: string;
  status: number;
  promptTokens: number;
  cachedTokens: number;
  ttftMs: number | null;
  e2eMs: number | null;
  queueMs: number | null;
  arrivedAt: number;
  outcome: string;
}

export async function podLogs(fleet: Fleet): Promise<Map<string, PodRecord[]>> {
  const out = new Map<string, PodRecord[]>();
  await Promise.all(
    fleet.pods.map(async (p) => {
      const r = await fetch(`${p.url}/debug/requests`);
      const all = ((await r.json()) as { requests: PodRecord[] }).requests;
      out.set(
        p.name,
        all.filter((x) => x.path.startsWith("/v1/")),
      );
    }),
  );
  return out;
}

/** Sums counters of a Prometheus text exposition by metric name (all label sets). */
export function sumCounter(text: string, name: string): number {
  let s = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== "{" && rest[0] !== " ") continue;
    const v = Number(line.slice(line.lastIndexOf(" ") + 1));
    if (Number.isFinite(v)) s += v;
  }
  return s;
}

/** The fleet's prefix-cache hit rate from the pods' own /metrics (vLLM names), since the last reset. */
export async function podHitRate(fleet: Fleet): Promise<{
  hits: number;
  queries: number;
  hitRate: number;
  perPod: Record<string, { hits: number; queries: number }>;
}> {
  let hits = 0,
    queries = 0;
  const perPod: Record<string, { hits: number; queries: number }> = {};
  await Promise.all(
    fleet.pods.map(async (p) => {
      const t = await (await fetch(`${p.url}/metrics`)).text();
      const h = sumCounter(t, "vllm:prefix_cache_hits_total");
      const q = sumCounter(t, "vllm:prefix_cache_queries_total");
      perPod[p.name] = { hits: h, queries: q };
      hits += h;
      queries += q;
    }),
  );
  return { hits, queries, hitRate: queries ? hits / queries : 0, perPod };
}

/** Fleet of fast pods (no modelled latency): what overhead and decision-time runs use. */
export const FAST_POD_ARGS = [
  "--prefill-overhead-ms",
  "0",
  "--inter-token-latency-ms",
  "0",
  "--prefill-time-per-token-ms",
  "0",
  "--decode-time-per-seq-ms",
  "0",
];
