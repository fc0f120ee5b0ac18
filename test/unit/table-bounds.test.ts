// The control plane's TABLE_MAX against the filter's own decoder (build/test/pure.wasm): one field past
// the filter's bound refuses the whole table, every pool's, so the control plane must know each bound
// exactly and never write past it, whatever an annotation or a pod's metrics say.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ANNOTATION } from "../../controlplane/model/annotations.js";
import { ModelStore } from "../../controlplane/model/store.js";
import type { ScrapeState } from "../../controlplane/scrapers/scrape-loop.js";
import { parseYamlDocuments } from "../../controlplane/sources/file.js";
import { TableBuilder } from "../../controlplane/table/builder.js";
import { TABLE_MAX } from "../../controlplane/table/schema.js";
import { ep, pure, tableJson } from "./pure.js";

// Each bound as a table field: where it sits in a table the filter decodes.
const FIELDS: Record<keyof typeof TABLE_MAX, (n: number) => string> = {
  blockSize: (n) => tableJson([ep(0, "a")], {}, { prefix: { blockSize: n } }),
  maxBlocks: (n) => tableJson([ep(0, "a")], {}, { prefix: { maxBlocks: n } }),
  lruCapacity: (n) => tableJson([ep(0, "a")], {}, { prefix: { lruCapacity: n } }),
  firstByteTimeoutMs: (n) => {
    const t = JSON.parse(tableJson([ep(0, "a")]));
    t.pools[0].firstByteTimeoutMs = n;
    return JSON.stringify(t);
  },
  stalenessMs: (n) => tableJson([ep(0, "a")], { stalenessMs: n }),
  loadCount: (n) => tableJson([ep(0, "a", { waiting: n, running: n })]),
};

test("TABLE_MAX is the filter's: each bound is accepted, one past it refuses the table", () => {
  for (const [field, max] of Object.entries(TABLE_MAX) as [keyof typeof TABLE_MAX, number][]) {
    assert.match(pure.table(FIELDS[field](max)), /^ok /, `${field} = ${max}`);
    assert.match(pure.table(FIELDS[field](max + 1)), /^error /, `${field} = ${max + 1}`);
  }
});

const POOL_YAML = (annotations: Record<string, string>) => `
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata:
  name: pool
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join("\n")}
spec: {targetPortNumber: 8000, selector: {app: sim}}
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: {name: m}
spec: {modelName: llama, poolRef: {name: pool}}
---
apiVersion: infergate.dev/v1alpha1
kind: StaticEndpoints
metadata: {name: sims}
endpoints:
- {name: sim-0, address: "127.0.0.1:8000", labels: {app: sim}}
`;

test("an annotation past the filter's bound is a problem, the last good value stays, the filter accepts the table", () => {
  const store = new ModelStore({ defaultNamespace: "default" });
  const good = {
    [ANNOTATION.hashBlockSize]: "32",
    [ANNOTATION.maxPrefixBlocks]: "256",
    [ANNOTATION.lruCapacity]: "1000",
    [ANNOTATION.firstByteTimeout]: "2s",
  };
  store.replaceSource("t", parseYamlDocuments(POOL_YAML(good), "f.yaml"));
  assert.deepEqual(store.resolved().problems, []);
  store.replaceSource(
    "t",
    parseYamlDocuments(
      POOL_YAML({
        [ANNOTATION.hashBlockSize]: String(TABLE_MAX.blockSize + 1),
        [ANNOTATION.maxPrefixBlocks]: String(TABLE_MAX.maxBlocks + 1),
        [ANNOTATION.lruCapacity]: String(TABLE_MAX.lruCapacity + 1),
        [ANNOTATION.firstByteTimeout]: "24h0m0.001s",
      }),
      "f.yaml",
    ),
  );
  const m = store.resolved();
  const problems = m.problems.map((p) => `${p.field}: ${p.message}`);
  assert.equal(problems.length, 4, problems.join("\n"));
  for (const key of Object.keys(good))
    assert.ok(
      problems.some((p) => p.includes(key) && /at most .*the filter's limit.*stays in force/.test(p)),
      `${key}: ${problems.join("\n")}`,
    );
  const p = m.pools[0];
  assert.deepEqual([p.prefix.blockSize, p.prefix.maxBlocks, p.prefix.lruCapacity], [32, 256, 1000]);
  assert.equal(p.firstByteTimeoutMs, 2000);

  // A pod reporting more waiting and running requests than the filter accepts is capped.
  const builder = new TableBuilder({ stalenessMs: 3000 });
  const overloaded: ScrapeState = {
    address: "127.0.0.1:8000",
    runtime: "vllm",
    lastSuccessAtMs: Date.now(),
    load: { waiting: 5e9, running: 5e9, kvUsage: 1, loras: [] },
    consecutiveFailures: 0,
    healthy: true,
    lastError: null,
    lastDurationMs: 1,
  };
  const { table } = builder.build(m, () => overloaded);
  assert.deepEqual(
    [table.pools[0].endpoints[0].waiting, table.pools[0].endpoints[0].running],
    [TABLE_MAX.loadCount, TABLE_MAX.loadCount],
  );
  assert.match(pure.table(JSON.stringify(table)), /^ok pools=1 models=1 endpoints=1/);
});
