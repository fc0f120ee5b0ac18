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

export const TABLE_VERSION: i32 = 1;
export const MAX_SLOTS: i32 = 4096;

export enum Strategy {
  Default = 0,
  PrefixCache = 1,
}
export enum Role {
  Both = 0,
  Prefill = 1,
  Decode = 2,
}
/** Queue classes, most critical first; a held request is dispatched by class, then age. */
export const CRITICALITY_CLASSES: i32 = 3;
export enum Criticality {
  Critical = 0,
  Standard = 1,
  Sheddable = 2,
}

export class Endpoint {
  slot: i32 = 0;
  name: string = "";
  address: string = "";
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
}

export class Pool {
  id: string = "";
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
  /** P/D: each stage's routing strategy (InferenceTrafficPolicy prefillPolicyRef / decodePolicyRef). */
  prefillStrategy: Strategy = Strategy.Default;
  decodeStrategy: Strategy = Strategy.Default;
  endpoints: Endpoint[] = [];
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
  criticality: Criticality = Criticality.Standard;
  targets: TargetModel[] = [];
  totalWeight: f64 = 0;
}

export class Table {
  generation: f64 = 0;
  builtAtMs: f64 = 0;
  stalenessMs: f64 = 0;
  pools: Pool[] = [];
  models: Model[] = [];

  findModel(name: string): Model | null {
    const ms = this.models;
    for (let i = 0; i < ms.length; i++) if (ms[i].name == name) return ms[i];
    return null;
  }
  findPool(id: string): Pool | null {
    const ps = this.pools;
    for (let i = 0; i < ps.length; i++) if (ps[i].id == id) return ps[i];
    return null;
  }
}
