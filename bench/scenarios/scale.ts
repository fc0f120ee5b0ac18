// Scenario 4, scale:
//  a) the filter's own decision time (decisionUs, measured inside the wasm from request-body end to
//     the pick, logged per request) vs number of endpoints (8/16/64/512) and prompt size
//     (1/8/64/220 KB, text in lines: cfg.lineBytes), PREFIX_CACHE and DEFAULT. The endpoints are real: one stub process listening on
//     N distinct loopback ports (bench/lib/stub-pods.ts), all ready, with varied load, in a
//     synthetic table pushed straight to Envoy's control listener (the simulator binds 127.0.0.1
//     only, so 127.0.0.x aliases are not possible, and 512 simulator processes do not fit here).
//     A pusher re-sends the table every 500 ms with new loads, so they stay fresh and each push is
//     patched in as a scrape round's is. One request at a time; the first 20 per setting are warm-up.
//  b) control plane: table build + JSON + push to real Envoy for 500 pods.
//  c) metric change -> filter: a pod's queue grows (requests sent to it directly, bypassing the
//     gateway); from the moment its own /metrics shows the queue, how long until the filter's
//     decisions see it (probe requests through the gateway log eligible = pods - 1, the pod being
//     saturated).
import { EndpointsFile } from "../../controlplane/envoy-endpoints/endpoints-file.js";
import { loadAssignment } from "../../controlplane/envoy-endpoints/load-assignment.js";
import { ModelStore } from "../../controlplane/model/store.js";
import type { ScrapeState } from "../../controlplane/scrapers/scrape-loop.js";
import { TableBuilder, topologyOf } from "../../controlplane/table/builder.js";
import type { Table } from "../../controlplane/table/schema.js";
import { startEnvoy } from "../../scripts/lib/envoy-process.js";
import { startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { infergateVersion } from "../contenders/infergate.js";
import { percentile, progress, round, runLoadProcess, sleep, stats, sumCounter } from "../lib/common.js";
import { startStubs } from "../lib/stub-fleet.js";
import { prng, SEED_MODEL } from "../workloads.js";

export interface ScaleConfig {
  endpoints: number[];
  promptKb: number[];
  /** Prompt text in lines of about this many bytes (0: plain words). */
  lineBytes: number;
  durationMs: number;
  warmupRequests: number;
  pushIterations: number;
  metricTrials: number;
  seed: number;
}

function syntheticTable(
  ports: number[],
  strategy: "DEFAULT" | "PREFIX_CACHE",
  generation: number,
  seed: number,
): Table {
  const rnd = prng(seed);
  const body: Omit<Table, "generation" | "builtAtMs"> = {
    version: 1,
    stalenessMs: 3000,
    pools: [
      {
        id: "default/bench",
        strategy,
        runtime: "vllm",
        prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000 },
        queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000 },
        endpoints: ports.map((port, i) => ({
          slot: i,
          name: `stub-${i}`,
          address: `127.0.0.1:${port}`,
          ready: true,
          role: "both",
          waiting: Math.floor(rnd() * 3),
          running: Math.floor(rnd() * 8),
          kvUsage: round(rnd() * 0.6, 3)!,
          loras: [],
          scrapeAgeMs: 20,
        })),
      },
    ],
    models: [{ name: SEED_MODEL, pool: "default/bench", criticality: "Critical", priority: 1, targets: [] }],
    objectives: [],
  };
  // With its topology, as the control plane's tables carry it: a re-push that changes only loads is
  // patched into each worker's table, not decoded again (what the decisions after a push pay).
  return { ...body, generation, builtAtMs: Date.now(), topology: topologyOf(body) };
}

async function push(controlUrl: string, token: string, t: Table): Promise<number> {
  const r = await fetch(`${controlUrl}/infergate/v1/table`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(t),
  });
  const txt = await r.text();
  if (r.status !== 204) throw new Error(`table push ${r.status}: ${txt.slice(0, 300)}`);
  return r.status;
}

export async function scaleScenario(cfg: ScaleConfig) {
  const decision: Record<string, unknown>[] = [];
  const maxN = Math.max(...cfg.endpoints);
  const stubs = await startStubs(maxN);
  let controlPlane: Record<string, unknown> = {};
  try {
    for (const n of cfg.endpoints) {
      const ports = stubs.ports.slice(0, n);
      for (const strategy of ["PREFIX_CACHE", "DEFAULT"] as const) {
        const envoy = await startEnvoy({ concurrency: 2 });
        let gen = Date.now();
        let stopPusher = false;
        try {
          const first = syntheticTable(ports, strategy, ++gen, cfg.seed);
          // The stubs join Envoy's pods cluster first (as the control plane would write them).
          new EndpointsFile(envoy.endpointsDir).write(loadAssignment(first));
          await sleep(200);
          await push(envoy.controlUrl, envoy.token, first);
          const _pusher = (async () => {
            for (let k = 0; k < 100000 && !stopPusher; k++) {
              await sleep(500);
              if (!stopPusher)
                await push(
                  envoy.controlUrl,
                  envoy.token,
                  syntheticTable(ports, strategy, ++gen, cfg.seed + k + 1),
                ).catch(() => {});
            }
          })();
          const sizes = strategy === "DEFAULT" ? cfg.promptKb.filter((k) => k === 8) : cfg.promptKb;
          for (const kb of sizes) {
            progress(`scale: decision time, ${n} endpoints, ${kb} KB prompts, ${strategy}`);
            const before = envoy.handled().length;
            const out = await runLoadProcess(
              {
                label: `decision ${n} ${kb}KB ${strategy}`,
                url: envoy.url,
                workload: {
                  kind: "sized",
                  seed: cfg.seed,
                  requests: 400,
                  promptBytes: kb * 1024,
                  prefixes: 8,
                  lineBytes: cfg.lineBytes,
                },
                mode: "closed",
                concurrency: 1,
                durationMs: cfg.durationMs,
                warmupMs: 0,
                stream: false,
                timeoutMs: 10000,
              },
              cfg.durationMs + 60000,
            );
            await sleep(200); // let the last log lines flush
            const lines = envoy.handled().slice(before).slice(cfg.warmupRequests);
            const us = lines.map((l) => l.decisionUs);
            const errors = out.records.filter((r) => r.status !== 200 || r.error).length;
            const matched = lines.map((l) => Number(l.matchedBlocks ?? 0));
            decision.push({
              endpoints: n,
              promptKb: kb,
              strategy,
              samples: us.length,
              decisionUs: stats(us),
              errors,
              requests: out.records.length,
              meanMatchedBlocks: round(matched.reduce((a, b) => a + b, 0) / Math.max(1, matched.length), 1),
              meanTotalBlocks: round(
                lines.map((l) => Number(l.totalBlocks ?? 0)).reduce((a, b) => a + b, 0) / Math.max(1, lines.length),
                1,
              ),
            });
            progress(
              `  decisionUs p50 ${percentile(us, 50)} p99 ${percentile(us, 99)} (${us.length} samples, ${errors} errors)`,
            );
          }
          if (n === maxN && strategy === "DEFAULT")
            controlPlane = await tableBuildAndPush(envoy.controlUrl, envoy.token, cfg.pushIterations, gen);
        } finally {
          stopPusher = true;
          await envoy.stop();
        }
      }
    }
  } finally {
    stubs.stop();
  }
  progress("scale: metric change -> filter latency");
  const metricToFilter = await metricChangeLatency(cfg.metricTrials);
  return { config: cfg, version: infergateVersion(), decision, controlPlane, metricToFilter };
}

/** The control plane's work for 500 pods: resolve, build, serialise, push to real Envoy. */
async function tableBuildAndPush(controlUrl: string, token: string, iterations: number, genStart: number) {
  const PODS = 500;
  const docs: { raw: unknown }[] = [
    {
      raw: {
        apiVersion: "inference.networking.x-k8s.io/v1alpha2",
        kind: "InferencePool",
        metadata: { name: "pool", annotations: { "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE" } },
        spec: { targetPortNumber: 8000, selector: { app: "pool" } },
      },
    },
    {
      raw: {
        apiVersion: "inference.networking.x-k8s.io/v1alpha2",
        kind: "InferenceModel",
        metadata: { name: "model" },
        spec: {
          modelName: SEED_MODEL,
          criticality: "Critical",
          poolRef: { name: "pool" },
          targetModels: [{ name: SEED_MODEL, weight: 100 }],
        },
      },
    },
    {
      raw: {
        apiVersion: "infergate.dev/v1alpha1",
        kind: "StaticEndpoints",
        metadata: { name: "fleet" },
        endpoints: Array.from({ length: PODS }, (_, i) => ({
          name: `pod-${i}`,
          ip: `10.0.${i >> 8}.${i & 255}`,
          labels: { app: "pool" },
        })),
      },
    },
  ];
  const store = new ModelStore({ defaultNamespace: "default" });
  const builder = new TableBuilder({ stalenessMs: 3000 });
  const scrapes = new Map<string, ScrapeState>();
  store.replaceSource("bench", docs);
  const model = store.resolved();
  for (const p of model.pools)
    for (const e of p.endpoints)
      scrapes.set(e.address, {
        address: e.address,
        runtime: "vllm",
        lastSuccessAtMs: Date.now(),
        load: { waiting: 1, running: 4, kvUsage: 0.3, loras: [] },
        consecutiveFailures: 0,
        healthy: true,
        lastError: null,
        lastDurationMs: 1,
      });
  const build: number[] = [],
    ser: number[] = [],
    pushMs: number[] = [],
    total: number[] = [];
  let bytes = 0;
  let gen = genStart + 1_000_000;
  for (let i = 0; i < iterations + 5; i++) {
    const t0 = performance.now();
    store.replaceSource("bench", docs);
    const m = store.resolved();
    const t = builder.build(m, (a) => scrapes.get(a), true).table;
    const t1 = performance.now();
    const body = JSON.stringify({ ...t, generation: ++gen });
    bytes = body.length;
    const t2 = performance.now();
    const r = await fetch(`${controlUrl}/infergate/v1/table`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body,
    });
    await r.arrayBuffer();
    if (r.status !== 204) throw new Error(`500-pod push answered ${r.status}`);
    const t3 = performance.now();
    if (i < 5) continue;
    build.push(t1 - t0);
    ser.push(t2 - t1);
    pushMs.push(t3 - t2);
    total.push(t3 - t0);
  }
  progress(
    `  500-pod table: build p50 ${percentile(build, 50).toFixed(2)} ms, push p50 ${percentile(pushMs, 50).toFixed(2)} ms, ${bytes} bytes`,
  );
  return {
    pods: PODS,
    tableBytes: bytes,
    iterations,
    resolveAndBuildMs: stats(build),
    serializeMs: stats(ser),
    pushRoundTripMs: stats(pushMs),
    totalMs: stats(total),
  };
}

/** Metric change on a pod -> the filter's decisions reflect it. */
async function metricChangeLatency(trials: number) {
  const gw = await startLocalGateway({
    fleet: {
      pods: 3,
      args: [
        "--max-num-seqs",
        "1",
        "--prefill-overhead-ms",
        "1",
        "--prefill-time-per-token-ms",
        "0",
        "--inter-token-latency-ms",
        "1",
      ],
    },
  });
  const results: number[] = [];
  const notes: string[] = [];
  try {
    const target = gw.fleet.pods[0];
    for (let t = 0; t < trials; t++) {
      await fetch(`${target.url}/admin/reset`, { method: "POST" }).then((r) => r.arrayBuffer());
      await sleep(400); // the reset pod's empty queue reaches the table
      // 8 long requests straight to the pod (not through the gateway): 1 runs, 7 wait.
      const ac = new AbortController();
      const direct = Array.from({ length: 8 }, () =>
        fetch(`${target.url}/v1/chat/completions`, {
          method: "POST",
          signal: ac.signal,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: SEED_MODEL, messages: [{ role: "user", content: "long" }], max_tokens: 3000 }),
        })
          .then((r) => r.arrayBuffer())
          .catch(() => null),
      );
      let tChange = 0;
      for (let k = 0; k < 2000 && !tChange; k++) {
        const m = await (await fetch(`${target.url}/metrics`)).text();
        if (sumCounter(m, "vllm:num_requests_waiting") >= 5) tChange = performance.now();
      }
      // Probes every 5 ms for 1.5 s (each aborted after 100 ms so a probe that did land on the busy
      // pod does not hold gateway in-flight counts for long); the change is seen from the first
      // probe after which no probe went to the pod.
      const before = gw.envoys[0].handled().length;
      const probes: Promise<unknown>[] = [];
      const sent: { id: string; at: number }[] = [];
      for (let k = 0; k < 300 && tChange; k++) {
        const id = `probe-${t}-${k}`;
        sent.push({ id, at: performance.now() });
        probes.push(
          fetch(`${gw.url}/v1/chat/completions`, {
            method: "POST",
            signal: AbortSignal.timeout(100),
            headers: { "content-type": "application/json", "x-request-id": id },
            body: JSON.stringify({ model: SEED_MODEL, messages: [{ role: "user", content: "p" }], max_tokens: 1 }),
          })
            .then((r) => r.arrayBuffer())
            .catch(() => null),
        );
        await sleep(5);
      }
      await Promise.all(probes);
      await sleep(300);
      const podOf = new Map(
        gw.envoys[0]
          .handled()
          .slice(before)
          .map((l) => [l.requestId, l.pod]),
      );
      let lastHit = -1;
      sent.forEach((p, k) => {
        if (podOf.get(p.id) === target.name) lastHit = k;
      });
      const tSeen = lastHit + 1 < sent.length ? sent[lastHit + 1].at : 0;
      if (lastHit < 0)
        notes.push(
          `trial ${t}: no probe went to the busy pod after its queue showed (latency below the probe spacing, counted as 0)`,
        );
      if (tChange && tSeen) results.push(Math.max(0, tSeen - tChange));
      else notes.push(`trial ${t}: ${tChange ? "filter never excluded the pod" : "pod queue never showed"}`);
      ac.abort();
      await Promise.all(direct);
    }
  } finally {
    await gw.stop();
  }
  progress(`  metric change -> filter: p50 ${percentile(results, 50)?.toFixed?.(0)} ms over ${results.length} trials`);
  return {
    trials,
    latencyMs: stats(results),
    samplesMs: results.map((x) => round(x, 1)),
    notes,
    how: "pod waiting queue >= 5 on its own /metrics (requests sent to it directly) -> first of the probes through the gateway (DEFAULT, one every 5 ms) after which none went to that pod; control plane scrape interval 100 ms",
  };
}
