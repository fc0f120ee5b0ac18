// The status view's data: one snapshot of what an operator asks about a pool every day (is traffic
// spread as expected, is prefix affinity paying off, is anything broken), put together from what the
// control plane already holds (the model, the last table, the scrapes, the pushes) and what the
// filter reports back (EnvoySampler: in-flight, held requests, recent requests per pod, prefix
// predictions). Pure: the same inputs give the same snapshot; the HTML page, the JSON and
// `infergate status` all render this one object.

import { ANNOTATION, DEFAULT_POOL_SETTINGS, type PoolSettings } from "../model/annotations.js";
import type { Problem, ResolvedModel, ResolvedPool } from "../model/types.js";
import type { ScrapeState } from "../scrapers/scrape-loop.js";
import type { PushTargetState } from "../table/pusher.js";
import type { EndpointRole, Table } from "../table/schema.js";
import type { HeldRequests, LiveState, RecentActivity } from "./envoy-sampler.js";

/** A label value as the filter writes it into Envoy's stat names ('.' separates tags there). */
export function statTagValue(s: string): string {
  return s.replaceAll(".", "_");
}

export interface SettingStatus {
  annotation: string;
  /** In force, written as the annotation would be. */
  value: string;
  /** "annotation": set on the pool; "epp-overlay": from the pool's overlay ConfigMap; "default";
   *  "kept": the value set is invalid, so the last good value (or the default) stays in force. */
  source: "annotation" | "epp-overlay" | "default" | "kept";
}

export interface InvalidSetting {
  /** The field as the problem names it (metadata.annotations[...] or data.routing[...]). */
  field: string;
  document: string;
  message: string;
}

export interface PodStatus {
  name: string;
  address: string;
  role: EndpointRole;
  /** Routable in the table the filter holds. */
  ready: boolean;
  /** Envoy's verdict (admin /clusters): ok, absent, ejected, unhealthy; null without --envoy-admin. */
  envoy: string | null;
  /** The pod's own queue, batch and KV-cache use, from its last scrape. */
  waiting: number;
  running: number;
  kvUsage: number;
  scrapeAgeMs: number;
  /** Last scrape error, when the last scrape failed. */
  scrapeError: string | null;
  /** Requests the gateway has in flight to it (all Envoy replicas); null when no replica answered. */
  inFlight: number | null;
  /** Requests routed to it over the recent window, and their share of the pool's. */
  recentRequests: number;
  share: number | null;
}

export interface PoolStatus {
  id: string;
  strategy: string;
  runtime: string;
  settings: SettingStatus[];
  invalid: InvalidSetting[];
  /** Other problems naming this pool (warnings, overlay notes). */
  warnings: string[];
  models: string[];
  queue: {
    enabled: boolean;
    capacityBytes: number;
    ttlMs: number;
    /** Held now, summed over Envoy replicas; null when no replica answered. */
    held: HeldRequests | null;
  };
  recent: {
    routed: number;
    rejected: number;
    perSecond: number | null;
  };
  prefix: {
    /** Feedback mode: predictions the pods' reports confirmed (hit), or that were over / under. */
    hit: number;
    over: number;
    under: number;
    /** hit / (hit + over + under) over the window; null without predictions. */
    hitRate: number | null;
  };
  pods: PodStatus[];
}

export interface StatusSnapshot {
  atMs: number;
  table: {
    generation: number;
    builtAtMs: number;
    ageMs: number;
    stalenessMs: number;
  } | null;
  /** What each Envoy accepted (pushes) and routes on (control listener). */
  envoys: {
    url: string;
    acceptedGeneration: number | null;
    routingGeneration: number | null;
    lastError: string | null;
  }[];
  /** The window shares and rates are computed over. */
  window: { seconds: number };
  sampler: { answered: number; replicas: number; errors: string[] };
  pools: PoolStatus[];
  problems: { errors: number; warnings: number };
}

export interface StatusInputs {
  nowMs: number;
  model: ResolvedModel;
  table: Table | null;
  scrapes: (address: string) => ScrapeState | undefined;
  pushes: PushTargetState[];
  live: LiveState | null;
  recent: RecentActivity | null;
}

function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Every pool setting, written as the annotation that sets it. */
function annotationValues(s: PoolSettings): [string, string][] {
  return [
    [ANNOTATION.routingStrategy, s.strategy],
    [ANNOTATION.modelServerRuntime, s.runtime],
    [ANNOTATION.hashBlockSize, String(s.prefix.blockSize)],
    [ANNOTATION.maxPrefixBlocks, String(s.prefix.maxBlocks)],
    [ANNOTATION.lruCapacity, String(s.prefix.lruCapacity)],
    [ANNOTATION.prefixCacheMode, s.prefix.mode],
    [ANNOTATION.queueing, s.queue.enabled ? "enabled" : "disabled"],
    [ANNOTATION.totalQueueCapacity, String(s.queue.capacityBytes)],
    [ANNOTATION.queueTtl, goDuration(s.queue.ttlMs)],
    [ANNOTATION.firstByteTimeout, goDuration(s.firstByteTimeoutMs)],
    [ANNOTATION.eppOverlay, s.eppOverlay ?? ""],
  ];
}

const DEFAULT_VALUES = new Map(annotationValues(DEFAULT_POOL_SETTINGS));

/** The annotation an invalid-setting problem names: its field is metadata.annotations["KEY"] or
 *  data.routing["KEY"] (model/resolve.ts). */
function annotationOfField(field: string): string | null {
  const m = /\[("(?:[^"\\]|\\.)*")\]$/.exec(field);
  return m ? (JSON.parse(m[1]) as string) : null;
}

function settingsOf(p: ResolvedPool, invalid: InvalidSetting[]): SettingStatus[] {
  const rejected = new Set(invalid.map((i) => annotationOfField(i.field)));
  return annotationValues(p).map(([annotation, value]) => ({
    annotation,
    value,
    source: rejected.has(annotation)
      ? "kept"
      : p.spec.annotations[annotation] !== undefined
        ? "annotation"
        : p.eppOverlay !== null && value !== DEFAULT_VALUES.get(annotation)
          ? "epp-overlay"
          : "default",
  }));
}

function problemsOf(p: ResolvedPool, problems: Problem[]): { invalid: InvalidSetting[]; warnings: string[] } {
  const invalid: InvalidSetting[] = [];
  const warnings: string[] = [];
  for (const pr of problems) {
    const mine =
      pr.ref?.kind === "InferencePool" && pr.ref.namespace === p.spec.namespace && pr.ref.name === p.spec.name;
    if (!mine) continue;
    if (pr.reason === "InvalidAnnotation" || pr.reason === "InvalidOverlay")
      invalid.push({ field: pr.field ?? "", document: pr.document, message: pr.message });
    else warnings.push(`${pr.reason ?? pr.level}: ${pr.document}${pr.field ? ` ${pr.field}` : ""}: ${pr.message}`);
  }
  return { invalid, warnings };
}

function increases(
  recent: RecentActivity | null,
  name: string,
): { labels: Record<string, string>; increase: number }[] {
  return recent?.counters.get(name) ?? [];
}

export function buildStatus(i: StatusInputs): StatusSnapshot {
  const { model, table, live, recent } = i;
  const tablePools = new Map((table?.pools ?? []).map((p) => [p.id, p]));
  let errors = 0;
  for (const p of model.problems) if (p.level === "error") errors++;
  const seconds = recent?.seconds ?? 0;

  const pools: PoolStatus[] = model.pools.map((p) => {
    const tp = tablePools.get(p.id);
    const poolTag = statTagValue(p.id);
    const byPod = new Map<string, number>();
    for (const c of increases(recent, "infergate_pod_requests_total"))
      if (c.labels.pool === poolTag) byPod.set(c.labels.pod, (byPod.get(c.labels.pod) ?? 0) + c.increase);
    const podTotal = [...byPod.values()].reduce((a, b) => a + b, 0);
    let routed = 0;
    let rejected = 0;
    for (const c of increases(recent, "infergate_requests_total")) {
      if (c.labels.pool !== poolTag) continue;
      if (c.labels.outcome === "routed") routed += c.increase;
      else if (c.labels.outcome === "rejected") rejected += c.increase;
    }
    const pred = { hit: 0, over: 0, under: 0 };
    for (const c of increases(recent, "infergate_prefix_predictions_total")) {
      if (c.labels.pool !== poolTag) continue;
      const r = c.labels.result as keyof typeof pred;
      if (r in pred) pred[r] += c.increase;
    }
    const predTotal = pred.hit + pred.over + pred.under;
    const { invalid, warnings } = problemsOf(p, model.problems);
    // The pods as the filter sees them (the table), in the model's order; a pod the table does not
    // carry yet shows as not ready.
    const pods: PodStatus[] = p.endpoints.map((e) => {
      const te = tp?.endpoints.find((x) => x.address === e.address);
      const sc = i.scrapes(e.address);
      const recentRequests = byPod.get(statTagValue(e.name)) ?? 0;
      return {
        name: e.name,
        address: e.address,
        role: te?.role ?? e.role,
        ready: te?.ready ?? false,
        envoy: te?.envoy ?? null,
        waiting: te?.waiting ?? 0,
        running: te?.running ?? 0,
        kvUsage: te?.kvUsage ?? 0,
        scrapeAgeMs: te?.scrapeAgeMs ?? -1,
        scrapeError: sc && sc.consecutiveFailures > 0 ? sc.lastError : null,
        inFlight: live && live.answered > 0 ? (live.inflight.get(e.address) ?? 0) : null,
        recentRequests,
        share: podTotal > 0 ? recentRequests / podTotal : null,
      };
    });
    return {
      id: p.id,
      strategy: p.strategy,
      runtime: p.runtime,
      settings: settingsOf(p, invalid),
      invalid,
      warnings,
      models: model.models.filter((m) => m.pool === p.id).map((m) => m.name),
      queue: {
        enabled: p.queue.enabled,
        capacityBytes: p.queue.capacityBytes,
        ttlMs: p.queue.ttlMs,
        held:
          live && live.answered > 0
            ? (live.queues.get(p.id) ?? { bytes: 0, critical: 0, standard: 0, sheddable: 0 })
            : null,
      },
      recent: { routed, rejected, perSecond: seconds > 0 ? (routed + rejected) / seconds : null },
      prefix: { ...pred, hitRate: predTotal > 0 ? pred.hit / predTotal : null },
      pods,
    };
  });

  return {
    atMs: i.nowMs,
    table: table
      ? {
          generation: table.generation,
          builtAtMs: table.builtAtMs,
          ageMs: i.nowMs - table.builtAtMs,
          stalenessMs: table.stalenessMs,
        }
      : null,
    envoys: i.pushes.map((t, k) => ({
      url: t.url,
      acceptedGeneration: t.lastAcceptedGeneration,
      routingGeneration: live?.generations[k] ?? null,
      lastError: t.lastError,
    })),
    window: { seconds },
    sampler: { answered: live?.answered ?? 0, replicas: live?.replicas ?? 0, errors: live?.errors ?? [] },
    pools,
    problems: { errors, warnings: model.problems.length - errors },
  };
}
