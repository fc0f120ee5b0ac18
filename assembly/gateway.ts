// The public listener's request lifecycle:
//   headers -> buffer body -> parse -> resolve model/pool -> [hold in the queue] -> route -> forward.
// Host calls live here; parsing, routing and queue bookkeeping are pure modules.

import { PluginConfig } from "./config";
import { errorBody } from "./errors";
import {
  Buffer,
  continueStream,
  getBufferRaw,
  getHeader,
  HeaderMap,
  LogLevel,
  log,
  nowNanos,
  RawBytes,
  removeHeader,
  replaceHeader,
  StreamType,
  sendLocalResponse,
  setBufferBytes,
  setEffectiveContext,
  setTickPeriodMs,
} from "./host/abi";
import { DataStatus, HeadersStatus, Root, Stream, streamById } from "./host/contexts";
import { jsonQuote } from "./json/parser";
import { IndexPrefixMatcher } from "./prefix/index-matcher";
import { PrefixIndex } from "./prefix/prefix-index";
import { BlockHasher, hashPrompt } from "./prefix/prompt-blocks";
import { QueueMetrics } from "./queue/queue-metrics";
import { QueuedRequest, RequestQueue } from "./queue/request-queue";
import { Endpoint as ApiEndpoint, ParsedRequest, parseRequestBytes, requestTape } from "./request/openai";
import { Candidate, RoutingContext } from "./routing/candidate";
import { ReadyFilter, WholeRequestRoleFilter } from "./routing/filters";
import { OverloadDetector } from "./routing/overload";
import { Random } from "./routing/random";
import { SaturationDetector } from "./routing/saturation";
import { Scheduler } from "./routing/scheduler";
import { InFlightScorer, KvCacheScorer, PrefixScorer, QueueScorer } from "./routing/scorers";
import { InFlightCounters } from "./state/inflight";
import { QueueLedger } from "./state/queue-ledger";
import { SharedBucketStore } from "./state/shared-buckets";
import { TableStore } from "./state/table-store";
import { Criticality, Model, Pool, Strategy, Table } from "./table/table";

export const DESTINATION_HEADER = "x-gateway-destination-endpoint";
export const QUEUE_REASON_HEADER = "x-infergate-queue-reason";

/** Per-VM (per Envoy worker) state shared by the public and control roots. */
export const tables = new TableStore();
export const inflight = new InFlightCounters();
export const rng = new Random(0);
const prefixIndex = new PrefixIndex(new SharedBucketStore(), 50000);
const hasher = new BlockHasher(64, 128, "");
export const ledger = new QueueLedger();
const queue = new RequestQueue();
const metrics = new QueueMetrics();
const candidateCache = new Array<Candidate>();
/** This worker's identity in the queue ledger (random per VM; 0 means none). */
let workerId: f64 = 0;
/** Queue tick: how soon a held request notices freed capacity when no local request completes. */
const TICK_MS: u32 = 10;

export function sendError(
  status: i32,
  message: string,
  code: string,
  param: string,
  extraNames: string[] = [],
  extraValues: string[] = [],
): void {
  const names = ["content-type"];
  const values = ["application/json"];
  for (let i = 0; i < extraNames.length; i++) {
    names.push(extraNames[i]);
    values.push(extraValues[i]);
  }
  sendLocalResponse(<u32>status, `infergate_${code}`, errorBody(status, message, code, param), names, values);
}

function strategyName(s: Strategy): string {
  return s == Strategy.PrefixCache ? "PREFIX_CACHE" : "DEFAULT";
}
function nowMs(): f64 {
  return <f64>(nowNanos() / 1000000);
}

/** The DEFAULT pipeline's filters and load scorers; PREFIX_CACHE adds affinity on top. */
function loadScheduler(c: PluginConfig): Scheduler {
  const s = new Scheduler();
  s.addFilter(new ReadyFilter()).addFilter(new WholeRequestRoleFilter());
  s.addScorer(new QueueScorer(c.weights.queue, c.saturationQueueDepth > 0 ? c.saturationQueueDepth : 5))
    .addScorer(new KvCacheScorer(c.weights.kvCache))
    .addScorer(new InFlightScorer(c.weights.inFlight));
  return s;
}

export class GatewayRoot extends Root {
  config: PluginConfig = new PluginConfig();
  scheduler: Scheduler = new Scheduler();
  prefixScheduler: Scheduler = new Scheduler();
  saturation: SaturationDetector = new SaturationDetector(5, 0.8, 0, 2000);

  configure(text: string): bool {
    return true;
  } // set by the dispatcher in index.ts

  applyConfig(c: PluginConfig): void {
    this.config = c;
    this.saturation = new SaturationDetector(
      c.saturationQueueDepth,
      c.saturationKvUsage,
      c.saturationInFlightLimit,
      c.saturationStalenessMs,
    );
    this.scheduler = loadScheduler(c);
    const p = loadScheduler(c);
    p.addScorer(new PrefixScorer(c.weights.prefix));
    p.overload = new OverloadDetector(this.saturation, c.balanceBound);
    p.matcher = new IndexPrefixMatcher(prefixIndex);
    p.rendezvousTolerance = c.rendezvousTolerance;
    this.prefixScheduler = p;
    rng.reseed(nowNanos() ^ ((<u64>this.id) << 32));
    if (workerId == 0) workerId = <f64>(rng.below(0x7fffffff) + 1);
    setTickPeriodMs(TICK_MS);
  }

  newStream(id: u32): Stream {
    return new GatewayStream(id, this);
  }

  onTick(): void {
    this.serviceQueue();
  }

  /**
   * Expires, drops (capacity debt) and dispatches this worker's held requests. Runs from the
   * tick and whenever a request of this worker finishes (capacity just freed).
   */
  serviceQueue(): void {
    if (queue.size == 0) return;
    const table = tables.current();
    if (table === null) return;
    const now = nowMs();
    const pools = queue.pools();
    for (let i = 0; i < pools.length; i++) {
      const poolId = pools[i];
      const pool = table.findPool(poolId);
      if (pool === null) {
        this.failAll(
          poolId,
          503,
          `pool ${poolId} left the routing table while the request waited`,
          "pool_gone",
          "pool_gone",
        );
        continue;
      }
      const expired = queue.expiredFor(poolId, now, pool.queueTtlMs);
      for (let k = 0; k < expired.length; k++) {
        metrics.expired.increment(1);
        this.drop(
          expired[k],
          503,
          "request waited " +
            (<i64>(now - expired[k].enqueuedMs)).toString() +
            " ms in the gateway queue, past the queue TTL of " +
            (<i64>pool.queueTtlMs).toString() +
            " ms",
          "queue_ttl_expired",
          "ttl_expired",
        );
      }
      this.payDebt(pool, now);
      // Dispatch in priority order while some pod has room; with queueing turned off, release all.
      while (true) {
        const next = queue.peekFor(poolId);
        if (next === null) break;
        if (pool.queueEnabled && ledger.read(poolId).topClass() < next!.klass) break; // more critical waits on another worker
        const s = streamById(next!.streamId);
        if (s === null || !(s instanceof GatewayStream)) {
          this.forget(next!);
          continue;
        }
        const g = changetype<GatewayStream>(s);
        setEffectiveContext(g.id);
        if (!g.forward(table, pool, true, now)) break;
        this.forget(next!);
        continueStream(StreamType.Request);
      }
    }
  }

  /** Removes a request from this worker's queue and the shared ledger. */
  forget(r: QueuedRequest, debtPaid: i32 = 0): void {
    if (queue.remove(r.streamId) === null) return;
    const oldest = queue.oldestFor(r.poolId);
    ledger.apply(
      r.poolId,
      -(<f64>r.bytes),
      -(<f64>debtPaid),
      r.klass,
      -1,
      workerId,
      oldest === null ? -1 : oldest!.enqueuedMs,
    );
    metrics.depth.add(-1);
  }

  /**
   * Capacity overflowed somewhere: drop held requests oldest first across all workers. This
   * worker drops its oldest only while it is the oldest anywhere; others pay on their tick.
   */
  payDebt(pool: Pool, now: f64): void {
    let st = ledger.read(pool.id);
    while (st.debt > 0) {
      const mine = queue.oldestFor(pool.id);
      if (mine === null) return;
      if (mine!.enqueuedMs > st.oldest(now - pool.queueTtlMs - 1000)) return; // an older one is held elsewhere
      metrics.dropped.increment(1);
      this.drop(
        mine!,
        429,
        "dropped from the gateway queue: total queue capacity of " +
          (<i64>pool.queueCapacityBytes).toString() +
          " bytes exceeded, oldest requests are discarded first",
        "queue_capacity_exceeded",
        "capacity",
        mine!.bytes,
      );
      st = ledger.read(pool.id);
    }
  }

  private drop(r: QueuedRequest, status: i32, message: string, code: string, reason: string, debtPaid: i32 = 0): void {
    this.forget(r, debtPaid);
    const s = streamById(r.streamId);
    if (s === null || !(s instanceof GatewayStream)) return;
    const g = changetype<GatewayStream>(s);
    setEffectiveContext(g.id);
    g.replyQueued(status, message, code, reason);
  }

  private failAll(poolId: string, status: i32, message: string, code: string, reason: string): void {
    while (true) {
      const r = queue.peekFor(poolId);
      if (r === null) return;
      this.drop(r!, status, message, code, reason);
    }
  }

  /** Enqueues a paused request; on overflow drops the oldest (here, or as debt for other workers). */
  hold(g: GatewayStream, pool: Pool, klass: i32, bytes: i32, now: f64): bool {
    if (<f64>bytes > pool.queueCapacityBytes) {
      g.replyQueued(
        429,
        "request of " +
          bytes.toString() +
          " bytes is larger than the total queue capacity of " +
          (<i64>pool.queueCapacityBytes).toString() +
          " bytes",
        "queue_capacity_exceeded",
        "capacity",
      );
      metrics.dropped.increment(1);
      return false;
    }
    const r = new QueuedRequest(g.id, pool.id, g.model, klass, now, bytes);
    queue.push(r);
    metrics.depth.add(1);
    const oldest = queue.oldestFor(pool.id)!;
    const st = ledger.apply(pool.id, <f64>bytes, 0, klass, 1, workerId, oldest.enqueuedMs);
    const over = st.bytes - st.debt - pool.queueCapacityBytes;
    if (over > 0) {
      ledger.apply(pool.id, 0, over, -1, 0);
      this.payDebt(pool, now);
      setEffectiveContext(g.id);
    }
    return true;
  }
}

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
  slot: i32 = -1; // in-flight slot held by this request, released once in onDone
  model: string = "";
  target: string = "";
  klass: i32 = 1;
  /** The request body, in raw memory the host wrote (freed once forwarded, replied or done). */
  raw: RawBytes = new RawBytes(0, 0);
  req: ParsedRequest | null = null;
  t0: u64 = 0;
  queuedAtMs: f64 = -1;

  constructor(id: u32, root: GatewayRoot) {
    super(id);
    this.root = root;
  }

  private reply(
    status: i32,
    message: string,
    code: string,
    param: string = "",
    names: string[] = [],
    values: string[] = [],
  ): void {
    this.phase = Phase.Replied;
    sendError(status, message, code, param, names, values);
  }

  /** Answers a held (or about-to-be-held) request with the queue's reason in a header. */
  replyQueued(status: i32, message: string, code: string, reason: string): void {
    this.raw.free();
    this.reply(status, message, code, "", [QUEUE_REASON_HEADER, "retry-after"], [reason, "1"]);
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    // A client must never choose the pod.
    removeHeader(HeaderMap.RequestHeaders, DESTINATION_HEADER);
    const method = getHeader(HeaderMap.RequestHeaders, ":method");
    let path = getHeader(HeaderMap.RequestHeaders, ":path");
    if (path === null) path = "/";
    let p = path!;
    const q = p.indexOf("?");
    if (q >= 0) p = p.substring(0, q);
    const m = method === null ? "" : method!;
    if (p == "/v1/chat/completions" || p == "/v1/completions") {
      this.api = p == "/v1/completions" ? ApiEndpoint.Completions : ApiEndpoint.ChatCompletions;
      if (m != "POST") {
        this.reply(405, `method ${m} not allowed on ${p}: use POST`, "method_not_allowed", "", ["allow"], ["POST"]);
        return HeadersStatus.StopIteration;
      }
      if (endOfStream) {
        this.reply(400, "request body is empty: expected a JSON object", "invalid_request", "");
        return HeadersStatus.StopIteration;
      }
      this.phase = Phase.Body;
      return HeadersStatus.StopIteration;
    }
    if (p == "/health") {
      // vLLM's health path, which OpenAI-compatible tools (guidellm, ...) check before a run.
      if (m != "GET" && m != "HEAD") {
        this.reply(405, `method ${m} not allowed on /health: use GET`, "method_not_allowed", "", ["allow"], ["GET"]);
        return HeadersStatus.StopIteration;
      }
      this.answerHealth();
      return HeadersStatus.StopIteration;
    }
    if (p == "/v1/models") {
      if (m != "GET") {
        this.reply(405, `method ${m} not allowed on /v1/models: use GET`, "method_not_allowed", "", ["allow"], ["GET"]);
        return HeadersStatus.StopIteration;
      }
      this.answerModels();
      return HeadersStatus.StopIteration;
    }
    this.reply(
      404,
      "no route for " +
        m +
        " " +
        p +
        ": infergate serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models and GET /health",
      "not_found",
    );
    return HeadersStatus.StopIteration;
  }

  /** 200 when a table is loaded and some pool has a ready endpoint; else 503. */
  private answerHealth(): void {
    const t = tables.current();
    let ready = 0;
    if (t !== null)
      for (let i = 0; i < t.pools.length; i++)
        for (let j = 0; j < t.pools[i].endpoints.length; j++) if (t.pools[i].endpoints[j].ready) ready++;
    if (t === null || ready == 0) {
      this.reply(
        503,
        t === null ? "the gateway has no routing table yet" : "no ready endpoint in any pool",
        t === null ? "no_table" : "no_ready_endpoint",
        "",
        ["retry-after"],
        ["1"],
      );
      return;
    }
    this.phase = Phase.Replied;
    sendLocalResponse(
      200,
      "infergate_health",
      `{"status":"ok","readyEndpoints":${ready.toString()}}`,
      ["content-type"],
      ["application/json"],
    );
  }

  private answerModels(): void {
    const t = tables.current();
    if (t === null) {
      this.reply(503, "the gateway has no routing table yet", "no_table", "", ["retry-after"], ["1"]);
      return;
    }
    const parts = new Array<string>();
    for (let i = 0; i < t.models.length; i++) {
      parts.push(
        '{"id":' +
          jsonQuote(t.models[i].name) +
          ',"object":"model","created":' +
          (<i64>(t.builtAtMs / 1000)).toString() +
          ',"owned_by":"infergate","root":' +
          jsonQuote(t.models[i].name) +
          "}",
      );
    }
    this.phase = Phase.Replied;
    sendLocalResponse(
      200,
      "infergate_models",
      `{"object":"list","data":[${parts.join(",")}]}`,
      ["content-type"],
      ["application/json"],
    );
  }

  onRequestBody(bodySize: u32, endOfStream: bool): DataStatus {
    if (this.phase != Phase.Body)
      return this.phase == Phase.Forwarded ? DataStatus.Continue : DataStatus.StopIterationNoBuffer;
    if (<i64>bodySize > <i64>this.root.config.maxBodyBytes) {
      this.reply(
        413,
        "request body of at least " +
          bodySize.toString() +
          " bytes exceeds the limit of " +
          this.root.config.maxBodyBytes.toString() +
          " bytes",
        "body_too_large",
      );
      return DataStatus.StopIterationNoBuffer;
    }
    if (!endOfStream) return DataStatus.StopIterationAndBuffer;
    this.t0 = nowNanos();
    this.raw.free();
    this.raw = getBufferRaw(Buffer.HttpRequestBody, 0, bodySize);
    const req = parseRequestBytes(this.raw.ptr, this.raw.len, this.api);
    if (req.status != 0) {
      this.reply(req.status, req.message, "invalid_request", req.param);
      return DataStatus.StopIterationNoBuffer;
    }
    const table = tables.currentAt(this.t0);
    if (table === null) {
      this.reply(
        503,
        "the gateway has no routing table yet (is the control plane running?)",
        "no_table",
        "",
        ["retry-after"],
        ["1"],
      );
      return DataStatus.StopIterationNoBuffer;
    }
    const model = table.findModel(req.model);
    if (model === null) {
      this.reply(
        404,
        `The model \`${req.model}\` does not exist (no InferenceModel has this modelName).`,
        "model_not_found",
        "model",
      );
      return DataStatus.StopIterationNoBuffer;
    }
    this.req = req;
    this.model = req.model;
    this.klass = <i32>model.criticality;
    this.target = this.pickTarget(model);
    const pool = model.pool!;
    const now = <f64>(this.t0 / 1000000);
    if (pool.queueEnabled && (this.shouldHold(table, pool, now) || !this.forward(table, pool, true, now))) {
      if (this.phase == Phase.Replied) return DataStatus.StopIterationNoBuffer; // e.g. no ready endpoint
      if (this.klass == <i32>Criticality.Sheddable) {
        metrics.shed.increment(1);
        this.replyQueued(
          429,
          `all endpoints of pool ${pool.id} are saturated and model ${req.model} is Sheddable`,
          "sheddable_rejected",
          "sheddable",
        );
        return DataStatus.StopIterationNoBuffer;
      }
      if (!this.root.hold(this, pool, this.klass, <i32>bodySize, now)) return DataStatus.StopIterationNoBuffer;
      this.phase = Phase.Queued;
      this.queuedAtMs = now;
      return DataStatus.StopIterationAndBuffer;
    }
    if (this.phase == Phase.Forwarded) return DataStatus.Continue;
    if (!this.forward(table, pool, false, now)) return DataStatus.StopIterationNoBuffer;
    return DataStatus.Continue;
  }

  /** Hold when every candidate is saturated, or a request at least as critical already waits. */
  private shouldHold(table: Table, pool: Pool, now: f64): bool {
    const st = ledger.read(pool.id);
    if (st.total() > 0 && st.topClass() <= this.klass) return true;
    const ctx = this.candidates(table, pool, now);
    this.root.scheduler.filter(ctx);
    if (ctx.candidates.length == 0) return false; // nothing ready: forward() answers 503
    return this.root.saturation.allSaturated(ctx, now - table.builtAtMs);
  }

  private candidates(table: Table, pool: Pool, now: f64): RoutingContext {
    const ctx = new RoutingContext(pool, rng);
    ctx.loadFresh = now - table.builtAtMs <= table.stalenessMs;
    const counts = inflight.snapshot();
    const eps = pool.endpoints;
    // Candidate objects are reused across requests (one decision at a time per VM).
    while (candidateCache.length < eps.length) candidateCache.push(new Candidate(eps[0], 0));
    for (let i = 0; i < eps.length; i++) {
      const s = eps[i].slot;
      const c = unchecked(candidateCache[i]);
      c.reset(eps[i], s < counts.length ? unchecked(counts[s]) : 0);
      ctx.candidates.push(c);
    }
    return ctx;
  }

  /**
   * Picks the pod and sends the request there. `bounded`: queueing is on, so only an unsaturated
   * pod may take it, and the pick must win the in-flight compare-and-swap (another worker may have
   * filled that pod meanwhile; then decide again). Returns false without replying when no pod has
   * room (the caller holds the request); otherwise false means a reply was sent.
   */
  forward(table: Table, pool: Pool, bounded: bool, now: f64): bool {
    const tStart = nowNanos();
    // A held request's tape was reused by later requests: read its body again.
    if (this.queuedAtMs >= 0 || this.req === null) this.req = parseRequestBytes(this.raw.ptr, this.raw.len, this.api);
    const req = this.req!;
    bounded = bounded && pool.queueEnabled;
    let ctx = this.candidates(table, pool, now);
    const total = ctx.candidates.length;
    if (bounded) {
      this.root.scheduler.filter(ctx);
      if (ctx.candidates.length == 0) {
        this.reply(
          503,
          `no ready endpoint in pool ${pool.id} for model ${req.model}`,
          "no_ready_endpoint",
          "",
          ["retry-after"],
          ["1"],
        );
        return false;
      }
      this.root.saturation.keepUnsaturated(ctx, now - table.builtAtMs);
      if (ctx.candidates.length == 0) return false;
    }
    const prefix = pool.strategy == Strategy.PrefixCache;
    if (prefix) {
      hasher.reset(pool.blockSize, pool.maxBlocks, this.target);
      hashPrompt(hasher, requestTape, req.messages, req.prompt);
      ctx.prefixBlocks = hasher.count;
      ctx.hashes = hasher.hashes;
      ctx.affinityKey = hasher.count > 0 ? hasher.hashes[0] : 0;
      prefixIndex.numBuckets = max(1, (pool.lruCapacity + 63) / 64);
    }
    const scheduler = prefix ? this.root.prefixScheduler : this.root.scheduler;
    let chosen = scheduler.run(ctx);
    if (bounded) {
      // Capacity check and increment are one atomic step per pod across workers.
      let attempts = 0;
      while (chosen !== null && !inflight.tryAcquire(chosen.endpoint.slot, chosen.inflight)) {
        if (++attempts >= 4) {
          chosen = null;
          break;
        }
        ctx = this.candidates(table, pool, now);
        this.root.scheduler.filter(ctx);
        this.root.saturation.keepUnsaturated(ctx, now - table.builtAtMs);
        if (prefix) {
          ctx.prefixBlocks = hasher.count;
          ctx.hashes = hasher.hashes;
          ctx.affinityKey = hasher.count > 0 ? hasher.hashes[0] : 0;
        }
        chosen = ctx.candidates.length > 0 ? scheduler.run(ctx) : null;
      }
      if (chosen === null) return false;
    }
    if (chosen === null) {
      this.reply(
        503,
        `no ready endpoint in pool ${pool.id} for model ${req.model}`,
        "no_ready_endpoint",
        "",
        ["retry-after"],
        ["1"],
      );
      return false;
    }
    const ep = chosen.endpoint;
    if (this.target != req.model) this.rewriteModel(req.modelStart, req.modelEnd, this.target);
    replaceHeader(HeaderMap.RequestHeaders, DESTINATION_HEADER, ep.address);
    if (!bounded) inflight.add(ep.slot, 1);
    this.slot = ep.slot;
    this.phase = Phase.Forwarded;
    const t1 = nowNanos();
    const decisionUs = this.queuedAtMs >= 0 ? (t1 - tStart) / 1000 : (t1 - this.t0) / 1000;
    let extra = "";
    if (prefix) {
      // Estimate mode: the chosen pod now holds (or soon will) every block of this prompt.
      // Blocks the pod already holds are not rewritten; their stamps are refreshed on a sample of
      // requests (1 in 8) so a hot shared prefix stays recently used at an eighth of the writes.
      if (ctx.prefixBlocks > 0) {
        const from = rng.below(8) == 0 ? 0 : chosen.prefixMatched;
        prefixIndex.record(ctx.hashes!, from, ctx.prefixBlocks, ep.slot, ep.tag, <u32>(tStart / 100000000));
      }
      const score = ctx.prefixBlocks > 0 ? <f64>chosen.prefixMatched / <f64>ctx.prefixBlocks : 0;
      // When the pod holding most of the prompt was not chosen, say why (operators ask).
      let yielded = "";
      if (ctx.bestMatch > chosen.prefixMatched) {
        let holder: Candidate | null = null;
        for (let i = 0; i < ctx.candidates.length; i++)
          if (ctx.candidates[i].prefixMatched == ctx.bestMatch) {
            holder = ctx.candidates[i];
            break;
          }
        if (holder !== null)
          yielded =
            ',"affinityPod":' +
            jsonQuote(holder.endpoint.name) +
            ',"affinityYield":"' +
            (holder.overloadReason == 1 ? "saturated" : holder.overloadReason == 2 ? "balance" : "score") +
            '","affinityInflight":' +
            holder.inflight.toString();
      }
      extra =
        ',"matchedBlocks":' +
        chosen.prefixMatched.toString() +
        ',"totalBlocks":' +
        ctx.prefixBlocks.toString() +
        ',"prefixScore":' +
        (Math.round(score * 1000) / 1000).toString() +
        ',"bestMatch":' +
        ctx.bestMatch.toString() +
        ',"recordUs":' +
        ((nowNanos() - t1) / 1000).toString() +
        yielded;
    }
    if (this.queuedAtMs >= 0) {
      const waited = now - this.queuedAtMs;
      metrics.waitMs.record(<u64>waited);
      extra += `,"queueWaitMs":${(<i64>waited).toString()}`;
    }
    const rid = getHeader(HeaderMap.RequestHeaders, "x-request-id");
    log(
      LogLevel.Info,
      'Request Handled {"requestId":' +
        jsonQuote(rid === null ? "" : rid!) +
        ',"model":' +
        jsonQuote(req.model) +
        ',"targetModel":' +
        jsonQuote(this.target) +
        ',"pool":' +
        jsonQuote(pool.id) +
        ',"pod":' +
        jsonQuote(ep.name) +
        ',"address":' +
        jsonQuote(ep.address) +
        ',"strategy":"' +
        strategyName(pool.strategy) +
        '","criticality":' +
        this.klass.toString() +
        ',"candidates":' +
        total.toString() +
        ',"eligible":' +
        ctx.candidates.length.toString() +
        ',"stream":' +
        (req.stream ? "true" : "false") +
        ',"loadFresh":' +
        (ctx.loadFresh ? "true" : "false") +
        ',"decisionUs":' +
        decisionUs.toString() +
        extra +
        "}",
    );
    this.raw.free(); // Envoy holds the bytes it forwards; our copy is no longer needed
    this.req = null;
    return true;
  }

  /** Weighted choice among the InferenceModel's targetModels; the request's own name when none. */
  private pickTarget(model: Model): string {
    const ts = model.targets;
    if (ts.length == 0) return model.name;
    if (ts.length == 1) return ts[0].name;
    let x = rng.unit() * model.totalWeight;
    for (let i = 0; i < ts.length; i++) {
      x -= ts[i].weight;
      if (x < 0) return ts[i].name;
    }
    return ts[ts.length - 1].name;
  }

  /** Replaces the "model" string in the raw body, leaving every other byte as the client sent it. */
  private rewriteModel(start: i32, end: i32, target: string): void {
    const b = this.raw.ptr,
      n = this.raw.len;
    const quoted = String.UTF8.encode(jsonQuote(target));
    const out = new ArrayBuffer(n - (end - start) + quoted.byteLength);
    const o = changetype<usize>(out);
    memory.copy(o, b, <usize>start);
    memory.copy(o + <usize>start, changetype<usize>(quoted), <usize>quoted.byteLength);
    memory.copy(o + <usize>start + <usize>quoted.byteLength, b + <usize>end, <usize>(n - end));
    setBufferBytes(Buffer.HttpRequestBody, 0, <u32>n, out);
    replaceHeader(HeaderMap.RequestHeaders, "content-length", out.byteLength.toString());
  }

  onDone(): void {
    this.raw.free();
    if (this.phase == Phase.Queued) {
      // Client went away while held: free its place and bytes.
      const removed = queue.remove(this.id);
      if (removed !== null) {
        const oldest = queue.oldestFor(removed.poolId);
        ledger.apply(
          removed.poolId,
          -(<f64>removed.bytes),
          0,
          removed.klass,
          -1,
          workerId,
          oldest === null ? -1 : oldest!.enqueuedMs,
        );
        metrics.depth.add(-1);
        metrics.abandoned.increment(1);
      }
      this.phase = Phase.Replied;
      return;
    }
    if (this.slot >= 0) {
      inflight.add(this.slot, -1);
      this.slot = -1;
      this.root.serviceQueue(); // capacity just freed
    }
  }
}
