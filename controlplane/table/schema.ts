// The load table: the one contract between the control plane and the wasm filter.
// The control plane builds it (controlplane/table/builder.ts) and POSTs it as JSON to
// http://127.0.0.1:<control port>/infergate/v1/table with `Authorization: Bearer <token>`.
// The filter (assembly/table/) validates every field below, refuses a stale generation with 409,
// and keeps the last good table when a push is malformed (400). Field names are part of the wire
// format: change them on both sides or not at all.

export const TABLE_VERSION = 1;
/** Endpoint slots are indices into fixed shared-data counters in the filter: bounded by construction. */
export const MAX_SLOTS = 4096;

export type RoutingStrategy = "DEFAULT" | "PREFIX_CACHE";
export type Runtime = "vllm" | "sglang" | "trt-llm";
export type Criticality = "Critical" | "Standard" | "Sheddable";
/** P/D role of an endpoint; "both" when the pool is not P/D-disaggregated. */
export type EndpointRole = "both" | "prefill" | "decode";

export interface TableEndpoint {
  /** Stable per address while it stays in the table; index of the filter's in-flight counter. 0..MAX_SLOTS-1, unique in the table.
   *  (Control plane: unique per address. An address selected by two pools — overlapping selectors — carries the
   *  same slot in both, because the in-flight counter belongs to the pod, not to the pool. A freed slot is reused
   *  only after every never-used slot is taken.) */
  slot: number;
  /** Pod name (what the "Request Handled" log names). */
  name: string;
  /** "IP:port" written into x-gateway-destination-endpoint. IPv6 as "[::1]:8000". */
  address: string;
  /** Pod Ready and scrapes succeeding. Not-ready endpoints are never picked. */
  ready: boolean;
  role: EndpointRole;
  /** Requests waiting in the model server's own queue (vllm:num_requests_waiting, sglang:num_queue_reqs, ...). */
  waiting: number;
  /** Requests running in the model server's batch. */
  running: number;
  /** KV-cache use in [0,1]. */
  kvUsage: number;
  /** LoRA adapters loaded (running or waiting) on the pod, vLLM only. */
  loras: string[];
  /** Milliseconds since the last successful scrape when the table was built; -1 if never scraped. */
  scrapeAgeMs: number;
  /** What Envoy makes of the pod, when the control plane reads Envoy's admin (ready is false unless
   *  "ok", but for a pool's last pods when all are "ejected"). For operators (/debug/table); the
   *  filter reads `ready` only. */
  envoy?: "ok" | "absent" | "ejected" | "unhealthy";
}

export interface TablePool {
  /** "namespace/name": what models reference. */
  id: string;
  strategy: RoutingStrategy;
  runtime: Runtime;
  prefix: { blockSize: number; maxBlocks: number; lruCapacity: number };
  queue: { enabled: boolean; capacityBytes: number; ttlMs: number };
  /** Streaming requests: ms to response headers before Envoy tries the next pod (0 = no limit).
   *  Optional on the wire (the filter defaults to 10000). */
  firstByteTimeoutMs?: number;
  /** Present for SGLang P/D pools (InferenceTrafficPolicy profile.pd). */
  pd?: { bootstrapPort: number; prefillPolicy: RoutingStrategy; decodePolicy: RoutingStrategy };
  endpoints: TableEndpoint[];
}

export interface TableModel {
  /** InferenceModel spec.modelName: what the request's "model" must equal. */
  name: string;
  /** TablePool.id */
  pool: string;
  criticality: Criticality;
  /** Weighted target models; the request's "model" is rewritten to the picked one. Empty = unchanged. */
  targets: { name: string; weight: number }[];
}

export interface Table {
  version: typeof TABLE_VERSION;
  /** Strictly increasing; the filter refuses a lower or equal one (409). The control plane uses
   *  max(previous + 1, Date.now()) so a restarted control plane still outranks its last push. */
  generation: number;
  /** Epoch ms when built. */
  builtAtMs: number;
  /** Past builtAtMs + stalenessMs the filter uses the table for membership only; load comes from its own in-flight counts. */
  stalenessMs: number;
  pools: TablePool[];
  models: TableModel[];
}
