// The pods cluster's endpoint feed: the ClusterLoadAssignment built from a table, the atomic file
// writer, Envoy admin parsing, and how Envoy's verdict folds into the table's readiness.

import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { EndpointsFile, ensureEndpointsFile } from "../../controlplane/envoy-endpoints/endpoints-file.js";
import {
  type EnvoyHostState,
  EnvoyHosts,
  parseAdminClusters,
  probeQuery,
} from "../../controlplane/envoy-endpoints/envoy-hosts.js";
import { loadAssignment } from "../../controlplane/envoy-endpoints/load-assignment.js";
import { createLogger } from "../../controlplane/log.js";
import type { ResolvedModel } from "../../controlplane/model/types.js";
import { TableBuilder } from "../../controlplane/table/builder.js";

const ep = (name: string, address: string) => ({ name, address }) as never;

test("every pod once, with the pools it serves as envoy.lb metadata, sorted; IPv6 unbracketed", () => {
  const cla = loadAssignment({
    pools: [
      { id: "ns/b", endpoints: [ep("p2", "10.0.0.2:8000"), ep("p1", "10.0.0.1:8000")] },
      { id: "ns/a", endpoints: [ep("p1", "10.0.0.1:8000"), ep("v6", "[fd00::1]:8000")] },
    ] as never,
  });
  assert.equal(cla.cluster_name, "infergate_pods");
  const eps = cla.endpoints[0]!.lb_endpoints;
  assert.deepEqual(
    eps.map((e) => [
      e.endpoint.address.socket_address.address,
      e.endpoint.hostname,
      e.metadata.filter_metadata["envoy.lb"].pool,
    ]),
    [
      ["10.0.0.1", "p1", ["ns/a", "ns/b"]],
      ["10.0.0.2", "p2", ["ns/b"]],
      ["fd00::1", "v6", ["ns/a"]],
    ],
  );
});

test("the endpoints file is replaced by rename, rewritten only when it changes, and created empty for Envoy's start", () => {
  const dir = mkdtempSync(join(tmpdir(), "eds-"));
  try {
    const path = ensureEndpointsFile(dir);
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")).resources[0].endpoints, [{ lb_endpoints: [] }]);
    const f = new EndpointsFile(dir);
    const cla = loadAssignment({ pools: [{ id: "ns/a", endpoints: [ep("p1", "10.0.0.1:8000")] }] as never });
    assert.equal(f.write(cla), true);
    assert.equal(f.write(cla), false);
    assert.equal(f.writes, 1);
    assert.equal(JSON.parse(readFileSync(path, "utf8")).resources[0].cluster_name, "infergate_pods");
    assert.deepEqual(readdirSync(dir), ["endpoints.json"], "no temporary file left behind");
    // A new writer (restarted control plane) does not rewrite identical bytes.
    assert.equal(new EndpointsFile(dir).write(cla), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("Envoy admin /clusters: present, ejected, failing or pending health check", () => {
  const hosts = parseAdminClusters(
    {
      cluster_statuses: [
        { name: "other", host_statuses: [] },
        {
          name: "infergate_pods",
          host_statuses: [
            {
              address: { socket_address: { address: "10.0.0.1", port_value: 8000 } },
              health_status: { eds_health_status: "HEALTHY" },
            },
            {
              address: { socket_address: { address: "10.0.0.2", port_value: 8000 } },
              health_status: { failed_outlier_check: true },
            },
            {
              address: { socket_address: { address: "10.0.0.3", port_value: 8000 } },
              health_status: { pending_active_hc: true },
            },
            {
              address: { socket_address: { address: "fd00::1", port_value: 8000 } },
              health_status: { failed_active_health_check: true },
            },
          ],
        },
      ],
    },
    "infergate_pods",
  )!;
  assert.deepEqual(Object.fromEntries(hosts), {
    "10.0.0.1:8000": { ejected: false, unhealthy: false },
    "10.0.0.2:8000": { ejected: true, unhealthy: false },
    "10.0.0.3:8000": { ejected: false, unhealthy: true },
    "[fd00::1]:8000": { ejected: false, unhealthy: true },
  });
  assert.equal(parseAdminClusters({ cluster_statuses: [] }, "infergate_pods"), null);
});

function model(addresses: string[]): ResolvedModel {
  return {
    pools: [
      {
        id: "ns/p",
        strategy: "DEFAULT",
        runtime: "vllm",
        prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000 },
        queue: { enabled: false, capacityBytes: 1, ttlMs: 1 },
        endpoints: addresses.map((a, i) => ({ name: `p${i}`, namespace: "ns", address: a, ready: true, role: "both" })),
      },
    ],
    models: [],
    objectives: [],
    routes: null,
    gatewayStatus: null,
    problems: [],
  } as unknown as ResolvedModel;
}

test("Envoy's verdict decides readiness; ejection never empties a pool; a change is a new generation", () => {
  const states = new Map<string, EnvoyHostState>();
  const b = new TableBuilder({ stalenessMs: 3000, envoyHostState: (a) => states.get(a) ?? "ok" });
  const m = model(["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000"]);
  const ready = () =>
    b.build(m, () => undefined).table.pools[0]!.endpoints.map((e) => `${e.ready ? "R" : "-"}${e.envoy}`);
  assert.deepEqual(ready(), ["Rok", "Rok", "Rok"]);
  states.set("10.0.0.1:8000", "absent");
  states.set("10.0.0.2:8000", "ejected");
  states.set("10.0.0.3:8000", "unhealthy");
  const r = b.build(m, () => undefined);
  assert.equal(r.changed, true);
  // Every pod out: the ejected one stays (the absent and unhealthy ones cannot be used at all).
  assert.deepEqual(ready(), ["-absent", "Rejected", "-unhealthy"]);
  states.set("10.0.0.3:8000", "ok");
  assert.deepEqual(ready(), ["-absent", "-ejected", "Rok"]);
});

test("P/D: ejection never empties one role either (ready prefill pods do not stand in for decode pods)", () => {
  const states = new Map<string, EnvoyHostState>();
  const b = new TableBuilder({ stalenessMs: 3000, envoyHostState: (a) => states.get(a) ?? "ok" });
  const m = model(["10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.3:8000", "10.0.0.4:8000"]);
  const roles = ["prefill", "prefill", "decode", "decode"] as const;
  m.pools[0].endpoints.forEach((e, i) => (e.role = roles[i]));
  const ready = () =>
    b.build(m, () => undefined).table.pools[0]!.endpoints.map((e) => `${e.role[0]}${e.ready ? "R" : "-"}${e.envoy}`);
  // One decode pod dead, the other ejected: the ejected one stays, as the last of its role.
  states.set("10.0.0.3:8000", "unhealthy");
  states.set("10.0.0.4:8000", "ejected");
  assert.deepEqual(ready(), ["pRok", "pRok", "d-unhealthy", "dRejected"]);
  // A ready decode pod again: the ejected one is out.
  states.set("10.0.0.3:8000", "ok");
  assert.deepEqual(ready(), ["pRok", "pRok", "dRok", "d-ejected"]);
});

test("the admin probe's stats filter names the cluster exactly (regex characters escaped)", () => {
  // Envoy's filter is RE2; these patterns mean the same in JavaScript.
  const re = (name: string) => new RegExp(new URLSearchParams(probeQuery(name).split("?")[1]).get("filter")!);
  const pods = re("infergate_pods");
  assert.ok(pods.test("cluster.infergate_pods.membership_healthy"));
  assert.ok(pods.test("cluster.infergate_pods.outlier_detection.ejections_enforced_total"));
  assert.ok(pods.test("cluster.infergate_pods.health_check.healthy"));
  assert.ok(!pods.test("cluster.infergate_pods.health_check.attempt"), "a counter that moves on every check");
  assert.ok(!pods.test("cluster.infergate_podsX.membership_healthy"));
  const dotted = re("pods.v1");
  assert.ok(dotted.test("cluster.pods.v1.membership_total"));
  assert.ok(!dotted.test("cluster.podsXv1.membership_total"), "a dot in the name matches only a dot");
});

test("Envoy's host view: /clusters read first, again only when the probed stats move or the view is 5 s old", async () => {
  // A stand-in for Envoy's admin (NOT Envoy: test/e2e/failover.test.ts runs this against real Envoy):
  // it answers the probe with `stats` and /clusters with one host, `ejected` or not, counting reads.
  const admin = {
    stats: [{ name: "cluster.infergate_pods.membership_healthy", value: 1 }],
    ejected: false,
    clusters: 0,
    failNext: false,
  };
  const server = createServer((req, res) => {
    if (admin.failNext) {
      admin.failNext = false;
      res.statusCode = 500;
      return res.end();
    }
    if (req.url?.startsWith("/stats?")) return res.end(JSON.stringify({ stats: admin.stats }));
    admin.clusters++;
    const host = {
      address: { socket_address: { address: "10.0.0.1", port_value: 8000 } },
      health_status: { failed_outlier_check: admin.ejected },
    };
    res.end(JSON.stringify({ cluster_statuses: [{ name: "infergate_pods", host_statuses: [host] }] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  let now = 1000;
  let changes = 0;
  const hosts = new EnvoyHosts({
    admins: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
    logger: createLogger({ component: "test", level: "error" }),
    onChange: () => changes++,
    now: () => now,
    probeFromHosts: 1,
  });
  try {
    await hosts.pollAll();
    assert.equal(admin.clusters, 1, "the first poll reads the hosts");
    assert.equal(hosts.state("10.0.0.1:8000"), "ok");
    for (let i = 0; i < 5; i++) {
      now += 100;
      await hosts.pollAll();
    }
    assert.equal(admin.clusters, 1, "nothing moved: probes only");
    assert.equal(hosts.status()[0]!.ageMs, 0, "a probe that shows nothing moved keeps the view fresh");
    // The admin fails once, then answers a probe showing nothing moved: its error is cleared.
    admin.failNext = true;
    now += 100;
    await hosts.pollAll();
    assert.match(hosts.status()[0]!.lastError ?? "", /500/);
    now += 100;
    await hosts.pollAll();
    assert.equal(hosts.status()[0]!.lastError, null);
    assert.equal(admin.clusters, 1);
    // Outlier detection ejects the host: the gauges move, the next poll reads /clusters.
    admin.ejected = true;
    admin.stats = [{ name: "cluster.infergate_pods.membership_healthy", value: 0 }];
    now += 100;
    await hosts.pollAll();
    assert.equal(admin.clusters, 2);
    assert.equal(hosts.state("10.0.0.1:8000"), "ejected");
    assert.equal(changes, 2);
    // A change the stats do not show is still found by the read every 5 s.
    admin.ejected = false;
    now += 4000;
    await hosts.pollAll();
    assert.equal(hosts.state("10.0.0.1:8000"), "ejected", "within 5 s of the last read, the view holds");
    now += 1000;
    await hosts.pollAll();
    assert.equal(admin.clusters, 3);
    assert.equal(hosts.state("10.0.0.1:8000"), "ok");
    // An admin without those stats (another cluster name): every poll reads the hosts.
    admin.stats = [];
    for (let i = 0; i < 3; i++) {
      now += 100;
      await hosts.pollAll();
    }
    assert.equal(admin.clusters, 6);
    assert.deepEqual(
      { probes: hosts.status()[0]!.probes, fullReads: hosts.status()[0]!.fullReads },
      { probes: 13, fullReads: 6 },
    );
    // Below probeFromHosts (32 by default) /clusters is the cheaper read: no probe at all.
    const small = new EnvoyHosts({
      admins: [`http://127.0.0.1:${(server.address() as AddressInfo).port}`],
      logger: createLogger({ component: "test", level: "error" }),
      onChange: () => {},
      now: () => now,
    });
    for (let i = 0; i < 3; i++) await small.pollAll();
    assert.deepEqual(
      { probes: small.status()[0]!.probes, fullReads: small.status()[0]!.fullReads },
      { probes: 1, fullReads: 3 },
    );
  } finally {
    hosts.stop();
    await new Promise<void>((r) => server.close(() => r()));
  }
});
