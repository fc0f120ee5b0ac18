// Scenario 3, burst: Poisson arrivals at 3x what the fleet can serve, for a short window, with three
// InferenceModels of different criticality (Critical / Standard / Sheddable) on one pool. infergate
// with queueing off and on (pool annotation inference.networking.x-k8s.io/queueing: enabled), and
// plain Envoy round-robin as the baseline. Reported per class: served, 429s, other errors, TTFT and
// end-to-end latency of what was served.
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender } from "../contenders/types.js";
import { progress, round, runLoadProcess, stats } from "../lib/common.js";
import { SEED_MODEL, type WorkloadSpec } from "../workloads.js";

export const BURST_MODELS = {
  critical: SEED_MODEL,
  standard: "/models/standard-chat",
  sheddable: "/models/batch-sheddable",
} as const;

export interface BurstConfig {
  pods: number;
  maxNumSeqs: number;
  podArgs: string[];
  capacityRps: number;
  factor: number;
  workload: Extract<WorkloadSpec, { kind: "burst" }>;
}

export async function burstScenario(contenders: { contender: Contender; queueing: boolean }[], cfg: BurstConfig) {
  const rows: Record<string, unknown>[] = [];
  for (const { contender: c, queueing } of contenders) {
    const why = c.unavailable();
    const id = `${c.id}${c.kind === "infergate" ? (queueing ? " +queue" : " no-queue") : ""}`;
    if (why) {
      rows.push({ contender: id, error: `not run: ${why}` });
      continue;
    }
    progress(`burst: ${id}`);
    const fleet = await startFleet({
      model: SEED_MODEL,
      pods: cfg.pods,
      args: [...cfg.podArgs, "--served-model-name", Object.values(BURST_MODELS).join(",")],
    });
    const row: Record<string, unknown> = {
      contender: id,
      label: c.label + (c.kind === "infergate" ? (queueing ? " + queueing" : " (no queueing)") : ""),
      queueing,
    };
    rows.push(row);
    try {
      const inst = await c.start(fleet, {
        pool: {
          criticality: "Critical",
          extraModels: { [BURST_MODELS.standard]: "Standard", [BURST_MODELS.sheddable]: "Sheddable" },
          annotations: queueing ? { "inference.networking.x-k8s.io/queueing": "enabled" } : {},
        },
      });
      row.version = inst.version;
      row.flags = inst.flags;
      try {
        const out = await runLoadProcess(
          {
            label: id,
            url: inst.url,
            workload: cfg.workload,
            mode: "open",
            stream: true,
            timeoutMs: 45000,
            warmupMs: 0,
          },
          cfg.workload.durationMs + 120000,
        );
        const classes: Record<string, unknown> = {};
        for (const crit of ["Critical", "Standard", "Sheddable"]) {
          const rs = out.records.filter((r) => r.criticality === crit);
          const ok = rs.filter((r) => r.status === 200 && !r.error);
          classes[crit] = {
            sent: rs.length,
            served: ok.length,
            servedRate: round(rs.length ? ok.length / rs.length : NaN, 3),
            rejected429: rs.filter((r) => r.status === 429).length,
            otherErrors: rs.filter((r) => (r.status !== 200 && r.status !== 429) || (r.status === 200 && r.error))
              .length,
            ttftMs: stats(ok.map((r) => r.ttftMs ?? r.e2eMs)),
            e2eMs: stats(ok.map((r) => r.e2eMs)),
          };
        }
        row.classes = classes;
        row.sampleErrors = [...new Set(out.records.filter((r) => r.error).map((r) => r.error!.slice(0, 160)))].slice(
          0,
          3,
        );
        row.elapsedMs = round(out.elapsedMs, 0);
        progress(
          `  ${Object.entries(classes)
            .map(([k, v]) => {
              const x = v as { served: number; sent: number; rejected429: number; ttftMs: { p50: number } };
              return `${k} ${x.served}/${x.sent} served, ${x.rejected429}x429, TTFT p50 ${x.ttftMs.p50} ms`;
            })
            .join("; ")}`,
        );
      } finally {
        await inst.stop();
      }
    } catch (e) {
      row.error = (e as Error).message.slice(0, 1500);
      progress(`  failed: ${(row.error as string).slice(0, 200)}`);
    } finally {
      await fleet.stop();
    }
  }
  return { config: cfg, rows };
}
