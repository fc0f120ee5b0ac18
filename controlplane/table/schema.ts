// The load table: the one contract between the control plane and the wasm filter.
// The control plane builds it (controlplane/table/builder.ts) and POSTs it as JSON to
// http://127.0.0.1:<control port>/infergate/v1/table with `Authorization: Bearer <token>`.
// The filter (assembly/table/) validates every field below, refuses a stale generation with 409,
// and keeps the last good table when a push is malformed (400). Field names are part of the wire
// format: change them on both sides or not at all.
//
// Two versions share this shape:
//   version 1: no `routes`. Every request is routed by its model name alone (`models`, one entry per
//              name), exactly as before Gateway API support. A filter that predates `priority`,
//              `objectives` and `anyModel` routes a version-1 table correctly: it ignores those
//              fields, and `criticality` always agrees with `priority` (see CRITICALITY_PRIORITY).
//   version 2: `routes` is present (a Gateway of a GatewayClass this control plane claims exists).
//              A request is routed only through the first route entry it matches, within that
//              entry's pools; `models` may hold one name for several pools (unique per (name, pool)).
//              A filter that does not implement routes must refuse it (its version check does: it
//              answers 400 and keeps its last table), because routing it by model name alone would
//              send requests where the HTTPRoutes say they must not go.
// The control plane emits version 2 exactly when `routes` is present, version 1 otherwise.

/** Version of tables without `routes`. */
export const TABLE_VERSION = 1;
/** Version of tables with `routes`. */
export const TABLE_VERSION_ROUTES = 2;
/** Endpoint slots are indices into fixed shared-data counters in the filter: bounded by construction. */
export const MAX_SLOTS = 4096;
/**
 * The largest values the filter accepts, mirroring assembly/table/decode-table.ts (decodeTable) and
 * MAX_LOAD_COUNT in assembly/table/table.ts: change them on both sides or not at all. One field past
 * its bound and the filter refuses the whole table (400), for every pool, so the control plane never
 * writes one: an annotation past it is refused like any other bad value, a scraped count is capped,
 * --staleness is checked at start.
 */
export const TABLE_MAX = Object.freeze({
  blockSize: 1048576,
  maxBlocks: 65536,
  lruCapacity: 10000000,
  firstByteTimeoutMs: 86400000,
  stalenessMs: 86400000,
  /** An endpoint's waiting and running. */
  loadCount: 1e9,
});

export type RoutingStrategy = "DEFAULT" | "PREFIX_CACHE";
export type Runtime = "vllm" | "sglang" | "trt-llm";
/** PREFIX_CACHE: trust what was routed, or also learn from responses' cached tokens. */
export type PrefixCacheMode = "estimate" | "feedback";
export type Criticality = "Critical" | "Standard" | "Sheddable";

/**
 * The seed InferenceModel's criticality on InferenceObjective's priority scale (GIE v1.x: an integer,
 * higher is served first, negative is sheddable, unset is 0). Critical is the lowest positive
 * priority, so an InferenceObjective with priority 2 or more outranks every seed Critical model.
 */
export const CRITICALITY_PRIORITY: Readonly<Record<Criticality, number>> = { Critical: 1, Standard: 0, Sheddable: -1 };
/** InferenceObjective priorities are int32 on the wire (GIE's EPP reads them as Go int; we bound them). */
export const MIN_PRIORITY = -2147483648;
export const MAX_PRIORITY = 2147483647;

/** The criticality a version-1 filter applies for a priority: > 0 Critical, 0 Standard, < 0 Sheddable. */
export function criticalityOfPriority(priority: number): Criticality {
  return priority > 0 ? "Critical" : priority < 0 ? "Sheddable" : "Standard";
}
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
  /** P/D prefill pods only, optional: the pod's own bootstrap port (its sglang.ai/bootstrap-port
   *  annotation), 1..65535; absent = the pool's pd.bootstrapPort. */
  bootstrapPort?: number;
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
  /** mode is optional on the wire (the filter defaults to "feedback"). */
  prefix: { blockSize: number; maxBlocks: number; lruCapacity: number; mode?: PrefixCacheMode };
  queue: { enabled: boolean; capacityBytes: number; ttlMs: number };
  /** Streaming requests: ms to response headers before Envoy tries the next pod (0 = no limit).
   *  Optional on the wire (the filter defaults to 10000). */
  firstByteTimeoutMs?: number;
  /** Present for SGLang P/D pools (InferenceTrafficPolicy profile.pd). */
  pd?: { bootstrapPort: number; prefillPolicy: RoutingStrategy; decodePolicy: RoutingStrategy };
  /**
   * Only in version-2 tables (with routes). Present: this pool, reached through a route, also serves
   * requests whose model has no `models` entry for this pool (the GIE v1 behaviour: an InferencePool
   * serves whatever its model servers serve), with the priority of the request's objective (header)
   * or 0, the model rewritten by `targets` (an InferenceModelRewrite rule with no `matches`) or left
   * unchanged when `targets` is empty. Absent: such a request gets 404 model_not_found (the seed's
   * behaviour: a model must be declared). The control plane sets it on a pool that no InferenceModel
   * names, and on any pool that has a match-all InferenceModelRewrite rule.
   */
  anyModel?: { targets: TableTarget[] };
  endpoints: TableEndpoint[];
}

/** A weighted model name; weights are integers 0..1000000, not all 0 within one list. */
export interface TableTarget {
  name: string;
  weight: number;
}

export interface TableModel {
  /** What the request's "model" must equal: an InferenceModel's spec.modelName, or the model an
   *  InferenceModelRewrite rule matches exactly. */
  name: string;
  /** TablePool.id. Version 1: `name` is unique in `models`. Version 2: (name, pool) is unique. */
  pool: string;
  /** Derived from `priority` (criticalityOfPriority), for version-1 filters. */
  criticality: Criticality;
  /**
   * Integer in MIN_PRIORITY..MAX_PRIORITY. The model's own priority: its InferenceObjective's (the one
   * with the InferenceModel's namespace and name, same pool) if there is one, else the
   * InferenceModel's criticality via CRITICALITY_PRIORITY, else 0 (a rewrite-only entry).
   * A request's priority, in both versions: the `objectives` entry (header value, the pool the
   * request is routed to) if there is one, else this, else 0 (a pool's `anyModel`). The queue
   * orders by it where it ordered by criticality: held requests are released highest priority
   * first, oldest first within one priority; a negative priority is what Sheddable is today
   * (refused with 429, reason "sheddable", when the pool is saturated and queueing is on).
   */
  priority: number;
  /** Weighted target models; the request's "model" is rewritten to the picked one. Empty = unchanged. */
  targets: TableTarget[];
}

/**
 * An InferenceObjective: a request carrying `x-gateway-inference-objective: <name>` and routed to
 * `pool` gets `priority` instead of its model's. (name, pool) is unique. A header naming no
 * objective of the chosen pool is ignored: the model's priority applies (GIE: "the default").
 */
export interface TableObjective {
  /** The InferenceObjective's metadata.name (what the header carries, compared exactly). */
  name: string;
  /** TablePool.id (the objective's spec.poolRef, in its namespace). */
  pool: string;
  /** spec.priority; 0 when unset. Same range and meaning as TableModel.priority. */
  priority: number;
}

/**
 * One HTTPRoute match, flattened: the control plane expands every (HTTPRoute, effective hostname,
 * rule, match) attached to a programmed listener of a claimed Gateway into one entry and sorts the
 * entries by the Gateway API's precedence (hostname: most characters of a non-wildcard hostname,
 * then most characters; then Exact path before PathPrefix, longer prefix first; then a method
 * match; then more header matches; then the oldest HTTPRoute, then "namespace/name" alphabetically;
 * then rule order, then match order). The filter takes the FIRST entry that matches the request.
 *
 * A request matches an entry when all of these hold:
 *  - `host` absent, or the request's host (:authority, lowercased, without ":port") equals `host`,
 *    or `host` is "*.suffix" and the request host ends with ".suffix" (one or more labels in front;
 *    "*.example.com" matches "a.example.com" and "a.b.example.com", not "example.com");
 *  - path (:path up to the first "?" or "#", compared byte for byte, case-sensitive):
 *    `Exact`: equal to `value`. `PathPrefix`: `value` is "/", or the path equals `value`, or the path
 *    starts with `value` + "/" (element-wise: "/v1" matches "/v1", "/v1/chat/completions", not "/v1x").
 *    The control plane strips a trailing "/" from PathPrefix values (other than "/");
 *  - `method` absent, or equal to :method (uppercase, exact);
 *  - every `headers` entry: the request has a header `name` (lowercase on the wire; compare
 *    case-insensitively) whose value equals `value` exactly. (Header and path RegularExpression
 *    matches and query-parameter matches are not supported: the control plane drops such rules and
 *    reports them in the HTTPRoute's status, PartiallyInvalid / Accepted=False UnsupportedValue.)
 *
 * No entry matches → 404, OpenAI-shaped, code "route_not_found" (Gateway API: "When no rules
 * matching a request have been successfully attached to the parent a request is coming from, a HTTP
 * 404 status code MUST be returned"). The filter's own GET /health is answered before route matching
 * (it is the gateway's health, not a model API); everything else, GET /v1/models included, needs a
 * matching entry (/v1/models then lists the models of that entry's pools).
 */
export interface TableRoute {
  /** The HTTPRoute, "namespace/name", and indexes of the rule and of the match in it: for logs. */
  route: string;
  rule: number;
  match: number;
  /** Absent = any host. Lowercase; exact, or a "*." wildcard (see above). */
  host?: string;
  path: { type: "PathPrefix" | "Exact"; value: string };
  /** Absent = any method. */
  method?: string;
  /** All must match (AND). Possibly empty. Names lowercase, unique within the entry. */
  headers: { name: string; value: string }[];
  /**
   * The rule's backendRefs, in order; possibly empty (a rule without backendRefs). Picking, once the
   * body is parsed and the model is known:
   *  1. `backends` empty → 500 (Gateway API: a rule that forwards nowhere answers 500);
   *  2. candidates = the backends with `pool` null (invalid ones keep their share of traffic, as the
   *     Gateway API requires) plus the backends whose pool can serve the model (there is a `models`
   *     entry (model, pool), or the pool has `anyModel`);
   *  3. no candidate → 404 model_not_found (none of the route's pools serves this model);
   *  4. the candidates' weights sum to 0 → 500 (nothing may receive the request);
   *  5. pick one candidate at random in proportion to `weight`; its `pool` null → 500 with its
   *     `error` as the message; else that pool routes the request as before (its model entry, or
   *     `anyModel`, for priority and target rewrite; then endpoints, strategy, queue).
   */
  backends: TableRouteBackend[];
}

export interface TableRouteBackend {
  /** TablePool.id, always a pool of this table; null for a backendRef that could not be resolved. */
  pool: string | null;
  /** backendRef weight, integer 0..1000000 (default 1). */
  weight: number;
  /** Only when pool is null: why (e.g. "InferencePool default/x not found"), for the 500's message. */
  error?: string;
}

/** The endpoint fields that change from one scrape round to the next: exactly what the filter
 *  patches into a table of the same topology (assembly/table/patch-loads.ts). */
export const LOAD_FIELDS: readonly string[] = ["waiting", "running", "kvUsage", "scrapeAgeMs"];

export interface Table {
  /** TABLE_VERSION without `routes`, TABLE_VERSION_ROUTES with. */
  version: typeof TABLE_VERSION | typeof TABLE_VERSION_ROUTES;
  /** Strictly increasing; the filter refuses a lower or equal one (409). The control plane uses
   *  max(previous + 1, Date.now()) so a restarted control plane still outranks its last push. */
  generation: number;
  /** Epoch ms when built. */
  builtAtMs: number;
  /** Past builtAtMs + stalenessMs the filter uses the table for membership only; load comes from its own in-flight counts. */
  stalenessMs: number;
  /** A hash of the table without generation, build time and LOAD_FIELDS: a push whose topology the
   *  filter already holds only changed loads, which its workers patch in instead of decoding the
   *  whole table again. Optional: a table without it is always decoded in full. */
  topology?: string;
  pools: TablePool[];
  models: TableModel[];
  /** Every InferenceObjective whose pool is in `pools`; always present (possibly empty). A filter
   *  treats an absent list as empty. */
  objectives: TableObjective[];
  /** Present exactly in version 2 (see the top of this file): the route entries in precedence
   *  order. Empty: the claimed Gateways have no route attached; every request gets 404. */
  routes?: TableRoute[];
}
