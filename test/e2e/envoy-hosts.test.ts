// The control plane's view of the pods as real Envoy holds them (controlplane/envoy-endpoints/
// envoy-hosts.ts) when it probes a few cluster stats instead of reading /clusters on every poll:
// every change of the pods cluster that the table needs must move one of those stats. Here the
// probe is the only way a change can be seen (its reconciling /clusters read is an hour away), so a
// change the stats miss leaves the view stale and the test fails. Ejection by outlier detection
// through the same path is in failover.test.ts.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { EnvoyHosts } from "../../controlplane/envoy-endpoints/envoy-hosts.js";
import { createLogger } from "../../controlplane/log.js";
import { type LocalGateway, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { eventually, setFaults } from "./helpers.js";

describe("Envoy's host view from probed cluster stats alone", { timeout: 120_000 }, () => {
  let gw: LocalGateway;
  let hosts: EnvoyHosts;
  let polls = 0;
  before(async () => {
    // Pod 2 is not in the pool yet: the test adds it.
    gw = await startLocalGateway({ fleet: { pods: 3 }, pool: { removed: ["pod-2"] } });
    assert.equal(gw.fleet.pods[2]!.name, "pod-2");
    hosts = new EnvoyHosts({
      admins: [gw.envoys[0]!.adminUrl],
      logger: createLogger({ component: "test", level: "error" }),
      onChange: () => {},
      probeFromHosts: 1,
      fullReadEveryMs: 3_600_000,
    });
  });
  after(async () => {
    await gw?.stop();
  });

  /** Polls (as the control plane's loop would) until `pred` holds; the time it took. */
  const until = (pred: () => boolean, timeoutMs: number) =>
    eventually(async () => {
      await hosts.pollAll();
      polls++;
      return pred();
    }, timeoutMs);
  const state = (i: number) => hosts.state(gw.fleet.pods[i]!.address);

  test("a pod added, failing and passing its health check, removed", async () => {
    await until(() => state(0) === "ok" && state(1) === "ok", 20_000);
    assert.equal(state(2), "absent");
    const readsAtStart = hosts.status()[0]!.fullReads;
    // Nothing changes: probes only.
    for (let i = 0; i < 10; i++) await hosts.pollAll();
    assert.equal(hosts.status()[0]!.fullReads, readsAtStart, "no /clusters read while nothing moves");

    // Pod 2 joins (membership_total, membership_change; then health_check.healthy as it passes).
    gw.writeConfig({});
    await until(() => state(2) === "ok", 10_000);
    // Pod 0 fails its health check (2 x 1 s interval), then passes again.
    await setFaults(gw.fleet.pods[0]!.url, { healthDown: true });
    await until(() => state(0) === "unhealthy", 10_000);
    await setFaults(gw.fleet.pods[0]!.url, null);
    await until(() => state(0) === "ok", 10_000);
    // Pod 1 leaves the pool. With active health checks Envoy keeps a host removed from EDS until it
    // fails them (ignore_health_on_host_removal is off), so it leaves Envoy once its health fails.
    gw.writeConfig({ removed: ["pod-1"] });
    await setFaults(gw.fleet.pods[1]!.url, { healthDown: true });
    await until(() => state(1) === "absent", 10_000);
    const s = hosts.status()[0]!;
    assert.ok(s.probes >= polls, `every poll probed (${s.probes} probes, ${polls} polls)`);
    // A /clusters read only when a stat moved: a few per change, not one per poll.
    assert.ok(s.fullReads - readsAtStart <= 12, `${s.fullReads - readsAtStart} /clusters reads in ${polls} polls`);
  });
});
