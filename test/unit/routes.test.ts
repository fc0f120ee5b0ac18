// Version-2 tables in the filter: route matching in the headers phase (assembly/core/route-match.ts
// through gateway/http-routes.ts), then the backend choice, anyModel and priorities in the decision
// core, as controlplane/table/schema.ts specifies them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, counts, decide, ep, gateway, headerLines, POOL, poolJson, pure, route, tableJson, v2 } from "./pure.js";

const headersPhase = (h: Record<string, string>) => pure.headersPhase(headerLines(h)) as string;

/** Entries in precedence order, as the control plane sorts them. */
const MATCHING = v2({
  routes: [
    route({ route: "ns/host", host: "api.example.com" }),
    route({ route: "ns/wild", host: "*.example.com", backends: [{ pool: "ns/b", weight: 1 }] }),
    route({
      route: "ns/exact",
      path: { type: "Exact", value: "/v1/completions" },
      method: "POST",
      headers: [{ name: "x-tier", value: "gold" }],
    }),
    route({ route: "ns/list", method: "GET" }),
    route({ route: "ns/pool-c", headers: [{ name: "x-pool", value: "c" }] }),
    route({
      route: "ns/two-headers",
      headers: [
        { name: "x-pool", value: "b" },
        { name: "x-zone", value: "eu" },
      ],
      backends: [{ pool: "ns/b", weight: 1 }],
    }),
    route({ route: "ns/root", path: { type: "PathPrefix", value: "/" }, headers: [{ name: "x-any", value: "1" }] }),
  ],
});

test("route matching: host, path, method and headers; first entry wins; one read per header name", () => {
  gateway({}, MATCHING);
  const chatPath = { ":method": "POST", ":path": "/v1/chat/completions" };
  // [request headers, "<kind> <status> <code> route=<label> reads=<header reads>"]
  const rows: [Record<string, string>, string][] = [
    // Host: lowercased, port removed; exact before wildcard by table order.
    [{ ...chatPath, ":authority": "API.Example.com:8080" }, "inference 200 - route=ns/host#0.0 reads=1"],
    [{ ...chatPath, ":authority": "a.example.com" }, "inference 200 - route=ns/wild#0.0 reads=1"],
    [{ ...chatPath, ":authority": "a.b.example.com" }, "inference 200 - route=ns/wild#0.0 reads=1"],
    // "*.example.com" is not "example.com": no host entry matches, the rest need headers.
    [{ ...chatPath, ":authority": "example.com" }, "refuse 404 route_not_found route=- reads=3"],
    [{ ...chatPath, ":authority": "[::1]:8080" }, "refuse 404 route_not_found route=- reads=3"],
    // Exact path, method and a header (name case-insensitive, value exact).
    [{ ":method": "POST", ":path": "/v1/completions", "X-Tier": "gold" }, "inference 200 - route=ns/exact#0.0 reads=2"],
    [{ ":method": "POST", ":path": "/v1/completions", "x-tier": "Gold" }, "refuse 404 route_not_found route=- reads=4"],
    [
      { ":method": "POST", ":path": "/v1/completions?x=1#f", "x-tier": "gold" },
      "inference 200 - route=ns/exact#0.0 reads=2",
    ],
    [
      { ":method": "POST", ":path": "/v1/completions/x", "x-tier": "gold" },
      "refuse 404 route_not_found route=- reads=3",
    ],
    // Method.
    [{ ":method": "GET", ":path": "/v1/models" }, "models 200 - route=ns/list#0.0 reads=1"],
    [{ ":method": "GET", ":path": "/v1/chat/completions" }, "refuse 405 method_not_allowed route=ns/list#0.0 reads=1"],
    // All header matches must hold; x-pool is named by two entries and read once.
    [{ ...chatPath, "x-pool": "b", "x-zone": "eu" }, "inference 200 - route=ns/two-headers#0.0 reads=3"],
    [{ ...chatPath, "x-pool": "c" }, "inference 200 - route=ns/pool-c#0.0 reads=2"],
    [{ ...chatPath, "x-pool": "b", "x-zone": "us" }, "refuse 404 route_not_found route=- reads=4"],
    // PathPrefix is element-wise: "/v1" is not a prefix of "/v1x"; "/" is a prefix of everything.
    // Entries whose path fails read nothing: x-any only, then :authority for the 404's message.
    [{ ":method": "POST", ":path": "/v1x/chat/completions" }, "refuse 404 route_not_found route=- reads=2"],
    // A matching route on a path the gateway does not serve: 404 not_found (not route_not_found).
    [
      { ":method": "POST", ":path": "/v1x/chat/completions", "x-any": "1" },
      "refuse 404 not_found route=ns/root#0.0 reads=1",
    ],
    [{ ":method": "POST", ":path": "/v1?stream" }, "refuse 404 route_not_found route=- reads=3"],
    [
      { ":method": "POST", ":path": "/v1", "x-pool": "b", "x-zone": "eu" },
      "refuse 404 not_found route=ns/two-headers#0.0 reads=3",
    ],
    // The gateway's own /health is outside the routes (none matches it here).
    [{ ":method": "GET", ":path": "/health" }, "health 200 - route=- reads=0"],
    [{ ":method": "POST", ":path": "/v2/chat/completions" }, "refuse 404 route_not_found route=- reads=2"],
  ];
  for (const [h, want] of rows) assert.equal(headersPhase(h), want, JSON.stringify(h));
  // The 404 is OpenAI-shaped and says what did not match.
  const miss = decide(chat(), { headers: { ":method": "POST", ":path": "/v2/chat/completions", ":authority": "gw" } });
  assert.deepEqual([miss.status, miss.code], [404, "route_not_found"]);
  assert.match(miss.message, /no HTTPRoute rule matches POST \/v2\/chat\/completions \(host gw\)/);
  assert.equal(pure.normalizedHost("Host.Example.COM:443"), "host.example.com");
  assert.equal(pure.normalizedPath("/v1/models?limit=1#top"), "/v1/models");
});

test("a version-1 table reads no header beyond method and path, and routes by model name", () => {
  gateway({}, tableJson([ep(0, "a")]));
  assert.equal(
    headersPhase({ ":method": "POST", ":path": "/v2/anything", "x-any": "1" }),
    "refuse 404 not_found route=- reads=0",
  );
  const d = decide(chat(), { headers: { ":authority": "x", "x-gateway-inference-objective": "gold" } });
  assert.deepEqual([d.kind, d.route, d.headerReads], ["routed", "", 0]);
  assert.equal("route" in d.log!, false, "no route field in a version-1 line");
});

test("backend choice: no backends 500, no pool for the model 404, zero weights 500, unresolved 500, weighted split", () => {
  const only = (backends: unknown[], models?: unknown[]) => v2({ routes: [route({ backends })], models });
  gateway({}, only([]));
  let d = decide(chat());
  assert.deepEqual([d.status, d.code], [500, "no_backend"]);
  assert.match(d.message, /HTTPRoute rule ns\/r#0\.0 has no backendRefs/);
  // The route's pool does not serve "other" (no entry for it, no anyModel): 404.
  gateway({}, only([{ pool: "ns/a", weight: 1 }]));
  d = decide(chat("hi", "other"));
  assert.deepEqual([d.status, d.code], [404, "model_not_found"]);
  assert.match(d.message, /not served by any backend of HTTPRoute rule ns\/r#0\.0/);
  // Only the candidates' weights count: b serves "m" with weight 0, a does not serve "x".
  gateway(
    {},
    only(
      [
        { pool: "ns/a", weight: 5 },
        { pool: "ns/b", weight: 0 },
      ],
      [
        { name: "x", pool: "ns/a", criticality: "Standard", priority: 0, targets: [] },
        { name: "m", pool: "ns/b", criticality: "Standard", priority: 0, targets: [] },
      ],
    ),
  );
  d = decide(chat());
  assert.deepEqual([d.status, d.code], [500, "no_backend"]);
  assert.match(d.message, /every backend of HTTPRoute rule ns\/r#0\.0 that serves model m has weight 0/);
  // An unresolved backend answers 500 with its reason.
  gateway({}, only([{ pool: null, weight: 1, error: "InferencePool ns/gone not found" }]));
  d = decide(chat());
  assert.deepEqual([d.status, d.code, d.message], [500, "backend_not_found", "InferencePool ns/gone not found"]);
  // Weights: a 3, b 1, unresolved 1 (it keeps its share): 60/20/20 over 1000 decisions.
  gateway(
    {},
    only([
      { pool: "ns/a", weight: 3 },
      { pool: "ns/b", weight: 1 },
      { pool: null, weight: 1, error: "gone" },
    ]),
  );
  pure.seed(7n);
  const split = counts(1000, () => {
    const x = decide(chat(), { inflight: "0,0" });
    return x.kind === "routed" ? x.pool : String(x.status);
  });
  assert.ok(Math.abs(split.get("ns/a")! - 600) < 60, `a: ${split.get("ns/a")}`);
  assert.ok(Math.abs(split.get("ns/b")! - 200) < 50, `b: ${split.get("ns/b")}`);
  assert.ok(Math.abs(split.get("500")! - 200) < 50, `500: ${split.get("500")}`);
});

test("per pool: the (model, pool) entry's priority and targets, else anyModel's targets and priority 0", () => {
  const pools = [
    { ...poolJson([ep(0, "a0")], { id: "ns/a" }), anyModel: { targets: [{ name: "rewritten", weight: 1 }] } },
    { ...poolJson([ep(1, "b0")], { id: "ns/b" }), anyModel: { targets: [] } },
  ];
  const models = [
    { name: "m", pool: "ns/a", criticality: "Critical", priority: 7, targets: [{ name: "m-a", weight: 1 }] },
    { name: "m", pool: "ns/b", criticality: "Sheddable", priority: -2, targets: [] },
  ];
  const to = (pool: string) => v2({ pools, models, routes: [route({ backends: [{ pool, weight: 1 }] })] });
  gateway({}, to("ns/a"));
  let d = decide(chat(), { inflight: "0,0" });
  assert.deepEqual([d.pool, d.priority, d.target, d.log!.priority, d.log!.criticality], ["ns/a", 7, "m-a", 7, 0]);
  assert.equal(d.log!.route, "ns/r#0.0");
  d = decide(chat("hi", "free"), { inflight: "0,0" });
  assert.deepEqual([d.pool, d.priority, d.target, d.rewrite], ["ns/a", 0, "rewritten", true]);
  pure.loadTable(to("ns/b"));
  d = decide(chat(), { inflight: "0,0" });
  assert.deepEqual([d.pool, d.priority, d.target, d.log!.criticality], ["ns/b", -2, "m", 2]);
  d = decide(chat("hi", "free"), { inflight: "0,0" });
  assert.deepEqual([d.pool, d.priority, d.target, d.rewrite], ["ns/b", 0, "free", false]);
});

test("priority by x-gateway-inference-objective: the chosen pool's objective, else the model's; read only where objectives exist", () => {
  const objectives = [
    { name: "gold", pool: "ns/a", priority: 10 },
    { name: "scavenger", pool: "ns/a", priority: -5 },
    { name: "only-b", pool: "ns/b", priority: 99 },
  ];
  gateway({}, v2({ objectives }));
  const prio = (objective?: string) => {
    const d = decide(chat(), {
      inflight: "0,0",
      headers: objective ? { "x-gateway-inference-objective": objective } : {},
    });
    return [d.priority, d.headerReads];
  };
  assert.deepEqual(prio("gold"), [10, 1]);
  assert.deepEqual(prio("scavenger"), [-5, 1]);
  assert.deepEqual(prio("only-b"), [0, 1], "an objective of another pool is ignored: the model's priority");
  assert.deepEqual(prio("nope"), [0, 1]);
  assert.deepEqual(prio(), [0, 1]);
  const d = decide(chat(), { inflight: "0,0", headers: { "x-gateway-inference-objective": "gold" } });
  assert.deepEqual([d.log!.priority, d.log!.criticality], [10, 0]);
  // Version 1: the same header, the model's pool's objectives; no read for a pool without any.
  const t = JSON.parse(tableJson([ep(0, "a")]));
  t.objectives = [{ name: "gold", pool: POOL, priority: 10 }];
  gateway({}, JSON.stringify(t));
  assert.deepEqual(prio("gold"), [10, 1]);
  assert.deepEqual(prio(), [1, 1], "model m is Critical");
  gateway({}, tableJson([ep(0, "a")]));
  assert.deepEqual(prio("gold"), [1, 0]);
});

test("a table pushed between headers and body: the request is matched again against it", () => {
  const toB = v2({ routes: [route({ backends: [{ pool: "ns/b", weight: 1 }] })] });
  gateway({}, MATCHING);
  const h = { ":method": "POST", ":path": "/v1/chat/completions", ":authority": "api.example.com" };
  assert.equal(decide(chat(), { inflight: "0,0", headers: h }).pool, "ns/a");
  const d = decide(chat(), { inflight: "0,0", headers: h, tableBetween: toB });
  assert.deepEqual([d.pool, d.route], ["ns/b", "ns/r#0.0"]);
  // And to a table without the route: 404, not the old route's pool.
  gateway({}, MATCHING);
  const none = decide(chat(), { inflight: "0,0", headers: h, tableBetween: v2({ routes: [] }) });
  assert.deepEqual([none.status, none.code], [404, "route_not_found"]);
  // Back to version 1: routed by model name.
  gateway({}, MATCHING);
  const v1 = decide(chat(), { inflight: "0", headers: h, tableBetween: tableJson([ep(0, "a")]) });
  assert.deepEqual([v1.kind, v1.pool, v1.route], ["routed", POOL, ""]);
});

test("a worker one push behind matches its own copy, and checks the newest table before refusing", () => {
  const byHost = (host: string) => route({ route: `ns/${host[0]}-host`, host });
  gateway({}, v2({ routes: [byHost("a.example.com")] }));
  // Another worker accepts generation 11, which adds b.example.com; this worker's copy is still 10.
  const next = { ...JSON.parse(v2({ routes: [byHost("a.example.com"), byHost("b.example.com")] })), generation: 11 };
  assert.equal(pure.publishFromOtherWorker(JSON.stringify(next)), "");
  const at = (host: string) => headersPhase({ ":method": "POST", ":path": "/v1/chat/completions", ":authority": host });
  const genKey = "infergate/v1/generation";
  const reads = pure.sharedReadsOf(genKey);
  assert.match(at("a.example.com"), /^inference 200 - route=ns\/a-host#0\.0 /);
  assert.equal(pure.sharedReadsOf(genKey), reads, "a match in the worker's copy reads no shared data");
  assert.match(at("b.example.com"), /^inference 200 - route=ns\/b-host#0\.0 /, "not refused: the newest table has it");
  assert.match(at("c.example.com"), /^refuse 404 route_not_found /);
});

test("a held request keeps the pool, target and priority it chose; its pool gone is 503, no longer serving it 404", () => {
  gateway({}, v2({ routes: [route({ backends: [{ pool: "ns/b", weight: 1 }] })] }));
  const held = { target: "m", pool: "ns/a", priority: 4, route: "ns/r#0.0" };
  let d = decide(chat(), { inflight: "0,0", held });
  assert.deepEqual([d.kind, d.pool, d.priority, d.route, d.headerReads], ["routed", "ns/a", 4, "ns/r#0.0", 0]);
  d = decide(chat(), { inflight: "0,0", held: { ...held, pool: "ns/gone" } });
  assert.deepEqual([d.status, d.code], [503, "pool_gone"]);
  d = decide(chat("hi", "other"), { inflight: "0,0", held });
  assert.deepEqual([d.status, d.code], [404, "model_not_found"]);
});

test("GET /v1/models lists the models of the matched entry's pools (version 1: all)", () => {
  const models = [
    { name: "m", pool: "ns/a", criticality: "Standard", priority: 0, targets: [] },
    { name: "m", pool: "ns/b", criticality: "Standard", priority: 0, targets: [] },
    { name: "only-a", pool: "ns/a", criticality: "Standard", priority: 0, targets: [] },
    { name: "only-b", pool: "ns/b", criticality: "Standard", priority: 0, targets: [] },
  ];
  gateway(
    {},
    v2({
      models,
      routes: [
        route({ route: "ns/to-b", headers: [{ name: "x-pool", value: "b" }], backends: [{ pool: "ns/b", weight: 1 }] }),
        route({
          route: "ns/to-both",
          backends: [
            { pool: "ns/a", weight: 1 },
            { pool: "ns/b", weight: 1 },
          ],
        }),
      ],
    }),
  );
  const ids = (h: Record<string, string>) => {
    const [status, ...body] = (
      pure.modelsFor(headerLines({ ":method": "GET", ":path": "/v1/models", ...h })) as string
    ).split(" ");
    return [Number(status), JSON.parse(body.join(" ")).data.map((x: { id: string }) => x.id)];
  };
  assert.deepEqual(ids({ "x-pool": "b" }), [200, ["m", "only-b"]]);
  assert.deepEqual(ids({}), [200, ["m", "only-a", "only-b"]], "each name once");
  gateway({}, tableJson([ep(0, "a")]));
  assert.deepEqual(ids({}), [200, ["m"]]);
});
