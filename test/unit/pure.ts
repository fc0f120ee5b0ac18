// The filter's pure modules compiled to wasm (test/assembly/entry.ts -> build/test/pure.wasm) and
// the helpers every unit test of them shares: tables to load, requests to decide.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
// The clock test/assembly/entry.ts times the decision's phases with (bench/scenarios/phases.ts).
(globalThis as Record<string, unknown>).benchNowNs = () => Number(process.hrtime.bigint());
export const pure = (await import(pathToFileURL(join(here, "../../../test/pure.js")).href)) as Record<
  string,
  (...a: unknown[]) => any
>;

export const POOL = "default/pool";

export interface EndpointJson {
  slot: number;
  name: string;
  address: string;
  [k: string]: unknown;
}

export function ep(slot: number, name: string, extra: Record<string, unknown> = {}): EndpointJson {
  return {
    slot,
    name,
    address: `127.0.0.1:${8000 + slot}`,
    ready: true,
    role: "both",
    waiting: 0,
    running: 0,
    kvUsage: 0,
    loras: [],
    scrapeAgeMs: 5,
    ...extra,
  };
}

export interface PoolOptions {
  id?: string;
  strategy?: "DEFAULT" | "PREFIX_CACHE";
  prefix?: Record<string, number | string>;
  queue?: Record<string, unknown>;
}

export function poolJson(endpoints: unknown[], o: PoolOptions = {}) {
  return {
    id: o.id ?? POOL,
    strategy: o.strategy ?? "DEFAULT",
    runtime: "vllm",
    prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000, ...(o.prefix ?? {}) },
    queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000, ...(o.queue ?? {}) },
    endpoints,
  };
}

/** A table with one pool (builtAtMs 1000, stale after 2000 ms) serving model "m" (Critical). */
export function tableJson(endpoints: unknown[], extra: Record<string, unknown> = {}, pool: PoolOptions = {}) {
  return JSON.stringify({
    version: 1,
    generation: 10,
    builtAtMs: 1000,
    stalenessMs: 2000,
    pools: [poolJson(endpoints, pool)],
    models: [{ name: "m", pool: pool.id ?? POOL, criticality: "Critical", targets: [{ name: "m", weight: 100 }] }],
    ...extra,
  });
}

/** A version-2 table: pools "ns/a" (pod a0) and "ns/b" (pod b0), the given models, objectives and routes. */
export function v2(o: { models?: unknown[]; objectives?: unknown[]; routes?: unknown[]; pools?: unknown[] } = {}) {
  return JSON.stringify({
    version: 2,
    generation: 10,
    builtAtMs: 1000,
    stalenessMs: 2000,
    pools: o.pools ?? [poolJson([ep(0, "a0")], { id: "ns/a" }), poolJson([ep(1, "b0")], { id: "ns/b" })],
    models: o.models ?? [
      { name: "m", pool: "ns/a", criticality: "Standard", priority: 0, targets: [] },
      { name: "m", pool: "ns/b", criticality: "Critical", priority: 3, targets: [] },
    ],
    objectives: o.objectives ?? [],
    routes: o.routes ?? [route({})],
  });
}

/** One route entry: "ns/r#0.0", PathPrefix /v1 to ns/a, unless overridden. */
export function route(o: Record<string, unknown>) {
  return {
    route: "ns/r",
    rule: 0,
    match: 0,
    path: { type: "PathPrefix", value: "/v1" },
    headers: [],
    backends: [{ pool: "ns/a", weight: 1 }],
    ...o,
  };
}

/** A fresh gateway (empty shared data) with this plugin configuration and table. */
export function gateway(config: Record<string, unknown>, table: string): void {
  const err = pure.gatewayReset(JSON.stringify(config));
  if (err) throw new Error(`plugin configuration refused: ${err}`);
  const t = pure.loadTable(table);
  if (t) throw new Error(`table refused: ${t}`);
}

export interface Decision {
  kind: "routed" | "hold" | "reject";
  status: number;
  code: string;
  reason: string;
  message: string;
  target: string;
  rewrite: boolean;
  priority: number;
  pool: string;
  route: string;
  /** Header reads (host calls in the filter) the decision itself made. */
  headerReads: number;
  /** Shared-data reads the decision made (each a host call in Envoy). */
  sharedReads: number;
  /** Shared-data writes the decision made (compare-and-swap included; each a host call). */
  sharedSets: number;
  /** Clock reads the decision made (each a host call). */
  clockReads: number;
  pod?: string;
  fallbacks?: string[];
  /** x-gateway-destination-endpoint as the filter writes it (core/destination-list.ts). */
  destinations?: string;
  log?: Record<string, any>;
  /** PREFIX_CACHE with fallbacks: the blocks of the chain the stream keeps for a fallback's record (-1: none). */
  chainBlocks?: number;
}

export interface DecideOptions {
  /** In-flight counts by slot, "3,1,2". */
  inflight?: string;
  /** Clock (epoch ms); the test tables are built at 1000 and fresh until 3000. */
  nowMs?: number;
  completions?: boolean;
  /** Request headers (":method", ":path", ":authority" included; default POST /v1/chat/completions). */
  headers?: Record<string, string>;
  /** Match the routes in a headers phase first, as the filter does (default true). */
  matchFirst?: boolean;
  /** A request offered again by the queue: what it chose when held. */
  held?: { target: string; pool: string; priority: number; route?: string };
  /** A table pushed between the headers phase and the body. */
  tableBetween?: string;
}

/** Headers as the wasm side reads them: "name\tvalue" lines. */
export function headerLines(headers: Record<string, string> = {}): string {
  return Object.entries(headers)
    .map(([k, v]) => `${k}\t${v}`)
    .join("\n");
}

export function decide(body: unknown, o: DecideOptions = {}): Decision {
  if (o.inflight !== undefined) pure.setInflight(o.inflight);
  pure.setNowMs(o.nowMs ?? 1500);
  const held = o.held ? [o.held.target, o.held.pool, o.held.priority, o.held.route ?? ""].join("\t") : "";
  return JSON.parse(
    pure.decide(
      JSON.stringify(body),
      o.completions ?? false,
      headerLines(o.headers),
      o.matchFirst ?? true,
      held,
      o.tableBetween ?? "",
    ),
  ) as Decision;
}

export function chat(content = "hi", model = "m") {
  return { model, messages: [{ role: "user", content }] };
}

/** A completions prompt of exactly `blocks` 64-byte blocks, distinct per salt. */
export function promptOf(blocks: number, salt: string): string {
  return `${salt} `.repeat(Math.ceil((blocks * 64) / (salt.length + 1)) + 1).slice(0, blocks * 64);
}

/** The pod a request goes to ("" when refused, "!unknown-model" on 404). */
export function podFor(body: unknown, o: DecideOptions = {}): string {
  const d = decide(body, o);
  if (d.kind === "routed") return d.pod!;
  return d.status === 404 ? "!unknown-model" : "";
}

export function counts(n: number, f: () => string): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = f();
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
