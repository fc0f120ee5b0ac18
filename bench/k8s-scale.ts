// The Kubernetes source at scale and the metric → filter path, measured (not asserted) against a real
// kube-apiserver, real Envoy with the filter and the control plane in kubernetes mode:
//   1. 500 Pods created through the API for one pool: time from the last create to Envoy holding a
//      table with all of them; the control plane's resolve + build + stringify for that model; and
//      annotation change → table in Envoy (API write, watch, resolve, build, push) over N patches.
//   2. Metric change → filter: a simulated pod starts running a request (seen on its /debug/state);
//      time until Envoy holds a table whose entry for that pod says running > 0. p50 / p99 over N.
// Run: make build && KUBE_BIN_DIR=$(scripts/get-kube.sh) ENVOY_BIN=$(scripts/get-envoy.sh) node build/js/bench/k8s-scale.js [--pods 500] [--iterations 40]

import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { startControlPlane } from "../controlplane/control-plane.js";
import { createLogger } from "../controlplane/log.js";
import { KubeClient } from "../controlplane/sources/kube-client.js";
import type { Table } from "../controlplane/table/schema.js";
import { startEnvoy } from "../scripts/lib/envoy-process.js";
import { REPO_ROOT } from "../scripts/lib/repo.js";
import { startKube } from "../test/harness/kube.js";
import { startFleet } from "../test/sim/fleet.js";

const { values } = parseArgs({
  options: { pods: { type: "string", default: "500" }, iterations: { type: "string", default: "40" } },
});
const PODS = Number(values.pods);
const ITER = Number(values.iterations);
const MODEL = "/models/Qwen3-32B";
const NET = `127.${100 + Math.floor(Math.random() * 100)}`;
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))] * 10) / 10;
};
const stats = (xs: number[]) => ({
  n: xs.length,
  p50: pct(xs, 0.5),
  p90: pct(xs, 0.9),
  p99: pct(xs, 0.99),
  max: pct(xs, 1),
});

const kube = await startKube();
const fleet = await startFleet({
  model: MODEL,
  pods: [0, 1].map((i) => ({ name: `sim-${i}`, args: ["--host", `${NET}.1.${10 + i}`, "--port", "8000"] })),
});
const envoy = await startEnvoy();
const admin = new KubeClient(kube.kubeConfig);
let cp: Awaited<ReturnType<typeof startControlPlane>> | null = null;
try {
  await kube.installCrds();
  const r = await kube.kubectl([
    "create",
    "-f",
    join(REPO_ROOT, "test/kube/fixtures/seed-000-default-single-vllm.yaml"),
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
  await admin.request("POST", "/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/default/inferencepools", {
    apiVersion: "inference.networking.x-k8s.io/v1alpha2",
    kind: "InferencePool",
    metadata: { name: "scale-pool" },
    spec: { targetPortNumber: 8000, selector: { app: "scale" }, extensionRef: { name: "x" } },
  });
  for (let i = 0; i < 2; i++)
    await kube.createPod(
      `sim-${i}`,
      { "alibabacloud.com/inference-workload": "vllm-inference" },
      { ip: `${NET}.1.${10 + i}` },
    );
  cp = await startControlPlane({
    source: "kubernetes",
    kubeConfig: kube.kubeConfig,
    envoyControl: [envoy.controlUrl],
    envoyEndpointsDir: envoy.endpointsDir,
    envoyAdmin: [envoy.adminUrl],
    token: envoy.token,
    logger: createLogger({ level: "error", component: "controlplane" }),
    // Defaults otherwise: 100 ms scrape interval, 1 s heartbeat.
  });
  const envoyGen = async () =>
    (
      (await (
        await fetch(`${envoy.controlUrl}/infergate/v1/table`, { headers: { authorization: `Bearer ${envoy.token}` } })
      ).json()) as { generation: number }
    ).generation;
  const untilEnvoy = async (pred: (t: Table) => boolean, timeoutMs = 30_000): Promise<number> => {
    const t0 = performance.now();
    while (performance.now() - t0 < timeoutMs) {
      const t = cp!.lastTable();
      if (t && pred(t) && (await envoyGen()) >= t.generation) return performance.now();
      await sleep(2);
    }
    throw new Error("timeout");
  };
  const scalePool = (t: Table) => t.pools.find((p) => p.id === "default/scale-pool");

  // 1. 500 pods. IPs 127.NET+1.x.y:8000 where nothing listens: scrapes are refused fast (the pods are
  //    in the table, not ready), which is the table size we want to time.
  const tCreate0 = performance.now();
  const names = Array.from({ length: PODS }, (_, i) => `scale-${String(i).padStart(4, "0")}`);
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(
      names
        .slice(i, i + 25)
        .map((n, j) =>
          kube.createPod(n, { app: "scale" }, { ip: `${NET}.${2 + ((i + j) >> 8)}.${(i + j) & 255}`, ready: true }),
        ),
    );
  }
  const tCreated = performance.now();
  const tAll = await untilEnvoy((t) => scalePool(t)?.endpoints.length === PODS, 60_000);
  const tableBytes = JSON.stringify(cp.lastTable()).length;

  const buildUs: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t0 = performance.now();
    const t = cp.refresh(true); // resolve (cached) + build a new generation + publish (the push is async)
    JSON.stringify(t);
    buildUs.push((performance.now() - t0) * 1000);
  }
  const resolveUs: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t0 = performance.now();
    cp.store.batch(() =>
      cp!.store.upsert("bench", {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `bench-${i}`, namespace: "default", labels: { app: "scale" } },
        status: { podIP: `${NET}.9.${i & 255}`, conditions: [{ type: "Ready", status: "True" }] },
      }),
    );
    cp.store.resolved();
    resolveUs.push((performance.now() - t0) * 1000);
  }
  for (let i = 0; i < ITER; i++) cp.store.remove("bench", "Pod", "default", `bench-${i}`);

  const annMs: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const v = 100 + i;
    const t0 = performance.now();
    await admin.request(
      "PATCH",
      "/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/default/inferencepools/scale-pool",
      {
        metadata: {
          annotations: { "inference-epp-env.networking.x-k8s.io/prefix-cache-max-prefix-blocks": String(v) },
        },
      },
      "application/merge-patch+json",
    );
    annMs.push((await untilEnvoy((t) => scalePool(t)?.prefix.maxBlocks === v)) - t0);
  }

  // 2. Metric change → filter, with the 500 pods still in the table (and being scraped).
  const pod = fleet.pods[0];
  const running = async () => ((await (await fetch(`${pod.url}/debug/state`)).json()) as { running: number }).running;
  const entry = (t: Table) =>
    t.pools.find((p) => p.id === "default/qwen-inference-pool")?.endpoints.find((e) => e.name === "sim-0");
  const metricMs: number[] = [];
  for (let i = 0; i < ITER; i++) {
    await untilEnvoy((t) => (entry(t)?.running ?? 1) === 0, 10_000);
    const req = fetch(`${pod.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: `load ${i}` }], max_tokens: 30 }),
    }).then((r) => r.text());
    let t0 = 0;
    while (!t0) {
      if ((await running()) > 0) t0 = performance.now();
      else await sleep(1);
    }
    metricMs.push((await untilEnvoy((t) => (entry(t)?.running ?? 0) > 0, 10_000)) - t0);
    await req;
  }

  const out = {
    bench: "k8s-scale",
    node: process.version,
    pods: PODS,
    iterations: ITER,
    tableBytes,
    createPodsMs: Math.round(tCreated - tCreate0),
    lastCreateToAllInEnvoyMs: Math.round(tAll - tCreated),
    rebuildForcedUs: stats(buildUs),
    podUpsertResolveUs: stats(resolveUs),
    annotationPatchToEnvoyMs: stats(annMs),
    metricChangeToEnvoyMs: stats(metricMs),
    notes:
      "rebuild = refresh(true): build with a new generation + stringify (the push itself is async); annotation/metric latencies end when Envoy's GET /infergate/v1/table reports the generation carrying the change; scrape interval 100 ms",
  };
  console.log(JSON.stringify(out, null, 2));
} finally {
  await cp?.stop();
  await envoy.stop();
  await fleet.stop();
  await kube.stop();
}
