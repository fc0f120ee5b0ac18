// The Kubernetes test harness itself: pods that point at loopback, an API server restart that keeps
// the data (etcd stays up), and a clean stop.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { CoreV1Api, Watch } from "@kubernetes/client-node";
import { type Kube, startKube } from "../harness/kube.js";

let kube: Kube;

describe("kube harness", { timeout: 180_000 }, () => {
  before(async () => {
    kube = await startKube();
    console.log(`# kube-apiserver ready in ${kube.apiServerStartMs} ms`);
  });
  after(async () => {
    await kube?.stop();
  });

  test("the default namespace exists and the admin kubeconfig works", async () => {
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await core.readNamespace({ name: "default" });
    assert.equal(ns.metadata?.name, "default");
    assert.ok(existsSync(kube.kubeconfigPath));
    if (kube.hasKubectl) {
      const r = await kube.kubectl(["get", "namespace", "default", "-o", "name"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "namespace/default");
    }
  });

  test("createPod: a Running, Ready pod on loopback, selectable by label", async () => {
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    await kube.createPod("sim-0", { app: "vllm-app", role: "leader" }, { ip: "127.0.0.1", ready: true, port: 8000 });
    await kube.createPod("sim-1", { app: "vllm-app" }, { ip: "127.0.0.2", ready: false });
    const pods = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=vllm-app" });
    const byName = new Map(pods.items.map((p) => [p.metadata!.name!, p]));
    const p0 = byName.get("sim-0")!;
    assert.equal(p0.status?.phase, "Running");
    assert.equal(p0.status?.podIP, "127.0.0.1");
    assert.equal(p0.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
    const p1 = byName.get("sim-1")!;
    assert.equal(p1.status?.podIP, "127.0.0.2");
    assert.equal(p1.status?.conditions?.find((c) => c.type === "Ready")?.status, "False");

    await kube.setPodStatus("sim-1", { ip: "127.0.0.2", ready: true });
    const again = await core.readNamespacedPod({ name: "sim-1", namespace: "default" });
    assert.equal(again.status?.conditions?.find((c) => c.type === "Ready")?.status, "True");

    await kube.deletePod("sim-1");
    const left = await core.listNamespacedPod({ namespace: "default", labelSelector: "app=vllm-app" });
    assert.deepEqual(
      left.items.map((p) => p.metadata?.name),
      ["sim-0"],
    );
  });

  test("restart: the API server answers again, with the data kept; a watch sees it end", async () => {
    const core = kube.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "survives-restart" }, data: { k: "v" } },
    });
    // A watch open across the restart must end (the control plane then relists: its job, not ours).
    let watchEnded!: () => void;
    const ended = new Promise<void>((r) => (watchEnded = r));
    const req = await new Watch(kube.kubeConfig).watch(
      "/api/v1/namespaces/default/configmaps",
      {},
      () => {},
      () => watchEnded(),
    );
    const t0 = Date.now();
    await kube.restart();
    console.log(`# kube-apiserver restarted in ${Date.now() - t0} ms (ready after ${kube.apiServerStartMs} ms)`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      ended,
      new Promise((_, rej) => (timer = setTimeout(() => rej(new Error("watch did not end")), 15_000))),
    ]);
    clearTimeout(timer);
    req.abort();
    const cm = await core.readNamespacedConfigMap({ name: "survives-restart", namespace: "default" });
    assert.equal(cm.data?.k, "v");
    const pods = await core.listNamespacedPod({ namespace: "default" });
    assert.ok(
      pods.items.some((p) => p.metadata?.name === "sim-0"),
      "pods kept across the restart",
    );
  });

  test("stop: processes gone and the temp dir removed", async () => {
    const dir = kube.dir;
    await kube.stop();
    assert.ok(!existsSync(dir), `${dir} removed`);
    await assert.rejects(
      kube.kubeConfig.makeApiClient(CoreV1Api).readNamespace({ name: "default" }),
      "the API server no longer answers",
    );
  });
});
