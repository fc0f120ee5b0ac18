// SGLang prefill/decode disaggregation in the decision core (pd-profile-handler, the role filters,
// per-stage strategies, per-role in-flight and saturation) and the body both pods receive.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, counts, type Decision, decide, ep, gateway, POOL, poolJson, promptOf, pure } from "./pure.js";

type Stage = "DEFAULT" | "PREFIX_CACHE";

/** A P/D pool's table: endpoints as given, pd stage strategies, bootstrapPort 34000. */
function pdTable(
  endpoints: unknown[],
  o: { prefill?: Stage; decode?: Stage; queue?: boolean; strategy?: Stage; prefixMode?: string } = {},
): string {
  const pool: Record<string, any> = poolJson(endpoints, {
    strategy: o.strategy ?? "DEFAULT",
    queue: { enabled: o.queue ?? false },
    prefix: { mode: o.prefixMode ?? "estimate" },
  });
  pool.runtime = "sglang";
  pool.pd = { bootstrapPort: 34000, prefillPolicy: o.prefill ?? "DEFAULT", decodePolicy: o.decode ?? "DEFAULT" };
  return JSON.stringify({
    version: 1,
    generation: 10,
    builtAtMs: 1000,
    stalenessMs: 2000,
    pools: [pool],
    models: [{ name: "m", pool: POOL, criticality: "Critical", targets: [{ name: "m", weight: 100 }] }],
  });
}

const P = (slot: number, name: string, extra: Record<string, unknown> = {}) =>
  ep(slot, name, { role: "prefill", ...extra });
const D = (slot: number, name: string, extra: Record<string, unknown> = {}) =>
  ep(slot, name, { role: "decode", ...extra });

function pair(d: Decision): string {
  return d.kind === "routed" ? `${(d as any).prefill}>${d.pod}` : `${d.kind} ${d.status} ${d.message}`;
}

test("P/D: each request gets one prefill pod and one decode pod, never a whole-request pod or the wrong role", () => {
  const cases: { name: string; endpoints: unknown[]; inflight?: string; expect: string | RegExp }[] = [
    { name: "one of each", endpoints: [P(0, "p0"), D(1, "d0")], expect: "p0>d0" },
    {
      name: "least loaded per role, each role compared with its own kind",
      endpoints: [P(0, "p0"), P(1, "p1"), D(2, "d0"), D(3, "d1")],
      inflight: "5,1,0,4",
      expect: "p1>d0",
    },
    {
      name: "a busy decode pod does not make a prefill pod look busy",
      endpoints: [P(0, "p0"), P(1, "p1"), D(2, "d0")],
      inflight: "0,3,9",
      expect: "p0>d0",
    },
    {
      name: "no ready prefill pod: 503 naming the prefill side",
      endpoints: [P(0, "p0", { ready: false }), D(1, "d0")],
      expect: /^reject 503 no ready endpoint in pool default\/pool \(prefill\) for model m$/,
    },
    {
      name: "no decode pod at all: 503 naming the decode side",
      endpoints: [P(0, "p0"), ep(1, "w", { role: "both" })],
      expect: /^reject 503 .*\(decode\)/,
    },
  ];
  for (const c of cases) {
    gateway({}, pdTable(c.endpoints));
    const got = pair(decide(chat(), { inflight: c.inflight ?? "" }));
    if (typeof c.expect === "string") assert.equal(got, c.expect, c.name);
    else assert.match(got, c.expect, c.name);
  }
  // Over many requests with no load difference: every pick is a pair of the right roles.
  gateway({}, pdTable([P(0, "p0"), P(1, "p1"), D(2, "d0"), D(3, "d1"), ep(4, "w")]));
  const seen = counts(400, () => pair(decide(chat(), { inflight: "0,0,0,0,0" })));
  assert.deepEqual([...seen.keys()].sort(), ["p0>d0", "p0>d1", "p1>d0", "p1>d1"]);
});

test("P/D: in-flight is taken on both pods, the room is fresh per request, the bootstrap port per pod", () => {
  gateway({}, pdTable([P(0, "p0", { bootstrapPort: 34017 }), D(1, "d0")]));
  const a = decide(chat(), { inflight: "0,0" }) as any;
  assert.equal(pure.inflightCsv(), "1,1", "one place on the prefill pod and one on the decode pod");
  assert.equal(a.bootstrapPort, 34017, "the pod's own bootstrap port wins over the policy's");
  const rooms = new Set<string>();
  for (let i = 0; i < 500; i++) rooms.add(String((decide(chat()) as any).log.bootstrapRoom));
  assert.equal(rooms.size, 500, "every request its own room");
  for (const r of rooms) assert.ok(BigInt(r) >= 0n && BigInt(r) < 2n ** 63n, `63-bit non-negative room ${r}`);
  gateway({}, pdTable([P(0, "p0"), D(1, "d0")]));
  const b = decide(chat()) as any;
  assert.equal(b.bootstrapPort, 34000, "the policy's kvTransfer.bootstrapPort by default");
  assert.equal(b.log.prefillPod, "p0");
  assert.equal(b.log.pod, "d0");
  assert.equal(b.log.bootstrapPort, 34000);
  assert.equal(b.log.prefillStrategy, "DEFAULT");
  assert.equal(b.prefill, "p0");
  // A whole-request pool has no prefill and no room.
  const whole = JSON.parse(pdTable([P(0, "p0"), D(1, "d0")]));
  delete whole.pools[0].pd;
  gateway({}, JSON.stringify(whole));
  assert.equal(decide(chat()).status, 503, "without pd, single-role pods serve no whole request");
});

test("P/D with queueing: a saturated side holds the request; a lost race gives back the other side's place", () => {
  gateway({}, pdTable([P(0, "p0", { waiting: 9 }), D(1, "d0")], { queue: true }));
  assert.equal(decide(chat(), { inflight: "0,0" }).kind, "hold", "prefill side saturated: held");
  assert.equal(pure.inflightCsv(), "0,0");
  gateway({}, pdTable([P(0, "p0"), D(1, "d0", { kvUsage: 0.9 })], { queue: true }));
  assert.equal(decide(chat(), { inflight: "0,0" }).kind, "hold", "decode side saturated: held");
  assert.equal(pure.inflightCsv(), "0,0", "nothing taken on the prefill side either");
  gateway({}, pdTable([P(0, "p0"), D(1, "d0")], { queue: true }));
  assert.equal(decide(chat(), { inflight: "0,0" }).kind, "routed");
  assert.equal(pure.inflightCsv(), "1,1");
});

test("P/D stage strategies: prefix affinity per stage as the policy's refs say, both pods in the log", () => {
  const fleet = [P(0, "p0"), P(1, "p1"), P(2, "p2"), D(3, "d0"), D(4, "d1"), D(5, "d2")];
  const body = (salt: string, extra = "") => ({ model: "m", prompt: promptOf(8, salt) + extra });
  const run = (prefill: Stage, decode: Stage) => {
    gateway({}, pdTable(fleet, { prefill, decode }));
    const first = decide(body("conv"), { completions: true, inflight: "0,0,0,0,0,0" }) as any;
    // Later turns: the same prefix, more text; the first pair is now busier than the others.
    const later: any[] = [];
    for (let i = 0; i < 6; i++) {
      const inflight = fleet.map((e) => (e.name === first.prefill || e.name === first.pod ? 1 : 0)).join(",");
      later.push(decide(body("conv", ` turn ${i}`), { completions: true, inflight }));
    }
    return { first, later };
  };
  const both = run("PREFIX_CACHE", "PREFIX_CACHE");
  for (const d of both.later) {
    assert.equal(d.prefill, both.first.prefill, "prefix cache on prefill: the same prefill pod");
    assert.equal(d.pod, both.first.pod, "prefix cache on decode: the same decode pod");
    assert.equal(d.log.prefillMatchedBlocks, 8);
    assert.equal(d.log.prefillTotalBlocks, 8);
    assert.equal(d.log.matchedBlocks, 8);
    assert.equal(d.log.prefillStrategy, "PREFIX_CACHE");
    assert.equal(d.log.strategy, "PREFIX_CACHE");
    assert.equal(d.chainBlocks, -1, "a P/D request keeps no chain for a fallback's record");
  }
  const prefillOnly = run("PREFIX_CACHE", "DEFAULT");
  for (const d of prefillOnly.later) {
    assert.equal(d.prefill, prefillOnly.first.prefill);
    assert.notEqual(d.pod, prefillOnly.first.pod, "decode by load alone: the idle decode pods");
    assert.equal(d.log.matchedBlocks, undefined, "no prefix figures for a DEFAULT decode stage");
  }
  const decodeOnly = run("DEFAULT", "PREFIX_CACHE");
  for (const d of decodeOnly.later) {
    assert.notEqual(d.prefill, decodeOnly.first.prefill, "prefill by load alone");
    assert.equal(d.pod, decodeOnly.first.pod);
    assert.equal(d.log.prefillMatchedBlocks, undefined);
  }
});

test("P/D pools never make a feedback prediction (the decode pod reports the handed-over prompt as cached)", () => {
  gateway(
    {},
    pdTable([P(0, "p0"), D(1, "d0")], { prefill: "PREFIX_CACHE", decode: "PREFIX_CACHE", prefixMode: "feedback" }),
  );
  const d = decide({ model: "m", prompt: promptOf(4, "x") }, { completions: true }) as any;
  assert.equal(d.log.indexedBlocks, undefined);
});

test("the body both pods get: bootstrap fields last (they win over a client's), model rewritten", () => {
  const room = 9223372036854775807n;
  const cases: { name: string; body: string; target: string; address: string; expect: string }[] = [
    {
      name: "plain",
      body: '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
      target: "",
      address: "10.0.0.7:8000",
      expect:
        '{"model":"m","messages":[{"role":"user","content":"hi"}],"bootstrap_host":"10.0.0.7","bootstrap_port":34000,"bootstrap_room":9223372036854775807}',
    },
    {
      name: "whitespace kept, target model rewritten",
      body: ' { "model" : "alias" , "messages" : [ {"role":"user","content":"x"} ] } \n',
      target: "real/model",
      address: "[fd00::1]:8000",
      expect:
        ' { "model" : "real/model" , "messages" : [ {"role":"user","content":"x"} ] ,"bootstrap_host":"fd00::1","bootstrap_port":34000,"bootstrap_room":9223372036854775807} \n',
    },
    {
      name: "a client's own bootstrap fields come first and lose",
      body: '{"bootstrap_host":"6.6.6.6","model":"m","messages":[{"role":"user","content":"x"}],"bootstrap_room":1}',
      target: "",
      address: "127.0.0.1:9",
      expect:
        '{"bootstrap_host":"6.6.6.6","model":"m","messages":[{"role":"user","content":"x"}],"bootstrap_room":1,"bootstrap_host":"127.0.0.1","bootstrap_port":34000,"bootstrap_room":9223372036854775807}',
    },
  ];
  for (const c of cases) {
    const got = pure.pdRequestBody(c.body, c.target, c.address, 34000, room);
    assert.equal(got, c.expect, c.name);
    const parsed = JSON.parse(got);
    assert.equal(parsed.bootstrap_host, c.address.replace(/^\[?([^\]]*)\]?:\d+$/, "$1"), c.name);
  }
  // The decision's offset of the closing brace is the one pdBody was tested with.
  gateway({}, pdTable([P(0, "p0"), D(1, "d0")]));
  const body = '{"model":"m","messages":[{"role":"user","content":"x"}]}  ';
  const d = JSON.parse(pure.decide(body, false, "", true, "", ""));
  assert.equal(d.bodyEnd, body.lastIndexOf("}"));
});

test("the table's P/D fields are checked with their path", () => {
  const t = (mutate: (t: any) => void) => {
    const j = JSON.parse(pdTable([P(0, "p0", { bootstrapPort: 34001 }), D(1, "d0")]));
    mutate(j);
    return pure.table(JSON.stringify(j));
  };
  assert.match(
    t(() => {}),
    /^ok /,
  );
  assert.equal(
    t((j) => (j.pools[0].pd.prefillPolicy = "ROUND_ROBIN")),
    'error table.pools[0].pd.prefillPolicy: must be DEFAULT or PREFIX_CACHE, got "ROUND_ROBIN"',
  );
  assert.equal(
    t((j) => (j.pools[0].endpoints[0].bootstrapPort = 70000)),
    "error table.pools[0].endpoints[0].bootstrapPort: must be in [1, 65535], got 70000",
  );
  assert.match(
    t((j) => delete j.pools[0].pd.decodePolicy),
    /^ok /,
    "a stage without a policy routes by load (DEFAULT)",
  );
});
