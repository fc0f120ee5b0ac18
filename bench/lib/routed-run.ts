// One routing run: a fresh simulated fleet, one contender (one or more replicas) started fresh on
// it, the pods' caches and counters reset, one seeded open-loop streamed workload, then what the
// client, the pods and (for infergate) the filter's "Request Handled" lines saw. Every routing
// workload of the field benchmarks (cache-pressure ramp, replicas, hot spot, uneven fleet) is one
// or more of these.
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender, ContenderInstance } from "../contenders/types.js";
import type { LoadRecord } from "../loadgen-process.js";
import { SEED_MODEL, type WorkloadSpec } from "../workloads.js";
import {
  mean,
  podHitRate,
  podLogs,
  progress,
  resetPods,
  round,
  runLoadProcess,
  stats,
  summarizeLoad,
} from "./common.js";

export interface FleetShape {
  pods: number;
  /** flags for every simulated pod */
  args: string[];
  /** extra flags per pod index (e.g. one slower pod) */
  perPod?: Record<number, string[]>;
}

export interface StageRow {
  stage: number;
  rate: number;
  sent: number;
  ok: number;
  errors: number;
  /** output tokens of responses that completed inside the stage's window, per second */
  outputTokPerS: number | null;
  ttftMs: ReturnType<typeof stats>;
  /** sum(cached_tokens) / sum(prompt_tokens) over the stage's responses: the pods' own per-request count */
  podHitRate: number | null;
  /** infergate PREFIX_CACHE: mean predicted hit (matchedBlocks / totalBlocks of Request Handled) */
  predictedHit?: number | null;
  /** mean |predicted - real| per request, where both are known */
  predictionError?: number | null;
}

export interface RoutedRow {
  contender: string;
  label: string;
  replicas: number;
  version?: string;
  flags?: string[];
  error?: string;
  summary?: ReturnType<typeof summarizeLoad>;
  stages?: StageRow[];
  /** the fleet's hit rate from the pods' /metrics counters (vllm:prefix_cache_hits/queries_total) */
  podMetricsHitRate?: number | null;
  perPodRequests?: Record<string, number>;
  maxOverMeanLoad?: number | null;
  /** requests per replica URL (clients spread over replicas) */
  perReplica?: number[];
  /** raw: TTFT of every measured ok request (pictures only; not in the committed JSON) */
  ttftSamplesMs?: number[];
}

/** Starts `n` independent replicas of a contender on one fleet (each with its own state, as two
 *  gateway pods would be); the first URL is the instance's url. */
export async function startReplicas(c: Contender, fleet: Parameters<Contender["start"]>[0], n: number) {
  const insts: ContenderInstance[] = [];
  try {
    for (let i = 0; i < n; i++) insts.push(await c.start(fleet));
  } catch (e) {
    await Promise.all(insts.map((x) => x.stop()));
    throw e;
  }
  const first = insts[0];
  return {
    ...first,
    urls: insts.map((x) => x.url),
    pids: insts.flatMap((x) => x.pids),
    envoys: insts.map((x) => x.envoy).filter((x) => x !== undefined),
    stop: async () => {
      await Promise.all(insts.map((x) => x.stop()));
    },
  };
}

function stageOf(spec: WorkloadSpec) {
  if (spec.kind !== "field-shared-prefix") return [{ rate: NaN, startMs: 0, endMs: Number.POSITIVE_INFINITY }];
  let t = 0;
  return spec.stages.map((s) => {
    const x = { rate: s.rate, startMs: t, endMs: t + s.durationMs };
    t += s.durationMs;
    return x;
  });
}

interface Handled {
  requestId?: string;
  matchedBlocks?: number;
  totalBlocks?: number;
  [k: string]: unknown;
}

export function stageRows(spec: WorkloadSpec, records: LoadRecord[], handled: Handled[]): StageRow[] {
  const predicted = new Map<number, number>();
  for (const h of handled) {
    const m = /^bench-(\d+)$/.exec(String(h.requestId ?? ""));
    const tb = Number(h.totalBlocks);
    if (m && Number.isFinite(tb) && tb > 0) predicted.set(Number(m[1]), Number(h.matchedBlocks ?? 0) / tb);
  }
  return stageOf(spec).map((st, stage) => {
    const rs = records.filter((r) => (r.stage ?? 0) === stage);
    const ok = rs.filter((r) => r.status === 200 && !r.error);
    const windowS = Number.isFinite(st.endMs) ? (st.endMs - st.startMs) / 1000 : NaN;
    const doneIn = records.filter(
      (r) => r.status === 200 && !r.error && r.atMs + r.e2eMs >= st.startMs && r.atMs + r.e2eMs < st.endMs,
    );
    const tokens = doneIn.reduce((a, r) => a + (r.completionTokens ?? 0), 0);
    const prompt = ok.reduce((a, r) => a + (r.promptTokens ?? 0), 0);
    const cached = ok.reduce((a, r) => a + (r.cachedTokens ?? 0), 0);
    const pairs = ok
      .filter((r) => predicted.has(r.i) && r.promptTokens)
      .map((r) => [predicted.get(r.i)!, (r.cachedTokens ?? 0) / r.promptTokens!] as const);
    return {
      stage,
      rate: st.rate,
      sent: rs.length,
      ok: ok.length,
      errors: rs.length - ok.length,
      outputTokPerS: round(tokens / windowS, 1),
      ttftMs: stats(ok.filter((r) => r.ttftMs !== null).map((r) => r.ttftMs!)),
      podHitRate: round(prompt ? cached / prompt : NaN, 4),
      ...(pairs.length
        ? {
            predictedHit: round(mean(pairs.map((p) => p[0])), 4),
            predictionError: round(mean(pairs.map((p) => Math.abs(p[0] - p[1]))), 4),
          }
        : {}),
    };
  });
}

export async function routedRun(o: {
  what: string;
  contender: Contender;
  fleet: FleetShape;
  workload: WorkloadSpec;
  replicas?: number;
  warmupMs?: number;
  timeoutMs?: number;
}): Promise<RoutedRow> {
  const c = o.contender;
  const n = o.replicas ?? 1;
  const row: RoutedRow = { contender: c.id, label: c.label, replicas: n };
  const why = c.unavailable();
  if (why) return { ...row, error: `not run: ${why}` };
  progress(`${o.what}: ${c.label}${n > 1 ? ` x${n} replicas` : ""}`);
  const fleet = await startFleet({
    model: SEED_MODEL,
    // cached tokens in every response's usage (vLLM's --enable-prompt-tokens-details): the per-step
    // hit rate, and what infergate's feedback mode learns from
    cacheReport: true,
    args: o.fleet.args,
    pods: Array.from({ length: o.fleet.pods }, (_, i) => ({ name: `pod-${i}`, args: o.fleet.perPod?.[i] ?? [] })),
  });
  try {
    const inst = await startReplicas(c, fleet, n);
    row.version = inst.version;
    row.flags = inst.flags;
    try {
      await resetPods(fleet);
      const before = inst.envoys.map((e) => e.handled().length);
      const durationMs =
        o.workload.kind === "field-shared-prefix" ? o.workload.stages.reduce((a, s) => a + s.durationMs, 0) : 60_000;
      const out = await runLoadProcess(
        {
          label: `${c.id} ${o.what}`,
          url: inst.url,
          urls: inst.urls,
          workload: o.workload,
          mode: "open",
          stream: true,
          timeoutMs: o.timeoutMs ?? 60_000,
          warmupMs: o.warmupMs ?? 0,
        },
        durationMs + 150_000,
      );
      await new Promise((r) => setTimeout(r, 200)); // the last log lines
      const handled = inst.envoys.flatMap((e, k) => e.handled().slice(before[k])) as Handled[];
      row.summary = summarizeLoad(out);
      row.stages = stageRows(o.workload, out.records, handled);
      const hr = await podHitRate(fleet);
      row.podMetricsHitRate = round(hr.hitRate, 4);
      const logs = await podLogs(fleet);
      row.perPodRequests = Object.fromEntries([...logs].map(([p, rs]) => [p, rs.length]));
      const loads = Object.values(row.perPodRequests);
      row.maxOverMeanLoad = round(Math.max(...loads) / mean(loads), 3);
      if (n > 1) row.perReplica = inst.urls.map((_, k) => out.records.filter((r) => r.replica === k).length);
      row.ttftSamplesMs = out.records
        .filter((r) => !r.warmup && r.status === 200 && !r.error && r.ttftMs !== null)
        .map((r) => round(r.ttftMs!, 2)!);
      const s = row.summary;
      progress(
        `  TTFT p50 ${s.ttftMs.p50} p90 ${s.ttftMs.p90} ms, hit rate ${((row.podMetricsHitRate ?? 0) * 100).toFixed(1)}%, max/mean load ${row.maxOverMeanLoad}, errors ${s.errors}/${s.requests}`,
      );
    } finally {
      await inst.stop();
    }
  } catch (e) {
    row.error = (e as Error).message.slice(0, 1500);
    progress(`  ${c.label} failed: ${row.error.slice(0, 300)}`);
  } finally {
    await fleet.stop();
  }
  return row;
}
