// The load table as the filter holds it (wire format: controlplane/table/schema.ts; decoded and
// validated once by decode-table.ts, so routing never meets a malformed value).

import {
  DEFAULT_BLOCK_SIZE,
  DEFAULT_FIRST_BYTE_TIMEOUT_MS,
  DEFAULT_LRU_CAPACITY,
  DEFAULT_MAX_BLOCKS,
  DEFAULT_PREFIX_MODE,
  DEFAULT_QUEUE_CAPACITY_BYTES,
  DEFAULT_QUEUE_TTL_MS,
} from "../defaults";

/** Version of tables without routes: every request is routed by its model name alone. */
export const TABLE_VERSION: i32 = 1;
/** Version of tables with routes (HTTPRoutes of a claimed Gateway): only through a matching route. */
export const TABLE_VERSION_ROUTES: i32 = 2;
export const MAX_SLOTS: i32 = 4096;
/** Priorities are int32 on the wire (InferenceObjective.spec.priority); higher is served first. */
export const MIN_PRIORITY: i32 = -2147483648;
export const MAX_PRIORITY: i32 = 2147483647;

export enum Strategy {
  Default = 0,
  PrefixCache = 1,
}
export enum Role {
  Both = 0,
  Prefill = 1,
  Decode = 2,
}
/**
 * The seed InferenceModel's criticality. The queue orders by integer priority; criticality is what
 * a priority means to the seed's three classes (> 0 Critical, 0 Standard, < 0 Sheddable), kept for
 * the log line and the queue's per-class counts (the values are their indexes there).
 */
export const CRITICALITY_CLASSES: i32 = 3;
export enum Criticality {
  Critical = 0,
  Standard = 1,
  Sheddable = 2,
}

/** The class a priority falls in: > 0 Critical, 0 Standard, < 0 Sheddable (schema.ts criticalityOfPriority). */
export function criticalityOfPriority(priority: i32): Criticality {
  return priority > 0 ? Criticality.Critical : priority < 0 ? Criticality.Sheddable : Criticality.Standard;
}

/** A criticality on the priority scale (schema.ts CRITICALITY_PRIORITY): Critical 1, Standard 0, Sheddable -1. */
export function priorityOfCriticality(c: Criticality): i32 {
  return c == Criticality.Critical ? 1 : c == Criticality.Sheddable ? -1 : 0;
}

/** What the filter's metrics keep per pool or pod (gateway/routing-metrics.ts): its series are
 *  found once per table object, not per request. The table itself knows nothing of metrics. */
export abstract class MetricSlot {}

/** The ranges a pushed table's numbers must lie in: decode-table.ts checks them on a full decode,
 *  patch-loads.ts on a loads-only push, so the two can never accept different tables. */
export const MAX_LOAD_COUNT: f64 = 1e9; // waiting, running
export const MAX_SAFE_NUMBER: f64 = 9007199254740991; // generation, times in ms

export class Endpoint {
  slot: i32 = 0;
  name: string = "";
  address: string = "";
  /** The address in UTF-8, as the destination header carries it: encoded once per table, not per
   *  request (gateway/destination-header.ts). */
  addressUtf8: ArrayBuffer = new ArrayBuffer(0);
  ready: bool = false;
  role: Role = Role.Both;
  waiting: f64 = 0;
  running: f64 = 0;
  kvUsage: f64 = 0;
  loras: string[] = [];
  scrapeAgeMs: f64 = -1;
  /** P/D prefill pods: this pod's --disaggregation-bootstrap-port (its sglang.ai/bootstrap-port
   *  annotation); 0 = the pool's bootstrapPort. */
  bootstrapPort: i32 = 0;
  /** 16-bit hash of the address (prefix index entries carry it; see prefix/index-matcher.ts). */
  tag: u16 = 0;
  /** 64-bit hash of the address: the rendezvous weight's pod half (routing/plugins/rendezvous-picker.ts). */
  addressHash: u64 = 0;
  metrics: MetricSlot | null = null;
}

export class Pool {
  id: string = "";
  /** The id in UTF-8, as the pool header carries it (encoded once per table). */
  idUtf8: ArrayBuffer = new ArrayBuffer(0);
  strategy: Strategy = Strategy.Default;
  runtime: string = "vllm";
  blockSize: i32 = DEFAULT_BLOCK_SIZE;
  maxBlocks: i32 = DEFAULT_MAX_BLOCKS;
  lruCapacity: i32 = DEFAULT_LRU_CAPACITY;
  /** PREFIX_CACHE mode "feedback": the index learns from what pods report (responses' cached
   *  tokens) which of its entries still hold; "estimate": it trusts what was routed. */
  prefixFeedback: bool = DEFAULT_PREFIX_MODE == "feedback";
  queueEnabled: bool = false;
  queueCapacityBytes: f64 = DEFAULT_QUEUE_CAPACITY_BYTES;
  queueTtlMs: f64 = DEFAULT_QUEUE_TTL_MS;
  /** Streaming requests: how long a pod may take to send response headers before Envoy tries the
   *  next (a hung pod); 0 = no limit. Non-streaming requests have none (their headers come with the
   *  whole generation). */
  firstByteTimeoutMs: f64 = DEFAULT_FIRST_BYTE_TIMEOUT_MS;
  hasPd: bool = false;
  bootstrapPort: i32 = 0;
  /** Version 2 only: this pool also serves models it has no `models` entry for (GIE v1's
   *  InferencePool), with priority 0 (or the objective's) and these targets (empty = unchanged). */
  anyModel: bool = false;
  /** Bumped each time a push's loads are patched into this pool's endpoints (patch-loads.ts): what
   *  is computed once per Pool object from loads (routing/profile.ts, keptOf) is computed again. */
  loadsPatched: u32 = 0;
  anyTargets: TargetModel[] = [];
  anyTotalWeight: f64 = 0;
  /** InferenceObjectives of this pool: names (what x-gateway-inference-objective carries) and
   *  their priorities, side by side (a pool has a handful; a scan beats a map's code size). */
  objectiveNames: string[] = [];
  objectivePriorities: i32[] = [];
  /** P/D: each stage's routing strategy (InferenceTrafficPolicy prefillPolicyRef / decodePolicyRef). */
  prefillStrategy: Strategy = Strategy.Default;
  decodeStrategy: Strategy = Strategy.Default;
  endpoints: Endpoint[] = [];
  metrics: MetricSlot | null = null;

  /** Index of the objective named `name`, or -1. */
  findObjective(name: string): i32 {
    const ns = this.objectiveNames;
    for (let i = 0; i < ns.length; i++) if (unchecked(ns[i]) == name) return i;
    return -1;
  }
}

export class TargetModel {
  constructor(
    public name: string,
    public weight: f64,
  ) {}
}

export class Model {
  name: string = "";
  pool: Pool | null = null;
  /** The model's own priority (its objective's, else its criticality's, else 0). */
  priority: i32 = 0;
  criticality: Criticality = Criticality.Standard;
  targets: TargetModel[] = [];
  totalWeight: f64 = 0;
}

/** One HTTPRoute backendRef: a pool of this table, or an unresolved one (null) that answers 500. */
export class RouteBackend {
  constructor(
    public pool: Pool | null,
    public weight: f64,
    /** Why the pool is null (the 500's message). */
    public error: string,
  ) {}
}

/** One flattened HTTPRoute match (schema.ts TableRoute); route-match.ts says when a request matches. */
export class Route {
  /** "namespace/name#rule.match": what the log line names. */
  label: string = "";
  /** "" = any host; else lowercase, exact or (hostWildcard) the suffix after "*" (".example.com"). */
  host: string = "";
  hostWildcard: bool = false;
  pathExact: bool = false;
  /** Exact: the path. PathPrefix: the prefix ("/" matches every path). */
  path: string = "";
  /** Absent = any method. */
  method: string = "";
  /** Header matches (all must hold): lowercase names, exact values. */
  headerNames: string[] = [];
  headerValues: string[] = [];
  backends: RouteBackend[] = [];
}

export class Table {
  version: i32 = TABLE_VERSION;
  generation: f64 = 0;
  builtAtMs: f64 = 0;
  stalenessMs: f64 = 0;
  /** The control plane's hash of everything but the loads ("" from one that predates it): a push
   *  with the same topology only changes loads, which a worker patches in (patch-loads.ts). */
  topology: string = "";
  pools: Pool[] = [];
  models: Model[] = [];
  /** Version 2: the route entries in precedence order (the first match wins). */
  routes: Route[] = [];

  /** A version-2 table: requests are routed only through `routes`. */
  get hasRoutes(): bool {
    return this.version == TABLE_VERSION_ROUTES;
  }

  /** The first entry for a model name (version 1: the only one). */
  findModel(name: string): Model | null {
    const ms = this.models;
    for (let i = 0; i < ms.length; i++) if (ms[i].name == name) return ms[i];
    return null;
  }
  /** The entry for (model name, pool). */
  findModelIn(name: string, pool: Pool): Model | null {
    const ms = this.models;
    for (let i = 0; i < ms.length; i++) if (ms[i].pool === pool && ms[i].name == name) return ms[i];
    return null;
  }
  findPool(id: string): Pool | null {
    const ps = this.pools;
    for (let i = 0; i < ps.length; i++) if (ps[i].id == id) return ps[i];
    return null;
  }
}
