// SGLang prefill/decode disaggregation through real Envoy (issue 13), with the seed's P/D manifests
// verbatim (test/kube/fixtures/seed-000-pd-*.yaml): two prefill and two decode SGLang-flavoured
// simulator pods labelled as a RoleBasedGroup labels them, the control plane reading the seed's
// InferencePool + InferenceTrafficPolicy from its file. One gateway for the whole file (startup is
// the slow part); the tests that kill pods run last. Every load is bounded in count and time.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import YAML from "yaml";
import { createLogger } from "../../controlplane/log.js";
import type { RequestHandled } from "../../scripts/lib/envoy-process.js";
import { type LocalGateway, type PoolSettings, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import type { FleetSpec } from "../sim/fleet.js";
import type { RequestRecord } from "../sim/server.js";
import { hostStats, kill, tableEndpoint, waitForEndpoint } from "./failover-helpers.js";
import {
  chat,
  envoyPrometheus,
  eventually,
  post,
  promSample,
  SEED_MODEL,
  servedCounts,
  setFaults,
  sleep,
} from "./helpers.js";

const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/kube/fixtures", name), "utf8");
const SEED_PD = fixture("seed-000-pd-sglang.yaml");
const SEED_PD_PREFIX = fixture("seed-000-pd-prefix-cache-sglang.yaml");
/** The decode pods wait this long for a room's KV before failing (SGLang's bootstrap timeout). */
const BOOTSTRAP_TIMEOUT_MS = 20_000;
const FAST = ["--prefill-overhead-ms", "2", "--inter-token-latency-ms", "5", "--prefill-time-per-token-ms", "0.02"];

const cpLog: string[] = [];
const measured: Record<string, unknown> = {};
after(() => console.log(`# P/D measurements: ${JSON.stringify(measured)}`));
let gw: LocalGateway;
const pd = (extra: Partial<PoolSettings["pd"]> = {}, manifests = SEED_PD): PoolSettings => ({
  pd: { manifests, ...extra },
});

/** SGLang-flavoured pods named prefill-N and decode-N, as a RoleBasedGroup labels them. */
const pdFleet = (prefill: number, decode: number, decodeArgs: string[] = []): FleetSpec => ({
  runtime: "sglang",
  args: FAST,
  pods: [
    { count: prefill, role: "prefill", namePrefix: "prefill" },
    { count: decode, role: "decode", namePrefix: "decode", args: decodeArgs },
  ],
});

before(async () => {
  gw = await startLocalGateway({
    fleet: pdFleet(2, 2, ["--bootstrap-timeout-ms", String(BOOTSTRAP_TIMEOUT_MS)]),
    pool: pd(),
    logger: createLogger({ component: "controlplane", level: "info", write: (l) => cpLog.push(l) }),
  });
});
after(async () => {
  await gw?.stop();
});

/** Request Handled lines of the given request ids (x-request-id), once all are written. */
async function handledFor(ids: string[]): Promise<Map<string, RequestHandled>> {
  const out = new Map<string, RequestHandled>();
  for (const id of ids) out.set(id, await gw.envoys[0].handledLine(id));
  return out;
}

/** Every inference request each pod saw (pods killed by a test are skipped). */
async function inference(): Promise<Map<string, RequestRecord[]>> {
  const m = new Map<string, RequestRecord[]>();
  await Promise.all(
    gw.fleet.pods.map(async (p) => {
      try {
        const j = (await (await fetch(`${p.url}/debug/requests`)).json()) as { requests: RequestRecord[] };
        m.set(
          p.name,
          j.requests.filter((r) => r.path.startsWith("/v1/")),
        );
      } catch {
        m.set(p.name, []);
      }
    }),
  );
  return m;
}

/** Clears the pods' request logs (pods killed by a test are skipped). */
async function clearPodLogs(fleet = gw.fleet): Promise<void> {
  await Promise.all(fleet.pods.map((p) => fetch(`${p.url}/debug/requests`, { method: "DELETE" }).catch(() => null)));
}

const role = (pod: string) => gw.fleet.pod(pod).role;
let seq = 0;
const rid = (tag: string) => `pd-${tag}-${++seq}-${Date.now()}`;

/** The filter's in-flight gauge for a pod, from Envoy's stats. */
async function podInFlight(pod: string): Promise<number> {
  const text = await (await fetch(`${gw.envoys[0].adminUrl}/stats?filter=infergate_pod_in_flight`)).text();
  let n = 0;
  for (const line of text.split("\n")) if (line.includes(`.pod.${pod}:`)) n += Number(line.split(": ")[1]);
  return n;
}

describe("SGLang P/D, the seed's manifest", { timeout: 240_000 }, () => {
  test("every request completes with the decode pod's answer; both pods saw the same body and room; no whole request reaches a single-role pod", async () => {
    await clearPodLogs();
    const ids: string[] = [];
    const replies = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const id = rid("basic");
        ids.push(id);
        const stream = i % 2 === 1;
        return post(
          gw.url,
          i % 4 === 3 ? "/v1/completions" : "/v1/chat/completions",
          i % 4 === 3
            ? {
                model: SEED_MODEL,
                prompt: `prompt ${i}`,
                max_tokens: 3,
                stream,
                stream_options: { include_usage: true },
              }
            : chat(`question ${i}`, {
                max_tokens: 3,
                stream,
                ...(stream ? { stream_options: { include_usage: true } } : {}),
              }),
          { "x-request-id": id },
        );
      }),
    );
    const handled = await handledFor(ids);
    const seen = await inference();
    // First: two requests sharing a room (workers whose random sequences coincide) look like a
    // prefill pod that got one request twice and a decode pod waiting out its bootstrap timeout.
    const rooms = new Set([...handled.values()].map((h) => h.bootstrapRoom));
    assert.equal(rooms.size, ids.length, "one room per request");
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i];
      assert.equal(r.status, 200, r.text);
      assert.equal(role(r.pod!), "decode", `answered by a decode pod: ${r.pod}`);
      const h = handled.get(ids[i])!;
      assert.equal(h.pod, r.pod, "the log names the decode pod that answered");
      assert.equal(role(h.prefillPod as string), "prefill");
      assert.equal(h.prefillStatus, 200);
      assert.equal(h.bootstrapPort, gw.fleet.pod(h.prefillPod as string).bootstrapPort, "the pod's annotated port");
      const room = h.bootstrapRoom as string;
      assert.match(room, /^\d+$/);
      const atPrefill = seen.get(h.prefillPod as string)!.filter((x) => x.bootstrapRoom === room);
      const atDecode = seen.get(h.pod)!.filter((x) => x.bootstrapRoom === room);
      const why = () => JSON.stringify({ handled: h, atPrefill, atDecode });
      assert.equal(atPrefill.length, 1, `the prefill pod got the room once: ${why()}`);
      assert.equal(atDecode.length, 1, `the decode pod got the room once: ${why()}`);
      assert.equal(atPrefill[0].completionTokens, 1, "the prefill pod stops at its first token");
      assert.equal(atDecode[0].completionTokens, 3);
      // Usage reaches the client, streaming included (the client asked for it).
      const usage =
        i % 2 === 1
          ? JSON.parse(
              r.text
                .split("\n")
                .filter((l) => l.includes('"usage"'))
                .pop()!
                .slice(6),
            ).usage
          : r.json.usage;
      assert.equal(usage.completion_tokens, 3, `usage of reply ${i}`);
      assert.ok(usage.prompt_tokens > 0);
    }
    for (const [pod, reqs] of seen)
      for (const x of reqs)
        assert.notEqual(x.bootstrapRoom, null, `${pod} got a request without a room: a whole request`);
  });

  test("a pod whose role label is missing or invalid is left out with a warning; no prefill pod left: 503 naming the side", async () => {
    cpLog.length = 0;
    gw.writeConfig(pd({ roleLabels: { "prefill-0": null, "prefill-1": "router" } }));
    try {
      await eventually(async () => {
        const eps = gw.controlPlane!.lastTable()!.pools[0].endpoints.map((e) => e.name);
        return !eps.includes("prefill-0") && !eps.includes("prefill-1");
      }, 10_000);
      const warned = (pod: string) =>
        cpLog.some(
          (l) =>
            l.includes('"level":"warning"') && l.includes(pod) && l.includes("rolebasedgroup.workloads.x-k8s.io/role"),
        );
      assert.ok(
        warned("prefill-0") && warned("prefill-1"),
        `warnings: ${cpLog.filter((l) => l.includes("warn")).join("\n")}`,
      );
      // The table built without them reaches Envoy a push later.
      let r = await post(gw.url, "/v1/chat/completions", chat("no prefill side"));
      for (let i = 0; i < 50 && r.status === 200; i++) {
        await sleep(20);
        r = await post(gw.url, "/v1/chat/completions", chat("no prefill side"));
      }
      assert.equal(r.status, 503);
      assert.equal(r.json.error.code, "no_ready_endpoint");
      assert.match(r.json.error.message, /\(prefill\)/);
      assert.equal(r.headers.get("retry-after"), "1");
    } finally {
      gw.writeConfig(pd());
    }
    await eventually(async () => gw.controlPlane!.lastTable()!.pools[0].endpoints.length === 4, 10_000);
    await eventually(async () => (await post(gw.url, "/v1/chat/completions", chat("back"))).status === 200, 10_000);
  });

  test("prefix cache on both stages (hot switch of the policy's refs): a conversation's later turns return to the same prefill and decode pod", async () => {
    const conversation = (c: number) => {
      const system = `You are assistant number ${c}. `.repeat(40);
      const msgs: { role: string; content: string }[] = [{ role: "system", content: system }];
      return msgs;
    };
    // DEFAULT on both stages first: the log says so.
    const before = await post(gw.url, "/v1/chat/completions", chat("which strategy"), {
      "x-request-id": rid("strategy"),
    });
    assert.equal(before.status, 200);
    gw.writeConfig(pd({}, SEED_PD_PREFIX));
    await eventually(async () => {
      const id = rid("switch");
      await post(gw.url, "/v1/chat/completions", chat("switched?"), { "x-request-id": id });
      const h = (await handledFor([id])).get(id)!;
      return h.strategy === "PREFIX_CACHE" && h.prefillStrategy === "PREFIX_CACHE";
    }, 10_000);
    const pairs = new Map<number, Set<string>>();
    const convs = [0, 1, 2, 3].map(conversation);
    for (let turn = 0; turn < 4; turn++) {
      const ids: string[] = [];
      const replies = await Promise.all(
        convs.map((msgs, c) => {
          msgs.push({ role: "user", content: `turn ${turn} of conversation ${c}: tell me more.` });
          const id = rid(`conv${c}`);
          ids.push(id);
          return post(
            gw.url,
            "/v1/chat/completions",
            { model: SEED_MODEL, messages: msgs, max_tokens: 4 },
            { "x-request-id": id },
          );
        }),
      );
      const handled = await handledFor(ids);
      replies.forEach((r, c) => {
        assert.equal(r.status, 200, r.text);
        convs[c].push({ role: "assistant", content: r.json.choices[0].message.content });
        const h = handled.get(ids[c])!;
        const set = pairs.get(c) ?? new Set<string>();
        set.add(`${h.prefillPod}>${h.pod}`);
        pairs.set(c, set);
        if (turn > 0) {
          assert.ok((h.prefillMatchedBlocks as number) > 0, `turn ${turn}: prefill credited its blocks`);
          assert.ok((h.matchedBlocks as number) > 0, `turn ${turn}: decode credited its blocks`);
          assert.ok(
            (h.prefillCachedTokens as number) > 0,
            `turn ${turn}: the prefill pod really had the prefix cached`,
          );
        }
      });
    }
    for (const [c, set] of pairs)
      assert.equal(set.size, 1, `conversation ${c} kept one prefill>decode pair: ${[...set]}`);
    // And back: the refs removed, both stages by load alone again.
    gw.writeConfig(pd());
    await eventually(async () => {
      const id = rid("back");
      await post(gw.url, "/v1/chat/completions", chat("default again?"), { "x-request-id": id });
      const h = (await handledFor([id])).get(id)!;
      return h.strategy === "DEFAULT" && h.prefillStrategy === "DEFAULT";
    }, 10_000);
  });

  test("a client that goes away cancels both halves: the decode request and the prefill call, whose places are given back", async () => {
    await clearPodLogs();
    {
      const id = rid("abort");
      const ac = new AbortController();
      const t0 = Date.now();
      const req = fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": id },
        // ~20,000 prompt tokens: the prefill pod computes for ~0.5 s (three chunks of 8192 tokens).
        body: JSON.stringify(
          chat(`I will not wait. ${"Tell me everything about it. ".repeat(2800)}`, { stream: true, max_tokens: 50 }),
        ),
        signal: ac.signal,
      }).catch((e) => e as Error);
      await sleep(150);
      ac.abort();
      await req;
      // The decode half ends as the client goes: its pod stops waiting for the room long before
      // the prefill could have finished. Envoy resets it, and the gateway cancels the prefill at the
      // same moment, so the decode pod records whichever it notices first: the client gone
      // ("aborted") or the room's KV transfer failing because the prefill was dropped ("error").
      const abortedDecode = async () => {
        for (const [pod, reqs] of await inference())
          if (role(pod) === "decode") {
            const r = reqs.find(
              (x) =>
                x.id === id &&
                (x.outcome === "aborted" || (x.outcome === "error" && String(x.error).includes("KV transfer"))),
            );
            if (r) return r;
          }
        return undefined;
      };
      await eventually(async () => (await abortedDecode()) !== undefined, 5000, 20);
      const decodeGone = Date.now() - t0;
      assert.ok(decodeGone < 450, `decode cancelled before the prefill could have finished (${decodeGone} ms)`);
      measured.abortDecodeCancelledMs = decodeGone;
      // The line is written once the prefill call ended (it carries the prefill's figures).
      const h = (await handledFor([id])).get(id)!;
      const room = h.bootstrapRoom as string;
      assert.equal((await abortedDecode())!.bootstrapRoom, room);
      // The prefill is cancelled too: the gateway closed the call's leg, Envoy reset the request to
      // the prefill pod, which dropped it mid-prefill.
      const prefillRec = (await inference()).get(h.prefillPod as string)!.find((x) => x.bootstrapRoom === room);
      assert.equal(prefillRec?.outcome, "aborted", `the prefill pod's record: ${JSON.stringify(prefillRec)}`);
      assert.equal(h.prefillCancelled, true);
      measured.abortPrefillLineMs = Date.now() - t0;
      await eventually(async () => (await podInFlight(h.prefillPod as string)) === 0, 3000);
      assert.equal(await podInFlight(h.pod), 0);
    }
  });

  test("every decode pod failing: Envoy's retries stay on the listed decode pods, the client never gets a prefill pod's answer", async () => {
    const decodes = gw.fleet.pods.filter((p) => p.role === "decode");
    for (const p of decodes) await setFaults(p.url, { errorRate: 1, errorStatus: 500 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 4 }, (_, i) => post(gw.url, "/v1/chat/completions", chat(`decode side down ${i}`))),
      );
      for (const r of replies) {
        assert.ok(r.status >= 500, `an error, not a stand-in answer: ${r.status} ${r.text}`);
        assert.notEqual(r.pod === null ? "" : role(r.pod), "prefill", `answered by ${r.pod}`);
        assert.ok(r.json?.error, `OpenAI-shaped: ${r.text}`);
      }
    } finally {
      for (const p of decodes) await setFaults(p.url, null);
    }
    // Outlier detection ejected them; they come back once they answer again.
    for (const p of decodes) await waitForEndpoint(gw, p.name, (e) => e.ready && e.envoy === "ok", 40_000);
  });

  test("a decode pod killed: Envoy retries the decode half on the next decode pod (the connection is refused), which takes the room; later requests avoid the dead pod", async () => {
    const dead = gw.fleet.pod("decode-0");
    await waitForEndpoint(gw, dead.name, (e) => e.ready && e.envoy === "ok", 30_000);
    const host = async () => hostStats(gw.envoys[0].adminUrl, dead.address);
    assert.notEqual((await host()).cx_total, undefined, "Envoy's stats list the pod");
    await kill(dead);
    // Once Envoy has closed its pooled connections to the dead pod, every attempt on it is a refused
    // connection, which the decode route retries. (A request written to a pooled connection in the
    // moment before Envoy saw it close is not retried: the decode route cannot tell it from a pod
    // that took the room's KV and died; the next test.)
    await eventually(async () => Number((await host()).cx_active) === 0, 5000, 10);
    const ids = Array.from({ length: 8 }, () => rid("decode-kill"));
    const replies = await Promise.all(
      ids.map((id, i) => post(gw.url, "/v1/chat/completions", chat(`after decode kill ${i}`), { "x-request-id": id })),
    );
    for (const r of replies) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.pod, "decode-1");
    }
    await waitForEndpoint(gw, dead.name, (e) => !e.ready, 10_000);
    const later = Array.from({ length: 4 }, () => rid("decode-after"));
    const laterReplies = await Promise.all(
      later.map((id) => post(gw.url, "/v1/chat/completions", chat("later"), { "x-request-id": id })),
    );
    for (const r of laterReplies)
      assert.equal(r.status, 200, `${r.text} decode-1 in the table: ${JSON.stringify(tableEndpoint(gw, "decode-1"))}`);
    for (const h of (await handledFor(later)).values()) assert.equal(h.pod, "decode-1");
  });

  test("a prefill pod killed: its requests fail at once (far under the decode pod's bootstrap timeout) with OpenAI JSON, the decode half is cancelled; later requests avoid it", async () => {
    const dead = gw.fleet.pod("prefill-0");
    await waitForEndpoint(gw, dead.name, (e) => e.ready && e.envoy === "ok", 30_000);
    await clearPodLogs();
    await kill(dead);
    const killedAt = Date.now();
    await sleep(50);
    // Concurrent requests spread over both prefill pods by in-flight count: some pick the dead one.
    const ids = Array.from({ length: 6 }, () => rid("prefill-kill"));
    const timed = await Promise.all(
      ids.map(async (id, i) => {
        const t0 = Date.now();
        const r = await post(gw.url, "/v1/chat/completions", chat(`after prefill kill ${i}`), { "x-request-id": id });
        return { r, ms: Date.now() - t0, id };
      }),
    );
    const handled = await handledFor(ids);
    const failedOnDead = timed.filter((t) => handled.get(t.id)!.prefillPod === dead.name);
    assert.ok(failedOnDead.length > 0, "some requests picked the dead prefill pod");
    for (const t of failedOnDead) {
      assert.equal(t.r.status, 502, t.r.text);
      assert.equal(t.r.json.error.code, "prefill_failed");
      assert.match(t.r.json.error.message, /prefill on pod prefill-0/);
      assert.ok(
        t.ms < BOOTSTRAP_TIMEOUT_MS / 10,
        `answered in ${t.ms} ms, not after the ${BOOTSTRAP_TIMEOUT_MS} ms bootstrap timeout`,
      );
      // The decode pod stopped waiting for the room: its request was reset, not timed out.
      const h = handled.get(t.id)!;
      const rec = (await inference()).get(h.pod)?.find((x) => x.bootstrapRoom === h.bootstrapRoom);
      assert.ok(rec === undefined || rec.outcome === "aborted", `decode half: ${JSON.stringify(rec)}`);
    }
    for (const t of timed.filter((x) => !failedOnDead.includes(x))) assert.equal(t.r.status, 200, t.r.text);
    measured.prefillFailureAnsweredMs = failedOnDead.map((t) => t.ms);
    await waitForEndpoint(gw, dead.name, (e) => !e.ready, 10_000);
    measured.prefillOutOfTableSinceKillMs = Date.now() - killedAt;
    const later = Array.from({ length: 6 }, () => rid("prefill-after"));
    const laterReplies = await Promise.all(
      later.map((id) => post(gw.url, "/v1/chat/completions", chat("later"), { "x-request-id": id })),
    );
    for (const r of laterReplies)
      assert.equal(r.status, 200, `${r.text} decode-1 in the table: ${JSON.stringify(tableEndpoint(gw, "decode-1"))}`);
    for (const h of (await handledFor(later)).values()) assert.equal(h.prefillPod, "prefill-1");
  });
});

describe("SGLang P/D with the gateway's queue", { timeout: 120_000 }, () => {
  let qgw: LocalGateway;
  before(async () => {
    // The seed's manifest plus the seed's queueing annotation on its InferencePool; one request in
    // flight per pod saturates it.
    const manifests = SEED_PD.replace(
      "metadata:\n  name: qwen-inference-pool\n",
      'metadata:\n  name: qwen-inference-pool\n  annotations:\n    inference.networking.x-k8s.io/queueing: "enabled"\n',
    );
    assert.notEqual(manifests, SEED_PD);
    qgw = await startLocalGateway({
      fleet: pdFleet(2, 2),
      pool: { pd: { manifests } },
      envoy: { gatewayConfig: { saturation: { inFlightLimit: 1 } } },
    });
  });
  after(async () => {
    await qgw?.stop();
  });

  test("a saturated side holds requests; freed prefill and decode places release them, each prefilled and decoded once", async () => {
    for (const p of qgw.fleet.pods.filter((x) => x.role === "prefill")) await setFaults(p.url, { latencyMs: 400 });
    try {
      const ids = Array.from({ length: 6 }, (_, i) => `pd-queue-${i}-${Date.now()}`);
      const replies = await Promise.all(
        ids.map((id, i) => post(qgw.url, "/v1/chat/completions", chat(`held ${i}`), { "x-request-id": id })),
      );
      for (const r of replies) assert.equal(r.status, 200, r.text);
      const lines = new Map<string, RequestHandled>();
      await eventually(async () => {
        for (const h of qgw.envoys[0].handled()) if (ids.includes(h.requestId)) lines.set(h.requestId, h);
        return lines.size === ids.length;
      }, 5000);
      const held = [...lines.values()].filter((h) => (h.queueWaitMs as number | undefined) !== undefined);
      assert.ok(held.length >= 2, `some requests waited in the queue: ${held.length}`);
      for (const h of lines.values()) assert.equal(h.prefillStatus, 200);
      assert.equal(new Set([...lines.values()].map((h) => h.bootstrapRoom)).size, ids.length);
    } finally {
      for (const p of qgw.fleet.pods.filter((x) => x.role === "prefill")) await setFaults(p.url, null);
    }
  });
});

describe("SGLang P/D where Envoy has no prefill cluster (a deployment that left it out)", { timeout: 60_000 }, () => {
  let ngw: LocalGateway;
  before(async () => {
    ngw = await startLocalGateway({
      fleet: pdFleet(1, 1),
      pool: pd(),
      envoy: { bootstrapEdit: withoutPrefillCluster },
      // Readiness is a 200 through the gateway, which this deployment cannot give.
      waitReady: false,
    });
  });
  after(async () => {
    await ngw?.stop();
  });

  test("Envoy refuses the prefill call: 503 JSON with Retry-After naming the cluster, counted as a rejection, nothing reaches a pod, no place kept", async () => {
    const env = ngw.envoys[0];
    await eventually(async () => (ngw.controlPlane!.lastTable()?.pools[0]?.endpoints.length ?? 0) === 2, 15_000);
    await clearPodLogs(ngw.fleet);
    let r = await post(ngw.url, "/v1/chat/completions", chat("no prefill cluster"));
    // The table reaches Envoy a push after the control plane built it (until then the worker answers
    // no_table, or no_ready_endpoint from a table without the pods yet).
    const early = ["no_table", "no_ready_endpoint"];
    for (let i = 0; i < 100 && early.includes(r.json?.error?.code); i++) {
      await sleep(50);
      r = await post(ngw.url, "/v1/chat/completions", chat("no prefill cluster"));
    }
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.code, "prefill_failed");
    assert.match(r.json.error.message, /cluster infergate_prefill/);
    assert.equal(r.headers.get("retry-after"), "1");
    // Envoy's log reaches this process through its stderr pipe, a moment after the answer.
    await eventually(
      async () => /Envoy refused the P\/D prefill call to cluster infergate_prefill/.test(env.log()),
      2000,
    );
    assert.deepEqual(Object.fromEntries(await servedCounts(ngw.fleet)), { "prefill-0": 0, "decode-0": 0 });
    const pool = "default/qwen-inference-pool";
    // Counters are summed in the filter and flushed on its 10 ms tick. The replies before the table
    // (no_ready_endpoint) are rejections too: one more refused call must add exactly one of each.
    const counts = async () => {
      const prom = await envoyPrometheus(env.adminUrl);
      return [
        promSample(prom, "infergate_requests_total", `pool="${pool}",outcome="rejected"`),
        promSample(prom, "infergate_rejections_total", `pool="${pool}",code="prefill_failed"`),
      ];
    };
    await eventually(async () => (await counts())[1] >= 1, 2000);
    const [rejected0, refused0] = await counts();
    const again = await post(ngw.url, "/v1/chat/completions", chat("no prefill cluster, again"));
    assert.equal(again.json?.error?.code, "prefill_failed", again.text);
    await eventually(async () => {
      const [rejected, refused] = await counts();
      return rejected === rejected0 + 1 && refused === refused0 + 1;
    }, 2000);
    // Neither pod keeps a place (the filter's shared in-flight counts, as the control listener reads them).
    const state = (await (
      await fetch(`${env.controlUrl}/infergate/v1/table`, { headers: { authorization: `Bearer ${env.token}` } })
    ).json()) as { inflight: Record<string, number> };
    assert.deepEqual(state.inflight, Object.fromEntries(ngw.fleet.pods.map((p) => [p.address, 0])));
  });
});

/** The rendered bootstrap without the cluster the filter's prefill calls go to. */
function withoutPrefillCluster(yaml: string): string {
  const doc = YAML.parse(yaml) as { static_resources: { clusters: Array<{ name: string }> } };
  const clusters = doc.static_resources.clusters;
  const kept = clusters.filter((c) => c.name !== "infergate_prefill");
  assert.equal(kept.length, clusters.length - 1, "the bootstrap has an infergate_prefill cluster to leave out");
  doc.static_resources.clusters = kept;
  return YAML.stringify(doc);
}

// A decode pod that dies after it took the room's KV (mid-decode, no response headers yet): the KV
// is gone with it (a room is handed over once, as SGLang's prefill server sends it once), so the
// next decode pod would wait for that room until its bootstrap timeout. Envoy must not retry such a
// decode half; it still does when the request never reached the pod (refused connection, the
// "decode pod killed" test above).
describe("SGLang P/D: a decode pod that dies after taking the KV", { timeout: 90_000 }, () => {
  let dgw: LocalGateway;
  before(async () => {
    dgw = await startLocalGateway({
      fleet: pdFleet(1, 2, ["--bootstrap-timeout-ms", String(BOOTSTRAP_TIMEOUT_MS), "--inter-token-latency-ms", "50"]),
      pool: pd(),
    });
  });
  after(async () => {
    await dgw?.stop();
  });

  test("the client gets an error at once, not after the other decode pod waited out its bootstrap timeout; no other pod is sent the room", async () => {
    for (const p of dgw.fleet.pods) await waitForEndpoint(dgw, p.name, (e) => e.ready && e.envoy === "ok", 30_000);
    await clearPodLogs(dgw.fleet);
    const decodes = dgw.fleet.pods.filter((p) => p.role === "decode");
    /** Inference requests a pod has received (finished or not). */
    const arrived = async (p: (typeof decodes)[number]) =>
      ((await (await fetch(`${p.url}/debug/state`)).json()) as { arrived: number }).arrived;
    const arrivedBefore = new Map<string, number>();
    for (const p of decodes) arrivedBefore.set(p.name, await arrived(p));
    const id = rid("decode-dies");
    const t0 = Date.now();
    // Non-streaming, 200 tokens at 50 ms: ~10 s of decoding before any response header.
    const reply = post(dgw.url, "/v1/chat/completions", chat("a long answer", { max_tokens: 200 }), {
      "x-request-id": id,
    });
    let busy: (typeof decodes)[number] | undefined;
    await eventually(async () => {
      for (const p of decodes) {
        const s = (await (await fetch(`${p.url}/debug/state`)).json()) as { running: number };
        if (s.running > 0) busy = p;
      }
      return busy !== undefined;
    }, 10_000);
    await kill(busy!);
    const killedAt = Date.now();
    const r = await reply;
    const answeredMs = Date.now() - killedAt;
    measured.decodeDiedAnsweredMs = answeredMs;
    assert.equal(r.status, 503, r.text);
    assert.equal(r.json.error.type, "service_unavailable", r.text);
    assert.equal(r.headers.get("retry-after"), "1");
    assert.ok(
      answeredMs < BOOTSTRAP_TIMEOUT_MS / 4,
      `answered ${answeredMs} ms after the kill (${Date.now() - t0} ms in all)`,
    );
    await dgw.envoys[0].handledLine(id);
    const other = decodes.find((p) => p !== busy)!;
    assert.equal(await arrived(other), arrivedBefore.get(other.name), "the other decode pod was not sent the request");
  });
});
