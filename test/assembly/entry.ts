// Test entry for the filter's pure modules (no proxy-wasm host imports: if one of them grew a host
// call, instantiating this module in Node would fail). Compiled to build/test/pure.wasm with ESM
// bindings; exercised by test/assembly/pure.test.ts through node:test.
import { JsonParser, JsonKind, kindName, jsonQuote } from "../../assembly/json/parser";
import { parseRequest, Endpoint as Api } from "../../assembly/request/openai";
import { decodeTable, validAddress, Table } from "../../assembly/table/table";
import { errorBody } from "../../assembly/errors";
import { parseConfig } from "../../assembly/config";
import { Candidate, RoutingContext } from "../../assembly/routing/candidate";
import { Scheduler } from "../../assembly/routing/scheduler";
import { ReadyFilter, WholeRequestRoleFilter } from "../../assembly/routing/filters";
import { QueueScorer, KvCacheScorer, InFlightScorer } from "../../assembly/routing/scorers";
import { Random } from "../../assembly/routing/random";

/** "ok <kind> <start>-<end>" or "error@<pos> <message>". For strings, "ok string:<decoded>". */
export function jsonParse(text: string): string {
  const p = new JsonParser();
  const v = p.parse(String.UTF8.encode(text));
  if (v === null) return "error@" + p.errorAt.toString() + " " + p.error;
  if (v.kind == JsonKind.String) return "ok string:" + v.s;
  if (v.kind == JsonKind.Number) return "ok number:" + v.n.toString();
  return "ok " + kindName(v.kind) + " " + v.start.toString() + "-" + v.end.toString();
}

export function quote(s: string): string { return jsonQuote(s); }

/** JSON summary of what the filter reads from a request body. */
export function request(body: string, completions: bool): string {
  const r = parseRequest(String.UTF8.encode(body), completions ? Api.Completions : Api.ChatCompletions);
  if (r.status != 0) return "{\"status\":" + r.status.toString() + ",\"message\":" + jsonQuote(r.message) + ",\"param\":" + jsonQuote(r.param) + "}";
  return "{\"status\":0,\"model\":" + jsonQuote(r.model) + ",\"stream\":" + (r.stream ? "true" : "false") +
    ",\"modelStart\":" + r.modelStart.toString() + ",\"modelEnd\":" + r.modelEnd.toString() + "}";
}

export function table(body: string): string {
  const r = decodeTable(String.UTF8.encode(body));
  if (r.table === null) return "error " + r.error;
  const t = r.table!;
  return "ok pools=" + t.pools.length.toString() + " models=" + t.models.length.toString() + " endpoints=" +
    (t.pools.length > 0 ? t.pools[0].endpoints.length.toString() : "0");
}

export function address(a: string): bool { return validAddress(a); }
export function error(status: i32, message: string, code: string, param: string): string { return errorBody(status, message, code, param); }
export function config(text: string): string {
  const r = parseConfig(text);
  if (r.config === null) return "error " + r.error;
  const c = r.config!;
  return "ok mode=" + (<i32>c.mode).toString() + " maxBody=" + c.maxBodyBytes.toString() + " weights=" +
    c.weights.queue.toString() + "," + c.weights.kvCache.toString() + "," + c.weights.inFlight.toString();
}

let current: Table | null = null;
const rng = new Random(12345);

/** Loads a table for route(); returns "" or the decode error. */
export function loadTable(body: string): string {
  const r = decodeTable(String.UTF8.encode(body));
  if (r.table === null) return r.error;
  current = r.table;
  return "";
}

export function seed(s: u64): void { rng.reseed(s); }

/**
 * Routes one request for `model` against the loaded table with the given in-flight counts
 * (comma-separated, index = slot) and returns the chosen endpoint's name ("" = none).
 */
export function route(model: string, inflightCsv: string, loadFresh: bool, wQueue: f64, wKv: f64, wInFlight: f64): string {
  const t = current!;
  const m = t.findModel(model);
  if (m === null) return "!unknown-model";
  const pool = m.pool!;
  const counts = new Array<i32>();
  if (inflightCsv.length > 0) {
    const parts = inflightCsv.split(",");
    for (let i = 0; i < parts.length; i++) counts.push(I32.parseInt(parts[i]));
  }
  const ctx = new RoutingContext(pool, rng);
  ctx.loadFresh = loadFresh;
  for (let i = 0; i < pool.endpoints.length; i++) {
    const e = pool.endpoints[i];
    ctx.candidates.push(new Candidate(e, e.slot < counts.length ? counts[e.slot] : 0));
  }
  const s = new Scheduler();
  s.addFilter(new ReadyFilter()).addFilter(new WholeRequestRoleFilter());
  s.addScorer(new QueueScorer(wQueue)).addScorer(new KvCacheScorer(wKv)).addScorer(new InFlightScorer(wInFlight));
  const c = s.run(ctx);
  return c === null ? "" : c.endpoint.name;
}
