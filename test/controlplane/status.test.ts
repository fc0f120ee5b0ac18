// The status view's parts without Envoy: EnvoySampler against loopback stand-ins of Envoy's admin
// stats and control listener (NOT Envoy; the real one is in test/e2e/status.test.ts), the snapshot
// built from a real model store and table builder, its text and HTML renderings, and the pool
// gauges on /metrics.

import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryLogger } from "../../controlplane/log.js";
import { ControlPlaneMetrics } from "../../controlplane/metrics.js";
import { ModelStore } from "../../controlplane/model/store.js";
import type { ScrapeState } from "../../controlplane/scrapers/scrape-loop.js";
import { parseYamlDocuments } from "../../controlplane/sources/file.js";
import { EnvoySampler, type HeldRequests } from "../../controlplane/status/envoy-sampler.js";
import { runStatusCommand } from "../../controlplane/status/status-command.js";
import { renderStatusHtml } from "../../controlplane/status/status-html.js";
import { renderStatusText } from "../../controlplane/status/status-text.js";
import { buildStatus } from "../../controlplane/status/status-view.js";
import { TableBuilder } from "../../controlplane/table/builder.js";
import type { Table } from "../../controlplane/table/schema.js";
import { freePort } from "../../scripts/lib/ports.js";
import { type LoopbackServer, loopbackServer } from "./helpers.js";

const TOKEN = "status-test-token";
const POOL = "default/qwen-inference-pool";

interface StandInState {
  counters: Record<string, number>;
  inflight: Record<string, number>;
  queues: Record<string, HeldRequests>;
  generation: number;
  down: boolean;
  lastStatsQuery: string;
}

/** A stand-in for one Envoy replica (NOT Envoy): admin /stats/prometheus with the filter's counters
 *  as the test sets them, and the control listener's GET /infergate/v1/table. */
async function envoyStandIn(): Promise<LoopbackServer & { state: StandInState }> {
  const state: StandInState = {
    counters: {},
    inflight: {},
    queues: {},
    generation: 7,
    down: false,
    lastStatsQuery: "",
  };
  const s = await loopbackServer((req, res) => {
    if (state.down) return void res.writeHead(503).end("down");
    const [path, query] = (req.url ?? "").split("?");
    if (path === "/stats/prometheus") {
      state.lastStatsQuery = decodeURIComponent(query ?? "");
      const lines = Object.entries(state.counters).map(([k, v]) => `${k} ${v}`);
      return void res.writeHead(200, { "content-type": "text/plain" }).end(`${lines.join("\n")}\n`);
    }
    if (path === "/infergate/v1/table" && req.method === "GET") {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end();
      return void res.writeHead(200, { "content-type": "application/json" }).end(
        JSON.stringify({
          generation: state.generation,
          builtAtMs: 1,
          queues: state.queues,
          inflight: state.inflight,
        }),
      );
    }
    res.writeHead(404).end();
  });
  return Object.assign(s, { state });
}

const podCounter = (pod: string) => `infergate_pod_requests_total{pool="${POOL}",pod="${pod}"}`;

test("EnvoySampler: sums replicas, counts increases over the window only, survives an Envoy restart and a silent replica", async () => {
  const a = await envoyStandIn();
  const b = await envoyStandIn();
  let now = 1_000_000;
  const logger = memoryLogger();
  const sampler = new EnvoySampler({
    replicas: [
      { admin: a.url, control: a.url },
      { admin: b.url, control: b.url },
    ],
    token: TOKEN,
    windowMs: 10_000,
    logger,
    now: () => now,
  });
  try {
    const set = (r: typeof a, counters: Record<string, number>) => Object.assign(r.state.counters, counters);
    set(a, { [podCounter("pod-0")]: 100, [podCounter("pod-1")]: 50 });
    set(b, { [podCounter("pod-0")]: 10 });
    a.state.inflight = { "10.0.0.1:8000": 2, "10.0.0.2:8000": 1 };
    b.state.inflight = { "10.0.0.1:8000": 3 };
    a.state.queues = { [POOL]: { bytes: 100, critical: 1, standard: 0, sheddable: 2 } };
    b.state.queues = { [POOL]: { bytes: 50, critical: 0, standard: 4, sheddable: 0 } };
    await sampler.sampleOnce();
    assert.match(a.state.lastStatsQuery, /filter=\^wasmcustom/);
    let live = sampler.live();
    assert.equal(live.answered, 2);
    assert.equal(live.inflight.get("10.0.0.1:8000"), 5);
    assert.equal(live.inflight.get("10.0.0.2:8000"), 1);
    assert.deepEqual(live.queues.get(POOL), { bytes: 150, critical: 1, standard: 4, sheddable: 2 });
    assert.deepEqual(live.generations, [7, 7]);
    assert.equal(sampler.recent().seconds, 0, "one sample is no window yet");

    now += 5_000;
    set(a, { [podCounter("pod-0")]: 130, [podCounter("pod-1")]: 60 });
    set(b, { [podCounter("pod-0")]: 15, [podCounter("pod-2")]: 4 }); // pod-2: a series born in the window
    await sampler.sampleOnce();
    let r = sampler.recent();
    assert.equal(r.seconds, 5);
    const inc = (rr: typeof r, pod: string) =>
      rr.counters.get("infergate_pod_requests_total")?.find((c) => c.labels.pod === pod)?.increase;
    assert.equal(inc(r, "pod-0"), 35, "30 on replica a + 5 on replica b");
    assert.equal(inc(r, "pod-1"), 10);
    assert.equal(inc(r, "pod-2"), 4);

    // Replica b restarts (its counters start again from 0) and replica a stops answering.
    now += 5_000;
    set(b, { [podCounter("pod-0")]: 3, [podCounter("pod-2")]: 4 });
    a.state.down = true;
    await sampler.sampleOnce();
    live = sampler.live();
    assert.equal(live.answered, 1);
    assert.equal(live.errors.length, 1);
    assert.match(live.errors[0], /replica 0: .*503/);
    assert.equal(live.inflight.get("10.0.0.1:8000"), 3, "only the replica that answered");
    r = sampler.recent();
    assert.equal(inc(r, "pod-0"), 3, "b restarted: its increase counts from 0 (a is silent, left out)");
    assert.ok(logger.lines.some((l) => l.level === "warn" && /cannot read envoy replica/.test(l.msg)));

    // The window is 10 s: the first sample falls out, so the increase runs from the second one.
    a.state.down = false;
    now += 5_000;
    set(a, { [podCounter("pod-0")]: 140, [podCounter("pod-1")]: 60 });
    await sampler.sampleOnce();
    r = sampler.recent();
    assert.equal(r.seconds, 10);
    assert.equal(inc(r, "pod-1"), 0, "pod-1 got nothing since the sample 10 s ago");
    assert.equal(inc(r, "pod-0"), 10 + 3, "a: 130 -> 140; b: restarted at 3 (from 15)");
  } finally {
    sampler.stop();
    await a.close();
    await b.close();
  }
});

const FLEET = (annotations: Record<string, string>) => `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata:
  name: qwen-inference-pool
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join("\n")}
spec:
  targetPortNumber: 8000
  selector: { app: vllm }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: qwen }
spec:
  modelName: /models/Qwen3-32B
  poolRef: { name: qwen-inference-pool }
---
apiVersion: infergate.dev/v1alpha1
kind: StaticEndpoints
metadata: { name: sims }
endpoints:
- { name: pod.a, address: "10.0.0.1:8000", labels: { app: vllm } }
- { name: pod-b, address: "10.0.0.2:8000", labels: { app: vllm } }
- { name: pod-c, address: "10.0.0.3:8000", labels: { app: vllm } }
`;

function modelAndTable(annotations: Record<string, string>, loads: Record<string, [number, number, number] | "down">) {
  const store = new ModelStore({ defaultNamespace: "default" });
  store.replaceSource("t", parseYamlDocuments(FLEET(annotations), "fleet.yaml"));
  const model = store.resolved();
  const scrape = (address: string): ScrapeState | undefined => {
    const l = loads[address];
    if (!l) return undefined;
    const down = l === "down";
    return {
      address,
      runtime: "vllm",
      lastSuccessAtMs: Date.now(),
      load: down ? null : { waiting: l[0], running: l[1], kvUsage: l[2], loras: [] },
      consecutiveFailures: down ? 3 : 0,
      healthy: !down,
      lastError: down ? "connect ECONNREFUSED" : null,
      lastDurationMs: 1,
    };
  };
  const table = new TableBuilder({ stalenessMs: 3000 }).build(model, scrape).table;
  return { model, table, scrape };
}

test("status snapshot: settings in effect and the invalid ones with why, shares, in-flight, queue per class, prefix hit rate", () => {
  const { model, table, scrape } = modelAndTable(
    {
      "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE",
      "inference.networking.x-k8s.io/queueing": "enabled",
      "inference-epp-env.networking.x-k8s.io/queue-ttl": "forever",
    },
    { "10.0.0.1:8000": [3, 2, 0.5], "10.0.0.2:8000": [1, 4, 0.25], "10.0.0.3:8000": "down" },
  );
  const s = buildStatus({
    nowMs: table.builtAtMs + 250,
    model,
    table,
    scrapes: scrape,
    pushes: [],
    live: {
      atMs: 0,
      answered: 1,
      replicas: 1,
      generations: [table.generation],
      queues: new Map([[POOL, { bytes: 10, critical: 1, standard: 2, sheddable: 3 }]]),
      inflight: new Map([["10.0.0.1:8000", 4]]),
      errors: [],
    },
    recent: {
      seconds: 60,
      counters: new Map([
        [
          "infergate_pod_requests_total",
          [
            // The filter writes "pod.a" as "pod_a" (a dot separates Envoy's stat tags).
            { labels: { pool: POOL, pod: "pod_a" }, increase: 30 },
            { labels: { pool: POOL, pod: "pod-b" }, increase: 10 },
            { labels: { pool: "other/pool", pod: "pod-b" }, increase: 1000 },
          ],
        ],
        [
          "infergate_requests_total",
          [
            { labels: { pool: POOL, outcome: "routed" }, increase: 40 },
            { labels: { pool: POOL, outcome: "rejected" }, increase: 2 },
          ],
        ],
        [
          "infergate_prefix_predictions_total",
          [
            { labels: { pool: POOL, result: "hit" }, increase: 27 },
            { labels: { pool: POOL, result: "under" }, increase: 3 },
          ],
        ],
      ]),
    },
  });
  assert.equal(s.table?.ageMs, 250);
  assert.equal(s.pools.length, 1);
  const p = s.pools[0];
  assert.equal(p.strategy, "PREFIX_CACHE");
  const setting = (k: string) => p.settings.find((x) => x.annotation === k);
  assert.deepEqual(setting("inference.networking.x-k8s.io/routing-strategy"), {
    annotation: "inference.networking.x-k8s.io/routing-strategy",
    value: "PREFIX_CACHE",
    source: "annotation",
  });
  assert.equal(setting("inference-epp-env.networking.x-k8s.io/queue-ttl")?.value, "30s");
  assert.equal(setting("inference-epp-env.networking.x-k8s.io/queue-ttl")?.source, "kept");
  assert.equal(setting("inference-epp-env.networking.x-k8s.io/prefix-cache-hash-block-size")?.source, "default");
  assert.equal(p.invalid.length, 1);
  assert.match(p.invalid[0].field, /queue-ttl/);
  assert.match(p.invalid[0].message, /"forever".*stays in force/);
  assert.deepEqual(p.queue.held, { bytes: 10, critical: 1, standard: 2, sheddable: 3 });
  assert.deepEqual(p.recent, { routed: 40, rejected: 2, perSecond: 0.7 });
  assert.equal(p.prefix.hitRate, 0.9);
  const pod = (n: string) => p.pods.find((x) => x.name === n)!;
  assert.equal(pod("pod.a").share, 0.75);
  assert.equal(pod("pod.a").recentRequests, 30);
  assert.equal(pod("pod.a").inFlight, 4);
  assert.equal(pod("pod.a").waiting, 3);
  assert.equal(pod("pod.a").kvUsage, 0.5);
  assert.equal(pod("pod-b").share, 0.25);
  assert.equal(pod("pod-b").inFlight, 0, "an Envoy answered and has nothing in flight to it");
  assert.equal(pod("pod-c").ready, false);
  assert.equal(pod("pod-c").share, 0);
  assert.match(pod("pod-c").scrapeError ?? "", /ECONNREFUSED/);

  const text = renderStatusText(s);
  assert.match(text, /pool default\/qwen-inference-pool {2}strategy PREFIX_CACHE/);
  assert.match(text, /pod\.a +10\.0\.0\.1:8000 +both +yes .* 75% +30/);
  assert.match(text, /pod-c .* no .*failing: connect ECONNREFUSED/);
  assert.match(text, /INVALID .*queue-ttl.*"forever"/);
  assert.match(text, /prefix prediction: 90% confirmed \(hit 27, over 0, under 3\)/);
  assert.match(text, /held critical 1, standard 2, sheddable 3/);

  const html = renderStatusHtml(s);
  assert.match(html, /<meta http-equiv="refresh" content="2">/);
  assert.match(html, /data-pod="pod\.a"[\s\S]*?75 % \(30\)/);
  assert.match(html, /Critical <b>1<\/b> · Standard <b>2<\/b> · Sheddable <b>3<\/b>/);
  assert.match(html, /&quot;forever&quot;/, "problem text is escaped");
  assert.doesNotMatch(html, /<script/i);
});

test("status snapshot: with no Envoy answering, in-flight and the queue are unknown, not zero", () => {
  const { model, table, scrape } = modelAndTable({}, { "10.0.0.1:8000": [0, 0, 0] });
  const s = buildStatus({ nowMs: Date.now(), model, table, scrapes: scrape, pushes: [], live: null, recent: null });
  assert.equal(s.pools[0].queue.held, null);
  assert.equal(s.pools[0].pods[0].inFlight, null);
  assert.equal(s.pools[0].pods[0].share, null);
  assert.match(renderStatusText(s), /held unknown/);
});

test("pool gauges: GIE's names and meanings (averages over ready pods, per-pod queue), held requests per class", async () => {
  const { table } = modelAndTable(
    {},
    { "10.0.0.1:8000": [3, 2, 0.5], "10.0.0.2:8000": [1, 4, 0.25], "10.0.0.3:8000": "down" },
  );
  const m = new ControlPlaneMetrics({ defaultMetrics: false });
  let current: Table | null = table;
  let held: Map<string, HeldRequests> | null = new Map([[POOL, { bytes: 1, critical: 2, standard: 0, sheddable: 5 }]]);
  m.observePools({ table: () => current, held: () => held });
  const value = async (name: string, labels: Record<string, string>) => {
    const j = await m.registry.getSingleMetric(name)!.get();
    return j.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))?.value;
  };
  const pool = { name: "qwen-inference-pool", pool: POOL };
  assert.equal(await value("inference_pool_ready_pods", pool), 2);
  assert.equal(await value("inference_pool_average_kv_cache_utilization", pool), 0.375);
  assert.equal(await value("inference_pool_average_queue_size", pool), 2);
  assert.equal(await value("inference_pool_average_running_requests", pool), 3);
  assert.equal(await value("inference_pool_per_pod_queue_size", { ...pool, model_server_pod: "pod_a" }), 3);
  assert.equal(await value("infergate_pod_ready", { pool: POOL, pod: "pod-c" }), 0);
  assert.equal(await value("infergate_pod_kv_cache_utilization", { pool: POOL, pod: "pod-b" }), 0.25);
  assert.equal(await value("infergate_queue_held_requests", { pool: POOL, class: "sheddable" }), 5);
  const text = await m.registry.metrics();
  assert.match(
    text,
    /^inference_pool_ready_pods\{name="qwen-inference-pool",pool="default\/qwen-inference-pool"\} 2$/m,
  );

  // The pods leave the table: their series go with them. No Envoy answers: no held series.
  current = { ...table, pools: [{ ...table.pools[0], endpoints: [] }] };
  held = null;
  const after = await m.registry.metrics();
  assert.doesNotMatch(after, /inference_pool_per_pod_queue_size\{/);
  assert.doesNotMatch(after, /inference_pool_average_queue_size\{/, "no ready pod: no average (not a made-up 0)");
  assert.match(after, /^inference_pool_ready_pods\{[^}]*\} 0$/m);
  assert.doesNotMatch(after, /infergate_queue_held_requests\{/);
});

test("infergate status command: text, --json, bad flags exit 2, an unreachable control plane exits 1", async () => {
  const { model, table, scrape } = modelAndTable({}, { "10.0.0.1:8000": [1, 2, 0.5] });
  const snap = buildStatus({
    nowMs: table.builtAtMs,
    model,
    table,
    scrapes: scrape,
    pushes: [],
    live: null,
    recent: null,
  });
  const cp = await loopbackServer((req, res) => {
    if (req.url === "/status.json")
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(snap));
    else res.writeHead(404).end();
  });
  const capture = () => {
    const o = { out: "", err: "" };
    return { o, out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s) };
  };
  try {
    let c = capture();
    assert.equal(await runStatusCommand(["--url", cp.url], c.out, c.err), 0);
    assert.equal(c.o.out, renderStatusText(snap));
    c = capture();
    assert.equal(await runStatusCommand(["--url", `${cp.url}/`, "--json"], c.out, c.err), 0);
    assert.deepEqual(JSON.parse(c.o.out), snap);
    c = capture();
    assert.equal(await runStatusCommand(["--watch", "soon"], c.out, c.err), 2);
    assert.match(c.o.err, /--watch "soon"/);
    c = capture();
    assert.equal(await runStatusCommand(["--bogus"], c.out, c.err), 2);
    assert.match(c.o.err, /usage: infergate status/);
  } finally {
    await cp.close();
  }
  // (A port nobody listens on: the closed server's keep-alive socket would say "other side closed".)
  const closed = await freePort();
  const c = capture();
  assert.equal(await runStatusCommand(["--url", `http://127.0.0.1:${closed}`], c.out, c.err), 1);
  assert.equal(
    c.o.err,
    `infergate status: cannot reach the control plane at http://127.0.0.1:${closed}/status.json: connect ECONNREFUSED 127.0.0.1:${closed}\n`,
  );
});
