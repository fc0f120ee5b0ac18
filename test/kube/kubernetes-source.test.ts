// The control plane's Kubernetes source end to end: a real kube-apiserver + etcd (test/harness/kube.ts),
// the seed's manifests applied verbatim, Pods whose status points at simulated model servers, real
// Envoy with the filter, and the control plane (in this process, --source kubernetes, running as the
// chart's service account under the chart's RBAC) pushing its table to Envoy.
//
// Every simulated pod listens on the seed's targetPortNumber (8000) on its own loopback address
// (127.A.B.x: Linux routes all of 127/8 to lo), so pod IP + targetPortNumber is the real address,
// exactly as in a cluster.
//
// What a test checks is seen through routing or the filter's own log ("Request Handled" lines), not
// only in the control plane's table.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { type ControlPlane, startControlPlane } from "../../controlplane/control-plane.js";
import { memoryLogger } from "../../controlplane/log.js";
import { KubeClient } from "../../controlplane/sources/kube-client.js";
import { CONDITION_TYPE } from "../../controlplane/sources/kubernetes.js";
import type { Table, TablePool } from "../../controlplane/table/schema.js";
import { type EnvoyInstance, startEnvoy } from "../../scripts/lib/envoy-process.js";
import { chat, eventually, post, type Reply, SEED_MODEL, setFaults, sleep } from "../e2e/helpers.js";
import { CONTROL_PLANE_USER, type Kube, startKube } from "../harness/kube.js";
import { type Fleet, startFleet } from "../sim/fleet.js";

const here = dirname(fileURLToPath(import.meta.url));
const REPO = join(here, "../../../..");
const FIXTURES = join(REPO, "test/kube/fixtures");
const NS = "default";
const POOL = "qwen-inference-pool";
const POOL_ID = `${NS}/${POOL}`;
const WORKLOAD = { "alibabacloud.com/inference-workload": "vllm-inference" };
const POOLS_PATH = `/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/${NS}/inferencepools`;

const A = {
  strategy: "inference.networking.x-k8s.io/routing-strategy",
  blockSize: "inference-epp-env.networking.x-k8s.io/prefix-cache-hash-block-size",
  maxBlocks: "inference-epp-env.networking.x-k8s.io/prefix-cache-max-prefix-blocks",
  lru: "inference-epp-env.networking.x-k8s.io/prefix-cache-lru-capacity",
  queueing: "inference.networking.x-k8s.io/queueing",
  capacity: "inference-epp-env.networking.x-k8s.io/total-queue-capacity",
  ttl: "inference-epp-env.networking.x-k8s.io/queue-ttl",
  runtime: "inference.networking.x-k8s.io/model-server-runtime",
  overlay: "inference.networking.x-k8s.io/epp-overlay",
};
/** Hot updates must reach the filter within this (the seed: hot update; our bound: 2 s). */
const HOT_MS = 2000;

// A random 127.A.B.0/24 per run: concurrent runs on one machine do not collide on port 8000.
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;
const IP: Record<string, string> = {
  "vllm-0": `${NET}.10`,
  "vllm-1": `${NET}.11`,
  "vllm-2": `${NET}.12`,
  "vllm-3": `${NET}.13`,
  "sgl-0": `${NET}.20`,
};

let kube: Kube;
let fleet: Fleet;
let envoy: EnvoyInstance;
let cp: ControlPlane;
const logger = memoryLogger();
const hotTimes: Record<string, number> = {};

async function ok(r: Promise<{ status: number; body: any }>, what: string): Promise<any> {
  const x = await r;
  assert.ok(x.status < 300, `${what}: ${x.status} ${JSON.stringify(x.body).slice(0, 400)}`);
  return x.body;
}

/** Creates every document of a seed fixture, byte for byte as the seed writes it (kubectl create -f). */
async function applyFixture(file: string): Promise<void> {
  const path = join(FIXTURES, file);
  if (kube.hasKubectl) {
    const r = await kube.kubectl(["create", "-n", NS, "-f", path]);
    assert.equal(r.code, 0, r.stderr);
    return;
  }
  for (const d of parseAllDocuments(readFileSync(path, "utf8"))) {
    const o = d.toJS() as any;
    if (!o) continue;
    const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
    const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
    const plural = o.kind === "ConfigMap" ? "configmaps" : `${o.kind.toLowerCase()}s`;
    await ok(kube.request("POST", `${base}/namespaces/${NS}/${plural}`, o), `create ${o.kind}`);
  }
}

async function patchPool(annotations: Record<string, string | null>, name = POOL): Promise<void> {
  const r = await fetchMerge(`${POOLS_PATH}/${name}`, { metadata: { annotations } });
  assert.ok(r.status < 300, `patch pool: ${r.status} ${JSON.stringify(r.body)}`);
}

/** JSON merge patch as the admin (the harness's request() sends application/json, which PATCH refuses). */
async function fetchMerge(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const c = new KubeClient(kube.kubeConfig);
  try {
    return { status: 200, body: await c.request("PATCH", path, body, "application/merge-patch+json") };
  } catch (e) {
    return { status: (e as { status?: number }).status ?? 0, body: (e as Error).message };
  }
}

async function envoyGeneration(): Promise<number> {
  const r = await fetch(`${envoy.controlUrl}/infergate/v1/table`, {
    headers: { authorization: `Bearer ${envoy.token}` },
  });
  return ((await r.json()) as { generation: number }).generation;
}

/** Waits until the control plane's table satisfies pred and Envoy holds that generation (or newer). */
async function inEnvoy(pred: (t: Table, pool: TablePool | undefined) => boolean, timeoutMs = HOT_MS): Promise<number> {
  return eventually(
    async () => {
      const t = cp.lastTable();
      if (
        !t ||
        !pred(
          t,
          t.pools.find((p) => p.id === POOL_ID),
        )
      )
        return false;
      return (await envoyGeneration()) >= t.generation;
    },
    timeoutMs,
    20,
  );
}

const send = (content: string, extra: Record<string, unknown> = {}) =>
  post(envoy.url, "/v1/chat/completions", chat(content, extra));
/** The newest Request Handled line once `n` lines past `before` are there (a line follows its
 *  response through Envoy's buffered access log). */
const lastHandledAfter = async (before: number, n = 1) =>
  (await envoy.handledWhen((ls) => ls.length >= before + n)).at(-1);
/** A long shared prefix (a system prompt), so prefix blocks are many. */
const PREFIX = "You are a careful assistant for the infergate test suite. ".repeat(40);
const convo = (turn: string) => ({
  model: SEED_MODEL,
  messages: [
    { role: "system", content: PREFIX },
    { role: "user", content: turn },
  ],
  max_tokens: 2,
});

/** Sends requests until the newest Request Handled line satisfies pred; returns the ms it took from t0. */
async function untilHandled(
  t0: number,
  body: () => unknown,
  pred: (h: Record<string, any>, r: Reply) => boolean,
  timeoutMs = HOT_MS,
): Promise<number> {
  await eventually(
    async () => {
      const before = envoy.handled().length;
      const r = await post(envoy.url, "/v1/chat/completions", body());
      const h = r.status === 200 ? await lastHandledAfter(before) : undefined;
      return r.status === 200 && h !== undefined && pred(h, r);
    },
    timeoutMs + 500,
    10,
  );
  const ms = Date.now() - t0;
  assert.ok(ms <= timeoutMs, `took ${ms} ms (bound ${timeoutMs} ms)`);
  return ms;
}

async function events(name: string): Promise<any[]> {
  const r = await kube.request(
    "GET",
    `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`,
  );
  return (r.body.items ?? []) as any[];
}

async function poolCondition(name = POOL): Promise<any> {
  const r = await kube.request("GET", `${POOLS_PATH}/${name}`);
  return (r.body.status?.conditions ?? []).find((c: any) => c.type === CONDITION_TYPE);
}

/** Occupies every given pod with one slow request; with inFlightLimit 1 they are then saturated. */
async function blockPods(names: string[], ms: number): Promise<Promise<unknown>[]> {
  for (const n of names) await setFaults(fleet.pod(n).url, { latencyMs: ms });
  // Request Handled is logged at the response's end, so arrival is read from the pods themselves.
  const arrived = async (n: string) =>
    ((await (await fetch(`${fleet.pod(n).url}/debug/state`)).json()) as { arrived: number }).arrived;
  const before = await Promise.all(names.map(arrived));
  const blockers = names.map((_, i) => send(`blocker ${i} ${Date.now()}`));
  await eventually(async () => (await Promise.all(names.map(arrived))).every((a, i) => a - before[i] >= 1), 3000, 10);
  const counts = await Promise.all(names.map(arrived));
  assert.deepEqual(
    counts.map((a, i) => a - before[i]),
    names.map(() => 1),
    "one blocker on each pod",
  );
  for (const n of names) await setFaults(fleet.pod(n).url, null);
  return blockers;
}

describe("kubernetes source: seed manifests, pods, live annotations, restarts", { timeout: 170_000 }, () => {
  before(async () => {
    const t0 = Date.now();
    const started = await Promise.all([
      startKube(),
      startFleet({
        model: SEED_MODEL,
        pods: [
          ...["vllm-0", "vllm-1", "vllm-2", "vllm-3"].map((name) => ({
            name,
            args: ["--host", IP[name], "--port", "8000"],
          })),
          { name: "sgl-0", runtime: "sglang" as const, args: ["--host", IP["sgl-0"], "--port", "8000"] },
        ],
      }),
      startEnvoy({ gatewayConfig: { saturation: { inFlightLimit: 1 } } }),
    ]);
    [kube, fleet, envoy] = started;
    await kube.installCrds();
    // The chart's RBAC, and the control plane runs as the chart's service account: the rights it
    // needs (list/watch, events, status) are exactly what the chart grants.
    await ok(
      kube.request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "infergate-system" },
      }),
      "namespace",
    );
    for (const d of parseAllDocuments(readFileSync(join(REPO, "charts/infergate/templates/rbac.yaml"), "utf8"))) {
      const o = d.toJS() as any;
      const path =
        o.kind === "ServiceAccount"
          ? "/api/v1/namespaces/infergate-system/serviceaccounts"
          : `/apis/rbac.authorization.k8s.io/v1/${o.kind === "ClusterRole" ? "clusterroles" : "clusterrolebindings"}`;
      await ok(kube.request("POST", path, o), `create ${o.kind}`);
    }
    await applyFixture("seed-000-default-single-vllm.yaml");
    for (const n of ["vllm-0", "vllm-1", "vllm-2"]) await kube.createPod(n, WORKLOAD, { ip: IP[n], port: 8000 });
    cp = await startControlPlane({
      source: "kubernetes",
      kubeConfig: kube.kubeConfigFor(kube.controlPlaneToken, CONTROL_PLANE_USER),
      namespace: NS,
      envoyControl: [envoy.controlUrl],
      envoyEndpointsDir: envoy.endpointsDir,
      envoyAdmin: [envoy.adminUrl],
      token: envoy.token,
      scrapeIntervalMs: 50,
      pushIntervalMs: 500,
      kubeBackoffMinMs: 100,
      kubeBackoffMaxMs: 1000,
      missingRetryMs: 2000,
      logger,
    });
    await eventually(async () => (await send("ping")).status === 200, 15_000, 50);
    console.log(
      `# setup (kube-apiserver, 5 simulators, Envoy, control plane) in ${Date.now() - t0} ms; pods on ${NET}.0/24:8000`,
    );
  });

  after(async () => {
    if (Object.keys(hotTimes).length)
      console.log(`# hot-update latency to the filter (ms): ${JSON.stringify(hotTimes)}`);
    await cp?.stop();
    await Promise.all([envoy?.stop(), fleet?.stop(), kube?.stop()]);
  });

  test("the seed's single-machine vLLM manifests, applied verbatim: pods are endpoints podIP:targetPortNumber and serve through Envoy", {
    timeout: 20_000,
  }, async () => {
    const t = cp.lastTable()!;
    const pool = t.pools.find((p) => p.id === POOL_ID)!;
    assert.ok(pool, `pool ${POOL_ID} in the table`);
    assert.deepEqual(
      pool.endpoints.map((e) => `${e.name}=${e.address}`),
      ["vllm-0", "vllm-1", "vllm-2"].map((n) => `${n}=${IP[n]}:8000`),
    );
    assert.ok(
      pool.endpoints.every((e) => e.ready && e.scrapeAgeMs >= 0),
      "ready and scraped",
    );
    assert.deepEqual(
      t.models.map((m) => [m.name, m.pool, m.criticality]),
      [[SEED_MODEL, POOL_ID, "Critical"]],
    );
    assert.equal(pool.strategy, "DEFAULT");
    const served = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const before = envoy.handled().length;
      const r = await send(`hello ${i}`);
      assert.equal(r.status, 200, r.text);
      served.add(r.pod!);
      assert.equal((await lastHandledAfter(before))?.pool, POOL_ID);
    }
    for (const p of served) assert.ok(["vllm-0", "vllm-1", "vllm-2"].includes(p), p);
    const rs = cp.kubeSource!.status().resources;
    assert.ok(
      rs.every((r) => r.synced),
      JSON.stringify(rs),
    );
    assert.equal(
      rs.find((r) => r.name.startsWith("inferencepools.inference.networking.k8s.io"))?.objects,
      0,
      "v1 pools watched too",
    );
  });

  test("pods joining, turning unready, terminating and leaving change where requests go (within 2 s each)", {
    timeout: 30_000,
  }, async () => {
    let t0 = Date.now();
    await kube.createPod("vllm-3", WORKLOAD, { ip: IP["vllm-3"], port: 8000 });
    await inEnvoy((_, p) => !!p?.endpoints.some((e) => e.name === "vllm-3" && e.ready));
    hotTimes["pod joins"] = Date.now() - t0;

    t0 = Date.now();
    for (const n of ["vllm-0", "vllm-1", "vllm-2"]) await kube.setPodStatus(n, { ip: IP[n], ready: false });
    await untilHandled(
      t0,
      () => chat(`only the new pod ${Date.now()}`),
      (h) => h.pod === "vllm-3",
    );
    hotTimes["pods turn unready"] = Date.now() - t0;
    for (let i = 0; i < 5; i++) assert.equal((await send(`x${i}`)).pod, "vllm-3", "unready pods are never picked");

    // A graceful delete: no kubelet runs, so the Pod stays with deletionTimestamp set (terminating).
    await kube.setPodStatus("vllm-0", { ip: IP["vllm-0"], ready: true });
    t0 = Date.now();
    const admin = new KubeClient(kube.kubeConfig);
    await admin.request("DELETE", `/api/v1/namespaces/${NS}/pods/vllm-3`, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      gracePeriodSeconds: 60,
    });
    const pod = await admin.request("GET", `/api/v1/namespaces/${NS}/pods/vllm-3`);
    assert.ok(pod.metadata.deletionTimestamp, "terminating, still present");
    await untilHandled(
      t0,
      () => chat(`after terminating ${Date.now()}`),
      (h) => h.pod === "vllm-0",
    );
    hotTimes["pod terminating"] = Date.now() - t0;
    for (let i = 0; i < 5; i++) assert.equal((await send(`y${i}`)).pod, "vllm-0", "a terminating pod is never picked");

    t0 = Date.now();
    await kube.deletePod("vllm-3");
    await inEnvoy((_, p) => !!p && !p.endpoints.some((e) => e.name === "vllm-3"));
    hotTimes["pod deleted"] = Date.now() - t0;
    for (const n of ["vllm-1", "vllm-2"]) await kube.setPodStatus(n, { ip: IP[n], ready: true });
    await inEnvoy((_, p) => p?.endpoints.filter((e) => e.ready).length === 3);
  });

  test("a Failed (evicted) pod is no endpoint, and does not hide the live pod that reused its IP", {
    timeout: 20_000,
  }, async () => {
    // The evicted pod is older than the live one and sorts first, so it would win the address.
    await kube.createPod("evicted-0", WORKLOAD, { ip: IP["vllm-3"], port: 8000 });
    await inEnvoy((_, p) => !!p?.endpoints.some((e) => e.name === "evicted-0" && e.ready));
    await kube.setPodStatus("evicted-0", { ip: IP["vllm-3"], ready: false, phase: "Failed" });
    await kube.createPod("vllm-3", WORKLOAD, { ip: IP["vllm-3"], port: 8000 });
    await inEnvoy(
      (_, p) => !!p?.endpoints.some((e) => e.name === "vllm-3" && e.address === `${IP["vllm-3"]}:8000` && e.ready),
    );
    assert.deepEqual(
      cp
        .lastTable()!
        .pools.find((p) => p.id === POOL_ID)!
        .endpoints.map((e) => e.name),
      ["vllm-0", "vllm-1", "vllm-2", "vllm-3"],
      "the Failed pod is not an endpoint",
    );
    await kube.deletePod("evicted-0");
    await kube.deletePod("vllm-3");
    await inEnvoy((_, p) => p?.endpoints.map((e) => e.name).join() === "vllm-0,vllm-1,vllm-2");
  });

  test("routing-strategy, block size, max prefix blocks, LRU capacity: changed live, in the filter within 2 s", {
    timeout: 30_000,
  }, async () => {
    let t0 = Date.now();
    await patchPool({ [A.strategy]: "PREFIX_CACHE" });
    hotTimes[`${A.strategy}=PREFIX_CACHE`] = await untilHandled(
      t0,
      () => convo(`turn ${Date.now()}`),
      (h) => h.strategy === "PREFIX_CACHE",
    );
    // A conversation sticks to one pod.
    const pods = new Set<string>();
    const sticky = envoy.handled().length;
    for (let i = 0; i < 6; i++)
      pods.add((await post(envoy.url, "/v1/chat/completions", convo(`sticky turn ${i}`))).pod!);
    assert.equal(pods.size, 1, `one conversation, one pod: ${[...pods]}`);
    const blocks64 = (await lastHandledAfter(sticky, 6))!.totalBlocks as number;
    assert.ok(blocks64 >= 20, `totalBlocks ${blocks64} with block size 64`);

    t0 = Date.now();
    await patchPool({ [A.blockSize]: "16" });
    hotTimes[A.blockSize] = await untilHandled(
      t0,
      () => convo("block size"),
      (h) => (h.totalBlocks as number) > blocks64 * 3,
    );

    t0 = Date.now();
    await patchPool({ [A.maxBlocks]: "5" });
    hotTimes[A.maxBlocks] = await untilHandled(
      t0,
      () => convo("max blocks"),
      (h) => h.totalBlocks === 5,
    );

    t0 = Date.now();
    await patchPool({ [A.lru]: "1234" });
    hotTimes[A.lru] = await inEnvoy((_, p) => p?.prefix.lruCapacity === 1234);
    assert.equal((await post(envoy.url, "/v1/chat/completions", convo("lru"))).status, 200);

    // Back to DEFAULT: concurrent turns of one conversation spread by load instead of sticking.
    t0 = Date.now();
    await patchPool({ [A.strategy]: "DEFAULT", [A.blockSize]: null, [A.maxBlocks]: null, [A.lru]: null });
    hotTimes[`${A.strategy}=DEFAULT`] = await untilHandled(
      t0,
      () => convo("default again"),
      (h) => h.strategy === "DEFAULT",
    );
    for (const n of ["vllm-0", "vllm-1", "vllm-2"]) await setFaults(fleet.pod(n).url, { latencyMs: 300 });
    const rs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(envoy.url, "/v1/chat/completions", convo(`spread ${i}`))),
    );
    for (const n of ["vllm-0", "vllm-1", "vllm-2"]) await setFaults(fleet.pod(n).url, null);
    assert.ok(new Set(rs.map((r) => r.pod)).size >= 2, `DEFAULT spreads: ${rs.map((r) => r.pod)}`);
  });

  test("queueing, queue TTL and total queue capacity: changed live, seen in the replies", {
    timeout: 30_000,
  }, async () => {
    const all = ["vllm-0", "vllm-1", "vllm-2"];
    let t0 = Date.now();
    await patchPool({ [A.queueing]: "enabled", [A.ttl]: "500ms" });
    hotTimes[`${A.queueing}+${A.ttl}`] = await inEnvoy((_, p) => !!p?.queue.enabled && p.queue.ttlMs === 500);
    let blockers = await blockPods(all, 2500);
    t0 = Date.now();
    let r = await send("held until the TTL");
    const waited = Date.now() - t0;
    assert.equal(r.status, 503, r.text);
    assert.equal(r.headers.get("x-infergate-queue-reason"), "ttl_expired");
    assert.ok(waited >= 450 && waited < 1500, `expired after ${waited} ms (TTL 500ms)`);
    await Promise.all(blockers);

    t0 = Date.now();
    await patchPool({ [A.capacity]: "10" });
    hotTimes[A.capacity] = await inEnvoy((_, p) => p?.queue.capacityBytes === 10);
    blockers = await blockPods(all, 1500);
    r = await send("too big for the queue");
    assert.equal(r.status, 429, r.text);
    assert.equal(r.headers.get("x-infergate-queue-reason"), "capacity");
    await Promise.all(blockers);

    t0 = Date.now();
    await patchPool({ [A.queueing]: null, [A.ttl]: null, [A.capacity]: null });
    hotTimes[`${A.queueing} removed`] = await inEnvoy(
      (_, p) => p?.queue.enabled === false && p.queue.capacityBytes === 104857600 && p.queue.ttlMs === 30000,
    );
  });

  test("model-server-runtime: switching to sglang scrapes SGLang's metric names; the SGLang pod takes the traffic", {
    timeout: 30_000,
  }, async () => {
    await kube.createPod("sgl-0", WORKLOAD, { ip: IP["sgl-0"], port: 8000 });
    try {
      // Under the default runtime (vllm) the SGLang server's metrics do not parse: it is not ready.
      await inEnvoy((_, p) => !!p?.endpoints.some((e) => e.name === "sgl-0" && !e.ready), 5000);
      const t0 = Date.now();
      await patchPool({ [A.runtime]: "sglang" });
      hotTimes[`${A.runtime}=sglang`] = await untilHandled(
        t0,
        () => chat(`sglang ${Date.now()}`),
        (h) => h.pod === "sgl-0",
      );
      const p = cp.lastTable()!.pools.find((x) => x.id === POOL_ID)!;
      assert.equal(p.runtime, "sglang");
      const sgl = p.endpoints.find((e) => e.name === "sgl-0")!;
      assert.ok(sgl.ready && sgl.scrapeAgeMs >= 0, "scraped with sglang:* names");
      // The vLLM pods fail the sglang:* scrape; after the failure threshold (3 in a row) they are
      // not ready. On a busy machine that can land after the first request reached sgl-0.
      await inEnvoy((_, x) => !!x && x.endpoints.filter((e) => e.name.startsWith("vllm")).every((e) => !e.ready), 5000);
      for (let i = 0; i < 4; i++) assert.equal((await send(`s${i}`)).pod, "sgl-0");
    } finally {
      await patchPool({ [A.runtime]: null });
      await kube.deletePod("sgl-0");
      await inEnvoy(
        (_, x) => x?.runtime === "vllm" && x.endpoints.length === 3 && x.endpoints.every((e) => e.ready),
        5000,
      );
    }
  });

  test("an invalid annotation never takes effect: last good value kept, logged, one Warning Event, status condition", {
    timeout: 30_000,
  }, async () => {
    await patchPool({ [A.strategy]: "PREFIX_CACHE" });
    await inEnvoy((_, p) => p?.strategy === "PREFIX_CACHE");
    await patchPool({ [A.strategy]: "ROUND_ROBIN", [A.ttl]: "30 seconds" });
    const ev = await eventually(
      async () =>
        (await events(POOL)).some((e) => e.reason === "InvalidAnnotation" && e.message.includes("ROUND_ROBIN")),
      5000,
      50,
    );
    hotTimes["invalid annotation → Event"] = ev;
    // Still PREFIX_CACHE in the filter.
    const beforeInvalid = envoy.handled().length;
    await send("after invalid");
    assert.equal((await lastHandledAfter(beforeInvalid))?.strategy, "PREFIX_CACHE");
    const p = cp.lastTable()!.pools.find((x) => x.id === POOL_ID)!;
    assert.equal(p.queue.ttlMs, 30000, "the invalid TTL did not take effect");
    const evs = (await events(POOL)).filter((e) => e.reason === "InvalidAnnotation");
    const strat = evs.find((e) => e.message.includes(A.strategy))!;
    assert.equal(strat.type, "Warning");
    assert.equal(strat.involvedObject.kind, "InferencePool");
    assert.ok(strat.involvedObject.uid, "involvedObject carries the pool's uid");
    assert.match(
      strat.message,
      /"ROUND_ROBIN".*must be one of DEFAULT, PREFIX_CACHE.*last good value "PREFIX_CACHE" stays in force/,
    );
    assert.ok(
      evs.some((e) => e.message.includes(A.ttl) && e.message.includes("30 seconds")),
      "the TTL problem has its own Event",
    );
    assert.ok(
      logger.lines.some((l) => l.level === "error" && JSON.stringify(l.fields ?? {}).includes("ROUND_ROBIN")),
      "logged",
    );
    await eventually(async () => (await poolCondition())?.status === "False", 5000, 50);
    const cond = await poolCondition();
    assert.equal(cond.reason, "InvalidAnnotation");
    assert.match(cond.message, /ROUND_ROBIN/);

    // No spam: unrelated changes to the pool (a label) do not record the same problem again.
    await fetchMerge(`${POOLS_PATH}/${POOL}`, { metadata: { labels: { touched: "yes" } } });
    await sleep(800);
    await cp.kubeSource!.flushWrites();
    const again = (await events(POOL)).filter(
      (e) => e.reason === "InvalidAnnotation" && e.message.includes(A.strategy),
    );
    assert.equal(again.length, 1);
    assert.equal(again[0].count, 1);

    // Fixed: the new value takes effect and the condition turns True.
    const t0 = Date.now();
    await patchPool({ [A.strategy]: "DEFAULT", [A.ttl]: null });
    await untilHandled(
      t0,
      () => chat(`fixed ${Date.now()}`),
      (h) => h.strategy === "DEFAULT",
    );
    await eventually(async () => (await poolCondition())?.status === "True", 5000, 50);
    assert.equal((await poolCondition()).reason, "Valid");
  });

  test("a problem that comes back is counted on its Event, or gets a new one once the API server expired it", {
    timeout: 30_000,
  }, async () => {
    const strategyEvents = async () =>
      (await events(POOL)).filter((e) => e.reason === "InvalidAnnotation" && e.message.includes("LEAST_LOADED"));
    const failuresBefore = cp.kubeSource!.status().events.failures;
    const occur = async () => {
      await patchPool({ [A.strategy]: "LEAST_LOADED" });
      await eventually(async () => (await poolCondition())?.status === "False", 5000, 50);
      await cp.kubeSource!.flushWrites();
    };
    const fix = async () => {
      await patchPool({ [A.strategy]: null });
      await eventually(async () => (await poolCondition())?.status === "True", 5000, 50);
    };
    await occur();
    await fix();
    await occur();
    let evs = await strategyEvents();
    assert.deepEqual(
      evs.map((e) => e.count),
      [2],
      "the recurrence counted on the same Event",
    );
    await fix();
    // Expired: the API server deletes Events past their TTL (kube-apiserver --event-ttl, 1 h).
    await ok(kube.request("DELETE", `/api/v1/namespaces/${NS}/events/${evs[0].metadata.name}`), "delete the Event");
    await occur();
    await eventually(async () => (await strategyEvents()).length === 1, 5000, 50);
    evs = await strategyEvents();
    assert.equal(evs[0].count, 1, "a new Event");
    assert.equal(cp.kubeSource!.status().events.failures, failuresBefore, "no Event write failed");
    await fix();
  });

  test("epp-overlay: the seed's ConfigMap (deployment-level) is reported, never applied; a routing key is applied and hot-updated", {
    timeout: 30_000,
  }, async () => {
    await applyFixture("seed-004-epp-overlay.yaml");
    await eventually(
      async () => (await events("qwen-pool")).some((e) => e.reason === "OverlayDeploymentLevel"),
      5000,
      50,
    );
    const dep = (await events("qwen-pool")).find((e) => e.reason === "OverlayDeploymentLevel")!;
    assert.match(dep.message, /data\.deployment: .*not applied at run time.*Helm chart/);
    const qp = cp.lastTable()!.pools.find((x) => x.id === `${NS}/qwen-pool`)!;
    assert.equal(qp.strategy, "DEFAULT", "nothing routing-level in the seed's overlay");

    // A routing-level overlay for the serving pool.
    await ok(
      kube.request("POST", `/api/v1/namespaces/${NS}/configmaps`, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "qwen-routing" },
        data: { routing: `${A.strategy}: PREFIX_CACHE\n${A.maxBlocks}: 7\n` },
      }),
      "configmap",
    );
    let t0 = Date.now();
    // The pool's own annotation wins over the overlay: drop it so the overlay's value applies.
    await patchPool({ [A.overlay]: "qwen-routing", [A.strategy]: null });
    hotTimes["epp-overlay annotation"] = await untilHandled(
      t0,
      () => convo(`overlay ${Date.now()}`),
      (h) => h.strategy === "PREFIX_CACHE" && h.totalBlocks === 7,
    );

    t0 = Date.now();
    await fetchMerge(`/api/v1/namespaces/${NS}/configmaps/qwen-routing`, {
      data: { routing: `${A.strategy}: PREFIX_CACHE\n${A.maxBlocks}: 3\n` },
    });
    hotTimes["epp-overlay ConfigMap edit"] = await untilHandled(
      t0,
      () => convo(`overlay edit ${Date.now()}`),
      (h) => h.totalBlocks === 3,
    );

    // An invalid overlay value: kept, Event InvalidOverlay.
    await fetchMerge(`/api/v1/namespaces/${NS}/configmaps/qwen-routing`, {
      data: { routing: `${A.strategy}: PREFIX_CACHE\n${A.maxBlocks}: lots\n` },
    });
    await eventually(
      async () => (await events(POOL)).some((e) => e.reason === "InvalidOverlay" && e.message.includes("lots")),
      5000,
      50,
    );
    const beforeOverlay = envoy.handled().length;
    await post(envoy.url, "/v1/chat/completions", convo("overlay invalid"));
    assert.equal((await lastHandledAfter(beforeOverlay))?.totalBlocks, 3, "last good overlay value stays");

    // Unparseable routing YAML: the whole last good ConfigMap stays.
    await fetchMerge(`/api/v1/namespaces/${NS}/configmaps/qwen-routing`, { data: { routing: "{ not yaml" } });
    await eventually(async () => (await events("qwen-routing")).some((e) => e.reason === "InvalidSpec"), 5000, 50);
    const beforeBroken = envoy.handled().length;
    await post(envoy.url, "/v1/chat/completions", convo("overlay broken"));
    assert.equal((await lastHandledAfter(beforeBroken))?.strategy, "PREFIX_CACHE");

    t0 = Date.now();
    await patchPool({ [A.overlay]: null });
    await untilHandled(
      t0,
      () => convo(`no overlay ${Date.now()}`),
      (h) => h.strategy === "DEFAULT",
    );
  });

  test("the API server restarted mid-watch: routing continues on the last good model, changes after the restart are picked up", {
    timeout: 60_000,
  }, async () => {
    const listsBefore = cp.kubeSource!.status().resources.map((r) => r.lists);
    const restart = kube.restart();
    // While the API is down the gateway keeps serving from the last good model.
    const during: number[] = [];
    let done = false;
    void restart.finally(() => {
      done = true;
    });
    while (!done) {
      during.push((await send(`during restart ${during.length}`)).status);
      await sleep(100);
    }
    await restart;
    assert.ok(during.length > 0 && during.every((s) => s === 200), `statuses while the API server was down: ${during}`);
    assert.equal(cp.lastTable()!.pools.find((p) => p.id === POOL_ID)?.endpoints.length, 3, "the model was kept");

    const t0 = Date.now();
    await kube.createPod("vllm-3", WORKLOAD, { ip: IP["vllm-3"], port: 8000 });
    await patchPool({ [A.strategy]: "PREFIX_CACHE" });
    await inEnvoy(
      (_, p) => p?.strategy === "PREFIX_CACHE" && p.endpoints.some((e) => e.name === "vllm-3" && e.ready),
      15_000,
    );
    hotTimes["after API server restart"] = Date.now() - t0;
    await untilHandled(
      Date.now(),
      () => convo(`after restart ${Date.now()}`),
      (h) => h.strategy === "PREFIX_CACHE",
    );
    const listsAfter = cp.kubeSource!.status().resources.map((r) => r.lists);
    assert.ok(
      listsAfter.some((n, i) => n > listsBefore[i]),
      "relisted after the restart",
    );
  });
});
