// --source kubernetes on the command line: flags accepted, mixed-up flags refused with a clear message.

import assert from "node:assert/strict";
import { test } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { parseCli, UsageError } from "../../controlplane/cli.js";
import { startControlPlane } from "../../controlplane/control-plane.js";
import { memoryLogger } from "../../controlplane/log.js";

const base = ["--envoy-control", "http://127.0.0.1:9901", "--token", "t"];

test("--source kubernetes with its flags", () => {
  const r = parseCli([
    "--source",
    "kubernetes",
    "--kubeconfig",
    "/tmp/kc",
    "--namespace",
    "llm",
    "--resync",
    "2m",
    ...base,
  ]);
  assert.equal(r.options.source, "kubernetes");
  assert.equal(r.options.kubeconfigPath, "/tmp/kc");
  assert.equal(r.options.namespace, "llm");
  assert.equal(r.options.resyncMs, 120_000);
  assert.equal(r.options.allNamespaces, false);
  assert.equal(parseCli(["--source", "kubernetes", "--all-namespaces", ...base]).options.allNamespaces, true);
  const gw = parseCli([
    "--source",
    "kubernetes",
    "--gateway-service",
    "infergate-system/infergate",
    "--gateway-controller-name",
    "example.net/gateway",
    ...base,
  ]).options;
  assert.equal(gw.gatewayService, "infergate-system/infergate");
  assert.deepEqual(gw.gatewayControllerNames, ["example.net/gateway"]);
});

test("mixed-up source flags are refused", () => {
  const bad = (args: string[], re: RegExp) =>
    assert.throws(
      () => parseCli([...args, ...base]),
      (e: unknown) => e instanceof UsageError && re.test((e as Error).message),
    );
  bad(["--source", "kubernetes", "--file", "x.yaml"], /--file applies to --source file only/);
  bad(
    ["--source", "file", "--file", "x.yaml", "--kubeconfig", "k"],
    /--kubeconfig applies to --source kubernetes only/,
  );
  bad(["--source", "kubernetes", "--namespace", "a", "--all-namespaces"], /not both/);
  bad(["--source", "etcd"], /must be "file" or "kubernetes"/);
  bad(["--source", "kubernetes", "--resync", "soon"], /--resync/);
  bad(
    ["--source", "file", "--file", "x.yaml", "--gateway-service", "a/b"],
    /--gateway-service applies to --source kubernetes/,
  );
  bad(["--source", "kubernetes", "--gateway-service", "infergate"], /expected NAMESPACE\/NAME/);
});

test("an unreachable API server: start fails within the sync timeout, saying which resources did not list", async () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:1", skipTLSVerify: true }],
    users: [{ name: "u", token: "x" }],
    contexts: [{ name: "c", cluster: "c", user: "u" }],
    currentContext: "c",
  });
  const t0 = Date.now();
  await assert.rejects(
    startControlPlane({
      source: "kubernetes",
      kubeConfig: kc,
      envoyControl: [],
      token: "t",
      syncTimeoutMs: 800,
      kubeBackoffMinMs: 50,
      kubeBackoffMaxMs: 100,
      logger: memoryLogger(),
    }),
    /no initial list within 800 ms from https:\/\/127\.0\.0\.1:1 \(inferencepools.*ECONNREFUSED/,
  );
  assert.ok(Date.now() - t0 < 3000);
});
