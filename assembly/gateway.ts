// The public listener's request lifecycle: headers -> (buffer body) -> parse -> route -> forward.
// Host calls live here; parsing and routing are pure modules.
import {
  log, LogLevel, nowNanos, getHeader, replaceHeader, removeHeader, HeaderMap, getBufferBytes,
  Buffer, setBufferBytes, sendLocalResponse,
} from "./host/abi";
import { Stream, Root, HeadersStatus, DataStatus } from "./host/contexts";
import { PluginConfig } from "./config";
import { errorBody } from "./errors";
import { jsonQuote } from "./json/parser";
import { parseRequest, Endpoint as ApiEndpoint } from "./request/openai";
import { Table, Model, Strategy } from "./table/table";
import { TableStore } from "./state/table-store";
import { InFlightCounters } from "./state/inflight";
import { Candidate, RoutingContext } from "./routing/candidate";
import { Scheduler } from "./routing/scheduler";
import { ReadyFilter, WholeRequestRoleFilter } from "./routing/filters";
import { QueueScorer, KvCacheScorer, InFlightScorer, PrefixScorer } from "./routing/scorers";
import { OverloadDetector } from "./routing/overload";
import { Random } from "./routing/random";
import { BlockHasher, hashPrompt } from "./prefix/prompt-blocks";
import { PrefixIndex } from "./prefix/prefix-index";
import { IndexPrefixMatcher } from "./prefix/index-matcher";
import { SharedBucketStore } from "./state/shared-buckets";

export const DESTINATION_HEADER = "x-gateway-destination-endpoint";

/** Per-VM (per Envoy worker) state shared by the public and control roots. */
export const tables = new TableStore();
export const inflight = new InFlightCounters();
export const rng = new Random(0);
const prefixIndex = new PrefixIndex(new SharedBucketStore(), 50000);
const hasher = new BlockHasher(64, 128, "");

export function sendError(status: i32, message: string, code: string, param: string, extraNames: string[] = [], extraValues: string[] = []): void {
  const names = ["content-type"]; const values = ["application/json"];
  for (let i = 0; i < extraNames.length; i++) { names.push(extraNames[i]); values.push(extraValues[i]); }
  sendLocalResponse(<u32>status, "infergate_" + code, errorBody(status, message, code, param), names, values);
}

function strategyName(s: Strategy): string { return s == Strategy.PrefixCache ? "PREFIX_CACHE" : "DEFAULT"; }

/** The DEFAULT pipeline's filters and load scorers; PREFIX_CACHE adds affinity on top. */
function loadScheduler(c: PluginConfig): Scheduler {
  const s = new Scheduler();
  s.addFilter(new ReadyFilter()).addFilter(new WholeRequestRoleFilter());
  s.addScorer(new QueueScorer(c.weights.queue))
    .addScorer(new KvCacheScorer(c.weights.kvCache))
    .addScorer(new InFlightScorer(c.weights.inFlight));
  return s;
}

export class GatewayRoot extends Root {
  config: PluginConfig = new PluginConfig();
  scheduler: Scheduler = new Scheduler();
  prefixScheduler: Scheduler = new Scheduler();

  configure(text: string): bool { return true; } // set by the dispatcher in index.ts

  applyConfig(c: PluginConfig): void {
    this.config = c;
    this.scheduler = loadScheduler(c);
    const p = loadScheduler(c);
    p.addScorer(new PrefixScorer(c.weights.prefix));
    p.overload = new OverloadDetector(c.saturationQueueDepth, c.saturationKvUsage, c.balanceBound);
    p.matcher = new IndexPrefixMatcher(prefixIndex);
    p.rendezvousTolerance = c.rendezvousTolerance;
    this.prefixScheduler = p;
    rng.reseed(nowNanos() ^ (<u64>this.id << 32));
  }

  newStream(id: u32): Stream { return new GatewayStream(id, this); }
}

enum Phase { Headers, Body, Forwarded, Replied }

export class GatewayStream extends Stream {
  root: GatewayRoot;
  phase: Phase = Phase.Headers;
  api: ApiEndpoint = ApiEndpoint.ChatCompletions;
  slot: i32 = -1; // in-flight slot held by this request, released once in onDone

  constructor(id: u32, root: GatewayRoot) { super(id); this.root = root; }

  private reply(status: i32, message: string, code: string, param: string = "", names: string[] = [], values: string[] = []): void {
    this.phase = Phase.Replied;
    sendError(status, message, code, param, names, values);
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    // A client must never choose the pod.
    removeHeader(HeaderMap.RequestHeaders, DESTINATION_HEADER);
    const method = getHeader(HeaderMap.RequestHeaders, ":method");
    let path = getHeader(HeaderMap.RequestHeaders, ":path");
    if (path === null) path = "/";
    const q = path!.indexOf("?");
    if (q >= 0) path = path!.substring(0, q);
    const m = method === null ? "" : method!;
    if (path == "/v1/chat/completions" || path == "/v1/completions") {
      this.api = path == "/v1/completions" ? ApiEndpoint.Completions : ApiEndpoint.ChatCompletions;
      if (m != "POST") {
        this.reply(405, "method " + m + " not allowed on " + path! + ": use POST", "method_not_allowed", "", ["allow"], ["POST"]);
        return HeadersStatus.StopIteration;
      }
      if (endOfStream) {
        this.reply(400, "request body is empty: expected a JSON object", "invalid_request", "");
        return HeadersStatus.StopIteration;
      }
      this.phase = Phase.Body;
      return HeadersStatus.StopIteration;
    }
    if (path == "/v1/models") {
      if (m != "GET") { this.reply(405, "method " + m + " not allowed on /v1/models: use GET", "method_not_allowed", "", ["allow"], ["GET"]); return HeadersStatus.StopIteration; }
      this.answerModels();
      return HeadersStatus.StopIteration;
    }
    this.reply(404, "no route for " + m + " " + path! + ": infergate serves POST /v1/chat/completions, POST /v1/completions and GET /v1/models", "not_found");
    return HeadersStatus.StopIteration;
  }

  private answerModels(): void {
    const t = tables.current();
    if (t === null) { this.reply(503, "the gateway has no routing table yet", "no_table", "", ["retry-after"], ["1"]); return; }
    const parts = new Array<string>();
    for (let i = 0; i < t.models.length; i++) {
      parts.push("{\"id\":" + jsonQuote(t.models[i].name) + ",\"object\":\"model\",\"created\":" +
        (<i64>(t.builtAtMs / 1000)).toString() + ",\"owned_by\":\"infergate\",\"root\":" + jsonQuote(t.models[i].name) + "}");
    }
    this.phase = Phase.Replied;
    sendLocalResponse(200, "infergate_models", "{\"object\":\"list\",\"data\":[" + parts.join(",") + "]}", ["content-type"], ["application/json"]);
  }

  onRequestBody(bodySize: u32, endOfStream: bool): DataStatus {
    if (this.phase != Phase.Body) return this.phase == Phase.Replied ? DataStatus.StopIterationNoBuffer : DataStatus.Continue;
    if (<i64>bodySize > <i64>this.root.config.maxBodyBytes) {
      this.reply(413, "request body of at least " + bodySize.toString() + " bytes exceeds the limit of " + this.root.config.maxBodyBytes.toString() + " bytes", "body_too_large");
      return DataStatus.StopIterationNoBuffer;
    }
    if (!endOfStream) return DataStatus.StopIterationAndBuffer;
    const t0 = nowNanos();
    const body = getBufferBytes(Buffer.HttpRequestBody, 0, bodySize);
    const req = parseRequest(body, this.api);
    if (req.status != 0) { this.reply(req.status, req.message, "invalid_request", req.param); return DataStatus.StopIterationNoBuffer; }
    const table = tables.current();
    if (table === null) {
      this.reply(503, "the gateway has no routing table yet (is the control plane running?)", "no_table", "", ["retry-after"], ["1"]);
      return DataStatus.StopIterationNoBuffer;
    }
    const model = table.findModel(req.model);
    if (model === null) {
      this.reply(404, "The model `" + req.model + "` does not exist (no InferenceModel has this modelName).", "model_not_found", "model");
      return DataStatus.StopIterationNoBuffer;
    }
    const target = this.pickTarget(model);
    const pool = model.pool!;
    const ctx = new RoutingContext(pool, rng);
    const nowMs = <f64>(t0 / 1000000);
    ctx.loadFresh = nowMs - table.builtAtMs <= table.stalenessMs;
    const counts = inflight.snapshot();
    const eps = pool.endpoints;
    for (let i = 0; i < eps.length; i++) {
      const s = eps[i].slot;
      ctx.candidates.push(new Candidate(eps[i], s < counts.length ? counts[s] : 0));
    }
    const total = ctx.candidates.length;
    const prefix = pool.strategy == Strategy.PrefixCache;
    if (prefix) {
      hasher.reset(pool.blockSize, pool.maxBlocks, target);
      hashPrompt(hasher, req.root!, this.api == ApiEndpoint.ChatCompletions, body);
      ctx.prefixBlocks = hasher.count;
      ctx.hashes = hasher.hashes;
      ctx.affinityKey = hasher.count > 0 ? hasher.hashes[0] : 0;
      prefixIndex.numBuckets = max(1, (pool.lruCapacity + 63) / 64);
    }
    const chosen = (prefix ? this.root.prefixScheduler : this.root.scheduler).run(ctx);
    if (chosen === null) {
      this.reply(503, "no ready endpoint in pool " + pool.id + " for model " + req.model, "no_ready_endpoint", "", ["retry-after"], ["1"]);
      return DataStatus.StopIterationNoBuffer;
    }
    const ep = chosen.endpoint;
    if (target != req.model) this.rewriteModel(body, req.modelStart, req.modelEnd, target);
    replaceHeader(HeaderMap.RequestHeaders, DESTINATION_HEADER, ep.address);
    inflight.add(ep.slot, 1);
    this.slot = ep.slot;
    this.phase = Phase.Forwarded;
    const t1 = nowNanos();
    const us = (t1 - t0) / 1000;
    let prefixLog = "";
    if (prefix) {
      // Estimate mode: the chosen pod now holds (or soon will) every block of this prompt.
      if (ctx.prefixBlocks > 0) prefixIndex.record(ctx.hashes!, ctx.prefixBlocks, ep.slot, ep.tag, <u32>(t0 / 100000000));
      const score = ctx.prefixBlocks > 0 ? <f64>chosen.prefixMatched / <f64>ctx.prefixBlocks : 0;
      prefixLog = ",\"matchedBlocks\":" + chosen.prefixMatched.toString() + ",\"totalBlocks\":" + ctx.prefixBlocks.toString() +
        ",\"prefixScore\":" + (Math.round(score * 1000) / 1000).toString() + ",\"bestMatch\":" + ctx.bestMatch.toString() +
        ",\"recordUs\":" + ((nowNanos() - t1) / 1000).toString();
    }
    const rid = getHeader(HeaderMap.RequestHeaders, "x-request-id");
    log(LogLevel.Info, "Request Handled {\"requestId\":" + jsonQuote(rid === null ? "" : rid!) +
      ",\"model\":" + jsonQuote(req.model) + ",\"targetModel\":" + jsonQuote(target) +
      ",\"pool\":" + jsonQuote(pool.id) + ",\"pod\":" + jsonQuote(ep.name) + ",\"address\":" + jsonQuote(ep.address) +
      ",\"strategy\":\"" + strategyName(pool.strategy) + "\",\"candidates\":" + total.toString() +
      ",\"eligible\":" + ctx.candidates.length.toString() + ",\"stream\":" + (req.stream ? "true" : "false") +
      ",\"loadFresh\":" + (ctx.loadFresh ? "true" : "false") + ",\"decisionUs\":" + us.toString() + prefixLog + "}");
    return DataStatus.Continue;
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
  private rewriteModel(body: ArrayBuffer, start: i32, end: i32, target: string): void {
    const quoted = String.UTF8.encode(jsonQuote(target));
    const out = new ArrayBuffer(body.byteLength - (end - start) + quoted.byteLength);
    const o = changetype<usize>(out), b = changetype<usize>(body);
    memory.copy(o, b, start);
    memory.copy(o + start, changetype<usize>(quoted), quoted.byteLength);
    memory.copy(o + start + quoted.byteLength, b + end, body.byteLength - end);
    setBufferBytes(Buffer.HttpRequestBody, 0, <u32>body.byteLength, out);
    replaceHeader(HeaderMap.RequestHeaders, "content-length", out.byteLength.toString());
  }

  onDone(): void {
    if (this.slot >= 0) { inflight.add(this.slot, -1); this.slot = -1; }
  }
}
