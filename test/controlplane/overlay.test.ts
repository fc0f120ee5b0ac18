// The epp-overlay ConfigMap in the model (source-independent: the file source here, the Kubernetes
// source in test/kube/): routing-level keys applied like annotations, deployment-level keys reported
// and never applied, invalid values and unparseable routing YAML keeping the last good values.

import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelStore } from "../../controlplane/model/store.js";
import { parseYamlDocuments } from "../../controlplane/sources/file.js";

const ctx = { defaultNamespace: "default" };

const pool = (annotations: Record<string, string>) => `
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata:
  name: qwen-pool
  annotations: ${JSON.stringify(annotations)}
spec:
  targetPortNumber: 8000
  selector: {app: qwen}
`;
const overlay = (data: Record<string, string>) => `
apiVersion: v1
kind: ConfigMap
metadata: {name: custom-epp}
data: ${JSON.stringify(data)}
`;
const OVERLAY = "inference.networking.x-k8s.io/epp-overlay";
const STRATEGY = "inference.networking.x-k8s.io/routing-strategy";
const MAXB = "inference-epp-env.networking.x-k8s.io/prefix-cache-max-prefix-blocks";

function load(store: ModelStore, yaml: string) {
  store.replaceSource("f", parseYamlDocuments(yaml, "t.yaml"));
  const m = store.resolved();
  return { pool: m.pools.find((p) => p.id === "default/qwen-pool")!, problems: m.problems };
}

test("overlay routing key: applied like annotations; the pool's own annotation wins", () => {
  const store = new ModelStore(ctx);
  let r = load(
    store,
    `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ routing: `${STRATEGY}: PREFIX_CACHE\n${MAXB}: 9\n` })}`,
  );
  assert.equal(r.pool.strategy, "PREFIX_CACHE");
  assert.equal(r.pool.prefix.maxBlocks, 9);
  assert.deepEqual(r.problems, []);
  r = load(
    store,
    pool({ [OVERLAY]: "custom-epp", [STRATEGY]: "DEFAULT" }) +
      "---" +
      overlay({ routing: `${STRATEGY}: PREFIX_CACHE\n` }),
  );
  assert.equal(r.pool.strategy, "DEFAULT");
  assert.deepEqual(
    r.problems.map((p) => p.reason),
    ["OverlayShadowed"],
  );
});

test("the seed's overlay (deployment key) is reported as deployment-level and changes nothing", () => {
  const store = new ModelStore(ctx);
  const r = load(
    store,
    `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ deployment: "spec:\n  replicas: 1\n", extra: "x" })}`,
  );
  assert.equal(r.pool.strategy, "DEFAULT");
  const byReason = Object.fromEntries(r.problems.map((p) => [p.reason, p]));
  assert.match(byReason.OverlayDeploymentLevel.message, /not applied at run time.*Helm chart/);
  assert.equal(byReason.OverlayDeploymentLevel.field, "data.deployment");
  assert.deepEqual(byReason.OverlayDeploymentLevel.ref, {
    apiVersion: "inference.networking.x-k8s.io/v1alpha2",
    kind: "InferencePool",
    namespace: "default",
    name: "qwen-pool",
  });
  assert.equal(byReason.OverlayUnknownKey.field, "data.extra");
  assert.ok(r.problems.every((p) => p.level === "warning"));
});

test("missing ConfigMap: a warning, applied once it exists", () => {
  const store = new ModelStore(ctx);
  let r = load(store, pool({ [OVERLAY]: "custom-epp" }));
  assert.deepEqual(
    r.problems.map((p) => p.reason),
    ["OverlayNotFound"],
  );
  r = load(store, `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ routing: `${MAXB}: 3` })}`);
  assert.equal(r.pool.prefix.maxBlocks, 3);
});

test("invalid overlay value keeps the last good one; unparseable routing keeps the whole last good ConfigMap", () => {
  const store = new ModelStore(ctx);
  load(store, `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ routing: `${MAXB}: 7` })}`);
  let r = load(store, `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ routing: `${MAXB}: lots` })}`);
  assert.equal(r.pool.prefix.maxBlocks, 7);
  const p = r.problems.find((x) => x.reason === "InvalidOverlay")!;
  assert.equal(p.level, "error");
  assert.equal(p.field, `data.routing["${MAXB}"]`);
  assert.match(p.message, /"lots".*last good value 7 stays in force/);
  r = load(store, `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ routing: "{ not yaml" })}`);
  assert.equal(r.pool.prefix.maxBlocks, 7);
  assert.ok(
    r.problems.some(
      (x) =>
        x.field === "data.routing" && /not valid YAML/.test(x.message) && /last good version stays/.test(x.message),
    ),
  );
  r = load(store, `${pool({ [OVERLAY]: "custom-epp" })}---${overlay({ routing: "- a\n- b" })}`);
  assert.ok(r.problems.some((x) => x.field === "data.routing" && /must be a YAML mapping/.test(x.message)));
});
