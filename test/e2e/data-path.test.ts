// The data path end to end, with real parts only: simulated vLLM pods (separate processes), real
// Envoy (--concurrency 2) running the compiled filter, and the control plane reading the seed's
// manifests from a file and pushing the table.

import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { DEFAULT_MAX_BODY_BYTES, type RequestHandled } from "../../scripts/lib/envoy-process.js";
import { type LocalGateway, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { waitForEndpoint } from "./failover-helpers.js";
import {
  chat,
  clearPodLogs,
  eventually,
  podRequests,
  pool,
  post,
  SEED_MODEL,
  servedCounts,
  setFaults,
  sleep,
} from "./helpers.js";

let gw: LocalGateway;

before(async () => {
  // Fast simulated pods: routing, not model speed, is under test.
  gw = await startLocalGateway({
    fleet: {
      pods: 3,
      args: ["--prefill-overhead-ms", "1", "--inter-token-latency-ms", "1", "--prefill-time-per-token-ms", "0.01"],
    },
  });
});
after(async () => {
  await gw?.stop();
});

test("the seed's test request returns a completion from one of the pods", async () => {
  const r = await post(gw.url, "/v1/chat/completions", {
    model: "/models/Qwen3-32B",
    messages: [{ role: "user", content: "Hello, this is a test" }],
    max_tokens: 50,
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, "chat.completion");
  assert.ok(r.json.choices[0].message.content.length > 0);
  assert.ok(
    gw.fleet.pods.some((p) => p.name === r.pod),
    `answered by ${r.pod}`,
  );
  const named = (h: RequestHandled) => h.requestId !== "" && h.pod === r.pod;
  const line = (await gw.envoys[0].handledWhen((ls) => ls.some(named))).find(named);
  assert.ok(line, "a Request Handled line names the pod");
  assert.equal(line!.model, SEED_MODEL);
  assert.equal(line!.pool, "default/qwen-inference-pool");
  assert.equal(line!.strategy, "DEFAULT");
  assert.equal(line!.candidates, 3);
  // Through the listener's access log (envoy/bootstrap.yaml), not a proxy_log call per request.
  const raw = `][infergate] Request Handled {"requestId":${JSON.stringify(line!.requestId)}`;
  assert.ok(gw.envoys[0].log().includes(raw), "the line came through Envoy's access log");
});

test("streaming through the gateway parses with the openai client, usage included", async () => {
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "unused" });
  const stream = await client.chat.completions.create({
    model: SEED_MODEL,
    messages: [{ role: "user", content: "Stream me a few tokens please" }],
    max_tokens: 8,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? "";
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(text.length > 0);
  assert.equal(usage?.completion_tokens, 8);
  assert.ok((usage?.prompt_tokens ?? 0) > 0);
  // Legacy completions too.
  const c = await client.completions.create({ model: SEED_MODEL, prompt: "Once upon a time", max_tokens: 3 });
  assert.equal(c.usage?.completion_tokens, 3);
});

test("a stream the client leaves mid-way still gets its one Request Handled line", async () => {
  // Envoy prints the access log before the filter hears the stream is done: a line finished only
  // then takes Envoy's own log (gateway/handled-log.ts). Either way there is exactly one.
  const id = `left-mid-stream-${Date.now()}`;
  const ac = new AbortController();
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": id },
    body: JSON.stringify({
      model: SEED_MODEL,
      messages: [{ role: "user", content: "talk" }],
      max_tokens: 3000,
      stream: true,
    }),
    signal: ac.signal,
  });
  assert.equal(r.status, 200);
  await r.body!.getReader().read(); // the first chunk: the pod is generating
  ac.abort();
  const mine = (ls: RequestHandled[]) => ls.filter((h) => h.requestId === id);
  const lines = mine(await gw.envoys[0].handledWhen((ls) => mine(ls).length > 0));
  assert.ok(
    gw.fleet.pods.some((p) => p.name === lines[0].pod),
    JSON.stringify(lines[0]),
  );
  await sleep(200); // a second line would have come by now
  assert.equal(mine(gw.envoys[0].handled()).length, 1);
  // Finished after Envoy printed the stream's access log: it took Envoy's own log instead.
  const rawLine =
    gw.envoys[0]
      .log()
      .split("\n")
      .find((l) => l.includes(`"requestId":"${id}"`)) ?? "";
  assert.match(rawLine, /\]\[wasm\] wasm log .*: Request Handled \{/, rawLine);
});

test("GET /health answers like vLLM's (tools check it before a run)", async () => {
  const r = await fetch(`${gw.url}/health`);
  assert.equal(r.status, 200);
  assert.deepEqual(await r.json(), { status: "ok", readyEndpoints: 3 });
  assert.equal((await fetch(`${gw.url}/health`, { method: "POST" })).status, 405);
});

test("GET /v1/models lists the InferenceModels", async () => {
  const r = await fetch(`${gw.url}/v1/models`);
  const j = (await r.json()) as { object: string; data: { id: string }[] };
  assert.equal(j.object, "list");
  assert.deepEqual(
    j.data.map((m) => m.id),
    [SEED_MODEL],
  );
});

test("300 requests on equal pods spread evenly; a slow pod gets clearly fewer", async () => {
  await clearPodLogs(gw.fleet);
  await pool(
    Array.from({ length: 300 }, (_, i) => i),
    24,
    async (i) => {
      const r = await post(gw.url, "/v1/chat/completions", chat(`request ${i}`));
      assert.equal(r.status, 200, r.text);
    },
  );
  const counts = await servedCounts(gw.fleet);
  const values = [...counts.values()];
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  assert.equal(
    values.reduce((a, b) => a + b, 0),
    300,
  );
  assert.ok(Math.max(...values) <= 1.5 * mean, `counts ${JSON.stringify([...counts])}`);

  const slow = gw.fleet.pods[0];
  await setFaults(slow.url, { latencyMs: 150 });
  try {
    await clearPodLogs(gw.fleet);
    await pool(
      Array.from({ length: 300 }, (_, i) => i),
      24,
      async (i) => {
        const r = await post(gw.url, "/v1/chat/completions", chat(`slow round ${i}`));
        assert.equal(r.status, 200, r.text);
      },
    );
    const after = await servedCounts(gw.fleet);
    const others = gw.fleet.pods.slice(1).map((p) => after.get(p.name)!);
    assert.ok(
      after.get(slow.name)! * 2 < Math.min(...others),
      `slow pod got ${after.get(slow.name)}, others ${others}`,
    );
  } finally {
    await setFaults(slow.url, null);
  }
});

test("bad requests get their status and an OpenAI error, and never reach a pod", async () => {
  await clearPodLogs(gw.fleet);
  const big = JSON.stringify(chat("x".repeat(DEFAULT_MAX_BODY_BYTES + 64 * 1024)));
  const cases: { path: string; method?: string; body?: string; status: number; code: string; param?: string | null }[] =
    [
      { path: "/v1/chat/completions", body: "{not json", status: 400, code: "invalid_request" },
      {
        path: "/v1/chat/completions",
        body: JSON.stringify({ messages: [{ role: "user", content: "x" }] }),
        status: 400,
        code: "invalid_request",
        param: "model",
      },
      {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: SEED_MODEL }),
        status: 400,
        code: "invalid_request",
        param: "messages",
      },
      {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: SEED_MODEL, messages: "hi" }),
        status: 400,
        code: "invalid_request",
        param: "messages",
      },
      {
        path: "/v1/chat/completions",
        body: JSON.stringify({ model: 42, messages: [] }),
        status: 400,
        code: "invalid_request",
        param: "model",
      },
      {
        path: "/v1/completions",
        body: JSON.stringify({ model: SEED_MODEL }),
        status: 400,
        code: "invalid_request",
        param: "prompt",
      },
      {
        path: "/v1/chat/completions",
        body: JSON.stringify(chat("x", { model: "/models/unknown" })),
        status: 404,
        code: "model_not_found",
        param: "model",
      },
      { path: "/v1/chat/completions", method: "GET", status: 405, code: "method_not_allowed" },
      { path: "/v1/embeddings", body: "{}", status: 404, code: "not_found" },
      { path: "/v1/chat/completions", body: big, status: 413, code: "body_too_large" },
    ];
  for (const c of cases) {
    const r = await fetch(gw.url + c.path, {
      method: c.method ?? "POST",
      headers: { "content-type": "application/json" },
      body: c.body,
    });
    const j = (await r.json()) as { error: { message: string; type: string; code: string; param: string | null } };
    assert.equal(r.status, c.status, `${c.path} ${c.body?.slice(0, 60)}: ${JSON.stringify(j)}`);
    assert.equal(j.error.code, c.code);
    assert.ok(j.error.message.length > 0 && typeof j.error.type === "string");
    if (c.param !== undefined) assert.equal(j.error.param, c.param);
    assert.equal(r.headers.get("content-type"), "application/json");
  }
  const counts = await servedCounts(gw.fleet);
  assert.deepEqual([...counts.values()], [0, 0, 0], "no bad request reached a pod");
});

test("a client-supplied destination header is ignored", async () => {
  await clearPodLogs(gw.fleet);
  const target = gw.fleet.pods[1];
  const seen = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const r = await post(gw.url, "/v1/chat/completions", chat(`spoof ${i}`), {
      "x-gateway-destination-endpoint": target.address,
    });
    assert.equal(r.status, 200);
    seen.add(r.pod!);
  }
  assert.ok(seen.size >= 2, `requests were spread, not pinned: ${[...seen]}`);
  // And what reached the pod carries the gateway's choice (the pod first, then distinct fallbacks
  // of the pool), never a copy of the client's; the pool header never reaches a pod.
  const addresses = new Set(gw.fleet.pods.map((p) => p.address));
  for (const [pod, reqs] of await podRequests(gw.fleet)) {
    for (const r of reqs) {
      const list = String(r.headers["x-gateway-destination-endpoint"]).split(",");
      assert.equal(list[0], gw.fleet.pod(pod).address);
      assert.equal(new Set(list).size, list.length, `no address twice: ${list}`);
      for (const a of list) assert.ok(addresses.has(a), a);
      assert.equal(r.headers["x-infergate-pool"], undefined);
    }
  }
});

test("a client's x-infergate-pd does not put a whole request on the P/D decode route: its retries stay, the pod never sees it", async () => {
  // Two of three pods answer 503: a whole request is retried on the listed fallbacks until the
  // healthy pod answers. On the decode halves' route (no retry on a 5xx) it would get the 503.
  const [bad1, bad2, good] = gw.fleet.pods;
  for (const p of [bad1, bad2]) await setFaults(p.url, { errorRate: 1, errorStatus: 503 });
  await clearPodLogs(gw.fleet);
  try {
    for (let i = 0; i < 6; i++) {
      const r = await post(gw.url, "/v1/chat/completions", chat(`pd header ${i}`), { "x-infergate-pd": "decode" });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.pod, good.name);
    }
    const seen = await podRequests(gw.fleet);
    const failed = [...seen.values()].flat().filter((x) => x.status === 503);
    assert.ok(failed.length > 0, "some attempts went to a failing pod first and were retried");
    for (const x of [...seen.values()].flat()) assert.equal(x.headers["x-infergate-pd"], undefined);
  } finally {
    for (const p of [bad1, bad2]) await setFaults(p.url, null);
  }
  for (const p of gw.fleet.pods) await waitForEndpoint(gw, p.name, (e) => e.ready && e.envoy === "ok", 40_000);
});

test("Envoy closes an idle connection to a pod after 4 s, before the pod's server would (uvicorn: 5 s)", async () => {
  const idleTimeouts = async () =>
    Number(
      (
        await (
          await fetch(`${gw.envoys[0].adminUrl}/stats?filter=^cluster\\.infergate_pods\\.upstream_cx_idle_timeout$`)
        ).text()
      ).split(":")[1],
    );
  // Whatever connections earlier tests left idle close first; then one request opens or reuses one.
  await sleep(4500);
  const before = await idleTimeouts();
  assert.equal(Number.isNaN(before), false, "the stat exists");
  const r = await post(gw.url, "/v1/chat/completions", chat("idle"));
  assert.equal(r.status, 200);
  const t0 = Date.now();
  await eventually(async () => (await idleTimeouts()) > before, 8000, 50);
  const idleMs = Date.now() - t0;
  assert.ok(idleMs > 3500 && idleMs < 5000, `closed ${idleMs} ms after the last request`);
});

/** POSTs `body` over HTTP/2 and ends the request with trailers (the body never ends on its own). */
async function postWithTrailers(
  url: string,
  body: string,
  headers: Record<string, string>,
  path = "/v1/chat/completions",
) {
  const session = http2.connect(url);
  try {
    const req = session.request(
      { ":method": "POST", ":path": path, "content-type": "application/json", ...headers },
      { waitForTrailers: true },
    );
    req.on("wantTrailers", () => req.sendTrailers({ "x-client-trailer": "1" }));
    let status = 0;
    let pod = "";
    let text = "";
    req.on("response", (h) => {
      status = Number(h[":status"]);
      pod = String(h["x-sim-pod"] ?? "");
    });
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      text += d;
    });
    req.end(body);
    await new Promise<void>((resolve, reject) => {
      req.on("close", resolve);
      req.on("error", reject);
    });
    return { status, pod, text };
  } finally {
    session.close();
  }
}

test("a body ended by trailers (HTTP/2) is decided by the filter like any other, never by the client's destination", async () => {
  // Envoy reports such a body's end at the trailers, not in the body hook: the filter decides there.
  await clearPodLogs(gw.fleet);
  const target = gw.fleet.pods[1];
  const seen = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const id = `trailers-${i}-${Date.now()}`;
    const r = await postWithTrailers(gw.url, JSON.stringify(chat(`trailers ${i}`)), {
      "x-gateway-destination-endpoint": target.address,
      "x-request-id": id,
    });
    assert.equal(r.status, 200, r.text);
    seen.add(r.pod);
    const line = await gw.envoys[0].handledLine(id, 2000);
    assert.equal(line.pod, r.pod, JSON.stringify(line));
  }
  assert.ok(seen.size >= 2, `requests were spread, not pinned: ${[...seen]}`);
  for (const [pod, reqs] of await podRequests(gw.fleet))
    for (const r of reqs)
      assert.equal(String(r.headers["x-gateway-destination-endpoint"]).split(",")[0], gw.fleet.pod(pod).address);
  // And a bad body ended by trailers gets the filter's answer.
  const bad = await postWithTrailers(gw.url, '{"model":', {});
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.text, /invalid JSON/);
  // The control listener runs the same module: a table push ended by trailers is read whole.
  const envoy = gw.envoys[0];
  const table = gw.controlPlane!.lastTable()!;
  const stale = await postWithTrailers(
    envoy.controlUrl,
    JSON.stringify({ ...table, generation: 1 }),
    {
      authorization: `Bearer ${envoy.token}`,
    },
    "/infergate/v1/table",
  );
  assert.equal(stale.status, 409, `the pushed table was decoded: ${stale.text}`);
});

test("table push: wrong token 401, malformed 400, stale 409, and routing continues on the last good table", async () => {
  const envoy = gw.envoys[0];
  const push = (body: string, token = envoy.token) =>
    fetch(`${envoy.controlUrl}/infergate/v1/table`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
  const good = gw.controlPlane!.lastTable()!;
  let r = await push(JSON.stringify(good), "wrong-token-wrong-token");
  assert.equal(r.status, 401);
  r = await fetch(`${envoy.controlUrl}/infergate/v1/table`, { method: "POST", body: "{}" });
  assert.equal(r.status, 401, "no token at all");
  r = await push('{"version":1,');
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as any).error.message, /invalid JSON/);
  r = await push(
    JSON.stringify({
      ...good,
      generation: good.generation + 10_000_000,
      pools: [{ ...good.pools[0], endpoints: [{ ...good.pools[0].endpoints[0], address: "not-an-address" }] }],
    }),
  );
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as any).error.message, /address: must be IP:port/);
  r = await push(JSON.stringify({ ...good, generation: 5 }));
  assert.equal(r.status, 409);
  // The public listener does not accept pushes.
  r = await fetch(`${gw.url}/infergate/v1/table`, {
    method: "POST",
    headers: { authorization: `Bearer ${envoy.token}` },
    body: JSON.stringify(good),
  });
  assert.equal(r.status, 404);
  for (let i = 0; i < 10; i++)
    assert.equal((await post(gw.url, "/v1/chat/completions", chat(`after bad pushes ${i}`))).status, 200);
});

test("an annotation past the filter's bound is refused by the control plane: Envoy keeps accepting every table", async () => {
  const envoy = gw.envoys[0];
  const held = async () =>
    (
      (await (
        await fetch(`${envoy.controlUrl}/infergate/v1/table`, { headers: { authorization: `Bearer ${envoy.token}` } })
      ).json()) as { generation: number }
    ).generation;
  const failedBefore = gw.controlPlane!.pusher.targets()[0].failed;
  const lru = "inference-epp-env.networking.x-k8s.io/prefix-cache-lru-capacity";
  const annotations = { "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE", [lru]: "20000000" };
  const gone = gw.fleet.pods[0].name;
  // The bad value beside a good one, then a membership change: both reach the filter.
  for (const settings of [{ annotations }, { annotations, removed: [gone] }]) {
    gw.writeConfig(settings);
    await eventually(
      async () => {
        const t = gw.controlPlane!.lastTable()!;
        const p = t.pools[0];
        const membershipDone = settings.removed ? !p.endpoints.some((e) => e.name === gone) : p.endpoints.length === 3;
        return p.strategy === "PREFIX_CACHE" && membershipDone && (await held()) >= t.generation;
      },
      5000,
      20,
    );
  }
  const t = gw.controlPlane!.lastTable()!;
  assert.equal(t.pools[0].prefix.lruCapacity, 50000, "the default stays in force");
  assert.ok(
    gw
      .controlPlane!.store.resolved()
      .problems.some((p) => p.field?.includes(lru) && /at most 10000000/.test(p.message)),
  );
  assert.equal(gw.controlPlane!.pusher.targets()[0].failed, failedBefore, "no push refused");
  for (let i = 0; i < 6; i++) {
    const r = await post(gw.url, "/v1/chat/completions", chat(`bounded ${i}`));
    assert.equal(r.status, 200);
    assert.notEqual(r.pod, gone);
  }
  gw.writeConfig({});
  await eventually(async () => gw.controlPlane!.lastTable()!.pools[0].strategy === "DEFAULT", 3000);
});

test("a table pushed through one Envoy worker steers the very next requests on both workers", async () => {
  // The push lands on one worker; requests land on both. A decision finds the newest table through the
  // generation stamped into the in-flight key it reads anyway (assembly/state/inflight.ts), not on the
  // next 10 ms tick.
  const envoy = gw.envoys[0];
  const base = gw.controlPlane!.lastTable()!;
  await gw.stopControlPlane();
  const names = gw.fleet.pods.map((p) => p.name);
  try {
    for (let round = 0; round < 8; round++) {
      const only = names[round % names.length];
      const table = {
        ...base,
        generation: base.generation + 1 + round,
        builtAtMs: Date.now(),
        topology: `only-${only}-${round}`,
        pools: base.pools.map((p) => ({ ...p, endpoints: p.endpoints.map((e) => ({ ...e, ready: e.name === only })) })),
      };
      const r = await fetch(`${envoy.controlUrl}/infergate/v1/table`, {
        method: "POST",
        headers: { authorization: `Bearer ${envoy.token}`, "content-type": "application/json" },
        body: JSON.stringify(table),
      });
      assert.equal(r.status, 204, await r.text());
      const rs = await Promise.all(
        Array.from({ length: 16 }, (_, i) => post(gw.url, "/v1/chat/completions", chat(`stamp ${round} ${i}`))),
      );
      const wrong = rs.filter((x) => x.status !== 200 || x.pod !== only).map((x) => `${x.status} ${x.pod}`);
      // On failure, whether Envoy moved requests (a retry, an ejection) or the filter chose the old pod.
      const stats = wrong.length
        ? await (await fetch(`${envoy.adminUrl}/stats?filter=(upstream_rq_retry$|fallbacks|ejections_active)`)).text()
        : "";
      assert.deepEqual(wrong, [], `round ${round}: every request to ${only}\n${stats}`);
    }
  } finally {
    await gw.startControlPlane();
  }
  await eventually(async () => {
    const rs = await Promise.all(names.map((_, i) => post(gw.url, "/v1/chat/completions", chat(`restored ${i}`))));
    return rs.every((x) => x.status === 200);
  }, 5000);
});

test("requests keep flowing without the control plane; its next table is used within a second of it coming back", async () => {
  await gw.stopControlPlane();
  for (let i = 0; i < 20; i++)
    assert.equal((await post(gw.url, "/v1/chat/completions", chat(`no control plane ${i}`))).status, 200);
  // While it is down, the operator removes pod-0 from the pool.
  const gone = gw.fleet.pods[0].name;
  gw.writeConfig({ removed: [gone] });
  await sleep(300);
  const t0 = Date.now();
  await gw.startControlPlane();
  const startMs = Date.now() - t0;
  const tookMs = await eventually(
    async () => {
      const rs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => post(gw.url, "/v1/chat/completions", chat(`back ${i}`))),
      );
      return rs.every((r) => r.status === 200 && r.pod !== gone);
    },
    5000,
    20,
  );
  assert.ok(tookMs < 1000, `new table in use ${tookMs} ms after the control plane started (start took ${startMs} ms)`);
  gw.writeConfig({});
  await eventually(async () => (await post(gw.url, "/v1/chat/completions", chat("readd"))).status === 200, 3000);
});

test("503 with Retry-After before any table, and when no endpoint of the pool is ready", async () => {
  // A fresh Envoy that no control plane has pushed to.
  const { startEnvoy } = await import("../../scripts/lib/envoy-process.js");
  const bare = await startEnvoy({});
  try {
    const r = await post(bare.url, "/v1/chat/completions", chat("too early"));
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("retry-after"), "1");
    assert.equal(r.json.error.code, "no_table");
    assert.equal((await fetch(`${bare.url}/health`)).status, 503);
  } finally {
    await bare.stop();
  }
  // Every pod of the pool turned unready.
  gw.writeConfig({ unready: gw.fleet.pods.map((p) => p.name) });
  await eventually(async () => (await post(gw.url, "/v1/chat/completions", chat("none ready"))).status === 503, 3000);
  const r = await post(gw.url, "/v1/chat/completions", chat("none ready"));
  assert.equal(r.headers.get("retry-after"), "1");
  assert.equal(r.json.error.code, "no_ready_endpoint");
  gw.writeConfig({});
  await eventually(async () => (await post(gw.url, "/v1/chat/completions", chat("ready again"))).status === 200, 3000);
});
