// Test entry for the filter's pure modules (no proxy-wasm host imports: if one of them grew a host
// call, instantiating this module in Node would fail). Compiled to build/test/pure.wasm with ESM
// bindings; called from test/unit/*.test.ts through node:test. Routing runs through the same
// factory and decision core the filter uses (test-gateway.ts), over a mock of shared data.

import { parseConfig } from "../../assembly/config";
import { HeldChoice } from "../../assembly/core/decision-core";
import { DestinationList } from "../../assembly/core/destination-list";
import { JsonLineWriter } from "../../assembly/core/json-line-writer";
import { OutcomeKind } from "../../assembly/core/outcome";
import { bootstrapFields, bootstrapHost, pdBody } from "../../assembly/core/pd-body";
import { liveSinceMs, QueueDispatcher } from "../../assembly/core/queue-dispatcher";
import { RequestLog } from "../../assembly/core/request-log";
import { hostOf, pathOf, RouteRequest } from "../../assembly/core/route-match";
import { cachedBlocks, readUsage, Usage, UsageTail } from "../../assembly/core/usage";
import { errorBody } from "../../assembly/errors";
import { healthAnswer, modelsAnswer } from "../../assembly/gateway/answers";
import { classify, RouteKind, routeInHeadersPhase, routeRequest } from "../../assembly/gateway/http-routes";
import { JsonParser } from "../../assembly/json/parser";
import { jsonQuote } from "../../assembly/json/quote";
import { T_ESCAPED, T_NUMBER, T_STRING, Tape, tapeKindName, unescapeInto } from "../../assembly/json/tape";
import { JsonKind, kindName } from "../../assembly/json/value";
import { lookupCandidates, PrefixIndex } from "../../assembly/prefix/prefix-index";
import { BlockHasher, hashPrompt } from "../../assembly/prefix/prompt-blocks";
import { RoutedChain } from "../../assembly/prefix/routed-chain";
import { xxh64 } from "../../assembly/prefix/xxhash64";
import { Endpoint as Api, parseRequest, requestTape } from "../../assembly/request/openai";
import { buildRouting } from "../../assembly/routing/factory";
import {
  AffinityGuard,
  Candidate,
  Filter,
  Picker,
  SchedulingContext,
  SchedulingRequest,
  Scorer,
  Yield,
  yieldName,
} from "../../assembly/routing/framework";
import { ProfileResult } from "../../assembly/routing/profile";
import { Random } from "../../assembly/routing/random";
import { findPlugin, PluginKind } from "../../assembly/routing/registry";
import { INFLIGHT_KEY, InFlightCounters } from "../../assembly/state/inflight";
import { PrefixLifetimes } from "../../assembly/state/prefix-lifetimes";
import { TableStore } from "../../assembly/state/table-store";
import { decodeTable, validAddress } from "../../assembly/table/decode-table";
import { Endpoint, Pool, Strategy, Table } from "../../assembly/table/table";
import { benchNowNs } from "./bench-clock";
import { MockSharedData } from "./mock-shared-data";
import { referenceFormat } from "./request-log-reference";
import { MapHeaders, RecordingQueueHost, TestGateway } from "./test-gateway";

/** "ok <kind> <start>-<end>" or "error@<pos> <message>". For strings, "ok string:<decoded>". */
export function jsonParse(text: string): string {
  const p = new JsonParser();
  const v = p.parse(String.UTF8.encode(text));
  if (v === null) return `error@${p.errorAt.toString()} ${p.error}`;
  if (v.kind == JsonKind.String) return `ok string:${v.s}`;
  if (v.kind == JsonKind.Number) return `ok number:${v.n.toString()}`;
  return `ok ${kindName(v.kind)} ${v.start.toString()}-${v.end.toString()}`;
}

export function quote(s: string): string {
  return jsonQuote(s);
}

/** The request path's tape scanner, reported like jsonParse. */
export function tapeParse(text: string): string {
  const t = new Tape();
  const b = String.UTF8.encode(text);
  if (!t.parse(changetype<usize>(b), b.byteLength)) return `error@${t.errorAt.toString()} ${t.error}`;
  const k = t.kind(0);
  if (k == T_STRING || k == T_ESCAPED) return `ok string:${t.str(0)}`;
  if (k == T_NUMBER) return `ok number:${t.number(0).toString()}`;
  return `ok ${tapeKindName(k)} ${t.start(0).toString()}-${t.end(0).toString()} entries=${t.count.toString()}`;
}

/** tapeParse of raw bytes given as hex (to hand the scanner bytes no JS string can hold). */
export function tapeParseHex(hex: string): string {
  const b = new ArrayBuffer(hex.length / 2);
  for (let i = 0; i < b.byteLength; i++)
    store<u8>(changetype<usize>(b) + <usize>i, <u8>U32.parseInt(hex.substr(i * 2, 2), 16));
  const t = new Tape();
  if (!t.parse(changetype<usize>(b), b.byteLength)) return `error@${t.errorAt.toString()} ${t.error}`;
  return "ok";
}

/**
 * unescapeInto() of a JSON string's inside (`text`: the bytes between the quotes) with `limit`, into
 * a buffer of exactly the room its contract asks for (min(n, limit + 16) bytes) followed by 64 guard
 * bytes: "<bytes written> <the decoded text> <guard bytes overwritten>".
 */
export function unescapeLimited(text: string, limit: i32): string {
  const src = String.UTF8.encode(text);
  const n = src.byteLength;
  const room = <i32>min(<i64>n, <i64>limit + 16);
  const dst = new ArrayBuffer(room + 64);
  const p = changetype<usize>(dst);
  memory.fill(p + <usize>room, 0xa5, 64);
  const m = unescapeInto(changetype<usize>(src), n, p, limit);
  let spoiled = 0;
  for (let k = 0; k < 64; k++) if (load<u8>(p + <usize>(room + k)) != 0xa5) spoiled++;
  return `${m.toString()} ${String.UTF8.decodeUnsafe(p, <usize>min(m, room))} ${spoiled.toString()}`;
}

/** JSON summary of what the filter reads from a request body. */
export function request(body: string, completions: bool): string {
  return requestBytes(String.UTF8.encode(body), completions);
}

/** `request` of raw bytes: bodies no JS string can hold (invalid UTF-8), for the fuzzer. */
export function requestBytes(body: ArrayBuffer, completions: bool): string {
  const r = parseRequest(body, completions ? Api.Completions : Api.ChatCompletions);
  if (r.status != 0)
    return `{"status":${r.status.toString()},"message":${jsonQuote(r.message)},"param":${jsonQuote(r.param)}}`;
  return (
    '{"status":0,"model":' +
    jsonQuote(r.model) +
    ',"stream":' +
    (r.stream ? "true" : "false") +
    ',"includeUsage":' +
    (r.includeUsage ? "true" : "false") +
    ',"modelStart":' +
    r.modelStart.toString() +
    ',"modelEnd":' +
    r.modelEnd.toString() +
    "}"
  );
}

export function table(body: string): string {
  const r = decodeTable(String.UTF8.encode(body));
  if (r.table === null) return `error ${r.error}`;
  const t = r.table!;
  return (
    "ok pools=" +
    t.pools.length.toString() +
    " models=" +
    t.models.length.toString() +
    " endpoints=" +
    (t.pools.length > 0 ? t.pools[0].endpoints.length.toString() : "0")
  );
}

/** Every version-2 field of a decoded table as JSON (what routing will use), or "error <reason>". */
export function tableDetail(body: string): string {
  const r = decodeTable(String.UTF8.encode(body));
  if (r.table === null) return `error ${r.error}`;
  const t = r.table!;
  const models = new Array<string>();
  for (let i = 0; i < t.models.length; i++) {
    const m = t.models[i];
    models.push(
      `{"name":${jsonQuote(m.name)},"pool":${jsonQuote(m.pool!.id)},"priority":${m.priority.toString()},"criticality":${(<i32>m.criticality).toString()}}`,
    );
  }
  const pools = new Array<string>();
  for (let i = 0; i < t.pools.length; i++) {
    const p = t.pools[i];
    const targets = new Array<string>();
    for (let k = 0; k < p.anyTargets.length; k++)
      targets.push(`${jsonQuote(p.anyTargets[k].name)}:${p.anyTargets[k].weight.toString()}`);
    const objectives = new Array<string>();
    for (let k = 0; k < p.objectiveNames.length; k++)
      objectives.push(`${jsonQuote(p.objectiveNames[k])}:${p.objectivePriorities[k].toString()}`);
    pools.push(
      `{"id":${jsonQuote(p.id)},"anyModel":${p.anyModel ? "true" : "false"},"anyTargets":{${targets.join(",")}},"objectives":{${objectives.join(",")}}}`,
    );
  }
  const routes = new Array<string>();
  for (let i = 0; i < t.routes.length; i++) {
    const e = t.routes[i];
    const headers = new Array<string>();
    for (let k = 0; k < e.headerNames.length; k++)
      headers.push(`${jsonQuote(e.headerNames[k])}:${jsonQuote(e.headerValues[k])}`);
    const backends = new Array<string>();
    for (let k = 0; k < e.backends.length; k++) {
      const b = e.backends[k];
      backends.push(
        `{"pool":${b.pool === null ? "null" : jsonQuote(b.pool!.id)},"weight":${b.weight.toString()},"error":${jsonQuote(b.error)}}`,
      );
    }
    routes.push(
      `{"label":${jsonQuote(e.label)},"host":${jsonQuote(e.host)},"wildcard":${e.hostWildcard ? "true" : "false"},"exact":${e.pathExact ? "true" : "false"},"path":${jsonQuote(e.path)},"method":${jsonQuote(e.method)},"headers":{${headers.join(",")}},"backends":[${backends.join(",")}]}`,
    );
  }
  return `{"version":${t.version.toString()},"models":[${models.join(",")}],"pools":[${pools.join(",")}],"routes":[${routes.join(",")}]}`;
}

export function address(a: string): bool {
  return validAddress(a);
}
export function error(status: i32, message: string, code: string, param: string): string {
  return errorBody(status, message, code, param);
}
/** "ok mode=… maxBody=… weights=name=w,…" as the filter would load it, or "error <reason>". */
export function config(text: string): string {
  const r = parseConfig(text);
  if (r.config === null) return `error ${r.error}`;
  const c = r.config!;
  const built = buildRouting(c);
  if (built.routing === null) return `error ${built.error}`;
  const names = c.weights.keys();
  const ws = new Array<string>();
  for (let i = 0; i < names.length; i++) ws.push(names[i] + "=" + c.weights.get(names[i]).toString());
  const handled = c.handledToAccessLog ? " handledLog=access-log" : "";
  return `ok mode=${(<i32>c.mode).toString()} maxBody=${c.maxBodyBytes.toString()} weights=${ws.join(",")}${handled}`;
}

/** What the public listener does with a method and path before any body: "kind status api". */
export function httpRoute(method: string, path: string): string {
  const r = classify(method, path);
  if (r.kind == RouteKind.Refuse) return `refuse ${r.status.toString()} ${r.allow} ${r.message}`;
  if (r.kind == RouteKind.Health) return "health";
  if (r.kind == RouteKind.Models) return "models";
  return `inference ${(<i32>r.api).toString()}`;
}

/** A request as the headers phase sees it: ":method", ":path" and the rest from "name\tvalue" lines. */
function requestOf(headers: MapHeaders): RouteRequest {
  const req = new RouteRequest();
  req.reset(headers, headers.value(":method", "POST"), headers.value(":path", "/v1/chat/completions"));
  return req;
}

/**
 * The headers phase as the filter runs it (routeInHeadersPhase, over the gateway's own table
 * store): "<kind> <status> <code> route=<label|-> reads=<header reads beyond :method and :path>",
 * kind one of inference, health, models, refuse.
 */
export function headersPhase(headerLines: string): string {
  const h = new MapHeaders(headerLines);
  const req = requestOf(h);
  const r = routeInHeadersPhase(gw.tables, req, gw.clock);
  const kind =
    r.kind == RouteKind.Refuse
      ? "refuse"
      : r.kind == RouteKind.Health
        ? "health"
        : r.kind == RouteKind.Models
          ? "models"
          : "inference";
  const route = req.route === null ? "-" : req.route!.label;
  const status = r.kind == RouteKind.Refuse ? r.status : 200;
  return `${kind} ${status.toString()} ${r.kind == RouteKind.Refuse ? r.code : "-"} route=${route} reads=${h.reads.toString()}`;
}

/** GET /v1/models for a request (headers as in headersPhase) against the loaded table. */
export function modelsFor(headerLines: string): string {
  const req = requestOf(new MapHeaders(headerLines));
  const t = gw.tables.current();
  routeRequest(t, req);
  const a = modelsAnswer(t, req.route);
  return `${a.status.toString()} ${a.body}`;
}

export function normalizedHost(authority: string): string {
  return hostOf(authority);
}
export function normalizedPath(rawPath: string): string {
  return pathOf(rawPath);
}

// ---- the gateway's decision core over mocks ----

const rng = new Random(12345);
let gw = new TestGateway(rng);
gw.configure("");

export function seed(s: u64): void {
  rng.reseed(s);
}

/** A fresh gateway (empty shared data: another replica, or a restart) with this plugin configuration. */
export function gatewayReset(configJson: string): string {
  gw = new TestGateway(rng);
  return gw.configure(configJson);
}

/** Reconfigures the same gateway (shared data kept: the index, the table, the counters). */
export function gatewayConfigure(configJson: string): string {
  return gw.configure(configJson);
}

/** Publishes a table as the control listener would; "" or the reason it was refused. */
export function loadTable(body: string): string {
  const r = gw.tables.publish(String.UTF8.encode(body));
  if (r.status == 2) {
    // Tests reuse generations: start the table keys over (Envoy's generation check is tested e2e).
    gw.shared.remove("infergate/v1/table");
    gw.shared.remove("infergate/v1/generation");
    unstampGeneration();
    return loadTable(body);
  }
  return r.status == 0 ? "" : r.message;
}

/** Clears the table generation stamped in the in-flight key (the counters stay). */
function unstampGeneration(): void {
  const key = INFLIGHT_KEY;
  const cur = gw.shared.get(key).value;
  if (cur === null || cur.byteLength < 8) return;
  store<f64>(changetype<usize>(cur), 0);
  gw.shared.set(key, cur, 0);
}

/** Publishes a table through another worker's store (the gateway's own copy is not told); "" or
 *  the reason it was refused. */
export function publishFromOtherWorker(body: string): string {
  const r = otherWorkerStore().publish(String.UTF8.encode(body));
  return r.status == 0 ? "" : r.message;
}

/** Shared reads of one key since the gateway was reset. */
export function sharedReadsOf(key: string): i32 {
  return gw.shared.readsOf(key);
}

/** Another worker's view of the gateway's table (its own TableStore over the same shared data):
 *  "<copy>|<generation>|<address waiting/running/kvUsage/scrapeAge>;..." where <copy> numbers the
 *  distinct Table objects this worker has held (the same number: patched in place, not decoded). */
let otherWorker: TableStore | null = null;
let otherWorkerOf: TestGateway | null = null;
// Held, so a copy's memory is never reused by a later one (identity would then lie).
const copies: Table[] = [];
function otherWorkerStore(): TableStore {
  if (otherWorkerOf !== gw) {
    otherWorker = new TableStore(gw.shared, new InFlightCounters(gw.shared));
    otherWorkerOf = gw;
  }
  return otherWorker!;
}
export function otherWorkerTable(): string {
  return describeTable(otherWorkerStore().current());
}

/** The same view of the table the gateway's own store holds (the worker that accepted the push). */
export function gatewayTable(): string {
  return describeTable(gw.tables.current());
}

/** Publishes a table as the control listener would: "<status>|<message>" (0 ok, 1 invalid, 2 stale). */
export function publishTable(body: string): string {
  const r = gw.tables.publish(String.UTF8.encode(body));
  return (<i32>r.status).toString() + "|" + r.message;
}

function describeTable(t: Table | null): string {
  if (t === null) return "none";
  let copy = copies.indexOf(t);
  if (copy < 0) {
    copy = copies.length;
    copies.push(t);
  }
  let out = (copy + 1).toString() + "|" + (<i64>t.generation).toString() + "|";
  for (let i = 0; i < t.pools.length; i++)
    for (let j = 0; j < t.pools[i].endpoints.length; j++) {
      const e = t.pools[i].endpoints[j];
      out +=
        e.address +
        " " +
        e.waiting.toString() +
        "/" +
        e.running.toString() +
        "/" +
        e.kvUsage.toString() +
        "/" +
        e.scrapeAgeMs.toString() +
        (e.ready ? "" : " unready") +
        ";";
    }
  return out;
}

export function setNowMs(ms: f64): void {
  gw.clock.ns = <u64>(ms * 1000000);
}

/** Each clock read advances the gateway's clock by `ns` from now on (0: time stands still). */
export function setClockStep(ns: i32): void {
  gw.clock.stepNs = <u64>ns;
}

/** Sets every slot's in-flight count ("3,1,2": slot 0 has 3, ...), keeping the stamped table generation. */
export function setInflight(csv: string): void {
  const parts = csv.length == 0 ? new Array<string>() : csv.split(",");
  const key = INFLIGHT_KEY;
  const cur = gw.shared.get(key).value;
  const buf = new ArrayBuffer(8 + parts.length * 4);
  if (cur !== null && cur.byteLength >= 8) store<f64>(changetype<usize>(buf), load<f64>(changetype<usize>(cur)));
  for (let i = 0; i < parts.length; i++)
    store<i32>(changetype<usize>(buf) + <usize>(8 + i * 4), I32.parseInt(parts[i]));
  gw.shared.set(key, buf, 0);
}

export function inflightCsv(): string {
  const counts = gw.inflight.snapshot();
  const out = new Array<string>();
  for (let i = 0; i < counts.length; i++) out.push(counts[i].toString());
  return out.join(",");
}

/** The destination header's value as the filter builds it for a routed decision. */
const destinations = new DestinationList();

/**
 * Decides for a request body as the filter does; a JSON summary of the Outcome:
 * {"kind":"routed"|"hold"|"reject","status","code","reason","pod","fallbacks","target","priority",
 *  "pool","headerReads","log":{...}}. `headerLines` are the request's headers ("name\tvalue"
 * lines; :method and :path default to POST /v1/chat/completions); with `matchFirst` the headers
 * phase matches the routes first, as the filter does. `held` is "" for a new request, else
 * "target\tpool\tpriority\troute": what the request chose when it was held. `tableBetween`, when
 * not "", is pushed after the headers phase and before the body.
 */
export function decide(
  body: string,
  completions: bool,
  headerLines: string,
  matchFirst: bool,
  held: string,
  tableBetween: string,
): string {
  const buf = String.UTF8.encode(body);
  const headers = new MapHeaders(headerLines);
  const req = requestOf(headers);
  if (matchFirst) routeInHeadersPhase(gw.tables, req, gw.clock);
  // A table pushed between the headers phase and the body (the decision must match again).
  if (tableBetween.length > 0) {
    const err = loadTable(tableBetween);
    if (err.length > 0) return `{"kind":"error","message":${jsonQuote(err)}}`;
  }
  const readsBefore = headers.reads;
  const sharedBefore = gw.shared.reads;
  const clockBefore = gw.clock.reads;
  const setsBefore = gw.shared.setCalls;
  let choice: HeldChoice | null = null;
  if (held.length > 0) {
    const parts = held.split("\t");
    choice = new HeldChoice();
    choice.target = parts[0];
    choice.poolId = parts[1];
    choice.priority = I32.parseInt(parts[2]);
    choice.route = parts.length > 3 ? parts[3] : "";
  }
  const o = gw.core!.decide(
    changetype<usize>(buf),
    buf.byteLength,
    completions ? Api.Completions : Api.ChatCompletions,
    gw.clock.ns,
    req,
    choice,
  );
  const kind = o.kind == OutcomeKind.Routed ? "routed" : o.kind == OutcomeKind.Hold ? "hold" : "reject";
  let s = `{"kind":"${kind}","status":${o.status.toString()},"code":${jsonQuote(o.code)},"reason":${jsonQuote(o.queueReason)},"message":${jsonQuote(o.message)},"target":${jsonQuote(o.target)},"rewrite":${o.rewrite ? "true" : "false"},"priority":${o.priority.toString()},"pool":${jsonQuote(o.pool === null ? "" : o.pool!.id)},"route":${jsonQuote(o.log.route)},"headerReads":${(headers.reads - readsBefore).toString()},"sharedReads":${(gw.shared.reads - sharedBefore).toString()},"sharedSets":${(gw.shared.setCalls - setsBefore).toString()},"clockReads":${(gw.clock.reads - clockBefore).toString()}`;
  if (o.kind == OutcomeKind.Routed) {
    const names = new Array<string>();
    for (let i = 0; i < o.fallbacks.length; i++) names.push(jsonQuote(o.fallbacks[i].name));
    const prefill = o.prefill === null ? "null" : jsonQuote(o.prefill!.name);
    destinations.build(o.endpoint!, o.fallbacks);
    s += `,"destinations":${jsonQuote(destinations.toString())}`;
    s += `,"pod":${jsonQuote(o.endpoint!.name)},"fallbacks":[${names.join(",")}],"prefill":${prefill},"bootstrapPort":${o.bootstrapPort.toString()},"bodyEnd":${o.bodyEnd.toString()}`;
    s += `,"log":${o.log.format().substring("Request Handled ".length)}`;
    s += `,"chainBlocks":${o.chain === null ? "-1" : o.chain!.hashes.length.toString()}`;
    routedLately.unshift(o.chain === null ? null : new LastRouted(o.chain!, o.fallbacks.slice(0)));
    if (routedLately.length > 8) routedLately.pop();
  }
  return s + "}";
}

/** A routed decide()'s chain and fallbacks: what its stream keeps for Envoy's retry. */
class LastRouted {
  constructor(
    public chain: RoutedChain,
    public fallbacks: Endpoint[],
  ) {}
}
/** The last routed decisions, the latest first (null: it kept no chain). */
const routedLately: Array<LastRouted | null> = [];

/** Envoy retried a routed request (`ago` routed decisions back, 0: the last) on its fallback k, and
 *  that pod answered: what the stream does then (gateway-stream.ts). False when it kept no chain. */
export function fallbackAnswered(ago: i32, k: i32): bool {
  if (ago >= routedLately.length) return false;
  const last = routedLately[ago];
  if (last === null) return false;
  last.chain.recordAnswered(gw.pools, last.fallbacks[k], <f64>gw.clock.ns / 1e6);
  return true;
}

/** The body a P/D request is sent with (pd-body.ts), for a chat body as the filter parses it. */
export function pdRequestBody(body: string, target: string, address: string, port: i32, room: u64): string {
  const buf = String.UTF8.encode(body);
  const r = parseRequest(buf, Api.ChatCompletions);
  if (r.status != 0) return `error ${r.message}`;
  const out = pdBody(
    changetype<usize>(buf),
    buf.byteLength,
    requestTape.end(0) - 1,
    r.modelStart,
    r.modelEnd,
    target.length > 0 ? target : null,
    bootstrapFields(bootstrapHost(address), port, room),
  );
  return String.UTF8.decode(out);
}

/** Prefix-index keys holding entries, for one pool ("" = all pools). */
export function prefixKeys(poolId: string): i32 {
  return gw.shared.liveKeys("infergate/v1/prefix/" + poolId);
}

/** /health and /v1/models answers for the loaded table: "status body". */
export function health(): string {
  const a = healthAnswer(gw.tables.current());
  return `${a.status.toString()} ${a.body}`;
}
export function models(): string {
  const a = modelsAnswer(gw.tables.current());
  return `${a.status.toString()} ${a.body}`;
}

// ---- one plugin at a time ----

/**
 * Runs one registered plugin over the pool of `model` in the loaded table, as a profile would:
 * filters report the candidates they keep; guards "name:yield"; scorers "name:score" (unweighted);
 * pickers the ranking (up to 3) from the given scores "name:score[:loadScore],...". The request
 * body matters to the prefix scorer (and is recorded nowhere: prime the index through decide());
 * `yielded` names candidates an affinity guard marked.
 */
export function pluginRun(
  name: string,
  configJson: string,
  model: string,
  inflight: string,
  loadFresh: bool,
  bounded: bool,
  body: string,
  scoresCsv: string,
  yielded: string,
): string {
  const spec = findPlugin(name);
  if (spec === null) return "!unknown-plugin";
  const cfg = parseConfig(configJson);
  if (cfg.config === null) return `!config ${cfg.error}`;
  const t = gw.tables.current();
  if (t === null) return "!no-table";
  const m = t.findModel(model);
  if (m === null) return "!unknown-model";
  const pool = m.pool!;
  gw.pools.adopt(t);
  const req = new SchedulingRequest();
  req.model = model;
  req.target = model;
  if (body.length > 0) {
    const buf = String.UTF8.encode(body);
    const r = parseRequest(buf, Api.Completions);
    if (r.status != 0) return `!body ${r.message}`;
    req.tape = requestTape;
    req.prompt = r.prompt;
  }
  const ctx = new SchedulingContext(pool, gw.pools.of(pool), req, rng);
  ctx.loadFresh = loadFresh;
  ctx.bounded = bounded;
  ctx.nowMs = 1500;
  ctx.tableAgeMs = 500;
  const counts = inflight.length == 0 ? new Array<string>() : inflight.split(",");
  for (let i = 0; i < pool.endpoints.length; i++) {
    const e = pool.endpoints[i];
    const c = new Candidate(e, e.slot < counts.length ? I32.parseInt(counts[e.slot]) : 0);
    c.pos = i;
    ctx.candidates.push(c);
  }
  ctx.yields = new StaticArray<u8>(pool.endpoints.length);
  const marked = yielded.split(",");
  for (let i = 0; i < ctx.candidates.length; i++)
    if (marked.includes(ctx.candidates[i].endpoint.name)) ctx.yields[i] = <u8>Yield.Balance;
  const plugin = spec.make(cfg.config!);
  const cs = ctx.candidates;
  const out = new Array<string>();
  if (spec.kind == PluginKind.Filter) {
    const f = changetype<Filter>(plugin);
    if (!f.applies(ctx)) return "!not-applicable";
    for (let i = 0; i < cs.length; i++) if (f.keep(cs[i], ctx)) out.push(cs[i].endpoint.name);
  } else if (spec.kind == PluginKind.Guard) {
    const g = changetype<AffinityGuard>(plugin);
    const marks = g.prepare(ctx);
    // As a profile marks: only when prepare() says it may, and it must agree with yieldOf() per
    // candidate (a guard that says it marks nobody must mark nobody).
    ctx.yields = new StaticArray<u8>(cs.length);
    if (marks) g.markYields(ctx);
    for (let i = 0; i < cs.length; i++) {
      const y = g.yieldOf(cs[i], ctx);
      if (<u8>y != ctx.yields[i])
        return `!${marks ? "markYields" : "prepare() said none but yieldOf"} gave ${cs[i].endpoint.name} ${yieldName(<Yield>ctx.yields[i])}, yieldOf() ${yieldName(y)}`;
      out.push(cs[i].endpoint.name + ":" + yieldName(y));
    }
  } else if (spec.kind == PluginKind.Scorer) {
    const sc = changetype<Scorer>(plugin);
    if (!sc.applies(ctx)) return "!not-applicable";
    sc.prepare(ctx);
    // As a profile adds it (weight 1; no score recording), and it must agree with score() per
    // candidate (a scorer may add only to the candidates it scores above 0).
    sc.addScores(ctx, 1, false, -1);
    for (let i = 0; i < cs.length; i++) {
      const one = sc.score(cs[i], ctx);
      if (cs[i].score != one)
        return `!addScores gave ${cs[i].endpoint.name} ${cs[i].score.toString()}, score() ${one.toString()}`;
      const v = Math.round(cs[i].score * 1000) / 1000;
      out.push(cs[i].endpoint.name + ":" + v.toString());
    }
  } else {
    // A prompt gives the picker the prefix scorer's findings, as in a PREFIX_CACHE profile.
    if (body.length > 0) changetype<Scorer>(findPlugin("prefix-cache-scorer")!.make(cfg.config!)).prepare(ctx);
    const scores = scoresCsv.split(",");
    for (let i = 0; i < cs.length && i < scores.length; i++) {
      const kv = scores[i].split(":");
      cs[i].score = F64.parseFloat(kv[1]);
      cs[i].loadScore = kv.length > 2 ? F64.parseFloat(kv[2]) : cs[i].score;
    }
    const ranked = new Array<Candidate>();
    changetype<Picker>(plugin).pick(ctx, ranked, 3);
    for (let i = 0; i < ranked.length; i++) out.push(ranked[i].endpoint.name);
  }
  return out.join(",");
}

// ---- the queue dispatcher: several workers over one ledger ----

const host = new RecordingQueueHost();
const workers = new Array<QueueDispatcher>();

export function queueReset(workerCount: i32): void {
  workers.length = 0;
  for (let i = 0; i < workerCount; i++) workers.push(gw.dispatcher(<f64>(i + 1)));
  host.events.length = 0;
  host.room = 0;
  host.gone.clear();
}

function poolOf(model: string): Pool {
  return gw.tables.current()!.findModel(model)!.pool!;
}

/** Holds a request of this priority on a worker; false when it alone exceeds the pool's capacity. */
export function queueHold(worker: i32, streamId: u32, model: string, priority: i32, bytes: i32, nowMs: f64): bool {
  return workers[worker].hold(host, streamId, poolOf(model), model, priority, bytes, nowMs);
}

/** Services a worker's queue with room for `room` dispatches; returns the events since the last call. */
export function queueService(worker: i32, nowMs: f64, room: i32): string {
  host.room = room;
  workers[worker].service(host, gw.tables.current(), nowMs);
  const s = host.events.join(" ");
  host.events.length = 0;
  return s;
}

export function queueAbandon(worker: i32, streamId: u32): void {
  workers[worker].abandon(host, streamId);
}

export function queueStreamGone(streamId: u32): void {
  host.gone.add(streamId);
}

/** "bytes=… debt=… waiting=critical/standard/sheddable" across all workers, for a pool. */
export function queueLedger(model: string): string {
  const st = gw.ledger.read(poolOf(model).id);
  return `bytes=${(<i64>st.bytes).toString()} debt=${(<i64>st.debt).toString()} waiting=${(<i64>st.waiting[0]).toString()}/${(<i64>st.waiting[1]).toString()}/${(<i64>st.waiting[2]).toString()}`;
}

/** "held=… top=…" across live workers at nowMs (top "none" when nothing is held). */
export function queueTop(model: string, nowMs: f64): string {
  const pool = poolOf(model);
  const st = gw.ledger.read(pool.id);
  const live = liveSinceMs(pool, nowMs);
  const top = st.topPriority(live);
  return `held=${(<i64>st.held(live)).toString()} top=${top == -Infinity ? "none" : (<i64>top).toString()}`;
}

export function queueSize(worker: i32): i32 {
  return workers[worker].queue.size;
}

// ---- PREFIX_CACHE pieces ----

/** XXH64 of the UTF-8 bytes of s, as 16 hex digits. */
export function xxh64Hex(s: string, seed: u64): string {
  const b = String.UTF8.encode(s);
  const h = xxh64(changetype<usize>(b), b.byteLength, seed);
  const hex = h.toString(16);
  return "0000000000000000".substring(hex.length) + hex;
}

/** Block hashes of a request body as comma-separated hex (chat or completions). */
export function blocks(body: string, chat: bool, blockSize: i32, maxBlocks: i32, model: string): string {
  const buf = String.UTF8.encode(body);
  const r = parseRequest(buf, chat ? Api.ChatCompletions : Api.Completions);
  if (r.status != 0) return `error ${r.message}`;
  const h = new BlockHasher(blockSize, maxBlocks, model);
  hashPrompt(h, requestTape, r.messages, r.prompt);
  const parts = new Array<string>();
  for (let i = 0; i < h.count; i++) parts.push(h.hashes[i].toString(16));
  return parts.join(",");
}

/** A standalone PrefixIndex over its own mock store (what the pool states build per pool). */
let indexStore = new MockSharedData();
let index = new PrefixIndex(indexStore, "test/", 50000);
/** The same index as another worker sees it: same store and keys, its own memo. */
let otherWorkerIndex = new PrefixIndex(indexStore, "test/", 50000);

export function indexReset(capacity: i32): void {
  indexStore = new MockSharedData();
  index = new PrefixIndex(indexStore, "test/", capacity);
  otherWorkerIndex = new PrefixIndex(indexStore, "test/", capacity);
}
export function indexEntries(): i32 {
  return indexStore.bytesUnder("test/") / 16;
}
export function indexReads(): i32 {
  return indexStore.reads;
}
export function indexWrites(): i32 {
  return indexStore.writes;
}
export function indexSetCalls(): i32 {
  return indexStore.setCalls;
}

function hashesOf(csv: string): StaticArray<u64> {
  const parts = csv.split(",");
  const out = new StaticArray<u64>(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = U64.parseInt(parts[i], 16);
  return out;
}

/** Records the blocks (hex csv) against (slot, tag) at stamp. */
export function indexRecord(csv: string, slot: i32, tag: u16, stamp: u32): void {
  indexRecordFrom(csv, 0, slot, tag, stamp);
}

/** Records blocks [from, n) of the hex csv, as a decision's routed() does after its lookup. */
export function indexRecordFrom(csv: string, from: i32, slot: i32, tag: u16, stamp: u32): void {
  const h = hashesOf(csv);
  index.record(h, from, h.length, slot, tag, stamp);
}

/** Records the blocks through another worker's PrefixIndex over the same store. */
export function indexRecordOtherWorker(csv: string, slot: i32, tag: u16, stamp: u32): void {
  const h = hashesOf(csv);
  otherWorkerIndex.record(h, 0, h.length, slot, tag, stamp);
}

/** Longest match per candidate "slot:tag" (csv), returned as csv of lengths. */
export function indexMatch(csv: string, candidates: string): string {
  const h = hashesOf(csv);
  const cs = candidates.split(",");
  const slots = new StaticArray<i32>(cs.length);
  const tags = new StaticArray<u16>(cs.length);
  const matched = new StaticArray<i32>(cs.length);
  for (let i = 0; i < cs.length; i++) {
    const p = cs[i].split(":");
    slots[i] = I32.parseInt(p[0]);
    tags[i] = <u16>I32.parseInt(p[1]);
  }
  lookupCandidates.begin();
  for (let i = 0; i < cs.length; i++) lookupCandidates.add(slots[i], i);
  index.longestMatches(h, h.length, lookupCandidates, tags, matched);
  const out = new Array<string>();
  for (let i = 0; i < cs.length; i++) out.push(matched[i].toString());
  return out.join(",");
}

// ---- feedback: what pods report, and what the index learns from it ----

/** The usage the filter reads from a response's last bytes: "prompt cached". */
export function usageOf(tail: string): string {
  const b = String.UTF8.encode(tail);
  const u = readUsage(changetype<usize>(b), b.byteLength, new Usage());
  return `${u.promptTokens.toString()} ${u.cachedTokens.toString()} ${u.detailsNull ? "null" : "-"}`;
}

/** Feeds chunks (joined by \u0001) through a UsageTail and reads the usage. */
export function usageThroughTail(chunks: string): string {
  const t = new UsageTail();
  const parts = chunks.split("\u0001");
  for (let i = 0; i < parts.length; i++) {
    const b = String.UTF8.encode(parts[i]);
    t.append(changetype<usize>(b), b.byteLength);
  }
  const u = t.read(new Usage());
  return `${u.promptTokens.toString()} ${u.cachedTokens.toString()}`;
}

export function blocksFromUsage(prompt: i64, cached: i64, promptBytes: i32, blockSize: i32): i32 {
  const u = new Usage();
  u.promptTokens = prompt;
  u.cachedTokens = cached;
  return cachedBlocks(u, promptBytes, blockSize);
}

/** A pool's learned lifetime for a slot (ms; -1 = none learned). */
export function lifetimeOf(poolId: string, slot: i32, nowMs: f64): f64 {
  const t = gw.tables.current()!;
  const ms = gw.pools.of(t.findPool(poolId)!).lifetimes.lifetimeMs(slot, nowMs + 1000);
  return ms == Infinity ? -1 : ms;
}

/** Evidence from one response, as the stream gives it: returns the lifetime now in force (-1 none). */
export function learnLifetime(poolId: string, slot: i32, ageMs: f64, held: bool, nowMs: f64): f64 {
  const t = gw.tables.current()!;
  const ms = gw.pools.of(t.findPool(poolId)!).lifetimes.learn(slot, ageMs, held, nowMs);
  return ms == Infinity ? -1 : ms;
}

/** The same evidence learned on another Envoy worker (its own copy, the same shared data). */
export function learnLifetimeOnOtherWorker(poolId: string, slot: i32, ageMs: f64, held: bool, nowMs: f64): f64 {
  const ms = new PrefixLifetimes(gw.shared, poolId).learn(slot, ageMs, held, nowMs);
  return ms == Infinity ? -1 : ms;
}

// ---- the decision's cost by phase (bench/scenarios/phases.ts) ----

/**
 * What one decision costs, phase by phase, for `body` on the loaded table (model "m"): each phase
 * run `iterations` times in a loop, timed around the loop (ns per run). The phases are the decision
 * core's own steps called through the same modules (parse, the shared reads, candidates, prompt
 * hashing, index lookup, filters+scorers+picker, recording, the log line); "decide" is the whole
 * decision core (in-flight place taken, then given back: "release"). Also counts, for one decide,
 * the shared-data reads and writes and the header reads: host calls in Envoy. A JSON object.
 */
export function decisionPhases(body: string, iterations: i32): string {
  const buf = String.UTF8.encode(body);
  const ptr = changetype<usize>(buf);
  const len = buf.byteLength;
  const t = gw.tables.current();
  if (t === null) return `{"error":"no table"}`;
  const m = t.findModel("m");
  if (m === null) return `{"error":"no model m"}`;
  const pool = m.pool!;
  gw.pools.adopt(t);
  const headers = new MapHeaders("");
  const req = requestOf(headers);
  const core = gw.core!;
  // Warm-up: the prompt is indexed (the bench's prompts repeat: 8 prefixes), the code is compiled.
  for (let i = 0; i < 20; i++) {
    const o = core.decide(ptr, len, Api.ChatCompletions, gw.clock.ns, req);
    if (o.kind != OutcomeKind.Routed) return `{"error":${jsonQuote(o.message)}}`;
    gw.inflight.add(o.endpoint!.slot, -1);
  }
  const r0 = gw.shared.reads,
    w0 = gw.shared.writes,
    h0 = headers.reads;
  const once = core.decide(ptr, len, Api.ChatCompletions, gw.clock.ns, req);
  const reads = gw.shared.reads - r0,
    writes = gw.shared.writes - w0,
    headerReads = headers.reads - h0;
  gw.inflight.add(once.endpoint!.slot, -1);
  const n = <f64>iterations;
  let s = benchNowNs();
  const loopReads = gw.shared.reads,
    loopWrites = gw.shared.writes;
  for (let i = 0; i < iterations; i++) {
    const o = core.decide(ptr, len, Api.ChatCompletions, gw.clock.ns, req);
    gw.inflight.add(o.endpoint!.slot, -1);
  }
  const decideNs = (benchNowNs() - s) / n;
  // Averages over the loop (sampled refreshes included), the release's read and write taken off.
  const meanReads = <f64>(gw.shared.reads - loopReads) / n - 1;
  const meanWrites = <f64>(gw.shared.writes - loopWrites) / n - 1;
  s = benchNowNs();
  for (let i = 0; i < iterations; i++) {
    gw.inflight.add(0, 1);
    gw.inflight.add(0, -1);
  }
  const releaseNs = (benchNowNs() - s) / n / 2;
  s = benchNowNs();
  for (let i = 0; i < iterations; i++) parseRequest(buf, Api.ChatCompletions);
  const parseNs = (benchNowNs() - s) / n;
  s = benchNowNs();
  for (let i = 0; i < iterations; i++) {
    gw.tables.current();
    gw.inflight.snapshot();
  }
  const sharedReadNs = (benchNowNs() - s) / n;
  // The context as the decision core builds it, its candidates reset from the table per decision.
  const r = parseRequest(buf, Api.ChatCompletions);
  const sreq = new SchedulingRequest();
  sreq.model = r.model;
  sreq.target = r.model;
  sreq.tape = requestTape;
  sreq.messages = r.messages;
  sreq.prompt = r.prompt;
  sreq.bodyBytes = len;
  const ctx = new SchedulingContext(pool, gw.pools.of(pool), sreq, rng);
  ctx.nowMs = <f64>gw.clock.ns / 1e6;
  const eps = pool.endpoints;
  const objects = new Array<Candidate>();
  const counts = gw.inflight.snapshot();
  const profile = gw.routing!.handlerOf(pool).profiles()[0];
  s = benchNowNs();
  for (let i = 0; i < iterations; i++) {
    ctx.state.clear();
    profile.fill(ctx, pool, counts, objects);
  }
  const candidatesNs = (benchNowNs() - s) / n;
  const prefix = pool.strategy == Strategy.PrefixCache;
  let hashNs: f64 = 0;
  let lookupNs: f64 = 0;
  if (prefix) {
    s = benchNowNs();
    for (let i = 0; i < iterations; i++) {
      sreq.promptHashes.reset();
      sreq.promptHashes.ensure(requestTape, r.messages, r.prompt, r.model, pool.blockSize, pool.maxBlocks);
    }
    hashNs = (benchNowNs() - s) / n;
    const hs = sreq.promptHashes;
    const slots = new StaticArray<i32>(eps.length);
    const tags = new StaticArray<u16>(eps.length);
    const matched = new StaticArray<i32>(eps.length);
    const stamps = new StaticArray<u32>(eps.length);
    for (let k = 0; k < eps.length; k++) {
      slots[k] = eps[k].slot;
      tags[k] = eps[k].tag;
    }
    const index = gw.pools.of(pool).prefixIndex;
    s = benchNowNs();
    // The lookup as the prefix scorer runs it: its candidates' slots handed over (in the pass that
    // also resets its per-candidate arrays), then the lookup itself.
    for (let i = 0; i < iterations; i++) {
      lookupCandidates.begin();
      for (let k = 0; k < eps.length; k++) {
        unchecked((matched[k] = 0));
        lookupCandidates.add(unchecked(slots[k]), k);
      }
      index.longestMatches(hs.hashes, hs.count, lookupCandidates, tags, matched, stamps);
    }
    lookupNs = (benchNowNs() - s) / n;
  }
  const res = new ProfileResult();
  s = benchNowNs();
  for (let i = 0; i < iterations; i++) {
    ctx.state.clear();
    profile.fill(ctx, pool, counts, objects);
    profile.runFilled(ctx, res, 1 + gw.config.fallbacks);
  }
  const runNs = (benchNowNs() - s) / n - candidatesNs;
  const chosen = res.targets[0];
  s = benchNowNs();
  for (let i = 0; i < iterations; i++) profile.routed(ctx, chosen);
  const recordNs = (benchNowNs() - s) / n;
  s = benchNowNs();
  // The line as the filter writes it: UTF-8 bytes in a reused buffer, handed to the host as they are.
  let chars = 0;
  const line = new JsonLineWriter();
  for (let i = 0; i < iterations; i++) {
    once.log.write(line);
    chars += line.len;
  }
  line.free();
  const logNs = (benchNowNs() - s) / n;
  const f = (x: f64): string => (Math.round(x) / 1000).toString();
  return (
    `{"decideUs":${f(decideNs)},"parseUs":${f(parseNs)},"sharedReadsUs":${f(sharedReadNs)},` +
    `"candidatesUs":${f(candidatesNs)},"hashUs":${f(hashNs)},"lookupUs":${f(lookupNs)},` +
    `"scoringUs":${f(runNs - lookupNs)},"recordUs":${f(recordNs)},"releaseUs":${f(releaseNs)},` +
    `"logLineUs":${f(logNs)},"logLineBytes":${(chars / iterations).toString()},` +
    `"sharedReads":${reads.toString()},"sharedWrites":${writes.toString()},` +
    `"meanSharedReads":${(Math.round(meanReads * 10) / 10).toString()},"meanSharedWrites":${(Math.round(meanWrites * 10) / 10).toString()},"headerReads":${headerReads.toString()},` +
    `"blocks":${sreq.promptHashes.count.toString()},"endpoints":${eps.length.toString()}}`
  );
}

// ---- the "Request Handled" line: the byte writer against the string-built reference ----

/** Strings that exercise the writer's escaping and UTF-8 encoding. */
const LOG_STRINGS: string[] = [
  "",
  "pod-0",
  'quote " and backslash \\',
  "line\nbreak\rreturn\ttab",
  "\u0001\u0008\u000c\u001f\u007f",
  "é ü ß ñ",
  "中文 ✓ →",
  "emoji 😀 and 𝄞",
  "lone lead \ud83d here",
  "lone trail \ude00 here",
  "ends with a lead \ud83d",
  "\udc00\ud800",
  "req-8f2c1e7a-4b1d-4e09-9a3c-2d7e6f5b4a10",
  "a/b#0.1",
];

function pickString(r: Random): string {
  const a = LOG_STRINGS[r.below(LOG_STRINGS.length)];
  return r.below(3) == 0 ? a + LOG_STRINGS[r.below(LOG_STRINGS.length)] : a;
}

function pickInt(r: Random): i64 {
  const k = r.below(6);
  if (k == 0) return 0;
  if (k == 1) return -1 - <i64>r.below(1000);
  if (k == 2) return <i64>(r.next() >> 1);
  if (k == 3) return -(<i64>(r.next() >> 2));
  return <i64>r.below(100000);
}

/** A varied record: every optional part present or not, numbers of every size and sign. */
function randomLog(r: Random): RequestLog {
  const l = new RequestLog();
  l.requestId = pickString(r);
  l.model = pickString(r);
  l.targetModel = pickString(r);
  l.pool = pickString(r);
  l.pod = pickString(r);
  l.address = pickString(r);
  l.strategy = r.below(2) == 0 ? "DEFAULT" : "PREFIX_CACHE";
  l.priority = <i32>pickInt(r);
  l.criticality = r.below(3);
  l.route = r.below(2) == 0 ? "" : pickString(r);
  l.candidates = <i32>pickInt(r);
  l.eligible = <i32>pickInt(r);
  l.stream = r.below(2) == 0;
  l.loadFresh = r.below(2) == 0;
  l.decisionUs = pickInt(r);
  const nf = r.below(4);
  for (let i = 0; i < nf; i++) l.fallbacks.push(pickString(r));
  l.answeredBy = r.below(4) == 0 ? pickString(r) : "";
  l.hasPrefix = r.below(2) == 0;
  l.totalBlocks = r.below(4) == 0 ? 0 : 1 + r.below(2048);
  l.matchedBlocks = l.totalBlocks > 0 ? r.below(l.totalBlocks + 1) : 0;
  l.bestMatch = <i32>pickInt(r);
  l.recordUs = pickInt(r);
  l.indexedBlocks = r.below(2) == 0 ? -1 : r.below(1000);
  if (r.below(2) == 0) {
    l.realBlocks = r.below(1000);
    l.cachedTokens = pickInt(r);
    l.promptTokens = pickInt(r);
  }
  if (r.below(2) == 0) {
    l.affinityPod = pickString(r);
    l.affinityYield = r.below(2) == 0 ? "score" : "imbalance";
    l.affinityInflight = <i32>pickInt(r);
  }
  if (r.below(3) == 0) {
    l.prefillPod = pickString(r);
    l.prefillAddress = pickString(r);
    l.prefillStrategy = r.below(2) == 0 ? "DEFAULT" : "PREFIX_CACHE";
    l.prefillEligible = <i32>pickInt(r);
    l.bootstrapRoom = (r.next() >> 1).toString();
    l.bootstrapPort = <i32>pickInt(r);
    if (r.below(2) == 0) {
      l.prefillMatchedBlocks = r.below(100);
      l.prefillTotalBlocks = r.below(100);
    }
    if (r.below(2) == 0) {
      l.prefillStatus = r.below(600);
      l.prefillMs = pickInt(r);
    }
    l.prefillCancelled = r.below(2) == 0;
    if (r.below(2) == 0) {
      l.prefillPromptTokens = pickInt(r);
      l.prefillCachedTokens = pickInt(r);
    }
  }
  l.queueWaitMs = r.below(2) == 0 ? -1 : pickInt(r);
  l.scores = r.below(3) == 0 ? "" : '"queue-scorer":1.5,"prefix-cache-scorer":0.125';
  return l;
}

function firstDifference(a: ArrayBuffer, w: JsonLineWriter): i32 {
  const n = min(a.byteLength, w.len);
  for (let i = 0; i < n; i++) if (load<u8>(changetype<usize>(a) + <usize>i) != load<u8>(w.ptr + <usize>i)) return i;
  return a.byteLength == w.len ? -1 : n;
}

/**
 * `count` varied records, plus every prefix score k/1000: the bytes RequestLog.write puts in one
 * reused writer against String.UTF8.encode of the reference (string-built) line. "" when all equal,
 * else the first difference.
 */
export function requestLogMatchesReference(seed: i32, count: i32): string {
  const r = new Random(<u64>seed);
  const w = new JsonLineWriter(16); // small: growing is exercised too
  for (let i = 0; i < count + 1001; i++) {
    const l = randomLog(r);
    if (i >= count) {
      l.hasPrefix = true;
      l.totalBlocks = 1000;
      l.matchedBlocks = i - count;
    }
    l.write(w);
    const want = String.UTF8.encode(referenceFormat(l));
    const at = firstDifference(want, w);
    if (at >= 0)
      return `record ${i.toString()} differs at byte ${at.toString()}: want ${jsonQuote(referenceFormat(l))}, got ${jsonQuote(w.toString())}`;
  }
  w.free();
  return "";
}
