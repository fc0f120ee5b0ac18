// Scenario 2, routing quality: a shared-prefix multi-turn chat workload (system prompts of ~2k
// tokens, several users each, multi-turn conversations, Poisson arrivals near what the fleet can
// serve) and a no-sharing control workload, open loop and streamed, on simulated vLLM pods with
// realistic timing (prefill 0.15 ms/token, 2048 KV blocks of 16 tokens). Every contender gets a
// fresh fleet per workload. Reported: TTFT p50/p90/p99, end-to-end latency, throughput, the
// fleet's prefix-cache hit rate from the pods' own counters (vllm:prefix_cache_hits_total /
// queries_total) vs the workload's oracle, and max/mean of requests served per pod.
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender } from "../contenders/types.js";
import {
  mean,
  okRecords,
  podHitRate,
  podLogs,
  progress,
  resetPods,
  round,
  runLoadProcess,
  stats,
  summarizeLoad,
} from "../lib/common.js";
import { generateWorkload, oracleHitRate, SEED_MODEL, type WorkloadSpec } from "../workloads.js";

export interface QualityConfig {
  pods: number;
  podArgs: string[];
  warmupMs: number;
  shared: Extract<WorkloadSpec, { kind: "shared-prefix" }>;
  control: Extract<WorkloadSpec, { kind: "no-sharing" }>;
  controlContenders: string[];
}

export interface QualityRow {
  contender: string;
  label: string;
  workload: "shared-prefix" | "no-sharing";
  version?: string;
  flags?: string[];
  error?: string;
  summary?: ReturnType<typeof summarizeLoad>;
  podHitRate?: number | null;
  oracleHitRate?: number;
  hitRateVsOracle?: number | null;
  perPodRequests?: Record<string, number>;
  podTtftMs?: ReturnType<typeof stats>;
  maxOverMeanLoad?: number | null;
  ttftCdfMs?: number[];
}

export async function routingQualityScenario(contenders: Contender[], cfg: QualityConfig) {
  const rows: QualityRow[] = [];
  const oracle = {
    "shared-prefix": oracleHitRate(generateWorkload(cfg.shared)),
    "no-sharing": oracleHitRate(generateWorkload(cfg.control)),
  };
  const counts = {
    "shared-prefix": generateWorkload(cfg.shared).requests.length,
    "no-sharing": generateWorkload(cfg.control).requests.length,
  };
  progress(
    `routing quality: shared-prefix ${counts["shared-prefix"]} requests (oracle hit rate ${(oracle["shared-prefix"].hitRate * 100).toFixed(1)}%), control ${counts["no-sharing"]} requests`,
  );
  for (const [name, spec] of [
    ["shared-prefix", cfg.shared],
    ["no-sharing", cfg.control],
  ] as const) {
    for (const c of contenders) {
      if (name === "no-sharing" && !cfg.controlContenders.includes(c.id)) continue;
      const why = c.unavailable();
      if (why) {
        rows.push({ contender: c.id, label: c.label, workload: name, error: `not run: ${why}` });
        continue;
      }
      progress(`routing quality ${name}: ${c.label}`);
      const fleet = await startFleet({ model: SEED_MODEL, pods: cfg.pods, args: cfg.podArgs });
      const row: QualityRow = {
        contender: c.id,
        label: c.label,
        workload: name,
        oracleHitRate: round(oracle[name].hitRate, 4) ?? undefined,
      };
      rows.push(row);
      try {
        const inst = await c.start(fleet);
        row.version = inst.version;
        row.flags = inst.flags;
        try {
          await resetPods(fleet); // counters and caches start at zero for every contender
          const out = await runLoadProcess(
            {
              label: `${c.id} ${name}`,
              url: inst.url,
              workload: spec,
              mode: "open",
              stream: true,
              timeoutMs: 60000,
              warmupMs: cfg.warmupMs,
            },
            spec.durationMs + 120000,
          );
          row.summary = summarizeLoad(out);
          const hr = await podHitRate(fleet);
          row.podHitRate = round(hr.hitRate, 4);
          row.hitRateVsOracle = oracle[name].hitRate > 0 ? round(hr.hitRate / oracle[name].hitRate, 3) : null;
          const logs = await podLogs(fleet);
          row.perPodRequests = Object.fromEntries([...logs].map(([p, rs]) => [p, rs.length]));
          row.podTtftMs = stats(
            [...logs.values()]
              .flat()
              .filter((r) => r.status === 200 && r.ttftMs !== null)
              .map((r) => r.ttftMs!),
          );
          const loads = Object.values(row.perPodRequests);
          row.maxOverMeanLoad = round(Math.max(...loads) / mean(loads), 3);
          row.ttftCdfMs = okRecords(out).map((r) => r.ttftMs ?? r.e2eMs);
          progress(
            `  TTFT p50 ${row.summary.ttftMs.p50} ms p90 ${row.summary.ttftMs.p90} ms, hit rate ${(hr.hitRate * 100).toFixed(1)}% (oracle ${(oracle[name].hitRate * 100).toFixed(1)}%), errors ${row.summary.errors}, max/mean ${row.maxOverMeanLoad}`,
          );
        } finally {
          await inst.stop();
        }
      } catch (e) {
        row.error = (e as Error).message.slice(0, 1500);
        progress(`  ${c.label} failed: ${row.error.slice(0, 200)}`);
      } finally {
        await fleet.stop();
      }
    }
  }
  return { config: cfg, oracle, requests: counts, rows };
}
