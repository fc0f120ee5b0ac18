// Failing pods through real Envoy (issue 12): the pods cluster fed by the control plane (file EDS),
// override_host retries, outlier detection and active health checks relayed into the table, and
// what clients see. Simulator pods on loopback; faults by the simulator's /admin/faults and by
// signals to the pod processes. Every load is bounded in count and time.
//
// Parts that need the filter to list fallbacks (primary,fallback1,... in x-gateway-destination-
// endpoint) detect whether it does and skip with that reason otherwise.

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type LocalGateway, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import {
  filterWritesFallbacks,
  hostStats,
  kill,
  NEEDS_FILTER_FALLBACKS,
  type Outcome,
  request,
  sentAfter,
  signal,
  startLoad,
  summary,
  tableEndpoint,
  waitForEndpoint,
} from "./failover-helpers.js";
import { clearPodLogs, eventually, SEED_MODEL, servedCounts, setFaults, sleep } from "./helpers.js";

// Fast pods: failure handling, not model speed, is under test. Streams last ~8 x 15 ms.
const FAST = ["--prefill-overhead-ms", "1", "--inter-token-latency-ms", "15", "--prefill-time-per-token-ms", "0.01"];
const measured: Record<string, unknown> = {};
after(() => console.log(`# failover measurements: ${JSON.stringify(measured)}`));

const failed = (o: Outcome[]) => o.filter((x) => !x.complete);

describe("a pod failing every inference request while its metrics stay healthy", { timeout: 120_000 }, () => {
  let gw: LocalGateway;
  let fallbacks = false;
  before(async () => {
    // Probing Envoy's admin as for a fleet of 32 pods or more, so that ejections reach the table
    // through that path here (three pods would have /clusters read on every poll).
    gw = await startLocalGateway({ fleet: { pods: 3, args: FAST }, controlPlane: { envoyAdminProbeFromHosts: 1 } });
    fallbacks = await filterWritesFallbacks(gw);
  });
  after(async () => {
    await gw?.stop();
  });

  test("Envoy's view of the pods is probed by a few cluster stats: /clusters is read only when they move", async () => {
    // Envoy writes every host's stats into /clusters (6-10 ms of its CPU at 512 pods): read ten
    // times a second it cost Envoy more than its health checks. The ejection tests below show a
    // change still reaches the table within the same time (this gateway probes from 1 pod on).
    await waitForEndpoint(gw, gw.fleet.pods[0]!.name, (e) => e.ready && e.envoy === "ok", 40_000);
    const reads = async () => {
      const model = (await (await fetch(`http://${gw.controlPlane!.address}/debug/model`)).json()) as {
        envoyAdmin: { probes: number; fullReads: number }[];
      };
      return model.envoyAdmin[0]!;
    };
    const before = await reads();
    await sleep(2000);
    const after = await reads();
    const probes = after.probes - before.probes;
    const fullReads = after.fullReads - before.fullReads;
    measured.envoyAdminIn2s = { probes, fullReads };
    assert.ok(probes >= 10, `the admin is probed every 100 ms: ${probes} probes in 2 s`);
    // At most the 5 s reconciling read (and one for a health-check change landing in the window).
    assert.ok(fullReads <= 2, `${fullReads} /clusters reads in 2 s with nothing changing`);
  });

  for (const status of [500, 503]) {
    test(`answering ${status}: Envoy ejects it, the table stops routing to it within ~1 s, it returns after the fault clears`, async () => {
      const bad = gw.fleet.pods[0]!;
      await waitForEndpoint(gw, bad.name, (e) => e.ready && e.envoy === "ok", 40_000);
      await clearPodLogs(gw.fleet);
      const load = startLoad(gw.url, { concurrency: 4, stream: false, maxRequests: 4000, label: `e${status}` });
      await sleep(300);
      const t0 = Date.now();
      await setFaults(bad.url, { errorRate: 1, errorStatus: status });
      const ejectedMs = await waitForEndpoint(gw, bad.name, (e) => !e.ready && e.envoy === "ejected", 5000);
      const atEjection = (await servedCounts(gw.fleet)).get(bad.name) ?? 0;
      await sleep(1500);
      const afterEjection = ((await servedCounts(gw.fleet)).get(bad.name) ?? 0) - atEjection;
      await setFaults(bad.url, null);
      const backMs = await waitForEndpoint(gw, bad.name, (e) => e.ready && e.envoy === "ok", 40_000);
      await sleep(200);
      const o = await load.stop();
      measured[`error${status}`] = {
        ejectedAfterMs: ejectedMs,
        requests: o.length,
        failed: failed(o).length,
        servedByBadPodAfterEjection: afterEjection,
        backAfterFaultClearedMs: backMs,
        sinceFaultMs: Date.now() - t0,
      };
      assert.ok(ejectedMs <= 1000, `the table showed the ejection ${ejectedMs} ms after the fault`);
      // Ejection-time requests still in flight may land on it; then nothing new for 1.5 s.
      assert.ok(afterEjection <= 4, `the ejected pod got ${afterEjection} requests after ejection`);
      const served = await servedCounts(gw.fleet);
      assert.ok((served.get(bad.name) ?? 0) > 0);
      if (fallbacks) {
        assert.ok(failed(o).length <= o.length / 100, `at most 1 % may fail: ${summary(o)}`);
      } else {
        // Without fallbacks the requests sent to it before ejection fail: a handful, every one JSON.
        for (const f of failed(o)) {
          assert.ok(f.status === status || f.status === 503, `${f.status} ${f.detail}`);
          assert.ok(JSON.parse(f.detail).error, f.detail);
        }
      }
    });
  }

  test("a request Envoy moved to a fallback pod is counted there (the filter reads which pod answered)", async (t) => {
    if (!fallbacks) return t.skip(NEEDS_FILTER_FALLBACKS);
    // The filter reads the answering pod (the upstream.address property) when it listed fallbacks;
    // a pod other than the one it chose moves the in-flight count there and counts a fallback.
    const fallbacksTotal = async () => {
      const text = await (await fetch(`${gw.envoys[0].adminUrl}/stats?filter=infergate_fallbacks_total`)).text();
      return text.split("\n").reduce((n, l) => n + (Number(l.split(": ")[1]) || 0), 0);
    };
    const bad = gw.fleet.pods[2]!;
    await waitForEndpoint(gw, bad.name, (e) => e.ready && e.envoy === "ok", 40_000);
    const before = await fallbacksTotal();
    await setFaults(bad.url, { errorRate: 1, errorStatus: 500 });
    const servedBy = new Set<string>();
    // Requests the filter sent to the failing pod first (its Request Handled line names the pod
    // it chose). Equal pods share ties at random, but the pods' scraped load need not be equal on
    // a loaded machine: batches go out until some chose the failing pod, rather than trusting
    // that 30 requests will.
    let choseBad = 0;
    try {
      for (let batch = 0; batch < 6 && choseBad === 0; batch++) {
        const ids: string[] = [];
        for (let i = 0; i < 30; i++) {
          const id = `fallback-${batch}-${i}-${Date.now()}`;
          ids.push(id);
          const r = await fetch(`${gw.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json", "x-request-id": id },
            body: JSON.stringify({
              model: SEED_MODEL,
              messages: [{ role: "user", content: `retry ${batch} ${i}` }],
              max_tokens: 1,
            }),
          });
          await r.arrayBuffer();
          assert.equal(r.status, 200);
          servedBy.add(r.headers.get("x-sim-pod") ?? "");
        }
        const lines = await gw.envoys[0].handledWhen((ls) => ids.every((id) => ls.some((h) => h.requestId === id)));
        const chose = lines.filter((h) => ids.includes(h.requestId) && h.pod === bad.name);
        // The line names the pod that answered when it was not the chosen one.
        for (const h of chose) assert.ok(h.answeredBy && h.answeredBy !== bad.name, JSON.stringify(h));
        choseBad += chose.length;
      }
    } finally {
      await setFaults(bad.url, null);
    }
    assert.ok(choseBad > 0, `no request chose ${bad.name} first in 180`);
    assert.ok(!servedBy.has(bad.name), [...servedBy].join(","));
    // Each of them was answered by a fallback, and the filter counted it there.
    await eventually(async () => (await fallbacksTotal()) >= before + choseBad, 3000, 20);
  });

  test("at most 1 % of requests fail while a pod black-holes them (500)", async (t) => {
    if (!fallbacks) return t.skip(NEEDS_FILTER_FALLBACKS);
    const bad = gw.fleet.pods[1]!;
    await waitForEndpoint(gw, bad.name, (e) => e.ready && e.envoy === "ok", 40_000);
    await setFaults(bad.url, { errorRate: 1, errorStatus: 500 });
    const load = startLoad(gw.url, { concurrency: 6, stream: false, maxRequests: 300, label: "bh" });
    const o = await load.stop().then(() => load.outcomes);
    await setFaults(bad.url, null);
    assert.ok(failed(o).length <= 3, summary(o));
  });
});

describe("pod processes killed and stopped under streaming load", { timeout: 150_000 }, () => {
  let gw: LocalGateway;
  let fallbacks = false;
  before(async () => {
    // The control plane's own detection slowed down: scrapes every 5 s, 3 failures to act. What
    // reacts here is Envoy (refused connections, health checks).
    gw = await startLocalGateway({
      fleet: { pods: 4, args: FAST },
      controlPlane: { scrapeIntervalMs: 5000 },
      // A stream that has no response headers after 1 s moves to the next pod (a hung pod).
      pool: { annotations: { "infergate.dev/first-byte-timeout": "1s" } },
    });
    fallbacks = await filterWritesFallbacks(gw);
  });
  after(async () => {
    await gw?.stop();
  });

  test("SIGKILL: Envoy takes the pod out within ~1 s although scrapes are 5 s apart; no request fails once it is out", async () => {
    const victim = gw.fleet.pods[3]!;
    const load = startLoad(gw.url, { concurrency: 12, stream: true, maxRequests: 3000, label: "kill" });
    await sleep(800);
    const tKill = Date.now();
    await kill(victim);
    const outMs = await waitForEndpoint(gw, victim.name, (e) => !e.ready, 5000);
    // The table reaches Envoy a push later (milliseconds): requests sent after that never see the pod.
    const tOut = Date.now() + 100;
    await sleep(2500);
    const o = await load.stop();
    const beforeOut = o.filter((x) => x.startedAt < tOut);
    const afterOut = sentAfter(o, tOut);
    const failedBeforeFirstByte = o.filter((x) => x.failedBeforeFirstByte);
    measured.sigkill = {
      outOfTableMs: outMs,
      envoyState: tableEndpoint(gw, victim.name)?.envoy,
      requests: o.length,
      failedBeforeFirstByte: failedBeforeFirstByte.length,
      cutMidStream: o.filter((x) => x.cutMidStream).length,
      failedAfterOut: failed(afterOut).length,
      sinceKillMs: Date.now() - tKill,
    };
    assert.equal(failed(afterOut).length, 0, `after the pod left the table: ${summary(afterOut)}`);
    for (const f of failedBeforeFirstByte) {
      assert.equal(f.status, 503, f.detail);
      assert.ok(JSON.parse(f.detail).error, f.detail);
      assert.equal(f.retryAfter, "1");
    }
    if (fallbacks)
      assert.equal(failedBeforeFirstByte.length, 0, `0 may fail before the first byte: ${summary(beforeOut)}`);
  });

  test("SIGSTOP: the health check takes the hung pod out within ~3 s; SIGCONT brings it back", async () => {
    const victim = gw.fleet.pods[2]!;
    await waitForEndpoint(gw, victim.name, (e) => e.ready && e.envoy === "ok", 20_000);
    const load = startLoad(gw.url, { concurrency: 8, stream: true, maxRequests: 3000, label: "stop" });
    await sleep(500);
    const t0 = Date.now();
    signal(victim, "SIGSTOP");
    let outMs: number;
    let tCont: number;
    try {
      outMs = await waitForEndpoint(gw, victim.name, (e) => !e.ready && e.envoy === "unhealthy", 8000);
      await sleep(2000);
    } finally {
      tCont = Date.now();
      signal(victim, "SIGCONT"); // even when the wait failed: the next test needs the pod
    }
    const tOut = t0 + outMs + 100;
    const backMs = await waitForEndpoint(gw, victim.name, (e) => e.ready && e.envoy === "ok", 10_000);
    await sleep(500);
    const o = await load.stop();
    // Requests waiting for response headers from the stopped pod: only a first-byte timeout frees
    // them (Envoy does not reset requests in flight when a health check fails); the filter sets it
    // on streams. Streams that already had their headers hang until SIGCONT (nothing in Envoy can
    // move a stream mid-way): measured, not asserted.
    const waitedForHeaders = (x: (typeof o)[number]) =>
      x.startedAt < t0 + outMs && (x.headersMs < 0 || x.startedAt + x.headersMs > tCont - 500);
    const slow = o.filter(waitedForHeaders);
    const hungMidStream = o.filter(
      (x) => !waitedForHeaders(x) && x.startedAt + x.headersMs < t0 && x.startedAt + x.ms > tCont - 500,
    );
    measured.sigstop = {
      outOfTableMs: outMs,
      backAfterSigcontMs: backMs,
      requests: o.length,
      failedBeforeFirstByte: o.filter((x) => x.failedBeforeFirstByte).length,
      cutMidStream: o.filter((x) => x.cutMidStream).length,
      waitedForSigcont: slow.length,
      hungMidStreamUntilSigcont: hungMidStream.length,
      slowest: Math.max(...o.map((x) => x.ms)),
      sinceStopMs: Date.now() - t0,
    };
    assert.equal(failed(sentAfter(o, tOut)).length, 0, `after the pod left the table: ${summary(sentAfter(o, tOut))}`);
    if (fallbacks) {
      assert.equal(slow.length, 0, `requests hung until SIGCONT: ${summary(slow)}`);
      assert.equal(
        o.filter((x) => x.failedBeforeFirstByte).length,
        0,
        `0 may fail before the first byte: ${summary(o)}`,
      );
    }
  });

  test("a pod whose metrics endpoint is down while it still serves: no request fails", async () => {
    const pod = gw.fleet.pods[0]!;
    const load = startLoad(gw.url, { concurrency: 6, stream: true, maxRequests: 2000, label: "metrics" });
    await setFaults(pod.url, { metricsDown: true });
    await sleep(3000);
    await setFaults(pod.url, null);
    await sleep(500);
    const o = await load.stop();
    measured.metricsDown = { requests: o.length, failed: failed(o).length };
    assert.equal(failed(o).length, 0, summary(o));
  });
});

describe("the control plane, all pods of a pool, two replicas", { timeout: 120_000 }, () => {
  let gw: LocalGateway;
  before(async () => {
    gw = await startLocalGateway({ fleet: { pods: 3, args: FAST }, replicas: 2 });
  });
  after(async () => {
    await gw?.stop();
  });

  test("control plane killed and restarted under load: nothing fails, Envoy keeps its endpoints", async () => {
    const loads = gw.envoys.map((e, i) =>
      startLoad(e.url, { concurrency: 4, stream: true, maxRequests: 2000, label: `cp${i}` }),
    );
    await sleep(500);
    await gw.stopControlPlane();
    await sleep(2000);
    await gw.startControlPlane();
    await sleep(1000);
    const o = (await Promise.all(loads.map((l) => l.stop()))).flat();
    measured.controlPlaneRestart = { requests: o.length, failed: failed(o).length };
    assert.equal(failed(o).length, 0, summary(o));
  });

  test("two Envoy replicas share the endpoints; a killed pod is avoided by both", async () => {
    const victim = gw.fleet.pods[2]!;
    const loads = gw.envoys.map((e, i) =>
      startLoad(e.url, { concurrency: 4, stream: false, maxRequests: 2000, label: `r${i}` }),
    );
    await sleep(300);
    await kill(victim);
    const outMs = await waitForEndpoint(gw, victim.name, (e) => !e.ready, 5000);
    const tOut = Date.now() + 100;
    await sleep(1500);
    const per = await Promise.all(loads.map((l) => l.stop()));
    measured.twoReplicas = { outOfTableMs: outMs, perReplica: per.map((o) => [o.length, failed(o).length]) };
    per.forEach((o, i) => {
      const late = sentAfter(o, tOut);
      assert.ok(late.length > 0, `replica ${i} kept serving`);
      assert.equal(failed(late).length, 0, `replica ${i} after the pod left: ${summary(late)}`);
    });
    // Both replicas' Envoy saw the failure themselves.
    for (const e of gw.envoys) {
      const s = await hostStats(e.adminUrl, victim.address);
      assert.ok(s.health_flags && s.health_flags !== "healthy", `${e.adminUrl}: ${JSON.stringify(s)}`);
    }
  });

  test("every pod of the pool down: 503 JSON with Retry-After, quickly", async () => {
    for (const p of gw.fleet.pods) {
      try {
        await kill(p);
      } catch {
        /* already dead */
      }
    }
    const t0 = Date.now();
    const answers: Outcome[] = [];
    while (Date.now() - t0 < 3000) {
      answers.push(await request(gw.envoys[answers.length % 2]!.url, answers.length % 3 === 0, "all down", 5000));
    }
    measured.allDown = {
      requests: answers.length,
      slowestMs: Math.max(...answers.map((a) => a.ms)),
      codes: [...new Set(answers.map((a) => JSON.parse(a.detail).error?.code))],
    };
    for (const a of answers) {
      assert.equal(a.status, 503, a.detail);
      const j = JSON.parse(a.detail);
      assert.equal(j.error.type, "service_unavailable", a.detail);
      assert.equal(a.retryAfter, "1", a.detail);
      assert.ok(a.ms < 1500, `answered in ${a.ms} ms`);
    }
  });
});

// Three pods, all failing: Envoy makes three attempts (num_retries 2) and the filter lists all three
// (fallbacks 2): one attempt per pod, none finding no host (upstream_cx_none_healthy). Fails when
// Envoy retries more often than the list is long (num_retries 3). Past a shorter list the attempt
// depends on Envoy's pool fallback (x-infergate-pool): with fallbacks 1 it reached the untried pod in
// one ad-hoc run and found no host in this test's, so that case is not asserted here.
const fallbacks = 2;
describe(`every attempt finds a pod of the pool (fallbacks ${fallbacks})`, { timeout: 90_000 }, () => {
  let gw: LocalGateway;
  before(async () => {
    gw = await startLocalGateway({ fleet: { pods: 3, args: FAST }, envoy: { gatewayConfig: { fallbacks } } });
  });
  after(async () => {
    await gw?.stop();
  });

  test("three pods all failing: one attempt each, none finding no host", async () => {
    for (const p of gw.fleet.pods) await waitForEndpoint(gw, p.name, (e) => e.ready && e.envoy === "ok", 40_000);
    const envoy = gw.envoys[0]!;
    const noneHealthy = async () => {
      const url = `${envoy.adminUrl}/stats?filter=^cluster\\.infergate_pods\\.upstream_cx_none_healthy$`;
      return Number((await (await fetch(url)).text()).split(":")[1] ?? Number.NaN);
    };
    const attempts = async () => {
      const per: number[] = [];
      for (const p of gw.fleet.pods) per.push(Number((await hostStats(envoy.adminUrl, p.address)).rq_total ?? 0));
      return per;
    };
    for (const p of gw.fleet.pods) await setFaults(p.url, { errorRate: 1, errorStatus: 503 });
    try {
      const none0 = await noneHealthy();
      const tried0 = await attempts();
      const o = await request(envoy.url, false, "full list");
      assert.equal(o.status, 503, o.detail);
      const tried = (await attempts()).map((n, i) => n - tried0[i]!);
      assert.deepEqual(tried, [1, 1, 1], "one attempt per pod, none twice");
      assert.equal((await noneHealthy()) - none0, 0, "no attempt found no host");
    } finally {
      for (const p of gw.fleet.pods) await setFaults(p.url, null);
    }
  });
});
