// Scenario: overhead. A native load generator (wrk: bench/lib/wrk.ts) sends one fixed
// non-streaming request (max_tokens 1) over a fixed number of keep-alive connections, as fast as
// the gateway answers, to zero-latency simulated pods. Two bodies: the seed's tiny chat request and
// an 8 KB prompt (plain Envoy carries the same body, so the comparison is the filter's work on it).
// Reported per contender and body: throughput, wrk's latency percentiles, and the gateway's CPU per
// request from /proc (utime + stime of its processes before and after the run, divided by the
// requests served): the figure that survives a noisy machine. Every run gets a fresh fleet and a
// fresh gateway; the runs go in forward then reverse order (rounds alternate), and each figure is
// the pooled mean of its rounds, so drift on this shared machine hits everyone alike.
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender } from "../contenders/types.js";
import { FAST_POD_ARGS, progress, round, sleep } from "../lib/common.js";
import { cpuSeconds } from "../lib/proc-cpu.js";
import { runWrk, type WrkResult, wrkVersion } from "../lib/wrk.js";
import { generateWorkload, SEED_MODEL } from "../workloads.js";

export type BodyKind = "tiny" | "8KB";

export interface OverheadConfig {
  pods: number;
  connections: number;
  threads: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  seed: number;
  /** which bodies each contender runs with (contender id -> bodies) */
  runs: { contender: string; bodies: BodyKind[] }[];
}

export interface OverheadRun {
  round: number;
  wrk: WrkResult;
  cpuS: number | null;
}

export interface OverheadRow {
  contender: string;
  label: string;
  body: BodyKind;
  version?: string;
  flags?: string[];
  error?: string;
  rounds?: number;
  requests?: number;
  errors?: number;
  rps?: number | null;
  latencyUs?: { p50: number | null; p90: number | null; p99: number | null };
  /** gateway processes' CPU per request, µs (null for the direct-to-pod floor) */
  cpuPerRequestUs?: number | null;
  /** vs plain Envoy round-robin with the same body */
  rpsVsEnvoy?: number | null;
  cpuVsEnvoy?: number | null;
  addedP50OverEnvoyUs?: number | null;
  addedP99OverEnvoyUs?: number | null;
  perRound?: { round: number; rps: number; p50: number; cpuPerRequestUs: number | null }[];
}

export function overheadBody(kind: BodyKind, seed: number): string {
  if (kind === "tiny")
    return JSON.stringify({ model: SEED_MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 1 });
  const r = generateWorkload({ kind: "sized", seed, requests: 1, promptBytes: 8192, prefixes: 1 }).requests[0];
  return JSON.stringify(r.body);
}

export async function overheadScenario(contenders: Contender[], cfg: OverheadConfig) {
  const tool = wrkVersion();
  const plan = cfg.runs.flatMap((r) => {
    const c = contenders.find((x) => x.id === r.contender);
    return c ? r.bodies.map((body) => ({ c, body })) : [];
  });
  const key = (id: string, body: string) => `${id} ${body}`;
  const runs = new Map<string, { runs: OverheadRun[]; version?: string; flags?: string[]; error?: string }>();
  for (let rd = 0; rd < cfg.rounds; rd++) {
    const seq = rd % 2 === 0 ? plan : [...plan].reverse();
    for (const { c, body } of seq) {
      const k = key(c.id, body);
      const s = runs.get(k) ?? { runs: [] };
      runs.set(k, s);
      const why = c.unavailable();
      if (why) {
        s.error = `not run: ${why}`;
        continue;
      }
      progress(`overhead round ${rd + 1}/${cfg.rounds}: ${c.label}, ${body} body`);
      const fleet = await startFleet({ model: SEED_MODEL, pods: cfg.pods, args: FAST_POD_ARGS });
      try {
        const inst = await c.start(fleet);
        s.version = inst.version;
        s.flags = inst.flags;
        try {
          const url = `${inst.url}/v1/chat/completions`;
          const b = overheadBody(body, cfg.seed);
          const o = { url, body: b, connections: cfg.connections, threads: cfg.threads };
          await runWrk({ ...o, durationS: cfg.warmupS });
          await sleep(100);
          const cpu0 = inst.pids.length ? cpuSeconds(inst.pids) : null;
          const w = await runWrk({ ...o, durationS: cfg.durationS });
          const cpu1 = inst.pids.length ? cpuSeconds(inst.pids) : null;
          const cpuS = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
          s.runs.push({ round: rd, wrk: w, cpuS });
          progress(
            `  ${w.rps.toFixed(0)} req/s, p50 ${(w.p50 / 1000).toFixed(2)} ms, ${cpuS !== null && w.requests ? `CPU ${((cpuS / w.requests) * 1e6).toFixed(0)} µs/req` : "no CPU figure"}, ${w.statusErrors + w.connectErrors + w.readErrors + w.timeouts} errors`,
          );
        } finally {
          await inst.stop();
        }
      } catch (e) {
        s.error = (e as Error).message.slice(0, 1500);
        progress(`  ${c.label} failed: ${s.error.slice(0, 300)}`);
      } finally {
        await fleet.stop();
      }
    }
  }
  const rows: OverheadRow[] = plan
    .filter((p, i) => plan.findIndex((q) => q.c.id === p.c.id && q.body === p.body) === i)
    .map(({ c, body }) => {
      const s = runs.get(key(c.id, body))!;
      const row: OverheadRow = { contender: c.id, label: c.label, body, version: s.version, flags: s.flags };
      if (s.error) row.error = s.error;
      if (!s.runs.length) return row;
      const rs = s.runs;
      const req = rs.reduce((a, r) => a + r.wrk.requests, 0);
      const meanOf = (f: (r: OverheadRun) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
      const cpuKnown = rs.every((r) => r.cpuS !== null);
      row.rounds = rs.length;
      row.requests = req;
      row.errors = rs.reduce(
        (a, r) => a + r.wrk.statusErrors + r.wrk.connectErrors + r.wrk.readErrors + r.wrk.timeouts,
        0,
      );
      row.rps = round(
        meanOf((r) => r.wrk.rps),
        0,
      );
      row.latencyUs = {
        p50: round(
          meanOf((r) => r.wrk.p50),
          0,
        ),
        p90: round(
          meanOf((r) => r.wrk.p90),
          0,
        ),
        p99: round(
          meanOf((r) => r.wrk.p99),
          0,
        ),
      };
      row.cpuPerRequestUs =
        cpuKnown && c.kind !== "direct" ? round((rs.reduce((a, r) => a + r.cpuS!, 0) / req) * 1e6, 1) : null;
      row.perRound = rs.map((r) => ({
        round: r.round,
        rps: round(r.wrk.rps, 0)!,
        p50: r.wrk.p50,
        cpuPerRequestUs: r.cpuS !== null && r.wrk.requests ? round((r.cpuS / r.wrk.requests) * 1e6, 1) : null,
      }));
      return row;
    });
  for (const r of rows) {
    const e = rows.find((x) => x.contender === "envoy-rr" && x.body === r.body && x.rps);
    if (!e || !r.rps) continue;
    const q = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? round(a / b, 3) : null);
    r.rpsVsEnvoy = q(r.rps, e.rps);
    r.cpuVsEnvoy = q(r.cpuPerRequestUs, e.cpuPerRequestUs);
    r.addedP50OverEnvoyUs =
      r.latencyUs?.p50 != null && e.latencyUs?.p50 != null ? r.latencyUs.p50 - e.latencyUs.p50 : null;
    r.addedP99OverEnvoyUs =
      r.latencyUs?.p99 != null && e.latencyUs?.p99 != null ? r.latencyUs.p99 - e.latencyUs.p99 : null;
  }
  return { config: cfg, loadGenerator: tool, rows };
}
