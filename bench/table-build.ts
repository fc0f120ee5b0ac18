// Times what the control plane does on every change for a 500-pod fleet: resolve the documents,
// build the table (slots, load join, fingerprint) and serialise it to the JSON body that is pushed.
// Measures, does not assert. Run: node scripts/build-ts.mjs && node build/js/bench/table-build.js [--pods 500]

import { parseArgs } from "node:util";
import { ModelStore } from "../controlplane/model/store.js";
import type { ScrapeState } from "../controlplane/scrapers/scrape-loop.js";
import { TableBuilder } from "../controlplane/table/builder.js";

const { values } = parseArgs({
  options: {
    pods: { type: "string", default: "500" },
    pools: { type: "string", default: "5" },
    iterations: { type: "string", default: "400" },
  },
});
const PODS = Number(values.pods);
const POOLS = Number(values.pools);
const ITER = Number(values.iterations);

const docs: { raw: unknown }[] = [];
for (let p = 0; p < POOLS; p++) {
  docs.push({
    raw: {
      apiVersion: "inference.networking.x-k8s.io/v1alpha2",
      kind: "InferencePool",
      metadata: {
        name: `pool-${p}`,
        annotations: { "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE" },
      },
      spec: { targetPortNumber: 8000, selector: { app: `pool-${p}` } },
    },
  });
  docs.push({
    raw: {
      apiVersion: "inference.networking.x-k8s.io/v1alpha2",
      kind: "InferenceModel",
      metadata: { name: `model-${p}` },
      spec: {
        modelName: `/models/m${p}`,
        criticality: "Critical",
        poolRef: { name: `pool-${p}` },
        targetModels: [{ name: `/models/m${p}`, weight: 100 }],
      },
    },
  });
}
docs.push({
  raw: {
    apiVersion: "infergate.dev/v1alpha1",
    kind: "StaticEndpoints",
    metadata: { name: "fleet" },
    endpoints: Array.from({ length: PODS }, (_, i) => ({
      name: `pod-${String(i).padStart(4, "0")}`,
      ip: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      labels: { app: `pool-${i % POOLS}` },
    })),
  },
});

const store = new ModelStore({ defaultNamespace: "default" });
const now = Date.now();
const scrapes = new Map<string, ScrapeState>();
const builder = new TableBuilder({ stalenessMs: 3000 });

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

function time(label: string, fn: (i: number) => void): { label: string; medianUs: number; p99Us: number } {
  for (let i = 0; i < 50; i++) fn(i); // warm up the JIT
  const us: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t0 = performance.now();
    fn(i);
    us.push((performance.now() - t0) * 1000);
  }
  return { label, medianUs: Math.round(percentile(us, 0.5)), p99Us: Math.round(percentile(us, 0.99)) };
}

store.replaceSource("bench", docs);
const model = store.resolved();
if (model.problems.length) throw new Error(JSON.stringify(model.problems[0]));
for (const p of model.pools)
  for (const e of p.endpoints) {
    scrapes.set(e.address, {
      address: e.address,
      runtime: "vllm",
      lastSuccessAtMs: now - 50,
      load: { waiting: 3, running: 12, kvUsage: 0.42, loras: [] },
      consecutiveFailures: 0,
      healthy: true,
      lastError: null,
      lastDurationMs: 1,
    });
  }
let bytes = 0;
const results = [
  time("resolve documents (store.replaceSource + resolve)", () => {
    store.replaceSource("bench", docs);
    store.resolved();
  }),
  time("build table (forced new generation)", () => {
    builder.build(model, (a) => scrapes.get(a), true);
  }),
  time("build + JSON.stringify (what a push sends)", () => {
    bytes = JSON.stringify(builder.build(model, (a) => scrapes.get(a), true).table).length;
  }),
  time("load changed on one pod: build + change check + stringify", (i) => {
    const s = scrapes.get(model.pools[0].endpoints[0].address)!;
    s.load = { ...s.load!, waiting: i };
    const r = builder.build(model, (a) => scrapes.get(a));
    if (r.changed) JSON.stringify(r.table);
  }),
  time("nothing changed: build + change check only", () => {
    builder.build(model, (a) => scrapes.get(a));
  }),
];
const endpoints = model.pools.reduce((n, p) => n + p.endpoints.length, 0);
console.log(
  JSON.stringify(
    {
      bench: "table-build",
      node: process.version,
      pods: endpoints,
      pools: POOLS,
      iterations: ITER,
      tableBytes: bytes,
      results,
    },
    null,
    2,
  ),
);
