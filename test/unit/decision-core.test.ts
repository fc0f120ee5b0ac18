// The decision core the filter runs (assembly/core/decision-core.ts), built by the production
// factory, over a mock of Envoy's shared data: parse -> model -> admission -> profiles -> outcome.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, counts, decide, ep, gateway, POOL, podFor, poolJson, promptOf, pure, tableJson } from "./pure.js";

test("DEFAULT: least in-flight wins, ties are broken at random", () => {
  gateway({}, tableJson([ep(0, "a"), ep(1, "b"), ep(2, "c")]));
  pure.seed(7n);
  assert.equal(podFor(chat(), { inflight: "3,1,2" }), "b");
  assert.equal(podFor(chat(), { inflight: "0,5,5" }), "a");
  const tie = counts(3000, () => podFor(chat(), { inflight: "1,1,4" }));
  assert.deepEqual([...tie.keys()].sort(), ["a", "b"]);
  assert.ok(Math.abs(tie.get("a")! - 1500) < 150, `ties split evenly: ${[...tie]}`);
  assert.equal(podFor(chat("hi", "nope")), "!unknown-model");
});

test("DEFAULT: waiting queue and KV use count while fresh, not when stale; weights by scorer name", () => {
  const t = tableJson([
    ep(0, "a", { waiting: 9, kvUsage: 0.9 }),
    ep(1, "b", { waiting: 0, kvUsage: 0.1 }),
    ep(2, "c", { waiting: 4, kvUsage: 0.5 }),
  ]);
  gateway({}, t);
  assert.equal(podFor(chat(), { inflight: "" }), "b");
  // Gateway in-flight outweighs one scraped signal, not both.
  assert.equal(podFor(chat(), { inflight: "0,3,3" }), "b");
  // Stale table (built at 1000, stale after 2000 ms): scraped load ignored, only in-flight counts.
  assert.equal(podFor(chat(), { inflight: "0,3,3", nowMs: 10_000 }), "a");
  // Weights are honoured: queue only, then KV only.
  const t2 = tableJson([ep(0, "a", { waiting: 1, kvUsage: 0.9 }), ep(1, "b", { waiting: 5, kvUsage: 0 })]);
  const only = (name: string) => ({
    weights: { "queue-scorer": 0, "kv-cache-utilization-scorer": 0, "in-flight-scorer": 0, [name]: 1 },
  });
  gateway(only("queue-scorer"), t2);
  assert.equal(podFor(chat(), { inflight: "" }), "a");
  gateway(only("kv-cache-utilization-scorer"), t2);
  assert.equal(podFor(chat(), { inflight: "" }), "b");
});

test("the destination header lists the pick, then its fallbacks, by address; the buffer grows and is reused", () => {
  const v6 = (slot: number, name: string) =>
    ep(slot, name, { address: `[fd00:1234:5678:9abc:def0:1234:5678:${(0x9a00 + slot).toString(16)}]:8000` });
  const long = [v6(0, "a"), v6(1, "b"), v6(2, "c"), v6(3, "d")];
  const short = [ep(0, "a"), ep(1, "b"), ep(2, "c"), ep(3, "d")];
  for (const eps of [short, long, short]) {
    gateway({ fallbacks: 2 }, tableJson(eps));
    for (const inflight of ["0,1,2,3", "3,2,1,0", "2,0,3,1"]) {
      const d = decide(chat(), { inflight });
      const addressOf = (n: string) => eps.find((e) => e.name === n)!.address;
      assert.equal(d.fallbacks!.length, 2);
      assert.equal(d.destinations, [d.pod!, ...d.fallbacks!].map(addressOf).join(","));
    }
  }
  // No fallbacks: the pick alone.
  gateway({ fallbacks: 0 }, tableJson(long));
  const d = decide(chat(), { inflight: "1,1,0,1" });
  assert.equal(d.destinations, long[2].address);
});

test("not-ready and role-bound endpoints are never picked; none left is a 503 with Retry-After", () => {
  gateway(
    {},
    tableJson([ep(0, "a", { ready: false }), ep(1, "b", { role: "prefill" }), ep(2, "c", { waiting: 50, kvUsage: 1 })]),
  );
  const picks = counts(200, () => podFor(chat(), { inflight: "9,9,9" }));
  assert.deepEqual([...picks], [["c", 200]]);
  gateway({}, tableJson([ep(0, "a", { ready: false })]));
  const d = decide(chat());
  assert.equal(d.kind, "reject");
  assert.equal(d.status, 503);
  assert.equal(d.code, "no_ready_endpoint");
  assert.match(d.message, /no ready endpoint in pool default\/pool for model m/);
});

test("bad requests, unknown models and a missing table are answered, never routed", () => {
  pure.gatewayReset("{}");
  assert.deepEqual(
    [decide(chat()).status, decide(chat()).code],
    [503, "no_table"],
    "no table pushed yet: 503 no_table",
  );
  gateway({}, tableJson([ep(0, "a")]));
  const bad = decide({ model: "m", messages: "hi" });
  assert.equal(bad.status, 400);
  assert.match(bad.message, /'messages' must be an array/);
  const unknown = decide(chat("hi", "other"));
  assert.equal(unknown.status, 404);
  assert.equal(unknown.code, "model_not_found");
});

test("the routed outcome: in-flight taken, log line fields, target model rewrite", () => {
  const t = JSON.parse(tableJson([ep(0, "a"), ep(1, "b")]));
  t.models.push({ name: "alias", pool: "default/pool", criticality: "Sheddable", targets: [{ name: "m", weight: 1 }] });
  gateway({}, JSON.stringify(t));
  const d = decide(chat("hi", "alias"), { inflight: "0,5" });
  assert.equal(d.kind, "routed");
  assert.equal(d.pod, "a");
  assert.equal(pure.inflightCsv(), "1,5", "the chosen pod's in-flight count is taken");
  assert.equal(d.rewrite, true);
  assert.equal(d.target, "m");
  const log = d.log!;
  assert.deepEqual(
    [log.model, log.targetModel, log.pool, log.pod, log.address, log.strategy, log.criticality],
    ["alias", "m", "default/pool", "a", "127.0.0.1:8000", "DEFAULT", 2],
  );
  assert.deepEqual([log.candidates, log.eligible, log.stream, log.loadFresh], [2, 2, false, true]);
  assert.equal("scores" in log, false, "per-scorer scores only with logScores");
  // The debug setting adds each scorer's weighted score for the chosen pod.
  pure.gatewayConfigure(JSON.stringify({ logScores: true }));
  const dbg = decide(chat(), { inflight: "0,5" }).log!;
  assert.deepEqual(Object.keys(dbg.scores), [
    "queue-scorer",
    "kv-cache-utilization-scorer",
    "in-flight-scorer",
    "lora-affinity-scorer",
  ]);
  assert.equal(dbg.scores["in-flight-scorer"], 2, "in-flight 0 of max 5: weight 2 x 1.0");
});

test("a LoRA adapter's requests prefer the pods that have it loaded", () => {
  const t = JSON.parse(tableJson([ep(0, "a"), ep(1, "b", { loras: ["sql-lora"] }), ep(2, "c")]));
  t.models.push({
    name: "sql",
    pool: "default/pool",
    criticality: "Standard",
    targets: [{ name: "sql-lora", weight: 1 }],
  });
  gateway({}, JSON.stringify(t));
  // b has one more request in flight than the others, but the adapter is there.
  assert.equal(podFor(chat("q", "sql"), { inflight: "0,1,0" }), "b");
  // Much busier: load wins (weight 1 against the load scorers' 6).
  assert.notEqual(podFor(chat("q", "sql"), { inflight: "0,9,0" }), "b");
  // Requests for the base model are unaffected.
  const base = counts(200, () => podFor(chat(), { inflight: "0,0,0" }));
  assert.equal(base.size, 3);
});

// Four pods, PREFIX_CACHE; conversation prompts of exactly N blocks.
const fourPods = [ep(0, "a"), ep(1, "b"), ep(2, "c"), ep(3, "d")];
function prefixTable(eps = fourPods) {
  return tableJson(eps, {}, { strategy: "PREFIX_CACHE" });
}
function prefixPick(prompt: string, inflight = "", nowMs = 1500): string {
  const d = decide({ model: "m", prompt }, { inflight, completions: true, nowMs });
  return d.kind === "routed" ? `${d.pod}/${d.log!.matchedBlocks}` : `!${d.status}`;
}

test("PREFIX_CACHE: affinity, imbalance and balance guards, rendezvous for new prefixes; no fleet-wide collapse", () => {
  const cfg = { balanceBound: 1.25, rendezvousTolerance: 0.5 };
  gateway(cfg, prefixTable());
  const conv = promptOf(20, "conversation-one");
  const first = prefixPick(conv);
  const [pod, matched] = first.split("/");
  assert.equal(matched, "0");
  // The same new prefix picks the same pod by rendezvous, even with a fresh index (another replica).
  gateway(cfg, prefixTable());
  assert.equal(prefixPick(conv), first);
  // Later turn: affinity wins over a small load difference.
  const slotOf = (name: string) => ["a", "b", "c", "d"].indexOf(name);
  const load = [0, 0, 0, 0];
  load[slotOf(pod)] = 1;
  assert.equal(prefixPick(conv, load.join(",")), `${pod}/20`);
  // 6 in flight of 7 across 4 pods (capacity ceil(1.25*8/4)+3 = 6): with the bound off affinity holds...
  const heavy = [0, 0, 0, 0];
  heavy[slotOf(pod)] = 6;
  heavy[(slotOf(pod) + 1) % 4] = 1;
  pure.gatewayConfigure(JSON.stringify({ ...cfg, balanceBound: 0 }));
  assert.equal(prefixPick(conv, heavy.join(",")).split("/")[0], pod);
  // ...over its balance bound of 1.25 it yields, and the log line says so.
  pure.gatewayConfigure(JSON.stringify(cfg));
  const y = decide({ model: "m", prompt: conv }, { inflight: heavy.join(","), completions: true });
  assert.notEqual(y.pod, pod);
  assert.deepEqual([y.log!.affinityPod, y.log!.affinityYield, y.log!.bestMatch], [pod, "balance", 20]);
  // A queue much deeper than the others' (32 more and 1.5 times as deep): affinity yields.
  gateway(cfg, prefixTable());
  assert.equal(prefixPick(conv), first);
  pure.loadTable(prefixTable(fourPods.map((e) => (e.name === pod ? { ...e, waiting: 40 } : { ...e, waiting: 4 }))));
  const s = decide({ model: "m", prompt: conv }, { inflight: "", completions: true });
  assert.notEqual(s.pod, pod);
  assert.equal(s.log!.affinityYield, "imbalance");
  // Every pod busy (deep queues, KV nearly full): affinity holds; it is what lowers the load.
  gateway(cfg, prefixTable());
  assert.equal(prefixPick(conv), first);
  pure.loadTable(prefixTable(fourPods.map((e) => ({ ...e, waiting: e.name === pod ? 60 : 45, kvUsage: 0.97 }))));
  assert.equal(prefixPick(conv), `${pod}/20`);
  // Different new conversations spread over the pods.
  gateway(cfg, prefixTable());
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++) seen.add(prefixPick(promptOf(4, `new-conv-${i}`), "").split("/")[0]);
  assert.equal(seen.size, 4);
});

test("PREFIX_CACHE: new prefixes avoid a pod clearly busier by its scraped load (default tolerance); replicas agree", () => {
  // d holds much more KV cache (a slower pod's requests live longer): by the default tolerance of 1
  // (of the scraped-load score's 0-4) it gets no new prefix; placed by hash alone (4) it got its share.
  const uneven = fourPods.map((e) => (e.name === "d" ? { ...e, kvUsage: 0.7 } : { ...e, kvUsage: 0.1 }));
  const homes = (cfg: Record<string, unknown>) => {
    const byPod = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      gateway(cfg, prefixTable(uneven)); // a fresh index: every prompt is new
      const pod = prefixPick(promptOf(4, `new-${i}`), "").split("/")[0];
      byPod.set(pod, (byPod.get(pod) ?? 0) + 1);
    }
    return byPod;
  };
  const byDefault = homes({});
  assert.equal(byDefault.get("d") ?? 0, 0, JSON.stringify([...byDefault]));
  assert.equal(byDefault.size, 3, "the others still share them by hash");
  assert.ok((homes({ rendezvousTolerance: 4 }).get("d") ?? 0) >= 4, "by hash alone d takes its share");
  // What decides is what every replica scrapes alike: a fresh gateway (another replica) agrees.
  for (let i = 0; i < 10; i++) {
    const p = promptOf(4, `agree-${i}`);
    gateway({}, prefixTable(uneven));
    const a = prefixPick(p, "");
    gateway({}, prefixTable(uneven));
    assert.equal(prefixPick(p, ""), a);
  }
});

test("PREFIX_CACHE: a fallback Envoy retried on and that answered holds the prompt: the next turn finds it there", () => {
  gateway({}, prefixTable());
  const conv = promptOf(20, "failed-over");
  const nextTurn = { model: "m", prompt: `${conv} and a question more` };
  const first = decide({ model: "m", prompt: conv }, { inflight: "", completions: true });
  assert.equal(first.chainBlocks, 20);
  const [chosen, fallback] = [first.pod!, first.fallbacks![0]];
  assert.ok(pure.fallbackAnswered(0, 0));
  // The chosen pod is out (ejected, removed): the next turn goes where the prompt was answered.
  const without = (gen: number, pool = {}) =>
    tableJson(
      fourPods.filter((e) => e.name !== chosen),
      { generation: gen },
      { strategy: "PREFIX_CACHE", ...pool },
    );
  assert.equal(pure.loadTable(without(11)), "");
  const next = decide(nextTurn, { inflight: "", completions: true });
  assert.deepEqual([next.pod, next.log!.matchedBlocks], [fallback, 20]);
  // Unless the pool's index was replaced in between (a capacity change, adopted by this worker's
  // next decision, empties the old one's keys, and they stay empty): nothing is recorded.
  gateway({}, prefixTable());
  decide({ model: "m", prompt: conv }, { inflight: "", completions: true });
  assert.equal(pure.loadTable(without(11, { prefix: { lruCapacity: 4096 } })), "");
  decide({ model: "m", prompt: promptOf(4, "another") }, { inflight: "", completions: true });
  assert.equal(pure.prefixKeys(`${POOL}/50000/`), 0, "the old index's keys are emptied");
  assert.ok(pure.fallbackAnswered(1, 0));
  assert.equal(pure.prefixKeys(`${POOL}/50000/`), 0, "and stay empty");
  assert.equal(decide(nextTurn, { inflight: "", completions: true }).log!.matchedBlocks, 0);
  // Nor when the pool left the table: and no state is made up for it, which the next table adopted
  // would empty bucket by bucket (196 writes for the default capacity).
  gateway({}, prefixTable());
  decide({ model: "m", prompt: conv }, { inflight: "", completions: true });
  const elsewhere = (gen: number) =>
    tableJson(fourPods, { generation: gen }, { strategy: "PREFIX_CACHE", id: "ns/other" });
  assert.equal(pure.loadTable(elsewhere(11)), "");
  decide({ model: "m", prompt: promptOf(4, "in the other pool") }, { inflight: "", completions: true });
  assert.ok(pure.fallbackAnswered(1, 0));
  assert.equal(pure.prefixKeys(`${POOL}/50000/`), 0, "nothing recorded for the departed pool");
  assert.equal(pure.loadTable(elsewhere(12)), "");
  const adopting = decide({ model: "m", prompt: promptOf(4, "after") }, { inflight: "", completions: true });
  assert.ok(adopting.sharedSets < 20, `the next table's adoption wrote ${adopting.sharedSets} values`);
  // DEFAULT keeps no chain.
  gateway({}, tableJson(fourPods));
  assert.equal(decide({ model: "m", prompt: conv }, { inflight: "", completions: true }).chainBlocks, -1);
});

test("PREFIX_CACHE: recordUs times the index's writes; a visit that writes nothing reads no clock", () => {
  // A clock read is a host call in Envoy: a repeat visit, whose record makes no host call, must not
  // pay two of them to log a recordUs of 0.
  for (const mode of ["feedback", "estimate"]) {
    gateway({}, tableJson(fourPods, {}, { strategy: "PREFIX_CACHE", prefix: { mode } }));
    pure.setClockStep(3000); // each read advances the clock 3 us
    const conv = promptOf(20, `timed-${mode}`);
    const visit = () => decide({ model: "m", prompt: conv }, { inflight: "0,0,0,0", completions: true });
    const first = visit();
    // New prompt: 20 blocks recorded (a read and a write per group of 4), timed by two clock reads.
    assert.equal(first.log!.matchedBlocks, 0, mode);
    assert.equal(first.clockReads, 2, mode);
    assert.equal(first.log!.recordUs, 3, mode);
    let quiet = 0;
    for (let i = 0; i < 16; i++) {
      const d = visit();
      assert.equal(d.log!.matchedBlocks, 20, mode);
      // 1 visit in 8 refreshes the held chain's stamps: a read of the buckets of its 5 groups of
      // blocks the lookup did not read (3: the lookup's reads are 3 or 4, in-flight counters, first
      // and last group, a stamp).
      const recorded = d.sharedReads >= 6;
      assert.equal(d.clockReads, recorded ? 2 : 0, `${mode} visit ${i}`);
      assert.equal(d.log!.recordUs, recorded ? 3 : 0, `${mode} visit ${i}`);
      if (!recorded) quiet++;
    }
    assert.ok(quiet >= 8, `${mode}: ${quiet} of 16 repeat visits wrote nothing`);
  }
});

test("PREFIX_CACHE: each pool has its own index, sized by its own lru-capacity", () => {
  // Pool "small" holds 64 entries (one bucket); pool "big" the default 50000.
  const small = poolJson([ep(0, "s0"), ep(1, "s1")], {
    id: "ns/small",
    strategy: "PREFIX_CACHE",
    prefix: { lruCapacity: 64 },
  });
  const big = poolJson([ep(2, "b0"), ep(3, "b1")], { id: "ns/big", strategy: "PREFIX_CACHE" });
  const table = JSON.stringify({
    version: 1,
    generation: 10,
    builtAtMs: 1000,
    stalenessMs: 2000,
    pools: [small, big],
    models: [
      { name: "small-model", pool: "ns/small", criticality: "Standard", targets: [] },
      { name: "big-model", pool: "ns/big", criticality: "Standard", targets: [] },
    ],
  });
  gateway({}, table);
  const pick = (model: string, prompt: string) => {
    const d = decide({ model, prompt }, { inflight: "", completions: true });
    return [d.pod, d.log!.matchedBlocks] as [string, number];
  };
  // A conversation in the big pool...
  const keep = promptOf(16, "big-pool-conversation");
  const [bigPod] = pick("big-model", keep);
  // ...then 40 conversations of 16 blocks through the small pool, far over its 64 entries.
  for (let i = 0; i < 40; i++) pick("small-model", promptOf(16, `small-${i}`));
  assert.equal(pure.prefixKeys("ns/small/64/"), 1, "the small pool's index is one bucket");
  assert.ok(pure.prefixKeys("ns/big/50000/") >= 3, "the big pool's blocks spread over its own buckets");
  // The small pool evicted its oldest conversations; the big pool's survived untouched.
  assert.deepEqual(pick("big-model", keep), [bigPod, 16]);
  assert.equal(pick("small-model", promptOf(16, "small-0"))[1], 0, "evicted from the small pool");
  // A capacity change starts that pool over under new keys and empties the old ones.
  const resized = JSON.parse(table);
  resized.generation = 11;
  resized.pools[0].prefix.lruCapacity = 128;
  assert.equal(pure.loadTable(JSON.stringify(resized)), "");
  pick("small-model", promptOf(16, "after-resize"));
  assert.equal(pure.prefixKeys("ns/small/64/"), 0, "the old index's keys are emptied");
  assert.equal(pure.prefixKeys("ns/small/128/"), 1); // one bucket of 128 entries
  assert.deepEqual(pick("big-model", keep), [bigPod, 16], "the other pool is untouched");
});

test("PREFIX_CACHE on a real clock: a full index replaces its least recently used entries", () => {
  // Epoch milliseconds, as Envoy's clock gives them: far past 2^32 in the index's 100 ms stamps.
  // (Stamps once saturated to one value here, the LRU choice fell through and a write went past
  // the full bucket into the allocator's next block.)
  const small = poolJson([ep(0, "a"), ep(1, "b")], { strategy: "PREFIX_CACHE", prefix: { lruCapacity: 64 } });
  const t = JSON.parse(tableJson([]));
  t.pools = [small];
  gateway({}, JSON.stringify(t));
  const start = Date.now();
  const pick = (prompt: string, nowMs: number) => {
    const d = decide({ model: "m", prompt }, { inflight: "", completions: true, nowMs });
    return [d.pod, d.log!.matchedBlocks] as [string, number];
  };
  // 12 conversations of 16 blocks, a second apart: 192 entries through a 64-entry index.
  const pods: string[] = [];
  for (let i = 0; i < 12; i++) pods.push(pick(promptOf(16, `conversation ${i}`), start + i * 1000)[0]);
  assert.equal(pure.prefixKeys("default/pool/64/"), 1);
  // The newest three conversations survive whole, the oldest is gone.
  for (const i of [9, 10, 11])
    assert.deepEqual(pick(promptOf(16, `conversation ${i}`), start + 20_000), [pods[i], 16], `${i}`);
  assert.equal(pick(promptOf(16, "conversation 0"), start + 21_000)[1], 0);
});

test("queueing: hold while every pod is saturated, shed Sheddable, queue behind more critical waiters", () => {
  const saturated = [ep(0, "a", { waiting: 9 }), ep(1, "b", { waiting: 9 })];
  const t = JSON.parse(tableJson(saturated, {}, { queue: { enabled: true } }));
  t.models.push({ name: "batch", pool: "default/pool", criticality: "Sheddable", targets: [] });
  gateway({}, JSON.stringify(t));
  const held = decide(chat(), { inflight: "" });
  assert.equal(held.kind, "hold");
  const shed = decide(chat("x", "batch"), { inflight: "" });
  assert.deepEqual(
    [shed.kind, shed.status, shed.code, shed.reason],
    ["reject", 429, "sheddable_rejected", "sheddable"],
  );
  // A pod with room: routed, and its in-flight place taken atomically.
  const room = JSON.parse(JSON.stringify(t));
  room.generation = 11;
  room.pools[0].endpoints[1].waiting = 0;
  pure.loadTable(JSON.stringify(room));
  assert.equal(decide(chat(), { inflight: "0,0" }).pod, "b");
  assert.equal(pure.inflightCsv(), "0,1");
  // ...unless a request at least as critical already waits (on any worker): then it queues behind.
  pure.queueReset(1);
  pure.queueHold(0, 7, "m", 1, 100, 1500); // Critical
  assert.equal(decide(chat(), { inflight: "0,0" }).kind, "hold");
  // A held request offered again by the queue is not sent back to the end of it.
  assert.equal(decide(chat(), { inflight: "0,0", held: { target: "m", pool: POOL, priority: 1 } }).kind, "routed");
  // Stale metrics saturate every pod for queueing.
  assert.equal(decide(chat("x", "batch"), { inflight: "0,0", nowMs: 60_000 }).code, "sheddable_rejected");
});

test("logScores: a scorer with nothing to say for the decision (no LoRA adapter loaded) shows 0", () => {
  gateway({ logScores: true }, tableJson([ep(0, "a", { waiting: 1 }), ep(1, "b", { kvUsage: 0.5 })]));
  const scores = decide(chat()).log!.scores;
  assert.equal(scores["lora-affinity-scorer"], 0);
  assert.ok(scores["queue-scorer"] > 0 && scores["kv-cache-utilization-scorer"] > 0, JSON.stringify(scores));
});

test("scores summed once per table rank pods exactly as scores added per decision (logScores adds each)", () => {
  // Last in this file: it seeds the random source the other tests share.
  // Forty pods with queues and KV use spread (many alike: ties), in-flight counts changing per
  // request. With logScores every scorer is added per decision; without it the queue and KV-cache
  // scores come from the per-table sums (profile.ts). Both must rank alike, pick and fallbacks,
  // for DEFAULT and for PREFIX_CACHE (whose new prompts are placed by the load score alone).
  const eps = Array.from({ length: 40 }, (_, i) => ep(i, `p${i}`, { waiting: i % 4, kvUsage: (i % 5) / 10 }));
  for (const strategy of ["DEFAULT", "PREFIX_CACHE"] as const) {
    const ranks = (logScores: boolean) => {
      gateway({ logScores, rendezvousTolerance: 0.5 }, tableJson(eps, {}, { strategy }));
      pure.seed(7n);
      const out: string[] = [];
      for (let k = 0; k < 60; k++) {
        const inflight = eps.map((_, i) => (i * 7 + k * k) % 5).join(",");
        const d =
          strategy === "DEFAULT"
            ? decide(chat(), { inflight })
            : decide({ model: "m", prompt: promptOf(4, `new-${k}`) }, { inflight, completions: true });
        assert.equal(d.kind, "routed");
        out.push([d.pod, ...(d.fallbacks ?? [])].join(","));
      }
      return out;
    };
    const summed = ranks(false);
    assert.ok(new Set(summed).size >= 4, `${strategy}: the picks move with the load`);
    assert.deepEqual(summed, ranks(true), strategy);
  }
});
