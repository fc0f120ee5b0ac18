// Model + scrape state → the wire Table (schema.ts). Deterministic: pools by id, endpoints by name then
// address, models by name then pool, objectives by pool then name, routes in precedence order, so two
// builds of the same state serialise identically. Each build also yields a fingerprint: a hash of the
// serialised table itself without the generation and the build time, with each endpoint's exact
// scrape age replaced by whether its scrape is fresh, stale or missing. Pushes are coalesced on it:
// an unchanged fingerprint needs no new generation unless a heartbeat asks for one. Derived from the
// table, it covers every field the filter sees, including fields added later.

import { createHash } from "node:crypto";
import type { EnvoyHostState } from "../envoy-endpoints/envoy-hosts.js";
import type { Problem, ResolvedModel } from "../model/types.js";
import type { ScrapeState } from "../scrapers/scrape-loop.js";
import { GenerationClock } from "./generation.js";
import {
  LOAD_FIELDS,
  MAX_SLOTS,
  TABLE_MAX,
  TABLE_VERSION,
  TABLE_VERSION_ROUTES,
  type Table,
  type TableEndpoint,
  type TableModel,
  type TableObjective,
  type TablePool,
} from "./schema.js";
import { SlotAllocator } from "./slots.js";

export interface TableBuilderOptions {
  /** Table-level staleness bound carried to the filter. */
  stalenessMs: number;
  /** An endpoint whose last good scrape is older than this counts as stale in the fingerprint (default stalenessMs). */
  endpointStaleMs?: number;
  clock?: GenerationClock;
  slots?: SlotAllocator;
  now?: () => number;
  /** What Envoy makes of each pod (controlplane/envoy-endpoints/envoy-hosts.ts). A pod Envoy does not
   *  have yet, or whose active health check fails, is not ready; one that outlier detection ejected is
   *  not ready either, unless that would leave its pool with no ready pod at all. */
  envoyHostState?: (address: string) => EnvoyHostState;
}

export interface BuildResult {
  table: Table;
  /** True when a new generation was issued (something routing-relevant changed, or forced). */
  changed: boolean;
  fingerprint: string;
  /** Endpoints left out (slot exhaustion). */
  problems: Problem[];
}

export class TableBuilder {
  readonly clock: GenerationClock;
  private readonly slots: SlotAllocator;
  private readonly now: () => number;
  private lastTable: Table | null = null;
  private lastFingerprint: string | null = null;

  constructor(private readonly opts: TableBuilderOptions) {
    this.now = opts.now ?? Date.now;
    this.clock = opts.clock ?? new GenerationClock(this.now);
    this.slots = opts.slots ?? new SlotAllocator(MAX_SLOTS);
  }

  last(): Table | null {
    return this.lastTable;
  }

  /**
   * Builds the table. With `force` false an unchanged fingerprint returns the previous table as is
   * (same generation); with `force` true (heartbeat, 409) a new generation is always issued.
   */
  build(model: ResolvedModel, scrapeOf: (address: string) => ScrapeState | undefined, force = false): BuildResult {
    const now = this.now();
    const staleAfter = this.opts.endpointStaleMs ?? this.opts.stalenessMs;
    const problems: Problem[] = [];

    const present = new Set<string>();
    for (const p of model.pools) for (const e of p.endpoints) present.add(e.address);
    this.slots.retain(present);

    const routed = model.routes !== null;
    const pools: TablePool[] = model.pools.map((p) => {
      const endpoints: TableEndpoint[] = [];
      for (const e of p.endpoints) {
        const slot = this.slots.acquire(e.address);
        if (slot === undefined) {
          problems.push({
            level: "error",
            document: `endpoint ${e.namespace}/${e.name}`,
            message: `all ${MAX_SLOTS} endpoint slots are taken; ${e.address} is left out of pool ${p.id}`,
          });
          continue;
        }
        const s = scrapeOf(e.address);
        const load = s?.load ?? null;
        const age = s?.lastSuccessAtMs == null ? -1 : Math.max(0, Math.round(now - s.lastSuccessAtMs));
        const envoy = this.opts.envoyHostState?.(e.address);
        const te: TableEndpoint = {
          slot,
          name: e.name,
          address: e.address,
          ready: e.ready && (s?.healthy ?? true) && (envoy === undefined || envoy === "ok"),
          role: e.role,
          // A pod reporting more than the filter accepts is as loaded as can be: capped, not
          // a table every pool loses.
          waiting: Math.min(load?.waiting ?? 0, TABLE_MAX.loadCount),
          running: Math.min(load?.running ?? 0, TABLE_MAX.loadCount),
          kvUsage: load?.kvUsage ?? 0,
          loras: load ? [...load.loras] : [],
          scrapeAgeMs: age,
        };
        if (e.bootstrapPort !== undefined) te.bootstrapPort = e.bootstrapPort;
        if (envoy !== undefined) te.envoy = envoy;
        endpoints.push(te);
      }
      keepLastEjected(endpoints, p.endpoints, scrapeOf);
      const pool: TablePool = {
        id: p.id,
        strategy: p.strategy,
        runtime: p.runtime,
        prefix: { ...p.prefix },
        queue: { ...p.queue },
        firstByteTimeoutMs: p.firstByteTimeoutMs,
        endpoints,
      };
      if (p.pd)
        pool.pd = {
          bootstrapPort: p.pd.bootstrapPort,
          prefillPolicy: p.pd.prefillPolicy,
          decodePolicy: p.pd.decodePolicy,
        };
      // anyModel only means something to a filter that routes by routes (version 2).
      if (routed && p.anyModel) pool.anyModel = { targets: p.anyModel.targets.map((t) => ({ ...t })) };
      return pool;
    });
    const models: TableModel[] = model.models.map((m) => ({
      name: m.name,
      pool: m.pool,
      criticality: m.criticality,
      priority: m.priority,
      targets: m.targets.map((t) => ({ name: t.name, weight: t.weight })),
    }));
    const objectives: TableObjective[] = model.objectives.map((o) => ({ ...o }));
    const body: Omit<Table, "generation" | "builtAtMs"> = {
      version: routed ? TABLE_VERSION_ROUTES : TABLE_VERSION,
      stalenessMs: this.opts.stalenessMs,
      pools,
      models,
      objectives,
      ...(routed ? { routes: structuredClone(model.routes!) } : {}),
    };
    const fingerprint = fingerprintOf(body, staleAfter);
    if (!force && this.lastTable && fingerprint === this.lastFingerprint) {
      return { table: this.lastTable, changed: false, fingerprint, problems };
    }
    const { version, ...rest } = body;
    const topology = topologyOf(body);
    const table: Table = { version, generation: this.clock.next(), builtAtMs: now, topology, ...rest };
    this.lastTable = table;
    this.lastFingerprint = fingerprint;
    return { table, changed: true, fingerprint, problems };
  }
}

/**
 * The hash of a table's routing-relevant content: the serialised table without generation and build
 * time (callers pass it without them), each endpoint's scrapeAgeMs replaced by "fresh" / "stale" /
 * "missing" (stale: older than staleAfterMs).
 */
export function fingerprintOf(table: Omit<Table, "generation" | "builtAtMs">, staleAfterMs: number): string {
  const json = JSON.stringify(table, (key, value) =>
    key === "scrapeAgeMs" && typeof value === "number"
      ? value < 0
        ? "missing"
        : value > staleAfterMs
          ? "stale"
          : "fresh"
      : value,
  );
  return createHash("sha256").update(json).digest("hex");
}

const LOADS = new Set(LOAD_FIELDS);

/** Table.topology: the serialised table (callers pass it without generation and build time) without
 *  the endpoints' LOAD_FIELDS, hashed (64 bits: two topologies a fleet goes through never collide). */
export function topologyOf(table: Omit<Table, "generation" | "builtAtMs" | "topology">): string {
  const json = JSON.stringify(table, (key, value) => (LOADS.has(key) ? undefined : value));
  return createHash("sha256").update(json).digest("hex").slice(0, 16);
}

/** Outlier ejection never empties a pool: when every pod that would otherwise be ready is ejected,
 *  the ejected ones stay ready (Envoy's max_ejection_percent is per cluster, and the cluster holds
 *  every pool, so it cannot promise this per pool by itself). */
function keepLastEjected(
  endpoints: TableEndpoint[],
  sources: ResolvedModel["pools"][number]["endpoints"],
  scrapeOf: (address: string) => ScrapeState | undefined,
): void {
  const byAddress = new Map(sources.map((e) => [e.address, e]));
  // Per role: a P/D pool with ready prefill pods but every decode pod ejected still needs a decode
  // pod (outside P/D every endpoint's role is "both": one group, the whole pool).
  for (const role of new Set(endpoints.map((e) => e.role))) {
    const group = endpoints.filter((e) => e.role === role);
    if (group.some((e) => e.ready)) continue;
    for (const te of group) {
      const src = byAddress.get(te.address);
      if (te.envoy === "ejected" && src?.ready && (scrapeOf(te.address)?.healthy ?? true)) te.ready = true;
    }
  }
}
