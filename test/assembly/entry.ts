// Test entry for the filter's pure modules (no proxy-wasm host imports: if one of them grew a host
// call, instantiating this module in Node would fail). Compiled to build/test/pure.wasm with ESM
// bindings; exercised by test/assembly/pure.test.ts through node:test.

import { parseConfig } from "../../assembly/config";
import { errorBody } from "../../assembly/errors";
import { JsonKind, JsonParser, jsonQuote, kindName } from "../../assembly/json/parser";
import { T_ESCAPED, T_NUMBER, T_STRING, Tape, tapeKindName } from "../../assembly/json/tape";
import { Endpoint as Api, parseRequest, requestTape } from "../../assembly/request/openai";
import { Candidate, RoutingContext } from "../../assembly/routing/candidate";
import { ReadyFilter, WholeRequestRoleFilter } from "../../assembly/routing/filters";
import { Random } from "../../assembly/routing/random";
import { Scheduler } from "../../assembly/routing/scheduler";
import { InFlightScorer, KvCacheScorer, QueueScorer } from "../../assembly/routing/scorers";
import { decodeTable, Pool, Table, validAddress } from "../../assembly/table/table";

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

/** JSON summary of what the filter reads from a request body. */
export function request(body: string, completions: bool): string {
  const r = parseRequest(String.UTF8.encode(body), completions ? Api.Completions : Api.ChatCompletions);
  if (r.status != 0)
    return `{"status":${r.status.toString()},"message":${jsonQuote(r.message)},"param":${jsonQuote(r.param)}}`;
  return (
    '{"status":0,"model":' +
    jsonQuote(r.model) +
    ',"stream":' +
    (r.stream ? "true" : "false") +
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

export function address(a: string): bool {
  return validAddress(a);
}
export function error(status: i32, message: string, code: string, param: string): string {
  return errorBody(status, message, code, param);
}
export function config(text: string): string {
  const r = parseConfig(text);
  if (r.config === null) return `error ${r.error}`;
  const c = r.config!;
  return (
    "ok mode=" +
    (<i32>c.mode).toString() +
    " maxBody=" +
    c.maxBodyBytes.toString() +
    " weights=" +
    c.weights.queue.toString() +
    "," +
    c.weights.kvCache.toString() +
    "," +
    c.weights.inFlight.toString()
  );
}

let current: Table | null = null;

/** The loaded table's pool for `model`, every endpoint a candidate with its in-flight count. */
function contextForModel(model: string, inflightCsv: string): RoutingContext | null {
  const m = current!.findModel(model);
  return m === null ? null : contextFor(m.pool!, parseCounts(inflightCsv));
}

/** Every endpoint of the pool as a candidate, with its in-flight count by slot. */
function contextFor(pool: Pool, counts: Array<i32>): RoutingContext {
  const ctx = new RoutingContext(pool, rng);
  for (let i = 0; i < pool.endpoints.length; i++) {
    const e = pool.endpoints[i];
    ctx.candidates.push(new Candidate(e, e.slot < counts.length ? counts[e.slot] : 0));
  }
  return ctx;
}

/** "3,1,2" -> [3, 1, 2]: in-flight counts by slot. */
function parseCounts(csv: string): Array<i32> {
  const counts = new Array<i32>();
  if (csv.length == 0) return counts;
  const parts = csv.split(",");
  for (let i = 0; i < parts.length; i++) counts.push(I32.parseInt(parts[i]));
  return counts;
}
const rng = new Random(12345);

/** Loads a table for route(); returns "" or the decode error. */
export function loadTable(body: string): string {
  const r = decodeTable(String.UTF8.encode(body));
  if (r.table === null) return r.error;
  current = r.table;
  return "";
}

export function seed(s: u64): void {
  rng.reseed(s);
}

/**
 * Routes one request for `model` against the loaded table with the given in-flight counts
 * (comma-separated, index = slot) and returns the chosen endpoint's name ("" = none).
 */
export function route(
  model: string,
  inflightCsv: string,
  loadFresh: bool,
  wQueue: f64,
  wKv: f64,
  wInFlight: f64,
): string {
  const ctx = contextForModel(model, inflightCsv);
  if (ctx === null) return "!unknown-model";
  ctx.loadFresh = loadFresh;
  const s = new Scheduler();
  s.addFilter(new ReadyFilter()).addFilter(new WholeRequestRoleFilter());
  s.addScorer(new QueueScorer(wQueue)).addScorer(new KvCacheScorer(wKv)).addScorer(new InFlightScorer(wInFlight));
  const c = s.run(ctx);
  return c === null ? "" : c.endpoint.name;
}

import { IndexPrefixMatcher } from "../../assembly/prefix/index-matcher";
import { Bucket, BucketStore, PrefixIndex } from "../../assembly/prefix/prefix-index";
import { BlockHasher, hashPrompt } from "../../assembly/prefix/prompt-blocks";
// ---- PREFIX_CACHE pieces ----
import { xxh64 } from "../../assembly/prefix/xxhash64";
import { OverloadDetector } from "../../assembly/routing/overload";
import { SaturationDetector } from "../../assembly/routing/saturation";
import { PrefixScorer } from "../../assembly/routing/scorers";

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

/** In-memory bucket store (the filter uses shared data); counts reads and writes. */
class MemoryBuckets extends BucketStore {
  data: Map<i32, ArrayBuffer> = new Map();
  versions: Map<i32, u32> = new Map();
  reads: i32 = 0;
  writes: i32 = 0;
  read(index: i32): Bucket {
    this.reads++;
    return new Bucket(
      this.data.has(index) ? this.data.get(index) : null,
      this.versions.has(index) ? this.versions.get(index) : 0,
    );
  }
  write(index: i32, data: ArrayBuffer, cas: u32): bool {
    const v = this.versions.has(index) ? this.versions.get(index) : 0;
    if (cas != 0 && cas != v) return false;
    this.writes++;
    this.data.set(index, data);
    this.versions.set(index, v + 1);
    return true;
  }
  entries(): i32 {
    let n = 0;
    const ks = this.data.keys();
    for (let i = 0; i < ks.length; i++) n += this.data.get(ks[i]).byteLength / 16;
    return n;
  }
}

let buckets = new MemoryBuckets();
let index = new PrefixIndex(buckets, 50000);

export function indexReset(capacity: i32): void {
  buckets = new MemoryBuckets();
  index = new PrefixIndex(buckets, capacity);
}
export function indexEntries(): i32 {
  return buckets.entries();
}
export function indexReads(): i32 {
  return buckets.reads;
}
export function indexWrites(): i32 {
  return buckets.writes;
}

function hashesOf(csv: string): StaticArray<u64> {
  const parts = csv.split(",");
  const out = new StaticArray<u64>(parts.length);
  for (let i = 0; i < parts.length; i++) out[i] = U64.parseInt(parts[i], 16);
  return out;
}

/** Records the blocks (hex csv) against (slot, tag) at stamp. */
export function indexRecord(csv: string, slot: i32, tag: u16, stamp: u32): void {
  const h = hashesOf(csv);
  index.record(h, 0, h.length, slot, tag, stamp);
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
  index.longestMatches(h, h.length, slots, tags, cs.length, matched);
  const out = new Array<string>();
  for (let i = 0; i < cs.length; i++) out.push(matched[i].toString());
  return out.join(",");
}

/**
 * Routes with the PREFIX_CACHE pipeline against the loaded table: the prompt's block hashes
 * (hex csv, "" for none) are matched in the in-memory index, the choice recorded. Returns the
 * endpoint name and its matched blocks as "name/matched".
 */
export function routePrefix(model: string, hashCsv: string, inflightCsv: string, bound: f64, tolerance: f64): string {
  const ctx = contextForModel(model, inflightCsv);
  if (ctx === null) return "!unknown-model";
  let h = new StaticArray<u64>(0);
  if (hashCsv.length > 0) h = hashesOf(hashCsv);
  ctx.hashes = h;
  ctx.prefixBlocks = h.length;
  ctx.affinityKey = h.length > 0 ? h[0] : 0;
  const s = new Scheduler();
  s.addFilter(new ReadyFilter()).addFilter(new WholeRequestRoleFilter());
  s.addScorer(new QueueScorer(2))
    .addScorer(new KvCacheScorer(2))
    .addScorer(new InFlightScorer(2))
    .addScorer(new PrefixScorer(3));
  s.overload = new OverloadDetector(new SaturationDetector(5, 0.8, 0, 2000), bound);
  s.matcher = new IndexPrefixMatcher(index);
  s.rendezvousTolerance = tolerance;
  const c = s.run(ctx);
  if (c === null) return "";
  if (h.length > 0) index.record(h, c.prefixMatched, h.length, c.endpoint.slot, c.endpoint.tag, 1);
  return `${c.endpoint.name}/${c.prefixMatched.toString()}`;
}
