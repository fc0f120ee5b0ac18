import assert from "node:assert/strict";
import { test } from "node:test";
import type { ResolvedModel, ResolvedPool } from "../../controlplane/model/types.js";
import type { ScrapeState } from "../../controlplane/scrapers/scrape-loop.js";
import { fingerprintOf, TableBuilder, topologyOf } from "../../controlplane/table/builder.js";
import { GenerationClock } from "../../controlplane/table/generation.js";
import type { Table } from "../../controlplane/table/schema.js";
import { SlotAllocator } from "../../controlplane/table/slots.js";

function pool(id: string, names: string[], extra: Partial<ResolvedPool> = {}): ResolvedPool {
  const [namespace, name] = id.split("/");
  return {
    id,
    spec: {
      kind: "InferencePool",
      apiVersion: "inference.networking.x-k8s.io/v1alpha2",
      namespace,
      name,
      targetPort: 8000,
      selector: { a: "b" },
      extensionRef: null,
      annotations: {},
    },
    strategy: "DEFAULT",
    runtime: "vllm",
    prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000, mode: "estimate" },
    queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000 },
    firstByteTimeoutMs: 10000,
    eppOverlay: null,
    pd: null,
    anyModel: null,
    endpoints: names.map((n) => ({
      namespace,
      name: n,
      address: `10.0.0.${n.replace(/\D/g, "")}:8000`,
      role: "both" as const,
      ready: true,
    })),
    ...extra,
  };
}

const model = (pools: ResolvedPool[]): ResolvedModel => ({
  pools,
  models: [
    {
      name: "m",
      pool: pools[0].id,
      criticality: "Critical",
      priority: 1,
      targets: [{ name: "m", weight: 100 }],
      from: "InferenceModel default/m",
    },
  ],
  objectives: [],
  routes: null,
  gatewayStatus: null,
  problems: [],
});

test("slots: stable per address; freed slots reused only after fresh ones run out, oldest first", () => {
  const s = new SlotAllocator(4);
  assert.equal(s.acquire("a"), 0);
  assert.equal(s.acquire("b"), 1);
  assert.equal(s.acquire("a"), 0);
  s.retain(new Set(["b"])); // frees a's 0
  assert.equal(s.acquire("c"), 2, "a fresh slot before the freed one");
  assert.equal(s.acquire("d"), 3);
  s.retain(new Set(["b", "d"])); // frees c's 2 (after 0)
  assert.equal(s.acquire("e"), 0, "longest-free first");
  assert.equal(s.acquire("f"), 2);
  assert.equal(s.acquire("g"), undefined, "all taken");
});

test("generation clock: strictly increasing, at least Date.now(), can be pushed past a reported generation", () => {
  let now = 1000;
  const c = new GenerationClock(() => now);
  assert.equal(c.next(), 1000);
  assert.equal(c.next(), 1001, "same millisecond: previous + 1");
  now = 5000;
  assert.equal(c.next(), 5000);
  c.observe(9000);
  assert.equal(c.next(), 9001);
  c.observe(10); // lower: ignored
  assert.equal(c.next(), 9002);
});

test("builds the schema's table: deterministic order, load and scrape age joined in, not-ready from scrapes", () => {
  let now = 1_700_000_000_000;
  const b = new TableBuilder({ stalenessMs: 3000, now: () => now });
  const scrapes = new Map<string, ScrapeState>([
    [
      "10.0.0.1:8000",
      {
        address: "10.0.0.1:8000",
        runtime: "vllm",
        lastSuccessAtMs: now - 40,
        load: { waiting: 2, running: 5, kvUsage: 0.5, loras: ["x"] },
        consecutiveFailures: 0,
        healthy: true,
        lastError: null,
        lastDurationMs: 1,
      },
    ],
    [
      "10.0.0.2:8000",
      {
        address: "10.0.0.2:8000",
        runtime: "vllm",
        lastSuccessAtMs: now - 10_000,
        load: { waiting: 9, running: 9, kvUsage: 0.9, loras: [] },
        consecutiveFailures: 5,
        healthy: false,
        lastError: "HTTP 500",
        lastDurationMs: 1,
      },
    ],
  ]);
  const m = model(
    [pool("default/b-pool", ["p3"]), pool("default/a-pool", ["p2", "p1"])].sort((x, y) => (x.id < y.id ? -1 : 1)),
  );
  m.pools[0].endpoints.sort((x, y) => (x.name < y.name ? -1 : 1));
  const r = b.build(m, (a) => scrapes.get(a));
  assert.equal(r.changed, true);
  const t = r.table;
  assert.equal(t.version, 1);
  assert.equal(t.generation, now);
  assert.equal(t.builtAtMs, now);
  assert.equal(t.stalenessMs, 3000);
  assert.deepEqual(
    t.pools.map((p) => p.id),
    ["default/a-pool", "default/b-pool"],
  );
  assert.deepEqual(t.pools[0], {
    id: "default/a-pool",
    strategy: "DEFAULT",
    runtime: "vllm",
    prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000, mode: "estimate" },
    queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000 },
    firstByteTimeoutMs: 10000,
    endpoints: [
      {
        slot: 0,
        name: "p1",
        address: "10.0.0.1:8000",
        ready: true,
        role: "both",
        waiting: 2,
        running: 5,
        kvUsage: 0.5,
        loras: ["x"],
        scrapeAgeMs: 40,
      },
      {
        slot: 1,
        name: "p2",
        address: "10.0.0.2:8000",
        ready: false,
        role: "both",
        waiting: 9,
        running: 9,
        kvUsage: 0.9,
        loras: [],
        scrapeAgeMs: 10_000,
      },
    ],
  });
  assert.deepEqual(t.pools[1].endpoints[0], {
    slot: 2,
    name: "p3",
    address: "10.0.0.3:8000",
    ready: true,
    role: "both",
    waiting: 0,
    running: 0,
    kvUsage: 0,
    loras: [],
    scrapeAgeMs: -1,
  });
  assert.deepEqual(t.models, [
    { name: "m", pool: "default/a-pool", criticality: "Critical", priority: 1, targets: [{ name: "m", weight: 100 }] },
  ]);
  assert.deepEqual(t.objectives, []);
  assert.equal("routes" in t, false, "no Gateway: no routes, version 1");
  assert.equal("pd" in t.pools[0], false);
  // Same input again: the same table object, no new generation.
  now += 5;
  const again = b.build(m, (a) => scrapes.get(a));
  assert.equal(again.changed, false);
  assert.equal(again.table, t);
});

test("change detection: load and membership changes issue a generation; scrape age alone does not; force does", () => {
  let now = 1_000_000;
  const b = new TableBuilder({ stalenessMs: 3000, now: () => now });
  const st: ScrapeState = {
    address: "10.0.0.1:8000",
    runtime: "vllm",
    lastSuccessAtMs: now,
    load: { waiting: 1, running: 1, kvUsage: 0.1, loras: [] },
    consecutiveFailures: 0,
    healthy: true,
    lastError: null,
    lastDurationMs: 1,
  };
  const of = () => st;
  const m = model([pool("default/p", ["p1"])]);
  const g0 = b.build(m, of).table.generation;
  now += 100;
  assert.equal(b.build(m, of).changed, false, "only the age moved");
  st.load = { ...st.load!, waiting: 2 };
  const r1 = b.build(m, of);
  assert.equal(r1.changed, true);
  assert.ok(r1.table.generation > g0);
  now += 5000; // the last scrape is now older than the staleness bound
  const r2 = b.build(m, of);
  assert.equal(r2.changed, true, "fresh → stale is routing-relevant");
  assert.equal(r2.table.pools[0].endpoints[0].scrapeAgeMs, 5100);
  const r3 = b.build(m, of, true);
  assert.equal(r3.changed, true);
  assert.ok(r3.table.generation > r2.table.generation);
  const m2 = model([pool("default/p", ["p1", "p2"])]);
  assert.equal(b.build(m2, of).changed, true, "a new endpoint");
});

test("change detection covers every field of the built table: changing any endpoint, pool or model field issues a generation", () => {
  // Mutate one leaf of the built table at a time (every path, found by walking the table itself),
  // feed the builder a model that produces that table, and require a new generation. The builder's
  // inputs are the resolved model and the scrapes, so each leaf maps back to one input.
  const now = 1_000_000;
  const b = new TableBuilder({ stalenessMs: 3000, now: () => now });
  const load = { waiting: 1, running: 2, kvUsage: 0.5, loras: ["l1"] };
  const scrapes = new Map<string, ScrapeState>();
  const scrape = (address: string): ScrapeState =>
    scrapes.get(address) ?? {
      address,
      runtime: "vllm",
      lastSuccessAtMs: now,
      load: { ...load, loras: [...load.loras] },
      consecutiveFailures: 0,
      healthy: true,
      lastError: null,
      lastDurationMs: 1,
    };
  const base = () =>
    model([
      pool("default/p", ["p1", "p2"], {
        pd: { bootstrapPort: 8998, prefillPolicy: "DEFAULT", decodePolicy: "DEFAULT" } as ResolvedPool["pd"],
      }),
    ]);
  const first = b.build(base(), scrape).table;
  // Each leaf of the table, with how to change the builder's inputs so that leaf changes.
  type Input = { m: ResolvedModel; scrape: (a: string) => ScrapeState };
  const leaves: [string, (i: Input) => void][] = [];
  const ep0 = first.pools[0].endpoints[0];
  for (const key of Object.keys(ep0)) {
    const path = `pools[0].endpoints[0].${key}`;
    switch (key) {
      case "slot":
        // A slot changes only when the address does; covered by "address".
        continue;
      case "name":
        leaves.push([path, (i) => void (i.m.pools[0].endpoints[0].name = "renamed")]);
        break;
      case "address":
        leaves.push([path, (i) => void (i.m.pools[0].endpoints[0].address = "10.0.0.99:8000")]);
        break;
      case "ready":
        leaves.push([path, (i) => void (i.m.pools[0].endpoints[0].ready = false)]);
        break;
      case "role":
        leaves.push([path, (i) => void (i.m.pools[0].endpoints[0].role = "prefill")]);
        break;
      case "waiting":
      case "running":
      case "kvUsage":
        leaves.push([
          path,
          (i) => {
            const s = { ...scrape(ep0.address) };
            s.load = { ...s.load!, [key]: key === "kvUsage" ? 0.9 : 7 };
            i.scrape = (a) => (a === ep0.address ? s : scrape(a));
          },
        ]);
        break;
      case "loras":
        leaves.push([
          path,
          (i) => {
            const s = { ...scrape(ep0.address), load: { ...load, loras: ["l2"] } };
            i.scrape = (a) => (a === ep0.address ? s : scrape(a));
          },
        ]);
        break;
      case "scrapeAgeMs":
        leaves.push([
          path,
          (i) => {
            const s = { ...scrape(ep0.address), lastSuccessAtMs: now - 10_000 };
            i.scrape = (a) => (a === ep0.address ? s : scrape(a));
          },
        ]);
        break;
      default:
        assert.fail(`${path}: a new endpoint field; add how to change it here`);
    }
  }
  const p0 = first.pools[0];
  for (const key of Object.keys(p0)) {
    const path = `pools[0].${key}`;
    const set = (f: (p: ResolvedPool) => void) => leaves.push([path, (i) => f(i.m.pools[0])]);
    switch (key) {
      case "id":
        set((p) => void (p.id = "default/q"));
        break;
      case "strategy":
        set((p) => void (p.strategy = "PREFIX_CACHE"));
        break;
      case "runtime":
        set((p) => void (p.runtime = "sglang"));
        break;
      case "prefix":
        for (const k of Object.keys(p0.prefix))
          leaves.push([
            `${path}.${k}`,
            (i) => {
              const prefix = i.m.pools[0].prefix as unknown as Record<string, number | string>;
              prefix[k] =
                k === "mode" ? (prefix.mode === "feedback" ? "estimate" : "feedback") : (prefix[k] as number) + 1;
            },
          ]);
        break;
      case "queue":
        leaves.push([`${path}.enabled`, (i) => void (i.m.pools[0].queue.enabled = true)]);
        leaves.push([`${path}.capacityBytes`, (i) => void (i.m.pools[0].queue.capacityBytes += 1)]);
        leaves.push([`${path}.ttlMs`, (i) => void (i.m.pools[0].queue.ttlMs += 1)]);
        break;
      case "firstByteTimeoutMs":
        set((p) => void (p.firstByteTimeoutMs += 1));
        break;
      case "pd":
        leaves.push([`${path}.bootstrapPort`, (i) => void (i.m.pools[0].pd!.bootstrapPort += 1)]);
        leaves.push([`${path}.prefillPolicy`, (i) => void (i.m.pools[0].pd!.prefillPolicy = "PREFIX_CACHE")]);
        leaves.push([`${path}.decodePolicy`, (i) => void (i.m.pools[0].pd!.decodePolicy = "PREFIX_CACHE")]);
        break;
      case "endpoints":
        continue;
      default:
        assert.fail(`${path}: a new pool field; add how to change it here`);
    }
  }
  for (const key of Object.keys(first.models[0])) {
    const path = `models[0].${key}`;
    const set = (f: (m: ResolvedModel["models"][number]) => void) => leaves.push([path, (i) => f(i.m.models[0])]);
    if (key === "name") set((m) => void (m.name = "m2"));
    else if (key === "pool")
      continue; // must name an existing pool: covered by pools[0].id
    else if (key === "criticality") set((m) => void (m.criticality = "Sheddable"));
    else if (key === "priority") set((m) => void (m.priority = 7));
    else if (key === "targets") set((m) => void (m.targets[0].weight = 50));
    else assert.fail(`${path}: a new model field; add how to change it here`);
  }
  assert.ok(leaves.length >= 20, `${leaves.length} leaves`);
  for (const [path, change] of leaves) {
    const fresh = new TableBuilder({ stalenessMs: 3000, now: () => now });
    const before = fresh.build(base(), scrape);
    const input: Input = { m: base(), scrape };
    change(input);
    const after = fresh.build(input.m, input.scrape);
    assert.equal(after.changed, true, `${path} changed without a new generation`);
    assert.ok(after.table.generation > before.table.generation, path);
    assert.notDeepEqual(
      after.table,
      { ...before.table, generation: after.table.generation, builtAtMs: after.table.builtAtMs },
      path,
    );
  }
});

test("slots survive rebuilds: an endpoint keeps its slot when others come and go", () => {
  const b = new TableBuilder({ stalenessMs: 3000 });
  const slotOf = (t: ReturnType<TableBuilder["build"]>["table"], name: string) =>
    t.pools.flatMap((p) => p.endpoints).find((e) => e.name === name)!.slot;
  const t1 = b.build(model([pool("default/p", ["p1", "p2", "p3"])]), () => undefined).table;
  const t2 = b.build(model([pool("default/p", ["p1", "p3"])]), () => undefined).table;
  assert.equal(slotOf(t2, "p3"), slotOf(t1, "p3"));
  const t3 = b.build(model([pool("default/p", ["p1", "p3", "p4"])]), () => undefined).table;
  assert.equal(slotOf(t3, "p4"), 3, "not p2's freed slot 1");
  const slots = t3.pools[0].endpoints.map((e) => e.slot);
  assert.equal(new Set(slots).size, slots.length);
});

test("P/D pools carry bootstrap port and per-stage policies", () => {
  const b = new TableBuilder({ stalenessMs: 3000 });
  const p = pool("default/pd", ["p1"], {
    runtime: "sglang",
    pd: {
      roleLabel: "r",
      bootstrapPort: 34000,
      prefillPolicy: "PREFIX_CACHE",
      decodePolicy: "DEFAULT",
      prefixCacheMode: "estimate",
    },
  });
  p.endpoints[0].role = "prefill";
  const t = b.build(model([p]), () => undefined).table;
  assert.deepEqual(t.pools[0].pd, { bootstrapPort: 34000, prefillPolicy: "PREFIX_CACHE", decodePolicy: "DEFAULT" });
  assert.equal(t.pools[0].endpoints[0].role, "prefill");
});

test("an address in two pools (overlapping selectors) keeps one slot: one in-flight counter per pod", () => {
  const b = new TableBuilder({ stalenessMs: 3000 });
  const t = b.build(model([pool("default/a", ["p1", "p2"]), pool("default/b", ["p2", "p3"])]), () => undefined).table;
  const slot = (poolIdx: number, name: string) => t.pools[poolIdx].endpoints.find((e) => e.name === name)!.slot;
  assert.equal(slot(0, "p2"), slot(1, "p2"));
  assert.notEqual(slot(0, "p1"), slot(1, "p3"));
  assert.equal(new Set([slot(0, "p1"), slot(0, "p2"), slot(1, "p3")]).size, 3);
});

/** A table that uses every field of the wire format (version 2: routes, anyModel, objectives, P/D). */
function richTable(): Omit<Table, "generation" | "builtAtMs"> {
  return {
    version: 2,
    stalenessMs: 3000,
    pools: [
      {
        id: "default/a",
        strategy: "PREFIX_CACHE",
        runtime: "sglang",
        prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000 },
        queue: { enabled: true, capacityBytes: 1000, ttlMs: 30000 },
        pd: { bootstrapPort: 34000, prefillPolicy: "PREFIX_CACHE", decodePolicy: "DEFAULT" },
        anyModel: { targets: [{ name: "t", weight: 1 }] },
        endpoints: [
          {
            slot: 0,
            name: "p1",
            address: "10.0.0.1:8000",
            ready: true,
            role: "prefill",
            waiting: 1,
            running: 2,
            kvUsage: 0.5,
            loras: ["l"],
            scrapeAgeMs: 10,
          },
        ],
      },
    ],
    models: [
      { name: "m", pool: "default/a", criticality: "Critical", priority: 1, targets: [{ name: "x", weight: 3 }] },
    ],
    objectives: [{ name: "gold", pool: "default/a", priority: 7 }],
    routes: [
      {
        route: "default/r",
        rule: 0,
        match: 0,
        host: "a.example.com",
        path: { type: "PathPrefix", value: "/v1" },
        method: "POST",
        headers: [{ name: "x-tier", value: "gold" }],
        backends: [
          { pool: "default/a", weight: 1 },
          { pool: null, weight: 1, error: "InferencePool default/b not found" },
        ],
      },
    ],
  };
}

/** Every leaf of a JSON value, as a path and a setter producing a changed copy. */
function leafMutations(root: unknown): { path: string; mutate: () => unknown }[] {
  const out: { path: string; mutate: () => unknown }[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (Array.isArray(v)) {
      // Growing a list is a change too (an extra LoRA, target, header, backend...).
      out.push({
        path: `${path.join(".")}[+]`,
        mutate: () => {
          const c = structuredClone(root) as any;
          const arr = path.reduce((o, k) => o[k], c);
          arr.push(structuredClone(arr[0] ?? "extra"));
          return c;
        },
      });
      v.forEach((x, i) => walk(x, [...path, i]));
    } else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    else
      out.push({
        path: path.join("."),
        mutate: () => {
          const c = structuredClone(root) as any;
          const parent = path.slice(0, -1).reduce((o, k) => o[k], c);
          const k = path[path.length - 1];
          const cur = parent[k];
          parent[k] =
            typeof cur === "number"
              ? k === "scrapeAgeMs"
                ? -1 // fresh → missing: a bucket change
                : cur + 1
              : typeof cur === "boolean"
                ? !cur
                : cur === null
                  ? "default/z"
                  : `${cur}x`;
          return c;
        },
      });
  };
  walk(root, []);
  return out;
}

test("fingerprint: derived from the table; a change to any field of it (pools, endpoints, models, objectives, routes) changes it", () => {
  const base = richTable();
  const fp = fingerprintOf(base, 3000);
  const mutations = leafMutations(base);
  assert.ok(mutations.length > 40, `every leaf is enumerated (${mutations.length})`);
  for (const m of mutations)
    assert.notEqual(
      fingerprintOf(m.mutate() as typeof base, 3000),
      fp,
      `changing ${m.path} must change the fingerprint`,
    );
  // Only the exact scrape age is not routing-relevant: within its bucket it changes nothing.
  const older = structuredClone(base);
  older.pools[0].endpoints[0].scrapeAgeMs = 2999;
  assert.equal(fingerprintOf(older, 3000), fp);
  older.pools[0].endpoints[0].scrapeAgeMs = 3001;
  assert.notEqual(fingerprintOf(older, 3000), fp, "fresh → stale");
});

test("the builder issues a new generation exactly when the built table's fingerprint changes", () => {
  let now = 1_000_000;
  const b = new TableBuilder({ stalenessMs: 3000, now: () => now });
  const m = model([pool("default/p", ["p1"])]);
  const r0 = b.build(m, () => undefined);
  const { generation: _g, builtAtMs: _b, topology, ...body } = r0.table;
  assert.equal(r0.fingerprint, fingerprintOf(body, 3000), "the fingerprint is the built table's");
  assert.equal(topology, topologyOf(body), "and so is the topology");
  now += 10;
  const changes: [string, (x: ResolvedModel) => void][] = [
    ["pool strategy", (x) => (x.pools[0].strategy = "PREFIX_CACHE")],
    ["pool queue ttl", (x) => (x.pools[0].queue.ttlMs = 1)],
    ["endpoint role", (x) => (x.pools[0].endpoints[0].role = "decode")],
    ["endpoint readiness", (x) => (x.pools[0].endpoints[0].ready = false)],
    ["model priority", (x) => (x.models[0].priority = 5)],
    ["objective", (x) => x.objectives.push({ name: "gold", pool: "default/p", priority: 3 })],
    ["anyModel (shown only with routes)", (x) => (x.pools[0].anyModel = { targets: [] })],
  ];
  let gen = r0.table.generation;
  for (const [what, change] of changes) {
    change(m);
    const r = b.build(m, () => undefined);
    if (what.startsWith("anyModel")) {
      assert.equal(r.changed, false, "a version-1 table does not carry anyModel");
      continue;
    }
    assert.equal(r.changed, true, `${what}: a new generation`);
    assert.ok(r.table.generation > gen);
    gen = r.table.generation;
    assert.equal(b.build(m, () => undefined).changed, false, `${what}: and only once`);
  }
  m.routes = [];
  const r = b.build(m, () => undefined);
  assert.equal(r.changed, true, "routes appear");
  assert.equal(r.table.version, 2);
  assert.deepEqual(r.table.routes, []);
  assert.deepEqual(r.table.pools[0].anyModel, { targets: [] });
});

test("topology: the table without its loads; a change of loads alone keeps it, any other change does not", () => {
  let now = 1_000_000;
  const b = new TableBuilder({ stalenessMs: 3000, now: () => now });
  const m = model([pool("default/p", ["p1", "p2"])]);
  const scrape = (waiting: number, kvUsage: number, ageMs: number): ScrapeState => ({
    address: "10.0.0.1:8000",
    runtime: "vllm",
    lastSuccessAtMs: now - ageMs,
    load: { waiting, running: waiting + 1, kvUsage, loras: [] },
    consecutiveFailures: 0,
    healthy: true,
    lastError: null,
    lastDurationMs: 1,
  });
  const r0 = b.build(m, (a) => (a === "10.0.0.1:8000" ? scrape(1, 0.25, 10) : undefined));
  assert.match(r0.table.topology!, /^[0-9a-f]{16}$/);
  now += 100;
  const r1 = b.build(m, (a) => (a === "10.0.0.1:8000" ? scrape(4, 0.5, 20) : undefined));
  assert.equal(r1.changed, true, "new loads: a new generation");
  assert.equal(r1.table.topology, r0.table.topology, "same topology");
  now += 100;
  m.pools[0].endpoints[1].ready = false;
  const r2 = b.build(m, (a) => (a === "10.0.0.1:8000" ? scrape(4, 0.5, 20) : undefined));
  assert.notEqual(r2.table.topology, r1.table.topology, "readiness is not a load");
  now += 100;
  m.pools[0].endpoints.pop();
  const r3 = b.build(m, (a) => (a === "10.0.0.1:8000" ? scrape(4, 0.5, 20) : undefined));
  assert.notEqual(r3.table.topology, r2.table.topology, "membership");
  m.models[0].priority = 7;
  const r4 = b.build(m, (a) => (a === "10.0.0.1:8000" ? scrape(4, 0.5, 20) : undefined));
  assert.notEqual(r4.table.topology, r3.table.topology, "a model");
});
