// SGLang P/D from Kubernetes (issue 13): the seed's P/D InferencePool + InferenceTrafficPolicy
// created verbatim on a real kube-apiserver (test/harness/kube.ts), Pods labelled as a
// RoleBasedGroup labels its prefill and decode roles, each pointing at a simulated SGLang server on
// its own loopback IP at the seed's targetPortNumber, so the bootstrap server a decode pod dials is
// podIP:bootstrapPort exactly as in a cluster. Real Envoy with the filter; the control plane with
// --source kubernetes. Checked through routing and the filter's Request Handled lines.

import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type ControlPlane, startControlPlane } from "../../controlplane/control-plane.js";
import { memoryLogger } from "../../controlplane/log.js";
import { type EnvoyInstance, startEnvoy } from "../../scripts/lib/envoy-process.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { chat, eventually, post, SEED_MODEL } from "../e2e/helpers.js";
import { type Kube, startKube } from "../harness/kube.js";
import { type Fleet, startFleet } from "../sim/fleet.js";

const NS = "default";
const NET = `127.${100 + Math.floor(Math.random() * 100)}.${1 + Math.floor(Math.random() * 250)}`;
/** The seed's policy: kvTransfer.bootstrapPort. */
const POLICY_PORT = 34000;
/** One prefill pod serves its bootstrap elsewhere and says so with sglang-router's annotation. */
const OWN_PORT = 34017;
const RBG = "rolebasedgroup.workloads.x-k8s.io";
const pods: { name: string; role: string; ip: string; bootstrap?: number }[] = [
  { name: "sglang-pd-prefill-0", role: "prefill", ip: `${NET}.10` },
  { name: "sglang-pd-prefill-1", role: "prefill", ip: `${NET}.11`, bootstrap: OWN_PORT },
  { name: "sglang-pd-decode-0", role: "decode", ip: `${NET}.20` },
  { name: "sglang-pd-decode-1", role: "decode", ip: `${NET}.21` },
  // The RoleBasedGroup's router role: selected by the pool, but neither prefill nor decode.
  { name: "sglang-pd-router-0", role: "router", ip: `${NET}.30` },
];

let kube: Kube;
let fleet: Fleet;
let envoy: EnvoyInstance;
let cp: ControlPlane;
const logger = memoryLogger();

describe("kubernetes source: the seed's SGLang P/D manifest, RoleBasedGroup-labelled pods", {
  timeout: 150_000,
}, () => {
  before(async () => {
    // Each part is kept as soon as it is up, so that after() stops it even if another failed.
    const parts = await Promise.allSettled([
      startKube().then((k) => (kube = k)),
      startFleet({
        model: SEED_MODEL,
        runtime: "sglang",
        cacheReport: true,
        pods: pods.map((p) => ({
          name: p.name,
          role: p.role === "router" ? "both" : (p.role as "prefill" | "decode"),
          args: [
            "--host",
            p.ip,
            "--port",
            "8000",
            ...(p.role === "prefill" ? ["--bootstrap-port", String(p.bootstrap ?? POLICY_PORT)] : []),
          ],
        })),
      }).then((f) => (fleet = f)),
      startEnvoy({}).then((e) => (envoy = e)),
    ]);
    for (const p of parts) if (p.status === "rejected") throw p.reason;
    await kube.installCrds();
    const r = await kube.kubectl([
      "create",
      "-n",
      NS,
      "-f",
      join(REPO_ROOT, "test/kube/fixtures/seed-000-pd-sglang.yaml"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    // The seed's InferenceModel for the pool (its P/D section shows the pool and the policy only).
    const model = await kube.request(
      "POST",
      `/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/${NS}/inferencemodels`,
      {
        apiVersion: "inference.networking.x-k8s.io/v1alpha2",
        kind: "InferenceModel",
        metadata: { name: "qwen-inference-model" },
        spec: {
          modelName: SEED_MODEL,
          criticality: "Critical",
          poolRef: { group: "inference.networking.x-k8s.io", kind: "InferencePool", name: "qwen-inference-pool" },
          targetModels: [{ name: SEED_MODEL, weight: 100 }],
        },
      },
    );
    assert.ok(model.status < 300, JSON.stringify(model.body));
    for (const p of pods)
      await kube.createPod(
        p.name,
        {
          "alibabacloud.com/inference_backend": "sglang",
          [`${RBG}/name`]: "sglang-pd",
          [`${RBG}/role`]: p.role,
        },
        {
          ip: p.ip,
          port: 8000,
          ...(p.bootstrap ? { annotations: { "sglang.ai/bootstrap-port": String(p.bootstrap) } } : {}),
        },
      );
    cp = await startControlPlane({
      source: "kubernetes",
      kubeConfig: kube.kubeConfig,
      namespace: NS,
      envoyControl: [envoy.controlUrl],
      envoyEndpointsDir: envoy.endpointsDir,
      envoyAdmin: [envoy.adminUrl],
      token: envoy.token,
      scrapeIntervalMs: 100,
      logger,
    });
    await eventually(
      async () => (await post(envoy.url, "/v1/chat/completions", chat("ping"))).status === 200,
      20_000,
      100,
    );
  });

  after(async () => {
    await cp?.stop();
    await Promise.all([envoy?.stop(), fleet?.stop(), kube?.stop()]);
  });

  test("prefill and decode pods by the RoleBasedGroup role label, the annotated bootstrap port per pod, the router pod left out with a warning", async () => {
    const pool = cp.lastTable()!.pools[0];
    assert.deepEqual(pool.pd, { bootstrapPort: POLICY_PORT, prefillPolicy: "DEFAULT", decodePolicy: "DEFAULT" });
    const roles = Object.fromEntries(pool.endpoints.map((e) => [e.name, [e.role, e.address, e.bootstrapPort ?? null]]));
    assert.deepEqual(roles, {
      "sglang-pd-decode-0": ["decode", `${NET}.20:8000`, null],
      "sglang-pd-decode-1": ["decode", `${NET}.21:8000`, null],
      "sglang-pd-prefill-0": ["prefill", `${NET}.10:8000`, null],
      "sglang-pd-prefill-1": ["prefill", `${NET}.11:8000`, OWN_PORT],
    });
    const warning = logger.lines.find(
      (l) => l.level === "warn" && JSON.stringify(l.fields ?? {}).includes("sglang-pd-router-0"),
    );
    assert.ok(warning, "the router pod's role is reported");
    assert.match(JSON.stringify(warning!.fields), /needs \\"prefill\\" or \\"decode\\"; endpoint left out/);
  });

  test("requests are prefilled and decoded on pod IPs, each prefill pod reached at its own bootstrap port", async () => {
    const mark = envoy.handled().length;
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => post(envoy.url, "/v1/chat/completions", chat(`from kubernetes ${i}`))),
    );
    for (const r of replies) {
      assert.equal(r.status, 200, r.text);
      assert.match(r.pod!, /^sglang-pd-decode-/);
    }
    await eventually(async () => envoy.handled().length - mark >= 12, 5000);
    const lines = envoy.handled().slice(mark);
    const prefills = new Set<string>();
    for (const h of lines) {
      prefills.add(h.prefillPod as string);
      assert.equal(h.prefillStatus, 200);
      assert.equal(h.bootstrapPort, h.prefillPod === "sglang-pd-prefill-1" ? OWN_PORT : POLICY_PORT);
      assert.notEqual(h.pod, "sglang-pd-router-0");
    }
    assert.deepEqual([...prefills].sort(), ["sglang-pd-prefill-0", "sglang-pd-prefill-1"], "both prefill pods served");
  });
});
