// How a pushed table reaches every worker: a push that changes only loads is patched into each
// worker's decoded table instead of decoded again (assembly/table/patch-loads.ts), anything else is
// decoded in full; and a decision learns of a new table from the in-flight key (state/inflight.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, decide, ep, gateway, pure, tableJson } from "./pure.js";

const pods = (loads: [number, number, number][], extra: Record<string, unknown>[] = []) =>
  loads.map(([waiting, running, kvUsage], i) => ep(i, `p${i}`, { waiting, running, kvUsage, ...(extra[i] ?? {}) }));

/** Publishes a table (through the gateway's store) and returns another worker's view of it. */
function push(generation: number, topology: string | null, endpoints: unknown[]): string {
  const extra: Record<string, unknown> = { generation, builtAtMs: generation * 100 };
  if (topology !== null) extra.topology = topology;
  assert.equal(pure.loadTable(tableJson(endpoints, extra)), "");
  return pure.otherWorkerTable();
}
// (The filter prints numbers as f64: 1.0, 0.25.)
const copyOf = (view: string) => view.split("|")[0];

test("a push with the same topology patches loads into the worker's copy; any other change decodes", () => {
  pure.gatewayReset("");
  const first = push(
    11,
    "aaaa",
    pods([
      [1, 2, 0.25],
      [0, 0, 0],
    ]),
  );
  assert.equal(first.split("|")[1], "11");
  assert.match(first, /127\.0\.0\.1:8000 1\.0\/2\.0\/0\.25\/5\.0;127\.0\.0\.1:8001 0\.0\/0\.0\/0\.0\/5\.0;$/);

  // Same topology, new loads: the same copy, with the new loads, generation and scrape ages.
  const patched = push(
    12,
    "aaaa",
    pods(
      [
        [7, 3, 0.5],
        [2, 1, 0.125],
      ],
      [{ scrapeAgeMs: 40 }, { scrapeAgeMs: -1 }],
    ),
  );
  assert.equal(copyOf(patched), copyOf(first), "patched in place");
  assert.equal(patched.split("|")[1], "12");
  assert.match(patched, /127\.0\.0\.1:8000 7\.0\/3\.0\/0\.5\/40\.0;127\.0\.0\.1:8001 2\.0\/1\.0\/0\.125\/-1\.0;$/);

  // The worker that accepted the push patched its own copy too; a push it refuses changes nothing.
  const own = pure.gatewayTable();
  assert.equal(own.split("|").slice(1).join("|"), patched.split("|").slice(1).join("|"));
  const again = tableJson(
    pods([
      [9, 9, 0.75],
      [9, 9, 0.75],
    ]),
    { generation: 12, builtAtMs: 1300, topology: "aaaa" },
  );
  assert.match(pure.publishTable(again), /^2\|generation 12 is not newer than the current 12/);
  assert.equal(pure.gatewayTable(), own, "a stale push leaves the loads as they were");
  // A load out of range is refused with the full decode's reason, and changes nothing either.
  const bad = tableJson(
    pods([
      [1, 1, 1.5],
      [0, 0, 0],
    ]),
    { generation: 13, builtAtMs: 1300, topology: "aaaa" },
  );
  assert.match(pure.publishTable(bad), /^1\|table\.pools\[0\]\.endpoints\[0\]\.kvUsage/);
  assert.equal(pure.gatewayTable(), own);
  assert.equal(pure.otherWorkerTable(), patched);

  // Readiness is not a load: a new topology from the control plane, decoded in full.
  const unready = push(
    13,
    "bbbb",
    pods(
      [
        [7, 3, 0.5],
        [2, 1, 0.125],
      ],
      [{}, { ready: false }],
    ),
  );
  assert.notEqual(copyOf(unready), copyOf(patched));
  assert.match(unready, /8001 2\.0\/1\.0\/0\.125\/5\.0 unready;$/);

  // A topology that claims to be the same over different endpoints is not trusted: decoded.
  const moved = push(14, "bbbb", [ep(0, "p0"), ep(1, "p1", { address: "127.0.0.1:9001", ready: false })]);
  assert.notEqual(copyOf(moved), copyOf(unready));
  assert.match(moved, /127\.0\.0\.1:9001 /);
  const fewer = push(15, "bbbb", [ep(0, "p0")]);
  assert.notEqual(copyOf(fewer), copyOf(moved));
  assert.match(fewer, /\|127\.0\.0\.1:8000 0\.0\/0\.0\/0\.0\/5\.0;$/);

  // Without a topology (an older control plane) every push is decoded.
  const a = push(16, null, [ep(0, "p0")]);
  const b = push(17, null, [ep(0, "p0", { waiting: 3 })]);
  assert.notEqual(copyOf(b), copyOf(a));
  assert.match(b, /8000 3\.0\/0\.0\/0\.0\/5\.0;$/);
});

test("decisions follow loads patched in: what the profile computed per pool from the old loads is not reused", () => {
  pure.gatewayReset("");
  const table = (generation: number, kv: [number, number]) =>
    tableJson(
      pods([
        [0, 0, kv[0]],
        [0, 0, kv[1]],
      ]),
      { generation, builtAtMs: 1000, topology: "cccc" },
    );
  assert.equal(pure.loadTable(table(21, [0, 0.9])), "");
  const first = decide(chat("one"), { inflight: "0,0" });
  assert.equal(first.pod, "p0", "the emptier cache");
  const copy = copyOf(pure.gatewayTable());
  assert.equal(pure.loadTable(table(22, [0.9, 0])), "");
  assert.equal(copyOf(pure.gatewayTable()), copy, "the same table and pool objects, patched");
  for (const q of ["two", "three", "four"]) assert.equal(decide(chat(q), { inflight: "0,0" }).pod, "p1", q);
});

test("a decision learns of a newer table from the in-flight key it reads anyway: no read of the generation key, no millisecond behind", () => {
  // matchFirst false: the test entry's headers phase would otherwise read the newest table itself.
  const at = (nowMs: number) => decide(chat(), { nowMs, matchFirst: false });
  gateway({}, tableJson([ep(0, "p0")], { generation: 11 }));
  assert.equal(at(1500).pod, "p0");
  // Another worker accepts a table whose only pod is p1, within the same millisecond.
  assert.equal(pure.publishFromOtherWorker(tableJson([ep(1, "p1")], { generation: 12 })), "");
  assert.equal(at(1500).pod, "p1", "the next decision routes by the new table");
  // Later decisions, milliseconds apart, read the in-flight key and nothing else.
  const genKey = "infergate/v1/generation";
  for (const nowMs of [1502, 1510, 1600]) {
    const before = pure.sharedReadsOf(genKey);
    const d = at(nowMs);
    assert.equal(d.pod, "p1");
    assert.equal(d.sharedReads, 1, `one shared read at ${nowMs} ms`);
    assert.equal(pure.sharedReadsOf(genKey), before, `no read of ${genKey}`);
  }
  // Stamping a generation leaves the counters as they were; an older generation never replaces a newer.
  pure.setInflight("2,5");
  assert.equal(pure.publishFromOtherWorker(tableJson([ep(0, "p0"), ep(1, "p1")], { generation: 13 })), "");
  assert.equal(pure.inflightCsv(), "2,5");
  assert.match(pure.publishFromOtherWorker(tableJson([ep(0, "p0")], { generation: 12 })), /not newer/);
  assert.equal(at(1700).fallbacks?.length, 1, "routed by generation 13 (two pods)");
});
