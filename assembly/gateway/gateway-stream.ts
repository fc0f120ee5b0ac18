// One request on the public listener. Host glue only: it reads headers and the body, hands the
// body to the decision core, and carries out the Outcome (destination header, body rewrite, log
// line, local reply, pause in the queue). Lifecycle:
//   headers -> buffer body -> decide -> [held in the queue -> decide again] -> forwarded | replied

import { HeldChoice } from "../core/decision-core";
import { DestinationList } from "../core/destination-list";
import { Outcome, OutcomeKind, PrefixPrediction } from "../core/outcome";
import { bootstrapFields, bootstrapHost, pdBody } from "../core/pd-body";
import { Dispatch } from "../core/queue-dispatcher";
import { RequestLog } from "../core/request-log";
import { RouteRequest } from "../core/route-match";
import { cachedBlocks, TAIL_BYTES, Usage, UsageTail } from "../core/usage";
import {
  Buffer,
  continueStream,
  GrowingBytes,
  getBufferRaw,
  getHeader,
  getProperty,
  HeaderMap,
  LogLevel,
  log,
  nowNanos,
  propertyPath,
  removeHeader,
  replaceHeader,
  replaceHeaderBytes,
  StreamType,
  sendLocalResponse,
  setBufferBytes,
  setEffectiveContext,
} from "../host/abi";
import { HostClock } from "../host/clock";
import { noteBytes } from "../host/collector";
import { DataStatus, HeadersStatus, Stream } from "../host/contexts";
import { sendError } from "../host/local-reply";
import { jsonQuote } from "../json/quote";
import { RoutedChain } from "../prefix/routed-chain";
import { Endpoint as ApiEndpoint } from "../request/openai";
import { Endpoint, Pool } from "../table/table";
import { inflight, poolStates, tables } from "../vm";
import { Answer, healthAnswer, modelsAnswer } from "./answers";
import { GatewayRoot } from "./gateway-root";
import { logHandled } from "./handled-log";
import { RouteKind, routeInHeadersPhase } from "./http-routes";
import { PREFILL_CLUSTER, PrefillWaiter, sendPrefillError } from "./prefill-dispatch";
import { RequestHeaders } from "./request-headers";
import { podLabels, poolLabel, routingMetrics } from "./routing-metrics";

/** primary,fallback1,... ("IP:port" each): Envoy's override_host policy tries them in order. */
export const DESTINATION_HEADER = "x-gateway-destination-endpoint";
/** The pool, so Envoy's fallback past the listed pods stays inside it (header_to_metadata). */
export const POOL_HEADER = "x-infergate-pool";
/**
 * Marks a P/D request's decode half, which Envoy's route for it (envoy/bootstrap.yaml) retries only
 * when the request never reached the pod: a decode pod that took the room's KV and then failed
 * cannot hand it to another (the KV is sent once), which would wait for it until its bootstrap
 * timeout. The route strips it before the pod.
 */
export const PD_DECODE_HEADER = "x-infergate-pd";
/** Envoy's per-attempt timeout: for streams, the pool's first-byte timeout (a hung pod). */
export const PER_TRY_TIMEOUT_HEADER = "x-envoy-upstream-rq-per-try-timeout-ms";
export const QUEUE_REASON_HEADER = "x-infergate-queue-reason";

// Header names and the property path sent on every routed request, encoded once.
const DESTINATION_KEY = String.UTF8.encode(DESTINATION_HEADER);
const POOL_KEY = String.UTF8.encode(POOL_HEADER);
const PD_DECODE_KEY = String.UTF8.encode(PD_DECODE_HEADER);
/** The worker's destination header value, rebuilt per routed request (the VM is single-threaded). */
const destinationList = new DestinationList();
const hostClock = new HostClock();
const PER_TRY_TIMEOUT_KEY = String.UTF8.encode(PER_TRY_TIMEOUT_HEADER);
const CONTENT_LENGTH_KEY = String.UTF8.encode("content-length");
const UPSTREAM_ADDRESS = propertyPath(["upstream", "address"]);
const ATTEMPT_COUNT_HEADER = "x-envoy-attempt-count";
/** When this worker last warned that Envoy refused a prefill call (ms; the warning is rate-limited). */
let refusedPrefillWarnedMs: f64 = -Infinity;

enum Phase {
  Headers,
  Body,
  Queued,
  Forwarded,
  Replied,
}

export class GatewayStream extends Stream {
  root: GatewayRoot;
  phase: Phase = Phase.Headers;
  api: ApiEndpoint = ApiEndpoint.ChatCompletions;
  /** In-flight slot held by this request, released once in onDone. */
  slot: i32 = -1;
  /** Where it was sent: the chosen pod then its fallbacks (Envoy may have used a fallback). */
  targets: Endpoint[] = [];
  /** The routed request's log record, written when its response ends (with what the pod said). */
  record: RequestLog | null = null;
  pool: Pool | null = null;
  /** Feedback mode: what was predicted, and the response's last bytes (its usage). */
  prediction: PrefixPrediction = new PrefixPrediction();
  usageTail: UsageTail | null = null;
  /** The pod serving it (the chosen one, or the fallback Envoy retried on). */
  servedBy: Endpoint | null = null;
  /** PREFIX_CACHE with fallbacks: the prompt's chain, recorded for a fallback that answers. */
  chain: RoutedChain | null = null;
  /** The request body, copied as it arrives into raw memory (freed once forwarded, replied or done). */
  raw: GrowingBytes = new GrowingBytes(0, 0);
  /** The declared Content-Length (0: none): the body copy never reserves room past it. */
  expect: i32 = 0;
  /** When the full body arrived (ns). */
  t0: u64 = 0;
  /** Method, path, the headers read so far and the route entry matched (version-2 tables). */
  request: RouteRequest = new RouteRequest();
  /** The request's headers, read in the headers phase (again when offered from the queue; freed
   *  once held, forwarded, replied or done). */
  headers: RequestHeaders = new RequestHeaders();
  /** While held: when it was held (ms), and its pool, target model and priority chosen on arrival. */
  queuedAtMs: f64 = -1;
  held: HeldChoice | null = null;
  /** P/D: the prefill call's token (0: a whole request), and whether the decode pod's response
   *  headers reached the client (after that a failed prefill changes nothing). */
  prefillToken: u32 = 0;
  responded: bool = false;

  constructor(id: u32, root: GatewayRoot) {
    super(id);
    this.root = root;
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    // A client must never choose the pod (nor the pool Envoy falls back within): forward() replaces
    // both headers (P/D removes the pool's), and nothing reaches a pod without passing there, so
    // they are not removed here (two host calls on every request).
    const headers = this.headers;
    headers.load();
    const method = headers.read(":method");
    const path = headers.read(":path");
    const req = this.request;
    req.reset(headers, method === null ? "" : method, path === null ? "/" : path);
    const route = routeInHeadersPhase(tables, req, hostClock);
    if (route.kind == RouteKind.Refuse) {
      if (route.allow.length > 0) this.reply(route.status, route.message, route.code, "", ["allow"], [route.allow]);
      else this.reply(route.status, route.message, route.code);
    } else if (route.kind == RouteKind.Health) {
      this.answer(healthAnswer(tables.current()), "infergate_health");
    } else if (route.kind == RouteKind.Models) {
      this.answer(modelsAnswer(tables.last(), req.route), "infergate_models");
    } else if (endOfStream) {
      this.reply(400, "request body is empty: expected a JSON object", "invalid_request");
    } else if (this.declaredTooLarge()) {
      // Refused before a byte of the body is buffered.
    } else {
      this.api = route.api;
      this.phase = Phase.Body;
    }
    return HeadersStatus.StopIteration;
  }

  /** A Content-Length over the limit is answered 413 in the headers phase; true when it was. */
  private declaredTooLarge(): bool {
    const cl = this.headers.read("content-length");
    if (cl === null) return false;
    const limit = this.root.config.maxBodyBytes;
    // Digits only (Envoy's codec already refused a malformed one); longer than 10 digits is over any limit.
    const n = cl.length > 10 ? <f64>Infinity : parseFloat(cl);
    if (!(n > <f64>limit)) {
      if (n > 0) this.expect = <i32>n;
      return false;
    }
    this.tooLarge(cl);
    return true;
  }

  private tooLarge(size: string): void {
    this.reply(
      413,
      "request body of " + size + " bytes exceeds the limit of " + this.root.config.maxBodyBytes.toString() + " bytes",
      "body_too_large",
    );
  }

  onRequestBody(bodySize: u32, endOfStream: bool): DataStatus {
    if (this.phase != Phase.Body)
      return this.phase == Phase.Forwarded ? DataStatus.Continue : DataStatus.StopIterationNoBuffer;
    const limit = this.root.config.maxBodyBytes;
    if (<i64>bodySize > <i64>limit) {
      this.reply(
        413,
        "request body of at least " +
          bodySize.toString() +
          " bytes exceeds the limit of " +
          limit.toString() +
          " bytes",
        "body_too_large",
      );
      return DataStatus.StopIterationNoBuffer;
    }
    if (!endOfStream) {
      if (this.raw.appendUpTo(Buffer.HttpRequestBody, <i32>bodySize, this.expect, false))
        return DataStatus.StopIterationAndBuffer;
      this.unreadable();
      return DataStatus.StopIterationNoBuffer;
    }
    this.t0 = nowNanos();
    if (!this.raw.appendUpTo(Buffer.HttpRequestBody, <i32>bodySize, this.expect, true)) {
      this.unreadable();
      return DataStatus.StopIterationNoBuffer;
    }
    noteBytes(this.raw.len);
    const o = this.root.core.decide(this.raw.ptr, this.raw.len, this.api, this.t0, this.request);
    if (o.kind == OutcomeKind.Routed)
      return this.forward(o, this.t0) ? DataStatus.Continue : DataStatus.StopIterationNoBuffer;
    if (o.kind == OutcomeKind.Reject) {
      this.replyOutcome(o);
      return DataStatus.StopIterationNoBuffer;
    }
    return this.hold(o) ? DataStatus.StopIterationAndBuffer : DataStatus.StopIterationNoBuffer;
  }

  private unreadable(): void {
    this.reply(500, "the gateway could not read the request body from Envoy", "internal_error");
  }

  /** Pauses in the queue; false (and answered) when the request alone exceeds its capacity. */
  private hold(o: Outcome): bool {
    const pool = o.pool!;
    const nowMs = <f64>(this.t0 / 1000000);
    const held = this.root.dispatcher.hold(
      this.root.queueHost,
      this.id,
      pool,
      o.log.model,
      o.priority,
      this.raw.len,
      nowMs,
    );
    setEffectiveContext(this.id); // paying queue debt may have answered other streams
    if (!held) {
      this.root.queueHost.metrics.dropped.add(poolLabel(pool.id));
      this.replyQueued(
        429,
        "request of " +
          this.raw.len.toString() +
          " bytes is larger than the total queue capacity of " +
          (<i64>pool.queueCapacityBytes).toString() +
          " bytes",
        "queue_capacity_exceeded",
        "capacity",
      );
      return false;
    }
    this.phase = Phase.Queued;
    this.queuedAtMs = nowMs;
    // A held request keeps only its body here: its headers are read again when it is offered (a
    // queue of small bodies must not hold a copy of each one's headers, up to Envoy's 60 KiB).
    this.headers.free();
    routingMetrics.requests.add(poolLabel(pool.id) + ".outcome.held");
    const h = new HeldChoice();
    h.target = o.target;
    h.poolId = pool.id;
    h.priority = o.priority;
    h.route = o.log.route;
    this.held = h;
    return true;
  }

  /** The queue offers this held request to routing again (effective context already set). */
  redispatch(): Dispatch {
    if (this.phase != Phase.Queued) return Dispatch.Done;
    this.headers.load();
    const start = nowNanos();
    const o = this.root.core.decide(this.raw.ptr, this.raw.len, this.api, start, this.request, this.held);
    if (o.kind == OutcomeKind.Hold) return Dispatch.NoRoom;
    if (o.kind == OutcomeKind.Reject) {
      this.replyOutcome(o);
      return Dispatch.Done;
    }
    o.log.queueWaitMs = <i64>(<f64>(start / 1000000) - this.queuedAtMs);
    if (this.forward(o, start)) continueStream(StreamType.Request);
    return Dispatch.Sent;
  }

  /**
   * Sends the request to the chosen pod: body rewrite, destination headers, log line; for P/D also
   * the prefill call first. False when it was answered instead (the prefill call was refused).
   */
  private forward(o: Outcome, since: u64): bool {
    const ep = o.endpoint!;
    if (o.prefill !== null) {
      if (!this.dispatchPrefill(o)) {
        this.slot = ep.slot; // released in onDone, like a routed request's
        this.refusedPrefill(o);
        return false;
      }
    } else if (o.rewrite) this.rewriteModel(o.modelStart, o.modelEnd, o.target);
    const targets = this.targets;
    targets.length = 0;
    targets.push(ep);
    for (let i = 0; i < o.fallbacks.length; i++) targets.push(o.fallbacks[i]);
    const list = destinationList;
    list.build(ep, o.fallbacks);
    replaceHeaderBytes(HeaderMap.RequestHeaders, DESTINATION_KEY, list.ptr, list.len);
    const pool = o.pool!;
    // Past the listed pods Envoy falls back to any healthy pod of the pool not tried yet: for P/D that
    // could be a prefill pod answering the decode half. P/D requests name no pool: past the listed
    // decode pods there is no host, and the client gets Envoy's 503 JSON. Written on every request,
    // also for a full list: Envoy's retries (num_retries) are its configuration, not the filter's,
    // and a list shorter than the attempts must still end in the pool (e2e failover test).
    if (o.prefill === null) {
      replaceHeaderBytes(HeaderMap.RequestHeaders, POOL_KEY, changetype<usize>(pool.idUtf8), pool.idUtf8.byteLength);
      // A client's x-infergate-pd would put a whole request on the decode halves' route (fewer
      // retries). Looked up in the header map read at the headers phase: no host call unless present.
      if (this.headers.read(PD_DECODE_HEADER) !== null) removeHeader(HeaderMap.RequestHeaders, PD_DECODE_KEY);
    } else {
      removeHeader(HeaderMap.RequestHeaders, POOL_KEY);
      replaceHeader(HeaderMap.RequestHeaders, PD_DECODE_KEY, "decode");
    }
    // Not for P/D: the decode pod answers only once the prefill handed its KV over, so its first byte
    // waits for the whole prefill (a long prompt, a busy prefill pod), not only for the decode pod.
    if (o.log.stream && pool.firstByteTimeoutMs > 0 && o.prefill === null)
      replaceHeader(HeaderMap.RequestHeaders, PER_TRY_TIMEOUT_KEY, (<i64>pool.firstByteTimeoutMs).toString());
    this.slot = ep.slot;
    this.servedBy = ep;
    this.chain = o.chain;
    this.phase = Phase.Forwarded;
    this.pool = pool;
    const l = o.log;
    l.decisionUs = <i64>((nowNanos() - since) / 1000);
    const rid = this.headers.read("x-request-id");
    l.requestId = rid === null ? "" : rid;
    this.record = l;
    this.countRouted(l, pool, ep);
    // Feedback needs the usage: every non-streaming body has it, a stream when the client asked.
    if (o.prediction.feedback && (!l.stream || o.includeUsage)) {
      this.prediction.copyFrom(o.prediction);
      this.usageTail = new UsageTail();
    }
    this.raw.free(); // Envoy holds the bytes it forwards; our copy is no longer needed
    this.headers.free();
    return true;
  }

  /**
   * P/D: the body both pods get (bootstrap fields, model rewrite), set on this stream for the
   * decode pod and sent to the prefill pod by the filter's own call, which starts first.
   */
  private dispatchPrefill(o: Outcome): bool {
    const pf = o.prefill!;
    const fields = bootstrapFields(bootstrapHost(pf.address), o.bootstrapPort, o.bootstrapRoom);
    const target: string | null = o.rewrite ? o.target : null;
    const body = pdBody(this.raw.ptr, this.raw.len, o.bodyEnd, o.modelStart, o.modelEnd, target, fields);
    const path = this.headers.read(":path");
    const authority = this.headers.read(":authority");
    const rid = this.headers.read("x-request-id");
    const token = this.root.prefills.dispatch(
      this.id,
      new StreamPrefillWaiter(this),
      pf,
      o.pool!,
      path === null ? "/v1/chat/completions" : path,
      authority === null ? "infergate" : authority,
      rid === null ? "" : rid,
      body,
      o.log,
      this.root.config.prefillTimeoutMs,
    );
    if (token == 0) return false;
    this.prefillToken = token;
    setBufferBytes(Buffer.HttpRequestBody, 0, <u32>this.raw.len, body);
    replaceHeader(HeaderMap.RequestHeaders, CONTENT_LENGTH_KEY, body.byteLength.toString());
    return true;
  }

  /**
   * Envoy refused the prefill call itself (proxy_http_call failed: no such cluster, as in a
   * deployment without the infergate_prefill cluster, or the call failed inline): nothing was sent
   * to either pod. A rejection like any other (counted by code, Retry-After), and the operator is
   * told which cluster the call needed.
   */
  private refusedPrefill(o: Outcome): void {
    o.code = "prefill_failed";
    this.countRejected(o);
    // Once a minute per worker: a deployment without the cluster refuses every P/D request.
    const nowMs = <f64>(nowNanos() / 1000000);
    if (nowMs - refusedPrefillWarnedMs >= 60000) {
      refusedPrefillWarnedMs = nowMs;
      log(
        LogLevel.Warn,
        "infergate: Envoy refused the P/D prefill call to cluster " +
          PREFILL_CLUSTER +
          " (is it in Envoy's configuration?); its requests are answered 503 prefill_failed",
      );
    }
    this.raw.free();
    this.headers.free();
    this.phase = Phase.Replied;
    sendPrefillError(
      503,
      "the gateway could not send the prefill request: Envoy refused the call to cluster " + PREFILL_CLUSTER,
      "prefill_failed",
    );
  }

  /** The prefill failed before the decode pod answered: the client gets the error now. */
  failPrefill(status: i32, message: string, code: string): void {
    if (this.phase != Phase.Forwarded) return;
    this.phase = Phase.Replied;
    // Counted as routed already; the failure is in the rejections by code (prefill_failed).
    sendPrefillError(status, message, code);
  }

  private countRouted(l: RequestLog, pool: Pool, ep: Endpoint): void {
    const m = routingMetrics;
    const ps = m.poolSeries(pool);
    ps.countRouted();
    m.countObjective(l.model, l.targetModel);
    m.podSeries(pool, ep).sent();
    ps.decisionUs.record(<u64>l.decisionUs);
    if (l.hasPrefix) {
      if (l.totalBlocks > 0) ps.prefixPredictedPercent.record(<u64>((l.matchedBlocks * 100) / l.totalBlocks));
      if (l.affinityPod.length > 0)
        m.affinityYields.add(podLabels(l.pool, l.affinityPod) + ".reason." + l.affinityYield);
    }
  }

  /** An error answer, counted by pool (when known) and code. */
  private countRejected(o: Outcome): void {
    const pool = poolLabel(o.pool === null ? "none" : o.pool!.id);
    routingMetrics.requests.add(pool + ".outcome.rejected");
    routingMetrics.rejections.add(pool + ".code." + o.code);
  }

  /** Replaces the "model" string in the raw body, leaving every other byte as the client sent it. */
  private rewriteModel(start: i32, end: i32, target: string): void {
    const b = this.raw.ptr;
    const n = this.raw.len;
    const quoted = String.UTF8.encode(jsonQuote(target));
    const out = new ArrayBuffer(n - (end - start) + quoted.byteLength);
    const o = changetype<usize>(out);
    memory.copy(o, b, <usize>start);
    memory.copy(o + <usize>start, changetype<usize>(quoted), <usize>quoted.byteLength);
    memory.copy(o + <usize>start + <usize>quoted.byteLength, b + <usize>end, <usize>(n - end));
    setBufferBytes(Buffer.HttpRequestBody, 0, <u32>n, out);
    replaceHeader(HeaderMap.RequestHeaders, CONTENT_LENGTH_KEY, out.byteLength.toString());
  }

  private replyOutcome(o: Outcome): void {
    this.countRejected(o);
    if (o.queueReason.length > 0) {
      if (o.queueReason == "sheddable")
        this.root.queueHost.metrics.shed.add(poolLabel(o.pool === null ? "none" : o.pool!.id));
      this.replyQueued(o.status, o.message, o.code, o.queueReason);
    } else if (o.retryAfter) this.reply(o.status, o.message, o.code, o.param, ["retry-after"], ["1"]);
    else this.reply(o.status, o.message, o.code, o.param);
  }

  /** Answers a held (or about-to-be-held) request with the queue's reason in a header. */
  replyQueued(status: i32, message: string, code: string, reason: string): void {
    this.reply(status, message, code, "", [QUEUE_REASON_HEADER, "retry-after"], [reason, "1"]);
  }

  private reply(
    status: i32,
    message: string,
    code: string,
    param: string = "",
    names: string[] = [],
    values: string[] = [],
  ): void {
    this.raw.free();
    this.headers.free();
    this.phase = Phase.Replied;
    sendError(status, message, code, param, names, values);
  }

  private answer(a: Answer, details: string): void {
    if (a.status != 200) {
      this.reply(a.status, a.body, a.code, "", ["retry-after"], ["1"]);
      return;
    }
    this.phase = Phase.Replied;
    sendLocalResponse(200, details, a.body, ["content-type"], ["application/json"]);
  }

  /**
   * The pod that answered: when the chosen one failed before its headers, Envoy retried on a
   * fallback, and the in-flight count moves with the request to the pod actually serving it.
   */
  onResponseHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    this.responded = true;
    // The usage tail is kept whatever the status: only a successful answer carries a usage with
    // cached tokens (an error's body has none, and then nothing is learned), and reading :status
    // here was a host call on every feedback response.
    if (this.slot < 0 || this.targets.length < 2) return HeadersStatus.Continue;
    // The router numbers its attempts in the request it sends (include_request_attempt_count in
    // envoy/bootstrap.yaml): the first attempt goes to the first listed pod (a pod enters the table
    // only once Envoy has it; one that leaves Envoy's cluster a push before it leaves this worker's
    // table is the exception, for that moment), so only a retry needs the upstream address, a
    // property read: the callback went from ~10 to ~7.5 µs inside Envoy. Without the header (a route
    // configuration without the option) the address is read on every response, as before.
    const attempt = getHeader(HeaderMap.RequestHeaders, ATTEMPT_COUNT_HEADER);
    if (attempt !== null && attempt == "1") return HeadersStatus.Continue;
    const served = getProperty(UPSTREAM_ADDRESS);
    if (served === null || served == this.targets[0].address) return HeadersStatus.Continue;
    for (let i = 1; i < this.targets.length; i++) {
      const e = this.targets[i];
      if (e.address != served) continue;
      inflight.add(this.slot, -1);
      inflight.add(e.slot, 1);
      if (this.pool !== null) {
        const pool = this.pool!;
        routingMetrics.podSeries(pool, this.targets[0]).inFlightAdd(-1);
        routingMetrics.podSeries(pool, e).inFlightAdd(1);
        routingMetrics.fallbacks.add(routingMetrics.poolSeries(pool).label);
      }
      this.slot = e.slot;
      this.servedBy = e;
      const l = this.record;
      if (l !== null) l.answeredBy = e.name;
      this.recordAnswered(e);
      break;
    }
    return HeadersStatus.Continue;
  }

  /** The fallback that answered computed the whole prompt: the pool's index holds it there too
   *  (not when it failed as well: the client gets that error, and the pod holds nothing). */
  private recordAnswered(e: Endpoint): void {
    const chain = this.chain;
    if (chain === null) return;
    this.chain = null;
    const status = getHeader(HeaderMap.ResponseHeaders, ":status");
    if (status === null || status.length != 3 || status.charCodeAt(0) != 50) return; // 2xx
    chain.recordAnswered(poolStates, e, <f64>(nowNanos() / 1000000));
  }

  /** Keeps the end of the response (feedback mode); the record is written at its end. */
  onResponseBody(bodySize: u32, endOfStream: bool): DataStatus {
    const tail = this.usageTail;
    if (tail !== null && bodySize > 0) {
      const take = min(bodySize, <u32>TAIL_BYTES);
      const bytes = getBufferRaw(Buffer.HttpResponseBody, bodySize - take, take);
      tail.append(bytes.ptr, bytes.len);
      bytes.free();
    }
    if (endOfStream) this.finish(true);
    return DataStatus.Continue;
  }

  /**
   * The response is over (or the stream is): what the pod reported corrects the prefix index's
   * lifetimes (feedback mode), and the Request Handled line is written, once.
   */
  private finish(beforeAccessLog: bool): void {
    const l = this.record;
    if (l === null) return;
    this.record = null;
    const tail = this.usageTail;
    if (tail !== null) {
      this.usageTail = null;
      const p = this.prediction;
      const usage = tail.read(new Usage());
      // SGLang (--enable-cache-report) reports a miss as null rather than 0.
      if (usage.detailsNull && this.pool !== null && this.pool!.runtime == "sglang") usage.cachedTokens = 0;
      // Blocks past the last hashed one (maxBlocks) are neither predicted nor indexed.
      const real = min(cachedBlocks(usage, p.promptBytes, p.blockSize), p.blocks);
      if (real >= 0) {
        l.realBlocks = real;
        l.cachedTokens = usage.cachedTokens;
        l.promptTokens = usage.promptTokens;
        const pool = poolLabel(l.pool);
        if (p.blocks > 0) routingMetrics.prefixRealPercent.record(pool, <u64>((real * 100) / p.blocks));
        // A fallback's answer (Envoy retried) reports the fallback's cache, not the predicted pod's:
        // it judges neither the prediction nor the predicted pod's chain (the line names the pod).
        if (l.answeredBy.length == 0) {
          // Evidence about the chain the index held for the pod, recorded tipAgeMs before: still
          // there (one block of slack for the bytes-per-token conversion), or partly evicted.
          if (p.indexed > 0 && p.tipAgeMs >= 0 && this.pool !== null)
            poolStates
              .of(this.pool!)
              .lifetimes.learn(p.slot, p.tipAgeMs, real >= p.indexed - 1, <f64>(nowNanos() / 1000000));
          const result = real > p.credited + 1 ? "under" : real < p.credited - 1 ? "over" : "hit";
          routingMetrics.prefixPredictions.add(pool + ".result." + result);
        }
      }
    }
    // P/D: a prefill still answering fills in its figures and writes the line then.
    if (this.prefillToken != 0 && this.root.prefills.deferLog(this.prefillToken)) return;
    logHandled(l, beforeAccessLog && this.root.config.handledToAccessLog);
  }

  onDone(): void {
    // A record still open here: the response never ended (the client went away, a reset).
    const unfinished = this.record !== null;
    // A stream that ended without a last body chunk (reset, no body): Envoy ran its access log
    // before this callback, so the line takes Envoy's own log.
    this.finish(false);
    if (this.prefillToken != 0) this.root.prefills.streamDone(this.prefillToken, unfinished);
    this.chain = null;
    this.raw.free();
    this.headers.free();
    if (this.phase == Phase.Queued) {
      // The client went away while held: free its place and bytes.
      this.root.dispatcher.abandon(this.root.queueHost, this.id);
      this.phase = Phase.Replied;
      return;
    }
    if (this.slot >= 0) {
      inflight.add(this.slot, -1);
      if (this.pool !== null && this.servedBy !== null)
        routingMetrics.podSeries(this.pool!, this.servedBy!).inFlightAdd(-1);
      this.slot = -1;
      this.root.serviceQueue(); // capacity just freed
    }
  }
}

/** How the prefill call reaches its stream (it may be gone by then: the waiter is dropped). */
class StreamPrefillWaiter extends PrefillWaiter {
  constructor(private stream: GatewayStream) {
    super();
  }
  responded(): bool {
    return this.stream.responded;
  }
  failPrefill(status: i32, message: string, code: string): void {
    this.stream.failPrefill(status, message, code);
  }
}
