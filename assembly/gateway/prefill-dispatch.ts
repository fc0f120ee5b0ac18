// The prefill half of an SGLang P/D request. The decode half is the client's own stream, sent on
// through Envoy's router as any request is; the prefill half is the filter's own HTTP call
// (proxy_http_call) with the same body to the prefill pod: through Envoy's internal listener
// `infergate_prefill` (prefill-leg.ts: so that it can be cancelled) and on through the same
// `infergate_pods` cluster, whose override_host policy reads x-gateway-destination-endpoint from the
// call's headers as it does from a client's, so the prefill pod has its connection pool, outlier
// detection and health checks like every request. No x-infergate-pool: past the one listed pod the
// subset fallback has no pool to pick from and the call fails rather than reach any other pod.
//
// The call is dispatched before the decode request continues, so the prefill starts first. Its
// answer (one token; SGLang's prefill server ends there) is consumed here: a success only fills in
// the log line; a failure (no answer, timeout, a 5xx) answers the client at once with an
// OpenAI-shaped error, since the decode pod would otherwise wait for the room until its own
// bootstrap timeout (minutes). Envoy resets the decode upstream when a stream is answered locally
// before the pod's response headers, so the decode pod stops waiting too.
//
// A client that goes away: Envoy resets the decode request, and the gateway stream's end closes the
// prefill's leg (proxy-wasm cannot cancel a call; the call belongs to the root context), so Envoy
// resets the request to the prefill pod as well.
import { RequestLog } from "../core/request-log";
import { readUsage, Usage } from "../core/usage";
import {
  Buffer,
  getBufferRaw,
  getHeader,
  HeaderMap,
  httpCall,
  LogLevel,
  log,
  nowNanos,
  setEffectiveContext,
} from "../host/abi";
import { sendError } from "../host/local-reply";
import { Endpoint, Pool } from "../table/table";
import { inflight } from "../vm";
import { logHandled } from "./handled-log";
import { cancelPrefillLeg, ROOM_HEADER } from "./prefill-leg";
import { poolLabel, routingMetrics } from "./routing-metrics";

/** Envoy's internal listener in front of infergate_pods (prefill-leg.ts: how a call is cancelled). */
export const PREFILL_CLUSTER = "infergate_prefill";
const DESTINATION_HEADER = "x-gateway-destination-endpoint";
/** Bytes of the prefill answer's end read for its usage. */
const TAIL_BYTES: u32 = 1024;

/** What the gateway's stream needs to hear about its prefill. */
export abstract class PrefillWaiter {
  /** The pod's response headers reached the client (nothing can be answered instead any more). */
  abstract responded(): bool;
  /** Answer the client with this error instead of the decode pod's response. */
  abstract failPrefill(status: i32, message: string, code: string): void;
}

class PendingPrefill {
  constructor(
    public token: u32,
    public streamId: u32,
    public waiter: PrefillWaiter | null,
    public pod: Endpoint,
    public pool: Pool,
    public record: RequestLog,
    public startNs: u64,
  ) {}
  /** The stream's log line, when its response ended before the prefill answered. */
  deferred: bool = false;
  /** The client went away and the prefill was cancelled. */
  cancelled: bool = false;
}

/** Every prefill call in flight on this worker (one per root: calls are the root's). */
export class PrefillCalls {
  private pending: Map<u32, PendingPrefill> = new Map<u32, PendingPrefill>();

  get size(): i32 {
    return this.pending.size;
  }

  /**
   * Sends `body` to the prefill pod. The pod's in-flight place was taken by the decision and is
   * given back when the call ends. Returns the token, 0 when Envoy refused the call (then the place
   * is given back at once).
   */
  dispatch(
    streamId: u32,
    waiter: PrefillWaiter,
    pod: Endpoint,
    pool: Pool,
    path: string,
    authority: string,
    requestId: string,
    body: ArrayBuffer,
    record: RequestLog,
    timeoutMs: i32,
  ): u32 {
    const names = [":method", ":path", ":authority", "content-type", DESTINATION_HEADER, ROOM_HEADER];
    const values = ["POST", path, authority, "application/json", pod.address, record.bootstrapRoom];
    if (requestId.length > 0) {
      names.push("x-request-id");
      values.push(requestId);
    }
    const token = httpCall(PREFILL_CLUSTER, names, values, body, <u32>timeoutMs);
    if (token == 0) {
      inflight.add(pod.slot, -1);
      return 0;
    }
    this.pending.set(token, new PendingPrefill(token, streamId, waiter, pod, pool, record, nowNanos()));
    routingMetrics.podSeries(pool, pod).sent();
    return token;
  }

  /**
   * The stream is over: nothing is to be answered on it. When it ended before its response did
   * (the client went away, a reset), the prefill is cancelled too: its leg is closed, Envoy resets
   * the request to the prefill pod, and the call ends (answered to onResponse) right away.
   */
  streamDone(token: u32, cancel: bool): void {
    if (!this.pending.has(token)) return;
    const p = this.pending.get(token);
    p.waiter = null;
    if (cancel && cancelPrefillLeg(p.record.bootstrapRoom)) p.cancelled = true;
  }

  /**
   * The stream's response ended while its prefill has not answered yet: its log line waits for the
   * prefill's figures. Returns false when the prefill is over (write the line now).
   */
  deferLog(token: u32): bool {
    if (!this.pending.has(token)) return false;
    this.pending.get(token).deferred = true;
    return true;
  }

  /** The prefill pod's answer (headers 0: none, the call failed or timed out). */
  onResponse(token: u32, headers: u32, bodySize: u32): void {
    if (!this.pending.has(token)) return;
    const p = this.pending.get(token);
    this.pending.delete(token);
    inflight.add(p.pod.slot, -1);
    routingMetrics.podSeries(p.pool, p.pod).inFlightAdd(-1);
    const l = p.record;
    l.prefillMs = <i64>((nowNanos() - p.startNs) / 1000000);
    let status = 0;
    if (headers > 0) {
      const s = getHeader(HeaderMap.HttpCallResponseHeaders, ":status");
      status = s === null ? 0 : I32.parseInt(s);
    }
    l.prefillStatus = status;
    if (status == 200 && bodySize > 0) this.readUsage(l, bodySize, p.pool);
    if (p.cancelled) l.prefillCancelled = true;
    else if (status != 200) {
      routingMetrics.rejections.add(poolLabel(p.pool.id) + ".code.prefill_failed");
      const waiter = p.waiter;
      if (waiter !== null && !waiter.responded()) {
        setEffectiveContext(p.streamId);
        if (status >= 400 && status < 500) {
          // The pod refused the request itself (the decode pod would too): its status, its words.
          const b = getBufferRaw(Buffer.HttpCallResponseBody, 0, bodySize);
          const text = b.len > 0 ? String.UTF8.decode(b.toArrayBuffer()) : "";
          b.free();
          waiter.failPrefill(status, "prefill pod " + p.pod.name + " refused the request: " + text, "prefill_refused");
        } else {
          // A 503 may be the pod's or Envoy's own (it could not connect): either way no KV comes.
          const why = status == 0 ? "no answer (reset or timed out)" : "HTTP " + status.toString();
          waiter.failPrefill(
            502,
            "prefill on pod " +
              p.pod.name +
              " (" +
              p.pod.address +
              ") failed: " +
              why +
              "; the request was not decoded",
            "prefill_failed",
          );
        }
      }
      log(
        LogLevel.Warn,
        "infergate: prefill of room " + l.bootstrapRoom + " on " + p.pod.name + " failed: status " + status.toString(),
      );
    }
    if (p.deferred) logHandled(l, false); // its stream is over: Envoy's own log
  }

  private readUsage(l: RequestLog, bodySize: u32, pool: Pool): void {
    const take = min(bodySize, TAIL_BYTES);
    const b = getBufferRaw(Buffer.HttpCallResponseBody, bodySize - take, take);
    const u = readUsage(b.ptr, b.len, new Usage());
    b.free();
    // SGLang (--enable-cache-report) reports a miss as null rather than 0.
    if (u.detailsNull && pool.runtime == "sglang") u.cachedTokens = 0;
    if (u.promptTokens < 0) return;
    l.prefillPromptTokens = u.promptTokens;
    l.prefillCachedTokens = u.cachedTokens;
  }
}

/** The OpenAI-shaped error a failed prefill is answered with. */
export function sendPrefillError(status: i32, message: string, code: string): void {
  if (status >= 500) sendError(status, message, code, "", ["retry-after"], ["1"]);
  else sendError(status, message, code, "");
}
