// Scenario 1, overhead: tiny non-streaming requests (max_tokens 1) to pods that model no latency,
// at a fixed concurrency and at maximum rate (a closed loop at high concurrency). Each contender
// gets a fresh fleet; every figure is compared with a direct request to a pod and with plain Envoy
// round-robin measured in the same run. In the full run the contenders go twice, in forward then
// reverse order, and the samples of both rounds are pooled, so drift on this noisy machine hits
// everyone alike.
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender } from "../contenders/types.js";
import {
  FAST_POD_ARGS,
  type LatencyStats,
  okRecords,
  progress,
  round,
  runLoadProcess,
  stats,
  summarizeLoad,
} from "../lib/common.js";
import type { LoadOutput } from "../loadgen-process.js";
import { SEED_MODEL } from "../workloads.js";

export interface OverheadConfig {
  pods: number;
  fixedConcurrency: number;
  maxConcurrency: number;
  durationMs: number;
  warmupMs: number;
  rounds: number;
  seed: number;
}

export interface OverheadRow {
  contender: string;
  label: string;
  version?: string;
  flags?: string[];
  error?: string;
  fixed?: { latencyUs: LatencyStats; throughputRps: number | null; errorRate: number | null; requests: number };
  max?: { latencyUs: LatencyStats; throughputRps: number | null; errorRate: number | null; requests: number };
  /** fixed-concurrency latency minus plain Envoy's / the direct pod's, µs */
  addedP50OverEnvoyUs?: number | null;
  addedP99OverEnvoyUs?: number | null;
  addedP50OverDirectUs?: number | null;
  addedP99OverDirectUs?: number | null;
  /** max-rate throughput / plain Envoy's and / direct's */
  throughputVsEnvoy?: number | null;
  throughputVsDirect?: number | null;
  /** per-request latencies (µs, fixed concurrency), for the CDF picture */
  cdfUs?: number[];
}

export async function overheadScenario(contenders: Contender[], cfg: OverheadConfig) {
  const samples = new Map<
    string,
    { fixed: LoadOutput[]; max: LoadOutput[]; version?: string; flags?: string[]; error?: string }
  >();
  const order = contenders.filter((c) => !c.unavailable());
  for (let round_ = 0; round_ < cfg.rounds; round_++) {
    const seq = round_ % 2 === 0 ? order : [...order].reverse();
    for (const c of seq) {
      const s = samples.get(c.id) ?? { fixed: [], max: [] };
      samples.set(c.id, s);
      progress(`overhead round ${round_ + 1}/${cfg.rounds}: ${c.label}`);
      const fleet = await startFleet({ model: SEED_MODEL, pods: cfg.pods, args: FAST_POD_ARGS });
      try {
        const inst = await c.start(fleet);
        s.version = inst.version;
        s.flags = inst.flags;
        try {
          const base = {
            url: inst.url,
            workload: { kind: "tiny" as const, seed: cfg.seed, requests: 1000 },
            mode: "closed" as const,
            stream: false,
            timeoutMs: 10000,
            durationMs: cfg.durationMs + cfg.warmupMs,
            warmupMs: cfg.warmupMs,
          };
          s.fixed.push(
            await runLoadProcess(
              { ...base, label: `${c.id} fixed`, concurrency: cfg.fixedConcurrency },
              cfg.durationMs * 3 + 30000,
            ),
          );
          s.max.push(
            await runLoadProcess(
              { ...base, label: `${c.id} max`, concurrency: cfg.maxConcurrency },
              cfg.durationMs * 3 + 30000,
            ),
          );
        } finally {
          await inst.stop();
        }
      } catch (e) {
        s.error = (e as Error).message.slice(0, 1500);
        progress(`  ${c.label} failed: ${s.error.slice(0, 200)}`);
      } finally {
        await fleet.stop();
      }
    }
  }
  const pooled = (outs: LoadOutput[]) => {
    const lat = outs.flatMap((o) => okRecords(o).map((r) => r.e2eMs * 1000));
    const sums = outs.map(summarizeLoad);
    const req = sums.reduce((a, s) => a + s.requests, 0);
    const err = sums.reduce((a, s) => a + s.errors, 0);
    const thr = sums.length ? sums.reduce((a, s) => a + (s.throughputRps ?? 0), 0) / sums.length : null;
    return {
      latencyUs: stats(lat),
      throughputRps: round(thr ?? NaN, 1),
      errorRate: round(req ? err / req : NaN, 4),
      requests: req,
      lat,
    };
  };
  const rows: OverheadRow[] = contenders.map((c) => {
    const why = c.unavailable();
    if (why) return { contender: c.id, label: c.label, error: `not run: ${why}` };
    const s = samples.get(c.id)!;
    if (!s.fixed.length) return { contender: c.id, label: c.label, version: s.version, flags: s.flags, error: s.error };
    const f = pooled(s.fixed),
      m = pooled(s.max);
    return {
      contender: c.id,
      label: c.label,
      version: s.version,
      flags: s.flags,
      ...(s.error ? { error: s.error } : {}),
      fixed: { latencyUs: f.latencyUs, throughputRps: f.throughputRps, errorRate: f.errorRate, requests: f.requests },
      max: { latencyUs: m.latencyUs, throughputRps: m.throughputRps, errorRate: m.errorRate, requests: m.requests },
      cdfUs: f.lat,
    };
  });
  const envoy = rows.find((r) => r.contender === "envoy-rr" && r.fixed);
  const direct = rows.find((r) => r.contender === "direct" && r.fixed);
  for (const r of rows) {
    if (!r.fixed || !r.max) continue;
    const d = (a: number | null | undefined, b: number | null | undefined) =>
      a != null && b != null ? round(a - b, 1) : null;
    const q = (a: number | null | undefined, b: number | null | undefined) => (a != null && b ? round(a / b, 3) : null);
    r.addedP50OverEnvoyUs = d(r.fixed.latencyUs.p50, envoy?.fixed?.latencyUs.p50);
    r.addedP99OverEnvoyUs = d(r.fixed.latencyUs.p99, envoy?.fixed?.latencyUs.p99);
    r.addedP50OverDirectUs = d(r.fixed.latencyUs.p50, direct?.fixed?.latencyUs.p50);
    r.addedP99OverDirectUs = d(r.fixed.latencyUs.p99, direct?.fixed?.latencyUs.p99);
    r.throughputVsEnvoy = q(r.max.throughputRps, envoy?.max?.throughputRps);
    r.throughputVsDirect = q(r.max.throughputRps, direct?.max?.throughputRps);
  }
  return { config: cfg, rows };
}
