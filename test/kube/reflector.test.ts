// The list+watch loop (controlplane/sources/reflector.ts) alone, against a real kube-apiserver whose
// watch cache is off (--watch-cache=false: watches read etcd directly), so compacting etcd makes an
// old resourceVersion really "too old": the server answers 410 Gone and the loop must relist.
// Also: a resource whose CRD is not installed yet (404) counts as synced-and-empty and is found once
// the CRD exists; a dropped watch resumes without losing events; the API server down keeps the cache.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { memoryLogger } from "../../controlplane/log.js";
import { KubeClient, type Obj } from "../../controlplane/sources/kube-client.js";
import { Reflector } from "../../controlplane/sources/reflector.js";
import { eventually } from "../e2e/helpers.js";
import { type Kube, ourCrdFiles, startKube } from "../harness/kube.js";

let kube: Kube;
let client: KubeClient;
const reflectors: Reflector[] = [];

function reflector(path: string, opts: { missingRetryMs?: number; fieldSelector?: string } = {}) {
  const seen: { type: string; name: string }[] = [];
  const logger = memoryLogger();
  const r = new Reflector({
    name: path,
    path,
    client,
    logger,
    handler: {
      apply: (cs) => {
        for (const c of cs) seen.push({ type: c.type, name: c.obj.metadata?.name });
      },
    },
    resyncMs: 600_000,
    backoffMinMs: 50,
    backoffMaxMs: 500,
    missingRetryMs: opts.missingRetryMs ?? 300,
    watchTimeoutSeconds: 60,
    fieldSelector: opts.fieldSelector,
  });
  reflectors.push(r);
  r.start();
  return { r, seen, logger };
}

const cm = (name: string, v: string): Obj => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { v } });
const CMS = "/api/v1/namespaces/default/configmaps";

describe("reflector: list+watch against a real API server", { timeout: 90_000 }, () => {
  before(async () => {
    kube = await startKube({ apiServerArgs: ["--watch-cache=false"] });
    client = new KubeClient(kube.kubeConfig);
  });
  after(async () => {
    await Promise.all(reflectors.map((r) => r.stop()));
    await kube?.stop();
  });

  test("410 Gone after etcd compaction: relists, and ends with the server's exact state", {
    timeout: 20_000,
  }, async () => {
    await client.request("POST", CMS, cm("a", "1"));
    const { r, seen } = reflector(CMS);
    await r.synced();
    assert.ok(seen.some((s) => s.name === "a" && s.type === "add"));
    const oldRv = r.status.resourceVersion;
    await client.request("POST", CMS, cm("b", "1"));
    await client.request("DELETE", `${CMS}/a`);
    const head = await client.list(CMS);
    const res = await fetch(`${kube.etcdUrl}/v3/kv/compaction`, {
      method: "POST",
      body: JSON.stringify({ revision: head.resourceVersion, physical: true }),
    });
    assert.equal(res.status, 200, await res.text());
    // As if the watch had missed a deletion: a phantom in the cache that only a relist can correct.
    r.objects.set("default/phantom", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "phantom", namespace: "default", resourceVersion: "1" },
    });
    const lists = r.status.lists;
    r.setResourceVersion(oldRv); // compacted away: the next watch gets 410 Gone
    r.dropWatch();
    await eventually(async () => r.status.gone >= 1 && r.status.lists > lists, 5000, 20);
    assert.ok(
      !r.objects.has("default/phantom") && r.objects.has("default/b") && !r.objects.has("default/a"),
      [...r.objects.keys()].join(),
    );
    assert.ok(
      seen.some((s) => s.name === "phantom" && s.type === "delete"),
      "the relist delivered the missed deletion",
    );
    assert.equal(r.status.failures, 0, "410 is not a failure: no backoff");
    // And it watches again afterwards.
    await client.request("POST", CMS, cm("c", "1"));
    await eventually(async () => r.objects.has("default/c"), 3000, 20);
  });

  test("a dropped watch resumes from the last resourceVersion: nothing missed, nothing relisted", {
    timeout: 20_000,
  }, async () => {
    const { r, seen } = reflector(CMS);
    await r.synced();
    const lists = r.status.lists;
    r.dropWatch();
    await client.request("POST", CMS, cm("d", "1"));
    await eventually(async () => r.objects.has("default/d"), 3000, 20);
    assert.equal(r.status.lists, lists, "resumed the watch without a relist");
    assert.ok(seen.some((s) => s.name === "d" && s.type === "add"));
  });

  test("a field selector narrows list and watch to one object (the Gateway controller's own Service)", {
    timeout: 20_000,
  }, async () => {
    await client.request("POST", CMS, cm("only-me", "1"));
    const { r, seen } = reflector(CMS, { fieldSelector: "metadata.name=only-me" });
    await r.synced();
    assert.deepEqual([...r.objects.keys()], ["default/only-me"], "listed: just the selected object");
    await client.request("POST", CMS, cm("not-me", "1"));
    await client.request("PUT", `${CMS}/only-me`, cm("only-me", "2"));
    await eventually(async () => r.objects.get("default/only-me")?.data?.v === "2", 3000, 20);
    assert.ok(!seen.some((s) => s.name === "not-me"), "watched: nothing else");
  });

  test("a resource that is not served yet (CRD missing) is synced-and-empty, then found", {
    timeout: 30_000,
  }, async () => {
    const path = "/apis/inference.networking.x-k8s.io/v1alpha2/namespaces/default/inferencemodels";
    const { r, logger } = reflector(path, { missingRetryMs: 300 });
    await r.synced();
    assert.equal(r.status.missing, true);
    assert.ok(logger.lines.some((l) => l.level === "warn" && /CRD not installed/.test(l.msg)));
    await kube.installCrds(ourCrdFiles());
    const res = await client.request("POST", path, {
      apiVersion: "inference.networking.x-k8s.io/v1alpha2",
      kind: "InferenceModel",
      metadata: { name: "m" },
      spec: { modelName: "x", poolRef: { name: "p" } },
    });
    assert.equal(res.metadata.name, "m");
    await eventually(async () => r.objects.has("default/m"), 10_000, 50);
    assert.equal(r.status.missing, false);
  });

  test("API server down: the cache is kept, failures back off, and the loop recovers by relisting", {
    timeout: 40_000,
  }, async () => {
    const { r } = reflector(CMS);
    await r.synced();
    const before = r.objects.size;
    const lists = r.status.lists;
    await kube.restart();
    assert.equal(r.objects.size, before, "nothing dropped while the server was away");
    await client.request("POST", CMS, cm("after-restart", "1"));
    await eventually(async () => r.objects.has("default/after-restart"), 10_000, 50);
    assert.ok(r.status.lists > lists || r.status.watches > 1);
  });
});
