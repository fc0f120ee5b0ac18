// Documents → resolved model: the seed manifests exactly as written, v1 InferencePool, validation
// messages, selector membership, addresses, P/D roles, last-good behaviour.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseDocument } from "../../controlplane/model/documents.js";
import { ModelStore } from "../../controlplane/model/store.js";
import { DocumentInvalid } from "../../controlplane/model/validate.js";
import { parseYamlDocuments } from "../../controlplane/sources/file.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";

const ctx = { defaultNamespace: "default" };

// The seed pages' documents, verbatim: the same fixtures test/kube/ applies to a real API server.
const seedFixture = (name: string) => readFileSync(join(REPO_ROOT, "test/kube/fixtures", name), "utf8");
// Seed 000_*: "SGLang P/D disaggregation with prefix cache".
const SEED_PD = seedFixture("seed-000-pd-prefix-cache-sglang.yaml");
// Seed 000_*: "Distributed SGLang deployment" (prefix cache).
const SEED_DIST_SGLANG = seedFixture("seed-000-prefix-cache-distributed-sglang.yaml");

const pods = (entries: [string, string, Record<string, string>, boolean?][]) =>
  entries.map(([name, ip, labels, ready]) => ({
    raw: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels },
      status: { podIP: ip, conditions: [{ type: "Ready", status: ready === false ? "False" : "True" }] },
    },
  }));

test("seed distributed SGLang: annotations, selector with two labels, pod addresses with targetPortNumber", () => {
  const store = new ModelStore(ctx);
  const docs = [
    ...parseYamlDocuments(SEED_DIST_SGLANG, "seed.yaml"),
    ...pods([
      ["leader-0", "10.0.0.1", { "alibabacloud.com/inference-workload": "sglang-multi-nodes", role: "leader" }],
      ["worker-0", "10.0.0.2", { "alibabacloud.com/inference-workload": "sglang-multi-nodes", role: "worker" }],
      ["leader-1", "fd00::5", { "alibabacloud.com/inference-workload": "sglang-multi-nodes", role: "leader" }, false],
      ["other", "10.0.0.9", { role: "leader" }],
    ]),
  ];
  const { problems } = store.replaceSource("t", docs);
  assert.deepEqual(problems, []);
  const m = store.resolved();
  assert.deepEqual(m.problems, []);
  assert.equal(m.pools.length, 1);
  const p = m.pools[0];
  assert.equal(p.id, "default/qwen-inference-pool");
  assert.equal(p.runtime, "sglang");
  assert.equal(p.strategy, "PREFIX_CACHE");
  assert.equal(p.spec.extensionRef, "inference-gateway-ext-proc");
  assert.deepEqual(
    p.endpoints.map((e) => [e.name, e.address, e.ready, e.role]),
    [
      ["leader-0", "10.0.0.1:8000", true, "both"],
      ["leader-1", "[fd00::5]:8000", false, "both"],
    ],
  );
  assert.deepEqual(m.models, [
    {
      name: "/models/Qwen3-32B",
      pool: "default/qwen-inference-pool",
      criticality: "Critical",
      priority: 1,
      targets: [{ name: "/models/Qwen3-32B", weight: 100 }],
      from: "InferenceModel default/qwen-inference-model",
    },
  ]);
});

test("seed P/D with prefix cache: InferenceTrafficPolicy sets runtime, roles, bootstrap port and per-stage policies", () => {
  const store = new ModelStore(ctx);
  store.replaceSource("t", [
    ...parseYamlDocuments(SEED_PD, "pd.yaml"),
    ...pods([
      [
        "prefill-0",
        "10.1.0.1",
        { "alibabacloud.com/inference_backend": "sglang", "rolebasedgroup.workloads.x-k8s.io/role": "prefill" },
      ],
      [
        "decode-0",
        "10.1.0.2",
        { "alibabacloud.com/inference_backend": "sglang", "rolebasedgroup.workloads.x-k8s.io/role": "decode" },
      ],
      [
        "router-0",
        "10.1.0.3",
        { "alibabacloud.com/inference_backend": "sglang", "rolebasedgroup.workloads.x-k8s.io/role": "router" },
      ],
    ]),
  ]);
  const m = store.resolved();
  const p = m.pools[0];
  assert.equal(p.runtime, "sglang");
  assert.deepEqual(p.pd, {
    roleLabel: "rolebasedgroup.workloads.x-k8s.io/role",
    bootstrapPort: 34000,
    prefillPolicy: "PREFIX_CACHE",
    decodePolicy: "PREFIX_CACHE",
    prefixCacheMode: "estimate",
  });
  assert.deepEqual(
    p.endpoints.map((e) => [e.name, e.role]),
    [
      ["decode-0", "decode"],
      ["prefill-0", "prefill"],
    ],
  );
  assert.equal(m.problems.length, 1);
  assert.match(m.problems[0].message, /"router".*needs "prefill" or "decode"/);
});

test("seed P/D: a prefill pod's sglang.ai/bootstrap-port annotation is its own port; a bad one is reported and the policy's applies; the policy's prefix mode wins", () => {
  const store = new ModelStore(ctx);
  const labels = (role: string) => ({
    "alibabacloud.com/inference_backend": "sglang",
    "rolebasedgroup.workloads.x-k8s.io/role": role,
  });
  const pod = (name: string, ip: string, role: string, annotations?: Record<string, string>) => ({
    raw: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, labels: labels(role), ...(annotations ? { annotations } : {}) },
      status: { podIP: ip, conditions: [{ type: "Ready", status: "True" }] },
    },
  });
  const pool = parseYamlDocuments(SEED_PD, "pd.yaml");
  // The pool's own prefix-cache-mode annotation says feedback; the policy's estimate wins.
  (pool[0].raw as any).metadata.annotations = { "infergate.dev/prefix-cache-mode": "feedback" };
  store.replaceSource("t", [
    ...pool,
    pod("prefill-0", "10.1.0.1", "prefill", { "sglang.ai/bootstrap-port": "34017" }),
    pod("prefill-1", "10.1.0.2", "prefill", { "sglang.ai/bootstrap-port": "port-9" }),
    pod("prefill-2", "10.1.0.3", "prefill"),
    pod("decode-0", "10.1.0.4", "decode", { "sglang.ai/bootstrap-port": "1" }),
  ]);
  const m = store.resolved();
  const p = m.pools[0];
  assert.equal(p.prefix.mode, "estimate");
  assert.deepEqual(
    p.endpoints.map((e) => [e.name, e.role, e.bootstrapPort ?? null]),
    [
      ["decode-0", "decode", null],
      ["prefill-0", "prefill", 34017],
      ["prefill-1", "prefill", null],
      ["prefill-2", "prefill", null],
    ],
  );
  assert.equal(m.problems.length, 1);
  assert.equal(m.problems[0].document, "endpoint default/prefill-1");
  assert.match(m.problems[0].message, /"port-9" is not a port.*kvTransfer.bootstrapPort applies/);
});

test("v1 InferencePool shape (inference.networking.k8s.io/v1)", () => {
  const doc = parseDocument(
    {
      apiVersion: "inference.networking.k8s.io/v1",
      kind: "InferencePool",
      metadata: { name: "p1", namespace: "llm" },
      spec: {
        targetPorts: [{ number: 8080 }],
        selector: { matchLabels: { app: "vllm" } },
        endpointPickerRef: { name: "epp", port: { number: 9002 } },
      },
    },
    ctx,
  );
  assert.ok(!("ignored" in doc) && doc.kind === "InferencePool");
  assert.equal(doc.targetPort, 8080);
  assert.deepEqual(doc.selector, { app: "vllm" });
  assert.equal(doc.namespace, "llm");
  assert.equal(doc.extensionRef, "epp");
});

function issues(raw: unknown): { field: string; message: string }[] {
  try {
    parseDocument(raw, { ...ctx, origin: "t.yaml document #1" });
  } catch (e) {
    assert.ok(e instanceof DocumentInvalid);
    assert.match(e.message, /t\.yaml document #1/, "the message says which document");
    return e.issues;
  }
  assert.fail("expected the document to be refused");
}

test("validation names the document, the field and the reason", () => {
  const pool = (spec: unknown, apiVersion = "inference.networking.x-k8s.io/v1alpha2") => ({
    apiVersion,
    kind: "InferencePool",
    metadata: { name: "p" },
    spec,
  });
  assert.deepEqual(issues(pool({ targetPortNumber: 70000, selector: { a: "b" } })), [
    { field: "spec.targetPortNumber", message: "must be <= 65535, got 70000" },
  ]);
  assert.deepEqual(issues(pool({ targetPortNumber: "8000", selector: { a: "b" } })), [
    { field: "spec.targetPortNumber", message: 'must be an integer, got string "8000"' },
  ]);
  assert.deepEqual(issues(pool({ targetPortNumber: 8000 })), [{ field: "spec.selector", message: "is required" }]);
  assert.match(issues(pool({ targetPortNumber: 8000, selector: {} }))[0].message, /at least one label/);
  assert.match(issues(pool({ targetPortNumber: 8000, selector: { matchLabels: { a: "b" } } }))[0].message, /v1 shape/);
  assert.deepEqual(issues(pool({ targetPortNumber: 8000, selector: { ver: 2 } })), [
    { field: 'spec.selector["ver"]', message: "must be a string, got number 2 (label values are strings)" },
  ]);
  assert.deepEqual(
    issues(
      pool({ targetPorts: [{ number: 0 }], selector: { matchLabels: { a: "b" } } }, "inference.networking.k8s.io/v1"),
    ),
    [{ field: "spec.targetPorts[0].number", message: "must be >= 1, got 0" }],
  );
  assert.match(
    issues(
      pool(
        { targetPorts: [{ number: 1 }, { number: 2 }], selector: { matchLabels: { a: "b" } } },
        "inference.networking.k8s.io/v1",
      ),
    )[0].message,
    /exactly one port/,
  );
  assert.match(
    issues({ apiVersion: "inference.networking.x-k8s.io/v1", kind: "InferencePool", metadata: { name: "p" } })[0]
      .message,
    /not supported for InferencePool/,
  );
  assert.deepEqual(
    issues({ kind: "InferenceModel" }).map((i) => i.field),
    ["apiVersion"],
  );

  const model = (spec: unknown) => ({
    apiVersion: "inference.networking.x-k8s.io/v1alpha2",
    kind: "InferenceModel",
    metadata: { name: "m" },
    spec,
  });
  assert.deepEqual(issues(model({ modelName: "x", poolRef: { name: "p" }, criticality: "Urgent" })), [
    { field: "spec.criticality", message: '"Urgent" must be one of Critical, Standard, Sheddable' },
  ]);
  assert.deepEqual(issues(model({ poolRef: { name: "p" } })), [{ field: "spec.modelName", message: "is required" }]);
  assert.match(
    issues(
      model({ modelName: "x", poolRef: { name: "p" }, targetModels: [{ name: "a", weight: 1 }, { name: "b" }] }),
    )[0].message,
    /every target model or on none/,
  );
  assert.deepEqual(
    issues(model({ modelName: "x", poolRef: { name: "p" }, targetModels: [{ name: "a", weight: -1 }] })),
    [{ field: "spec.targetModels[0].weight", message: "must be an integer in 0..1000000, got number -1" }],
  );
  assert.deepEqual(issues(model({ modelName: "x", poolRef: { name: "p", kind: "Service" } })), [
    { field: "spec.poolRef.kind", message: '"Service" must be InferencePool' },
  ]);

  const policy = (pd: unknown) => ({
    apiVersion: "inferenceextension.alibabacloud.com/v1alpha1",
    kind: "InferenceTrafficPolicy",
    metadata: { name: "t" },
    spec: { poolRef: { name: "p" }, profile: { pd } },
  });
  assert.deepEqual(issues(policy({ kvTransfer: { bootstrapPort: 34000 } })), [
    { field: "spec.profile.pd.pdRoleLabelName", message: "is required" },
  ]);
  assert.match(issues(policy({ pdRoleLabelName: "r", prefillPolicyRef: "lowLatency" }))[0].message, /names no entry/);
  assert.match(
    issues(policy({ pdRoleLabelName: "r", trafficPolicy: { prefixCache: { mode: "exact" } } }))[0].message,
    /not supported/,
  );

  const eps = (endpoints: unknown) => ({
    apiVersion: "infergate.dev/v1alpha1",
    kind: "StaticEndpoints",
    metadata: { name: "e" },
    endpoints,
  });
  assert.deepEqual(issues(eps([{ name: "a", address: "localhost:8000" }])), [
    {
      field: "endpoints[0].address",
      message:
        '"localhost" is not an IP literal (Envoy\'s ORIGINAL_DST cluster connects to the IP in the header; it does not resolve names)',
    },
  ]);
  assert.deepEqual(
    issues(eps([{ name: "a", address: "::1:8000" }])).map((i) => i.field),
    ["endpoints[0].address"],
  );
  assert.deepEqual(issues(eps([{ address: "127.0.0.1:1" }])), [{ field: "endpoints[0].name", message: "is required" }]);
  assert.deepEqual(issues(eps([{ name: "a" }])), [
    { field: "endpoints[0]", message: 'needs address ("127.0.0.1:8001") or ip' },
  ]);
  assert.deepEqual(issues(eps([{ name: "a", address: "127.0.0.1:1", labels: { x: 1 } }])), [
    { field: 'endpoints[0].labels["x"]', message: "must be a string, got number 1 (label values are strings)" },
  ]);
});

test("documents we do not use are ignored, not errors", () => {
  const d = parseDocument({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "r" } }, ctx);
  assert.ok("ignored" in d);
});

test("static endpoints: full address overrides targetPortNumber, ip takes it, namespaces separate pools", () => {
  const store = new ModelStore(ctx);
  store.replaceSource(
    "t",
    parseYamlDocuments(
      `
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: {name: pool}
spec: {targetPortNumber: 8000, selector: {app: sim}}
---
apiVersion: infergate.dev/v1alpha1
kind: StaticEndpoints
metadata: {name: sims}
endpoints:
- {name: a, address: "127.0.0.1:41001", labels: {app: sim}}
- {name: b, ip: "127.0.0.2", labels: {app: sim}}
- {name: c, ip: "::1", port: 41003, labels: {app: sim}, ready: false}
- {name: d, address: "[::1]:41004", labels: {app: other}}
---
apiVersion: infergate.dev/v1alpha1
kind: StaticEndpoints
metadata: {name: elsewhere, namespace: other}
endpoints:
- {name: e, address: "127.0.0.1:41005", labels: {app: sim}}
`,
      "f.yaml",
    ),
  );
  const p = store.resolved().pools[0];
  assert.deepEqual(
    p.endpoints.map((e) => [e.name, e.address, e.ready]),
    [
      ["a", "127.0.0.1:41001", true],
      ["b", "127.0.0.2:8000", true],
      ["c", "[::1]:41003", false],
    ],
  );
});

test("an invalid document keeps its last good version; a dangling poolRef is reported", () => {
  const store = new ModelStore(ctx);
  const good = `
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: {name: pool}
spec: {targetPortNumber: 8000, selector: {app: sim}}
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: {name: m}
spec: {modelName: llama, poolRef: {name: pool}}
`;
  store.replaceSource("t", parseYamlDocuments(good, "f.yaml"));
  assert.equal(store.resolved().pools[0].spec.targetPort, 8000);
  const { problems } = store.replaceSource(
    "t",
    parseYamlDocuments(
      good
        .replace("targetPortNumber: 8000", "targetPortNumber: eighty")
        .replace("poolRef: {name: pool}", "poolRef: {name: nopool}"),
      "f.yaml",
    ),
  );
  assert.equal(problems.length, 1);
  assert.equal(problems[0].field, "spec.targetPortNumber");
  assert.match(problems[0].message, /last good version stays in force/);
  assert.match(problems[0].document, /InferencePool default\/pool \(f\.yaml document #1\)/);
  const m = store.resolved();
  assert.equal(m.pools[0].spec.targetPort, 8000, "the last good pool stays");
  assert.deepEqual(m.models, []);
  assert.ok(
    m.problems.some((p) => p.field === "spec.poolRef.name" && /no InferencePool default\/nopool/.test(p.message)),
  );
});

test("an invalid annotation keeps the last good value across reloads", () => {
  const store = new ModelStore(ctx);
  const doc = (ttl: string) =>
    parseYamlDocuments(
      `
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata:
  name: pool
  annotations:
    inference-epp-env.networking.x-k8s.io/queue-ttl: "${ttl}"
    inference.networking.x-k8s.io/queueing: enabled
spec: {targetPortNumber: 8000, selector: {app: sim}}
`,
      "f.yaml",
    );
  store.replaceSource("t", doc("45s"));
  assert.equal(store.resolved().pools[0].queue.ttlMs, 45000);
  store.replaceSource("t", doc("45 seconds"));
  const m = store.resolved();
  assert.equal(m.pools[0].queue.ttlMs, 45000);
  assert.equal(m.pools[0].queue.enabled, true);
  assert.equal(m.problems.length, 1);
  assert.match(
    m.problems[0].message,
    /"45 seconds": time: unknown unit " seconds".*last good value 45000 stays in force/,
  );
  store.replaceSource("t", doc("1m"));
  assert.equal(store.resolved().pools[0].queue.ttlMs, 60000);
  assert.deepEqual(store.resolved().problems, []);
});

test("duplicate modelName: the first InferenceModel wins and the other is reported", () => {
  const store = new ModelStore(ctx);
  store.replaceSource(
    "t",
    parseYamlDocuments(
      `
- {apiVersion: inference.networking.x-k8s.io/v1alpha2, kind: InferencePool, metadata: {name: pool}, spec: {targetPortNumber: 8000, selector: {app: sim}}}
- {apiVersion: inference.networking.x-k8s.io/v1alpha2, kind: InferenceModel, metadata: {name: b}, spec: {modelName: llama, poolRef: {name: pool}}}
- {apiVersion: inference.networking.x-k8s.io/v1alpha2, kind: InferenceModel, metadata: {name: a}, spec: {modelName: llama, poolRef: {name: pool}, criticality: Sheddable}}
`,
      "list.yaml",
    ),
  );
  const m = store.resolved();
  assert.equal(m.models.length, 1);
  assert.equal(m.models[0].from, "InferenceModel default/a");
  assert.equal(m.models[0].criticality, "Sheddable");
  assert.match(m.problems[0].message, /already served by InferenceModel default\/a/);
});

test("YAML errors name the file, document and line", () => {
  assert.throws(
    () => parseYamlDocuments("a: 1\n---\nkind: [unclosed\n", "bad.yaml"),
    /bad\.yaml: YAML error in document #2 at line 4, column 1/,
  );
});
