// The InferencePool annotations of the seed ("Customize routing", 004_*), each with the seed's name,
// type and default. Parsing is pure and keyed on the previous good settings of the same pool, so an
// invalid value never takes effect: that one setting keeps its last good value (or the default if
// there never was one) and a problem says which annotation, which value, and why. Removing an
// annotation is valid and reverts that setting to its default, like the managed gateway does.

import { type PrefixCacheMode, type RoutingStrategy, type Runtime, TABLE_MAX } from "../table/schema.js";
import { DurationError, nanosToMillisCeil, parseGoDuration } from "./duration.js";

export const ANNOTATION = {
  routingStrategy: "inference.networking.x-k8s.io/routing-strategy",
  hashBlockSize: "inference-epp-env.networking.x-k8s.io/prefix-cache-hash-block-size",
  maxPrefixBlocks: "inference-epp-env.networking.x-k8s.io/prefix-cache-max-prefix-blocks",
  lruCapacity: "inference-epp-env.networking.x-k8s.io/prefix-cache-lru-capacity",
  queueing: "inference.networking.x-k8s.io/queueing",
  totalQueueCapacity: "inference-epp-env.networking.x-k8s.io/total-queue-capacity",
  queueTtl: "inference-epp-env.networking.x-k8s.io/queue-ttl",
  modelServerRuntime: "inference.networking.x-k8s.io/model-server-runtime",
  eppOverlay: "inference.networking.x-k8s.io/epp-overlay",
  // Ours (not in the seed): how long a pod may take to start answering a streaming request (its
  // response headers) before Envoy tries the next pod; "0s" turns it off.
  firstByteTimeout: "infergate.dev/first-byte-timeout",
  // Ours: PREFIX_CACHE trusts what it routed ("estimate") or also learns from every response what
  // the pod really had cached ("feedback").
  prefixCacheMode: "infergate.dev/prefix-cache-mode",
} as const;

/** Everything the annotations decide for one pool. */
export interface PoolSettings {
  strategy: RoutingStrategy;
  runtime: Runtime;
  prefix: { blockSize: number; maxBlocks: number; lruCapacity: number; mode: PrefixCacheMode };
  queue: { enabled: boolean; capacityBytes: number; ttlMs: number };
  /** Streaming requests: time to response headers before the next pod is tried (0 = no limit). */
  firstByteTimeoutMs: number;
  /** ConfigMap named by epp-overlay. Carried for /debug only: it overrides the managed EPP's Deployment,
   *  and this gateway has no EPP Deployment to override (the picker runs inside Envoy). */
  eppOverlay: string | null;
}

/** The seed's defaults (004_*: block size 64, max blocks 128, LRU 50000, capacity 104857600 bytes, TTL 30s). */
export const DEFAULT_POOL_SETTINGS: Readonly<PoolSettings> = Object.freeze({
  strategy: "DEFAULT",
  runtime: "vllm",
  prefix: Object.freeze({ blockSize: 64, maxBlocks: 128, lruCapacity: 50000, mode: "feedback" as PrefixCacheMode }),
  queue: Object.freeze({ enabled: false, capacityBytes: 104857600, ttlMs: 30000 }),
  firstByteTimeoutMs: 10000,
  eppOverlay: null,
}) as PoolSettings;

export interface AnnotationProblem {
  annotation: string;
  value: string;
  message: string;
  /** What is in force instead. */
  kept: string;
}

export interface ParsedAnnotations {
  settings: PoolSettings;
  problems: AnnotationProblem[];
}

/** Like Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits, nothing else (no spaces, no
 *  underscores, no "1e3"). Values are also bounded to what JSON numbers carry exactly. */
export function parseInt64(value: string): number {
  if (!/^[+-]?[0-9]+$/.test(value)) throw new Error("not a base-10 int64 (digits with an optional sign)");
  const n = BigInt(value);
  if (n > 9223372036854775807n || n < -9223372036854775808n) throw new Error("out of int64 range");
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`too large (max ${Number.MAX_SAFE_INTEGER})`);
  if (n < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error("too small");
  return Number(n);
}

function positiveInt64(value: string): number {
  const n = parseInt64(value);
  if (n < 1) throw new Error("must be at least 1");
  return n;
}

/** A positive int64 the filter accepts: past `max` it would refuse the whole table (TABLE_MAX). */
function positiveInt64UpTo(max: number) {
  return (value: string): number => {
    const n = positiveInt64(value);
    if (n > max) throw new Error(`must be at most ${max} (the filter's limit)`);
    return n;
  };
}

function oneOf<T extends string>(allowed: readonly T[]) {
  return (value: string): T => {
    const v = value.trim();
    const hit = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
    if (!hit) throw new Error(`must be one of ${allowed.join(", ")}`);
    return hit;
  };
}

export const parseStrategy = oneOf<RoutingStrategy>(["DEFAULT", "PREFIX_CACHE"]);
export const parseRuntime = oneOf<Runtime>(["vllm", "sglang", "trt-llm"]);
const parsePrefixCacheMode = oneOf<PrefixCacheMode>(["estimate", "feedback"]);
const parseQueueing = (value: string): boolean => oneOf(["enabled", "disabled"] as const)(value) === "enabled";

function parseDurationNs(value: string): bigint {
  try {
    return parseGoDuration(value.trim());
  } catch (e) {
    throw new Error(
      e instanceof DurationError
        ? `${e.message} (Go duration: e.g. 300ms, 1.5h, 2h45m; units ns, us, µs, ms, s, m, h)`
        : String(e),
    );
  }
}

function parseTimeoutMs(value: string): number {
  const ns = parseDurationNs(value);
  if (ns < 0n) throw new Error("must not be negative");
  const ms = nanosToMillisCeil(ns);
  if (ms > TABLE_MAX.firstByteTimeoutMs)
    throw new Error(`must be at most ${TABLE_MAX.firstByteTimeoutMs / 3600000}h (the filter's limit)`);
  return ms;
}

function parseTtlMs(value: string): number {
  const ns = parseDurationNs(value);
  if (ns <= 0n) throw new Error("must be positive");
  return nanosToMillisCeil(ns);
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
function parseConfigMapName(value: string): string {
  const v = value.trim();
  if (v.length === 0 || v.length > 253 || !DNS1123_SUBDOMAIN.test(v)) {
    throw new Error(
      "must be a ConfigMap name (RFC 1123 subdomain: lowercase letters, digits, '-', '.', at most 253 characters)",
    );
  }
  return v;
}

/**
 * Reads a pool's annotations. `previous` is the last settings that were in force for this pool
 * (undefined for a new pool): an invalid annotation keeps that value.
 */
export function parsePoolAnnotations(
  annotations: Record<string, string> | undefined,
  previous?: PoolSettings,
): ParsedAnnotations {
  const a = annotations ?? {};
  const prev = previous ?? DEFAULT_POOL_SETTINGS;
  const problems: AnnotationProblem[] = [];
  const read = <T>(key: string, parse: (v: string) => T, dflt: T, last: T): T => {
    const raw = a[key];
    if (raw === undefined) return dflt; // absent: the default is in force
    try {
      return parse(String(raw));
    } catch (e) {
      problems.push({
        annotation: key,
        value: String(raw),
        message: (e as Error).message,
        kept: previous ? `last good value ${JSON.stringify(last)}` : `default ${JSON.stringify(dflt)}`,
      });
      return last;
    }
  };
  const D = DEFAULT_POOL_SETTINGS;
  const settings: PoolSettings = {
    strategy: read(ANNOTATION.routingStrategy, parseStrategy, D.strategy, prev.strategy),
    runtime: read(ANNOTATION.modelServerRuntime, parseRuntime, D.runtime, prev.runtime),
    prefix: {
      blockSize: read(
        ANNOTATION.hashBlockSize,
        positiveInt64UpTo(TABLE_MAX.blockSize),
        D.prefix.blockSize,
        prev.prefix.blockSize,
      ),
      maxBlocks: read(
        ANNOTATION.maxPrefixBlocks,
        positiveInt64UpTo(TABLE_MAX.maxBlocks),
        D.prefix.maxBlocks,
        prev.prefix.maxBlocks,
      ),
      lruCapacity: read(
        ANNOTATION.lruCapacity,
        positiveInt64UpTo(TABLE_MAX.lruCapacity),
        D.prefix.lruCapacity,
        prev.prefix.lruCapacity,
      ),
      mode: read(ANNOTATION.prefixCacheMode, parsePrefixCacheMode, D.prefix.mode, prev.prefix.mode),
    },
    queue: {
      enabled: read(ANNOTATION.queueing, parseQueueing, D.queue.enabled, prev.queue.enabled),
      capacityBytes: read(
        ANNOTATION.totalQueueCapacity,
        positiveInt64,
        D.queue.capacityBytes,
        prev.queue.capacityBytes,
      ),
      ttlMs: read(ANNOTATION.queueTtl, parseTtlMs, D.queue.ttlMs, prev.queue.ttlMs),
    },
    firstByteTimeoutMs: read(
      ANNOTATION.firstByteTimeout,
      parseTimeoutMs,
      D.firstByteTimeoutMs,
      prev.firstByteTimeoutMs,
    ),
    eppOverlay: read(ANNOTATION.eppOverlay, parseConfigMapName, D.eppOverlay, prev.eppOverlay),
  };
  return { settings, problems };
}
