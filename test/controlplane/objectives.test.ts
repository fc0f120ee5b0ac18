// InferenceObjective and InferenceModelRewrite (GIE v1.5 shapes) beside the seed's InferenceModel:
// documents → resolved model → table, and the documented precedence rules (resolve-models.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDocument } from "../../controlplane/model/documents.js";
import { ModelStore } from "../../controlplane/model/store.js";
import type { DocumentInvalid } from "../../controlplane/model/validate.js";
import { parseYamlDocuments } from "../../controlplane/sources/file.js";
import { TableBuilder } from "../../controlplane/table/builder.js";
import { CRITICALITY_PRIORITY, criticalityOfPriority } from "../../controlplane/table/schema.js";

const ctx = { defaultNamespace: "default" };
const X = "inference.networking.x-k8s.io/v1alpha2";

const POOLS = `
- {apiVersion: ${X}, kind: InferencePool, metadata: {name: pool-a}, spec: {targetPortNumber: 8000, selector: {app: a}}}
- {apiVersion: inference.networking.k8s.io/v1, kind: InferencePool, metadata: {name: pool-b}, spec: {targetPorts: [{number: 8000}], selector: {matchLabels: {app: b}}}}
`;

function storeOf(yaml: string, routed = false): ModelStore {
  const store = new ModelStore({
    ...ctx,
    // A claimed Gateway (no routes attached) makes the model keyed by (name, pool).
    gateway: { controllerNames: ["inference.networking.x-k8s.io/gateway-controller"], service: null },
  });
  const gw = routed
    ? `
- {apiVersion: gateway.networking.k8s.io/v1, kind: GatewayClass, metadata: {name: c}, spec: {controllerName: inference.networking.x-k8s.io/gateway-controller}}
- {apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, metadata: {name: g}, spec: {gatewayClassName: c, listeners: [{name: http, protocol: HTTP, port: 8080}]}}
`
    : "";
  const { problems } = store.replaceSource("t", parseYamlDocuments(POOLS + gw + yaml, "t.yaml"));
  assert.deepEqual(problems, []);
  return store;
}

const issues = (raw: unknown) => {
  try {
    parseDocument(raw, ctx);
    return [];
  } catch (e) {
    return (e as DocumentInvalid).issues;
  }
};

test("criticality ↔ priority: Critical 1, Standard 0, Sheddable -1; a v1 filter's criticality agrees with any priority", () => {
  assert.deepEqual(CRITICALITY_PRIORITY, { Critical: 1, Standard: 0, Sheddable: -1 });
  for (const c of ["Critical", "Standard", "Sheddable"] as const)
    assert.equal(criticalityOfPriority(CRITICALITY_PRIORITY[c]), c);
  assert.equal(criticalityOfPriority(1000), "Critical");
  assert.equal(criticalityOfPriority(-5), "Sheddable");
});

test("GIE v1.5 documents: InferenceObjective and InferenceModelRewrite parse; bad fields are named", () => {
  const o = parseDocument(
    {
      apiVersion: X,
      kind: "InferenceObjective",
      metadata: { name: "gold" },
      spec: { priority: -3, poolRef: { group: "inference.networking.k8s.io", name: "pool-b" } },
    },
    ctx,
  );
  assert.deepEqual(o, {
    kind: "InferenceObjective",
    namespace: "default",
    name: "gold",
    priority: -3,
    poolName: "pool-b",
  });
  const unset = parseDocument(
    { apiVersion: X, kind: "InferenceObjective", metadata: { name: "u" }, spec: { poolRef: { name: "p" } } },
    ctx,
  );
  assert.equal((unset as { priority: number | null }).priority, null);
  assert.deepEqual(
    issues({
      apiVersion: X,
      kind: "InferenceObjective",
      metadata: { name: "o" },
      spec: { priority: 1.5, poolRef: { name: "p" } },
    }),
    [{ field: "spec.priority", message: "must be an integer, got number 1.5" }],
  );
  assert.deepEqual(
    issues({ apiVersion: X, kind: "InferenceObjective", metadata: { name: "o" }, spec: { priority: 1 } }),
    [{ field: "spec.poolRef.name", message: "is required" }],
  );

  const rw = parseDocument(
    {
      apiVersion: X,
      kind: "InferenceModelRewrite",
      metadata: { name: "canary", creationTimestamp: "2026-01-01T00:00:00Z" },
      spec: {
        poolRef: { name: "pool-a" },
        rules: [
          {
            matches: [{ model: { type: "Exact", value: "llama" } }, { model: { value: "llama-chat" } }],
            targets: [
              { modelRewrite: "llama-v1", weight: 90 },
              { modelRewrite: "llama-v2", weight: 10 },
            ],
          },
          { targets: [{ modelRewrite: "base" }] },
        ],
      },
    },
    ctx,
  );
  assert.deepEqual(rw, {
    kind: "InferenceModelRewrite",
    namespace: "default",
    name: "canary",
    poolName: "pool-a",
    createdAt: "2026-01-01T00:00:00Z",
    rules: [
      {
        models: ["llama", "llama-chat"],
        targets: [
          { name: "llama-v1", weight: 90 },
          { name: "llama-v2", weight: 10 },
        ],
      },
      { models: [], targets: [{ name: "base", weight: 1 }] },
    ],
  });
  const rewrite = (rules: unknown) => ({
    apiVersion: X,
    kind: "InferenceModelRewrite",
    metadata: { name: "r" },
    spec: { poolRef: { name: "p" }, rules },
  });
  assert.deepEqual(issues(rewrite([{ targets: [{ modelRewrite: "a", weight: 0 }] }])), [
    { field: "spec.rules[0].targets[0].weight", message: "must be an integer in 1..1000000, got number 0" },
  ]);
  assert.deepEqual(issues(rewrite([{ matches: [{ model: { type: "Prefix", value: "x" } }] }])), [
    {
      field: "spec.rules[0].matches[0].model.type",
      message: '"Prefix" is not supported (GIE v1.5 defines only Exact)',
    },
  ]);
  assert.match(
    issues(rewrite([{ targets: [{ modelRewrite: "a", weight: 1 }, { modelRewrite: "b" }] }]))[0].message,
    /every target model or on none/,
  );
  assert.deepEqual(issues(rewrite(undefined)), [{ field: "spec.rules", message: "is required" }]);
});

test("objectives: listed per pool for the header; unset priority is 0; a missing pool is an error on the objective", () => {
  const store = storeOf(`
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: gold}, spec: {priority: 10, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: batch}, spec: {priority: -5, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: plain}, spec: {poolRef: {name: pool-b}}}
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: lost}, spec: {priority: 3, poolRef: {name: nope}}}
`);
  const m = store.resolved();
  assert.deepEqual(m.objectives, [
    { name: "batch", pool: "default/pool-a", priority: -5 },
    { name: "gold", pool: "default/pool-a", priority: 10 },
    { name: "plain", pool: "default/pool-b", priority: 0 },
  ]);
  assert.deepEqual(
    m.problems.map((p) => [p.level, p.reason, p.document, p.ref?.kind]),
    [["error", "PoolNotFound", "InferenceObjective default/lost", "InferenceObjective"]],
  );
  const t = new TableBuilder({ stalenessMs: 3000 }).build(m, () => undefined).table;
  assert.deepEqual(t.objectives, m.objectives);
  assert.equal(t.version, 1, "objectives alone do not change how requests are routed");
});

test("an InferenceObjective named like an InferenceModel (same pool) is the model's objective and wins, with a warning", () => {
  const store = storeOf(`
- {apiVersion: ${X}, kind: InferenceModel, metadata: {name: qwen}, spec: {modelName: /models/Qwen3-32B, criticality: Critical, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: qwen}, spec: {priority: -2, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceModel, metadata: {name: same}, spec: {modelName: same, criticality: Critical, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: same}, spec: {priority: 1, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceModel, metadata: {name: other-pool}, spec: {modelName: op, criticality: Sheddable, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceObjective, metadata: {name: other-pool}, spec: {priority: 9, poolRef: {name: pool-b}}}
`);
  const m = store.resolved();
  const byName = Object.fromEntries(m.models.map((x) => [x.name, x]));
  assert.equal(byName["/models/Qwen3-32B"].priority, -2);
  assert.equal(byName["/models/Qwen3-32B"].criticality, "Sheddable", "criticality follows the winning priority");
  assert.equal(byName.same.priority, 1);
  assert.equal(byName.op.priority, -1, "an objective of another pool is not the model's");
  assert.deepEqual(
    m.problems.map((p) => [p.level, p.reason, p.ref?.kind, p.ref?.name]),
    [["warning", "PriorityOverridden", "InferenceModel", "qwen"]],
    "a warning only where the two disagree",
  );
  assert.match(
    m.problems[0].message,
    /InferenceObjective default\/qwen .*priority -2.*wins over the InferenceModel's criticality Critical \(priority 1\)/,
  );
});

test("rewrites: exact matches create or override (name, pool) entries; the oldest rewrite wins; match-all rules become anyModel", () => {
  const store = storeOf(
    `
- {apiVersion: ${X}, kind: InferenceModel, metadata: {name: qwen}, spec: {modelName: qwen, criticality: Critical, poolRef: {name: pool-a}, targetModels: [{name: qwen-old, weight: 100}]}}
- {apiVersion: ${X}, kind: InferenceModelRewrite, metadata: {name: newer, creationTimestamp: "2026-02-01T00:00:00Z"}, spec: {poolRef: {name: pool-a}, rules: [{matches: [{model: {value: llama}}], targets: [{modelRewrite: llama-b, weight: 1}]}]}}
- {apiVersion: ${X}, kind: InferenceModelRewrite, metadata: {name: older, creationTimestamp: "2026-01-01T00:00:00Z"}, spec: {poolRef: {name: pool-a}, rules: [{matches: [{model: {value: qwen}}, {model: {value: llama}}], targets: [{modelRewrite: qwen-v2, weight: 3}, {modelRewrite: qwen-v3, weight: 1}]}, {targets: [{modelRewrite: fallback}]}]}}
- {apiVersion: ${X}, kind: InferenceModelRewrite, metadata: {name: on-b, creationTimestamp: "2026-01-01T00:00:00Z"}, spec: {poolRef: {name: pool-b}, rules: [{matches: [{model: {value: qwen}}], targets: [{modelRewrite: qwen-b}]}]}}
`,
    true,
  );
  const m = store.resolved();
  assert.deepEqual(
    m.models.map((x) => [x.name, x.pool, x.priority, x.targets.map((t) => `${t.name}=${t.weight}`).join(","), x.from]),
    [
      ["llama", "default/pool-a", 0, "qwen-v2=3,qwen-v3=1", "InferenceModelRewrite default/older"],
      ["qwen", "default/pool-a", 1, "qwen-v2=3,qwen-v3=1", "InferenceModel default/qwen"],
      ["qwen", "default/pool-b", 0, "qwen-b=1", "InferenceModelRewrite default/on-b"],
    ],
    "routed: one name on two pools; the InferenceModel keeps its priority, the rewrite sets its targets",
  );
  assert.deepEqual(
    m.problems.map((p) => [p.reason, p.ref?.kind, p.ref?.name]),
    [
      ["TargetModelsOverridden", "InferenceModel", "qwen"],
      ["RewriteShadowed", "InferenceModelRewrite", "newer"],
    ],
  );
  const pool = (id: string) => m.pools.find((p) => p.id === id)!;
  assert.deepEqual(pool("default/pool-a").anyModel, { targets: [{ name: "fallback", weight: 1 }] });
  assert.deepEqual(
    pool("default/pool-b").anyModel,
    { targets: [] },
    "no InferenceModel names pool-b: it serves any model",
  );
});

test("without a claimed Gateway a model name reaches one pool: the InferenceModel's entry wins, the rest is reported", () => {
  const store = storeOf(`
- {apiVersion: ${X}, kind: InferenceModel, metadata: {name: qwen}, spec: {modelName: qwen, poolRef: {name: pool-a}}}
- {apiVersion: ${X}, kind: InferenceModelRewrite, metadata: {name: on-b}, spec: {poolRef: {name: pool-b}, rules: [{matches: [{model: {value: qwen}}], targets: [{modelRewrite: qwen-b}]}, {matches: [{model: {value: only-b}}]}]}}
`);
  const m = store.resolved();
  assert.equal(m.routes, null);
  assert.deepEqual(
    m.models.map((x) => [x.name, x.pool, x.targets.length]),
    [
      ["only-b", "default/pool-b", 0],
      ["qwen", "default/pool-a", 0],
    ],
  );
  assert.deepEqual(
    m.problems.map((p) => [p.reason, p.ref?.name]),
    [["DuplicateModel", "on-b"]],
  );
  assert.match(
    m.problems[0].message,
    /already served by InferenceModel default\/qwen \(pool default\/pool-a\).*without an HTTPRoute/,
  );
  const t = new TableBuilder({ stalenessMs: 3000 }).build(m, () => undefined).table;
  assert.equal(t.version, 1);
  assert.equal("anyModel" in t.pools[1], false, "anyModel is only carried with routes");
});
