// The field's routing workloads (issue 14), each a list of routed runs on fresh fleets:
//   1. cache-pressure ramp: llm-d's shared-prefix benchmark shape scaled to the simulator, QPS
//      stages back to back, per-step figures (bench/lib/routed-run.ts stageRows);
//   3. replicas: the same shape at one rate, one gateway replica vs two with requests spread over
//      both (high availability breaks affinity unless the replicas agree);
//   4. hot spot: one system prompt carries half the traffic;
//   5. uneven fleet: one pod half as fast.
// The scaling of llm-d's numbers to the simulator is documented where run.ts configures them.
import type { Contender } from "../contenders/types.js";
import { type FleetShape, type RoutedRow, routedRun } from "../lib/routed-run.js";
import { generateWorkload, oracleHitRate, type WorkloadSpec } from "../workloads.js";

export interface FieldConfig {
  fleet: FleetShape;
  workload: Extract<WorkloadSpec, { kind: "field-shared-prefix" }>;
  /** replica counts to run each contender with (default [1]) */
  replicas?: number[];
  timeoutMs?: number;
}

export async function fieldScenario(what: string, contenders: Contender[], cfg: FieldConfig) {
  const w = generateWorkload(cfg.workload);
  const oracle = oracleHitRate(w);
  const rows: RoutedRow[] = [];
  for (const c of contenders)
    for (const n of cfg.replicas ?? [1])
      rows.push(
        await routedRun({
          what,
          contender: c,
          fleet: cfg.fleet,
          workload: cfg.workload,
          replicas: n,
          timeoutMs: cfg.timeoutMs,
        }),
      );
  return {
    config: cfg,
    requests: w.requests.length,
    promptTokensMean: Math.round(w.requests.reduce((a, r) => a + r.promptTokens, 0) / Math.max(1, w.requests.length)),
    oracleHitRate: oracle.hitRate,
    rows,
  };
}
