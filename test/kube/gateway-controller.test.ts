// The Gateway API controller against a real kube-apiserver (test/harness/kube.ts) with the Gateway API
// standard CRDs and ours: the seed's Step 2 (`kubectl create -f gateway_networking.yaml`) verbatim,
// the seed's Step 3 jsonpath returning the gateway Service's address, conditions written through the
// status subresource the way conformant controllers write them, live HTTPRoute edits reaching the
// pushed table, InferenceObjective / InferenceModelRewrite in the table, and the control plane running
// as the chart's service account under the chart's RBAC (so the RBAC covers what it reads and writes).
//
// The table is read where the filter would get it: a stand-in receiver of the push
// (test/controlplane/envoy-standin.ts) and the control plane's /debug/table. What Envoy does with
// routes is the filter's side: test/e2e/gateway-routes.test.ts.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { type ControlPlane, startControlPlane } from "../../controlplane/control-plane.js";
import { SEED_CONTROLLER_NAME } from "../../controlplane/gatewayapi/types.js";
import { memoryLogger } from "../../controlplane/log.js";
import { KubeClient } from "../../controlplane/sources/kube-client.js";
import type { Table } from "../../controlplane/table/schema.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { type EnvoyStandIn, startEnvoyStandIn } from "../controlplane/envoy-standin.js";
import { SEED_MODEL, sleep } from "../e2e/helpers.js";
import { CONTROL_PLANE_USER, gatewayApiCrdDir, type Kube, startKube } from "../harness/kube.js";

const FIXTURES = join(REPO_ROOT, "test/kube/fixtures");
const NS = "default";
const GW = "/apis/gateway.networking.k8s.io/v1";
const SVC = { namespace: "infergate-system", name: "infergate" };
/** Status and table changes must show within this (a watch event, one rebuild, one write). */
const LIVE_MS = 5000;
const TOKEN = "gateway-controller-test-token";

let kube: Kube;
let standin: EnvoyStandIn;
let cp: ControlPlane;
let serviceIP = "";
const logger = memoryLogger();

async function ok(r: Promise<{ status: number; body: any }>, what: string): Promise<any> {
  const x = await r;
  assert.ok(x.status < 300, `${what}: ${x.status} ${JSON.stringify(x.body).slice(0, 400)}`);
  return x.body;
}

async function kubectl(args: string[], input?: string): Promise<string> {
  const r = await kube.kubectl(args, input);
  assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** JSON merge patch as the admin (the harness's request() sends application/json, which PATCH refuses). */
async function mergePatch(path: string, body: unknown): Promise<void> {
  await new KubeClient(kube.kubeConfig).request("PATCH", path, body, "application/merge-patch+json");
}

const get = async (path: string) => ok(kube.request("GET", path), `GET ${path}`);
const cond = (conds: any[] | undefined, type: string) => (conds ?? []).find((c: any) => c.type === type);
const summary = (conds: any[] | undefined) =>
  Object.fromEntries((conds ?? []).map((c: any) => [c.type, `${c.status}/${c.reason}`]));

/** Waits until check() returns a value (not undefined/false); fails with the last thing seen. */
async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = LIVE_MS): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms${last ? ` (${last})` : ""}`);
    await sleep(50);
  }
}

async function debugTable(): Promise<Table> {
  const r = await fetch(`http://${cp.address}/debug/table`);
  return (await r.json()) as Table;
}

/** The control plane as the chart runs it: as the chart's service account, Gateway API controller on. */
const gatewayControlPlane = (envoyControl: string[], log: ReturnType<typeof memoryLogger>) =>
  startControlPlane({
    source: "kubernetes",
    kubeConfig: kube.kubeConfigFor(kube.controlPlaneToken, CONTROL_PLANE_USER),
    namespace: NS,
    gatewayService: `${SVC.namespace}/${SVC.name}`,
    gatewayControllerNames: ["infergate.dev/gateway-controller"],
    envoyControl,
    token: TOKEN,
    scrapeIntervalMs: 200,
    pushIntervalMs: 500,
    kubeBackoffMinMs: 100,
    kubeBackoffMaxMs: 1000,
    logger: log,
  });

/** The table the stand-in holds (what the filter would route on) once it satisfies pred. */
const pushed = (what: string, pred: (t: Table) => boolean) =>
  until(what, async () => (standin.table && pred(standin.table) ? standin.table : undefined));

describe("Gateway API controller: the seed's gateway_networking.yaml on a real API server", {
  timeout: 120_000,
}, () => {
  before(async () => {
    const crdDir = gatewayApiCrdDir();
    assert.ok(crdDir, "Gateway API CRDs (scripts/get-kube.sh fetches them from sigs.k8s.io/gateway-api)");
    [kube, standin] = await Promise.all([startKube(), startEnvoyStandIn({ token: TOKEN })]);
    assert.ok(kube.hasKubectl, "kubectl is built (scripts/get-kube.sh): the seed's Step 3 runs it");
    await kube.installCrds();
    await kube.installCrds(
      ["gatewayclasses", "gateways", "httproutes", "referencegrants"].map((r) =>
        join(crdDir!, `gateway.networking.k8s.io_${r}.yaml`),
      ),
    );
    await ok(
      kube.request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: SVC.namespace },
      }),
      "namespace",
    );
    for (const d of parseAllDocuments(readFileSync(join(REPO_ROOT, "charts/infergate/templates/rbac.yaml"), "utf8"))) {
      const o = d.toJS() as any;
      const path =
        o.kind === "ServiceAccount"
          ? `/api/v1/namespaces/${SVC.namespace}/serviceaccounts`
          : `/apis/rbac.authorization.k8s.io/v1/${o.kind === "ClusterRole" ? "clusterroles" : "clusterrolebindings"}`;
      await ok(kube.request("POST", path, o), `create ${o.kind}`);
    }
    // The chart's Service (templates/service.yaml, default values): the API server allocates its cluster IP.
    const svc = await ok(
      kube.request("POST", `/api/v1/namespaces/${SVC.namespace}/services`, {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: SVC.name, namespace: SVC.namespace },
        spec: {
          type: "ClusterIP",
          selector: { "app.kubernetes.io/name": "infergate" },
          ports: [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP" }],
        },
      }),
      "service",
    );
    serviceIP = svc.spec.clusterIP;
    assert.match(serviceIP, /^10\.96\.0\.\d+$/);
    cp = await gatewayControlPlane([standin.url], logger);
  });

  after(async () => {
    await cp?.stop();
    await standin?.close();
    await kube?.stop();
  });

  test("Step 2 verbatim: the class is accepted, the Gateway gets the Service's address, the route's missing pool is BackendNotFound", async () => {
    // The seed's Step 2, as written: `kubectl create -f gateway_networking.yaml`.
    await kubectl(["create", "-f", join(FIXTURES, "seed-000-gateway-httproute.yaml")]);
    const cls = await until("GatewayClass Accepted", async () => {
      const o = await get(`${GW}/gatewayclasses/inference-gateway-class`);
      return cond(o.status?.conditions, "Accepted")?.status === "True" ? o : undefined;
    });
    const accepted = cond(cls.status.conditions, "Accepted");
    assert.equal(accepted.reason, "Accepted");
    assert.equal(accepted.observedGeneration, cls.metadata.generation);
    assert.match(accepted.lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const gw = await until("Gateway Programmed, its route attached", async () => {
      const o = await get(`${GW}/namespaces/${NS}/gateways/inference-gateway`);
      return cond(o.status?.conditions, "Programmed")?.status === "True" &&
        o.status.listeners?.[0]?.attachedRoutes === 1
        ? o
        : undefined;
    });
    assert.deepEqual(summary(gw.status.conditions), { Accepted: "True/Accepted", Programmed: "True/Programmed" });
    for (const c of gw.status.conditions) assert.equal(c.observedGeneration, gw.metadata.generation);
    assert.deepEqual(gw.status.addresses, [{ type: "IPAddress", value: serviceIP }]);
    assert.equal(gw.status.listeners.length, 1);
    const l = gw.status.listeners[0];
    assert.equal(l.name, "http-llm");
    assert.deepEqual(l.supportedKinds, [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }]);
    assert.equal(l.attachedRoutes, 1);
    assert.deepEqual(summary(l.conditions), {
      Accepted: "True/Accepted",
      Programmed: "True/Programmed",
      ResolvedRefs: "True/ResolvedRefs",
      Conflicted: "False/NoConflicts",
    });

    // The seed's Step 3, as written.
    const host = await kubectl(["get", "gateway/inference-gateway", "-o", "jsonpath={.status.addresses[0].value}"]);
    assert.equal(host, serviceIP, "export GATEWAY_HOST=$(kubectl get gateway/inference-gateway -o jsonpath=...)");

    // The route names qwen-inference-pool, which Step 1 has not created yet here.
    const route = await until("HTTPRoute parent status", async () => {
      const o = await get(`${GW}/namespaces/${NS}/httproutes/inference-route`);
      return o.status?.parents?.length ? o : undefined;
    });
    const parent = route.status.parents[0];
    assert.deepEqual(parent.parentRef, {
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: "inference-gateway",
    });
    assert.equal(parent.controllerName, SEED_CONTROLLER_NAME);
    assert.deepEqual(summary(parent.conditions), { Accepted: "True/Accepted", ResolvedRefs: "False/BackendNotFound" });
    assert.match(
      cond(parent.conditions, "ResolvedRefs").message,
      /InferencePool default\/qwen-inference-pool not found/,
    );
    for (const c of parent.conditions) assert.equal(c.observedGeneration, route.metadata.generation);

    // A claimed Gateway exists: the table routes by its routes (version 2); the invalid backend takes
    // its share as 500.
    const t = await pushed("a version-2 table", (x) => x.version === 2 && (x.routes?.length ?? 0) === 1);
    assert.deepEqual(t.routes, [
      {
        route: "default/inference-route",
        rule: 0,
        match: 0,
        path: { type: "PathPrefix", value: "/v1" },
        headers: [],
        backends: [{ pool: null, weight: 1, error: "InferencePool default/qwen-inference-pool not found" }],
      },
    ]);
  });

  test("Step 1's pool appears: ResolvedRefs turns True and the route reaches the pool in the pushed table", async () => {
    await kubectl(["create", "-f", join(FIXTURES, "seed-000-default-single-vllm.yaml")]);
    await until("ResolvedRefs True", async () => {
      const o = await get(`${GW}/namespaces/${NS}/httproutes/inference-route`);
      return cond(o.status?.parents?.[0]?.conditions, "ResolvedRefs")?.status === "True";
    });
    const t = await pushed(
      "the route to the pool",
      (x) => x.routes?.[0]?.backends[0]?.pool === "default/qwen-inference-pool",
    );
    assert.deepEqual(t.models, [
      {
        name: SEED_MODEL,
        pool: "default/qwen-inference-pool",
        criticality: "Critical",
        priority: 1,
        targets: [{ name: SEED_MODEL, weight: 100 }],
      },
    ]);
    assert.equal((await debugTable()).generation >= t.generation, true, "/debug/table shows the same table");
    assert.deepEqual((await debugTable()).routes, t.routes);
  });

  test("editing the HTTPRoute (a second rule with a header match, to a second pool) is reflected live", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata:
  name: qwen-pool-b
spec:
  targetPortNumber: 8000
  selector:
    app: pool-b
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata:
  name: qwen-on-b
spec:
  modelName: ${SEED_MODEL}
  criticality: Standard
  poolRef:
    name: qwen-pool-b
`,
    );
    const t0 = Date.now();
    await mergePatch(`${GW}/namespaces/${NS}/httproutes/inference-route`, {
      spec: {
        rules: [
          {
            matches: [{ path: { type: "PathPrefix", value: "/v1" } }],
            backendRefs: [
              { name: "qwen-inference-pool", kind: "InferencePool", group: "inference.networking.x-k8s.io" },
            ],
          },
          {
            matches: [{ path: { type: "PathPrefix", value: "/v1" }, headers: [{ name: "X-Pool", value: "b" }] }],
            backendRefs: [{ name: "qwen-pool-b", kind: "InferencePool", group: "inference.networking.x-k8s.io" }],
          },
        ],
      },
    });
    const t = await pushed("two route entries", (x) => x.routes?.length === 2);
    const ms = Date.now() - t0;
    assert.deepEqual(
      t.routes!.map((r) => [r.rule, r.headers, r.backends.map((b) => b.pool)]),
      [
        [1, [{ name: "x-pool", value: "b" }], ["default/qwen-pool-b"]], // more header matches first
        [0, [], ["default/qwen-inference-pool"]],
      ],
    );
    assert.deepEqual(
      t.models.map((m) => [m.name, m.pool, m.priority]),
      [
        [SEED_MODEL, "default/qwen-inference-pool", 1],
        [SEED_MODEL, "default/qwen-pool-b", 0],
      ],
      "one model name on two pools: models are keyed by (name, pool) once routes exist",
    );
    console.log(`# HTTPRoute edit → pushed table in ${ms} ms`);
    const route = await get(`${GW}/namespaces/${NS}/httproutes/inference-route`);
    await until("the new generation observed", async () => {
      const o = await get(`${GW}/namespaces/${NS}/httproutes/inference-route`);
      return o.status.parents[0].conditions.every((c: any) => c.observedGeneration === route.metadata.generation);
    });
  });

  test("a listener on a port the chart does not expose is not programmed, with the reason", async () => {
    await mergePatch(`${GW}/namespaces/${NS}/gateways/inference-gateway`, {
      spec: {
        listeners: [
          { name: "http-llm", protocol: "HTTP", port: 8080 },
          { name: "extra", protocol: "HTTP", port: 9000 },
        ],
      },
    });
    const gw = await until("listener extra reported", async () => {
      const o = await get(`${GW}/namespaces/${NS}/gateways/inference-gateway`);
      return o.status?.listeners?.length === 2 ? o : undefined;
    });
    const extra = gw.status.listeners.find((l: any) => l.name === "extra");
    assert.deepEqual(summary(extra.conditions), {
      Accepted: "False/PortUnavailable",
      Programmed: "False/Invalid",
      ResolvedRefs: "True/ResolvedRefs",
      Conflicted: "False/NoConflicts",
    });
    assert.match(
      cond(extra.conditions, "Accepted").message,
      /port 9000 is not exposed by Service infergate-system\/infergate \(ports: 8080\)/,
    );
    assert.deepEqual(summary(gw.status.conditions), {
      Accepted: "True/ListenersNotValid",
      Programmed: "True/Programmed",
    });
    for (const c of gw.status.conditions) assert.equal(c.observedGeneration, gw.metadata.generation);
    // Back to the seed's listener alone.
    await mergePatch(`${GW}/namespaces/${NS}/gateways/inference-gateway`, {
      spec: { listeners: [{ name: "http-llm", protocol: "HTTP", port: 8080 }] },
    });
    await until("one listener again", async () => {
      const o = await get(`${GW}/namespaces/${NS}/gateways/inference-gateway`);
      return o.status.listeners.length === 1 && cond(o.status.conditions, "Accepted").reason === "Accepted";
    });
  });

  test("a load-balancer address, once the Service has one, is the Gateway's address (the seed's Step 3 returns it)", async () => {
    // service.type=LoadBalancer in the chart's values; a cloud controller then writes the ingress.
    await mergePatch(`/api/v1/namespaces/${SVC.namespace}/services/${SVC.name}`, { spec: { type: "LoadBalancer" } });
    await mergePatch(`/api/v1/namespaces/${SVC.namespace}/services/${SVC.name}/status`, {
      status: { loadBalancer: { ingress: [{ ip: "203.0.113.10" }] } },
    });
    await until("LB address", async () => {
      const o = await get(`${GW}/namespaces/${NS}/gateways/inference-gateway`);
      return o.status.addresses?.[0]?.value === "203.0.113.10";
    });
    assert.equal(
      await kubectl(["get", "gateway/inference-gateway", "-o", "jsonpath={.status.addresses[0].value}"]),
      "203.0.113.10",
    );
  });

  test("InferenceObjective and InferenceModelRewrite land in the table; conflicts with the InferenceModel warn with Events", async () => {
    await kubectl(
      ["apply", "-f", "-"],
      `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata:
  name: gold
spec:
  priority: 10
  poolRef:
    name: qwen-inference-pool
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata:
  name: qwen-inference-model
spec:
  priority: -1
  poolRef:
    name: qwen-inference-pool
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModelRewrite
metadata:
  name: qwen-canary
spec:
  poolRef:
    name: qwen-inference-pool
  rules:
  - matches:
    - model:
        value: ${SEED_MODEL}
    targets:
    - modelRewrite: ${SEED_MODEL}
      weight: 90
    - modelRewrite: qwen-canary-lora
      weight: 10
`,
    );
    const t = await pushed(
      "objectives and the rewrite",
      (x) => x.objectives.length === 2 && x.models.some((m) => m.targets.some((tt) => tt.name === "qwen-canary-lora")),
    );
    // The CRD defaulted poolRef.group to inference.networking.k8s.io; the pool is found by namespace/name.
    assert.deepEqual(t.objectives, [
      { name: "gold", pool: "default/qwen-inference-pool", priority: 10 },
      { name: "qwen-inference-model", pool: "default/qwen-inference-pool", priority: -1 },
    ]);
    const m = t.models.find((x) => x.pool === "default/qwen-inference-pool")!;
    assert.deepEqual(m, {
      name: SEED_MODEL,
      pool: "default/qwen-inference-pool",
      criticality: "Sheddable",
      priority: -1,
      targets: [
        { name: SEED_MODEL, weight: 90 },
        { name: "qwen-canary-lora", weight: 10 },
      ],
    });
    const reasons = await until("warning Events on the InferenceModel", async () => {
      const r = await get(
        `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent("involvedObject.name=qwen-inference-model")}`,
      );
      const rs = (r.items as any[]).filter((e) => e.involvedObject.kind === "InferenceModel").map((e) => e.reason);
      return rs.includes("PriorityOverridden") && rs.includes("TargetModelsOverridden") ? rs : undefined;
    });
    assert.ok(reasons.length >= 2);
    assert.ok(
      logger.lines.some((l) => /PriorityOverridden/.test(JSON.stringify(l))),
      "and a log line",
    );
  });

  test("route parents of other controllers are kept; two control planes settle on one status without a write loop", async () => {
    const path = `${GW}/namespaces/${NS}/httproutes/inference-route`;
    const cur = await get(path);
    const foreign = {
      parentRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "other-gateway" },
      controllerName: "example.net/other-controller",
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: "theirs",
          observedGeneration: cur.metadata.generation,
          lastTransitionTime: "2026-01-01T00:00:00Z",
        },
      ],
    };
    await mergePatch(`${path}/status`, { status: { parents: [...cur.status.parents, foreign] } });
    // Something of ours changes (a rule's weight): our entry is rewritten, theirs stays.
    await mergePatch(path, {
      metadata: { annotations: { touched: "1" } },
      spec: { rules: cur.spec.rules.slice(0, 1) },
    });
    const after = await until("our parent at the new generation", async () => {
      const o = await get(path);
      const ours = o.status.parents.find((p: any) => p.controllerName === SEED_CONTROLLER_NAME);
      return ours?.conditions[0].observedGeneration === o.metadata.generation ? o : undefined;
    });
    assert.deepEqual(
      after.status.parents.find((p: any) => p.controllerName === "example.net/other-controller"),
      foreign,
    );

    // A second gateway replica (its own control plane, same cluster state): it finds nothing to write.
    const second = await gatewayControlPlane([], memoryLogger());
    try {
      const versions = async () =>
        (
          await Promise.all([
            get(`${GW}/gatewayclasses/inference-gateway-class`),
            get(`${GW}/namespaces/${NS}/gateways/inference-gateway`),
            get(path),
          ])
        ).map((o) => o.metadata.resourceVersion);
      const writes = () => [cp, second].map((c) => c.kubeSource!.status().gatewayStatusWrites!.writes);
      await sleep(1500); // let both settle
      const v0 = await versions();
      const w0 = writes();
      await sleep(3000); // several rebuilds and heartbeats of both
      assert.deepEqual(await versions(), v0, "the objects do not change while nothing changes");
      assert.deepEqual(writes(), w0, "and no control plane sends a (no-op) status write");
      assert.equal(second.kubeSource!.status().gatewayStatusWrites!.failures, 0);
      assert.equal(cp.kubeSource!.status().gatewayStatusWrites!.failures, 0, "the chart's RBAC allows every write");
    } finally {
      await second.stop();
    }
  });
});
