// Applies a pushed table's loads to a decoded table with the same topology. Under load the control
// plane pushes a table every scrape round (10 a second), and nearly always only the pods' loads
// changed; decoding the whole table again (a JSON tree, every string, every object: ~4 ms at 512
// pods in Node's V8) on the worker that accepts the push and on every other worker cost Envoy more
// than the requests did at scale. Here the body is scanned without allocating (the request parser's
// tape), its structure checked against the decoded table (pool and endpoint counts, each endpoint's
// address), the load numbers checked against the ranges decode-table.ts enforces, and only those
// are written (each pool's loadsPatched bumped: routing/profile.ts caches scores per Pool object).
// Any difference, or a table without a topology, is left to a full decode.
import { T_ARRAY, T_NUMBER, T_OBJECT, Tape } from "../json/tape";
import { MAX_LOAD_COUNT, MAX_SAFE_NUMBER, Table } from "./table";

const tape = new Tape();

/**
 * Does the table JSON at [ptr, ptr+len) have `table`'s non-empty topology, its endpoints in the
 * same order, and loads (and generation, build time) in range? Scans it for applyLoads(), which
 * must follow before the next call. Touches nothing.
 */
export function loadsFit(ptr: usize, len: i32, table: Table): bool {
  if (table.topology.length == 0 || !tape.parse(ptr, len) || tape.kind(0) != T_OBJECT) return false;
  const topo = tape.find(0, "topology");
  if (topo < 0 || !tape.isString(topo) || !tape.keyIs(topo, table.topology)) return false;
  if (!inRange(0, "generation", 1, MAX_SAFE_NUMBER, false) || !inRange(0, "builtAtMs", 0, MAX_SAFE_NUMBER, false))
    return false;
  const pools = tape.find(0, "pools");
  if (pools < 0 || tape.kind(pools) != T_ARRAY || tape.length(pools) != table.pools.length) return false;
  let i = 0;
  for (let pv = tape.first(pools); pv < tape.next(pools); pv = tape.next(pv)) {
    const eps = table.pools[i++].endpoints;
    if (tape.kind(pv) != T_OBJECT) return false;
    const ea = tape.find(pv, "endpoints");
    if (ea < 0 || tape.kind(ea) != T_ARRAY || tape.length(ea) != eps.length) return false;
    let j = 0;
    for (let ev = tape.first(ea); ev < tape.next(ea); ev = tape.next(ev)) {
      if (tape.kind(ev) != T_OBJECT) return false;
      const a = tape.find(ev, "address");
      if (a < 0 || !sameBytes(a, eps[j++].addressUtf8)) return false;
      if (
        !inRange(ev, "waiting", 0, MAX_LOAD_COUNT, false) ||
        !inRange(ev, "running", 0, MAX_LOAD_COUNT, false) ||
        !inRange(ev, "kvUsage", 0, 1, false) ||
        !inRange(ev, "scrapeAgeMs", -1, MAX_SAFE_NUMBER, true)
      )
        return false;
    }
  }
  return true;
}

/** The generation of the table loadsFit() last accepted. */
export function fitGeneration(): f64 {
  return tape.number(tape.find(0, "generation"));
}

/** Writes the loads loadsFit() just accepted into `table` (the same table it checked). */
export function applyLoads(table: Table): void {
  table.generation = tape.number(tape.find(0, "generation"));
  table.builtAtMs = tape.number(tape.find(0, "builtAtMs"));
  const pools = tape.find(0, "pools");
  let i = 0;
  for (let pv = tape.first(pools); pv < tape.next(pools); pv = tape.next(pv)) {
    const pool = table.pools[i++];
    pool.loadsPatched++;
    const eps = pool.endpoints;
    const ea = tape.find(pv, "endpoints");
    let j = 0;
    for (let ev = tape.first(ea); ev < tape.next(ea); ev = tape.next(ev)) {
      const e = eps[j++];
      e.waiting = tape.number(tape.find(ev, "waiting"));
      e.running = tape.number(tape.find(ev, "running"));
      e.kvUsage = tape.number(tape.find(ev, "kvUsage"));
      const age = tape.find(ev, "scrapeAgeMs");
      e.scrapeAgeMs = age >= 0 ? tape.number(age) : -1;
    }
  }
}

/** loadsFit() then applyLoads(): false (and `table` untouched) when the JSON does not fit. */
export function patchLoads(ptr: usize, len: i32, table: Table): bool {
  if (!loadsFit(ptr, len, table)) return false;
  applyLoads(table);
  return true;
}

/** Number `key` of object o is within [min, max] (absent: only if optional). */
function inRange(o: i32, key: string, min: f64, max: f64, optional: bool): bool {
  const v = tape.find(o, key);
  if (v < 0) return optional;
  if (tape.kind(v) != T_NUMBER) return false;
  const n = tape.number(v);
  return n >= min && n <= max;
}

function sameBytes(e: i32, bytes: ArrayBuffer): bool {
  if (!tape.isString(e)) return false;
  const s = tape.start(e);
  const n = tape.end(e) - s;
  return n == bytes.byteLength && memory.compare(tape.base + <usize>s, changetype<usize>(bytes), <usize>n) == 0;
}
