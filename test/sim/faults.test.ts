// Each fault mode does what it says, set through /admin/faults or by flag.
import assert from "node:assert/strict";
import { after, afterEach, before, test } from "node:test";
import { startFleet } from "./fleet.js";
import { postJson } from "./helpers.js";
import { type SimServer, simConfig, startSimServer } from "./server.js";

const MODEL = "/models/Qwen3-32B";
let pod: SimServer;
const chat = (extra: Record<string, unknown> = {}) => ({
  model: MODEL,
  messages: [{ role: "user", content: "fault test" }],
  max_tokens: 6,
  ...extra,
});

async function setFaults(f: Record<string, unknown>) {
  const r = await postJson(`${pod.url}/admin/faults`, f);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

before(async () => {
  pod = await startSimServer(
    simConfig({
      name: "fault-pod",
      port: 0,
      prefillOverheadMs: 1,
      prefillTimePerTokenMs: 0.01,
      interTokenLatencyMs: 2,
      decodeTimePerSeqMs: 0,
      seed: 7,
    }),
  );
});
afterEach(async () => {
  await fetch(`${pod.url}/admin/faults`, { method: "DELETE" });
});
after(async () => {
  await pod.stop();
});

test("latencyMs delays every inference response", async () => {
  await postJson(`${pod.url}/v1/chat/completions`, chat()); // warm-up
  // the fastest of a few: one stall of a busy machine must not pass for the normal time
  let base = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) base = Math.min(base, (await postJson(`${pod.url}/v1/chat/completions`, chat())).ms);
  await setFaults({ latencyMs: 250 });
  const slow = await postJson(`${pod.url}/v1/chat/completions`, chat());
  assert.equal(slow.status, 200);
  assert.ok(slow.ms >= 250 && slow.ms - base >= 200, `base ${base} slow ${slow.ms}`);
});

test("errorRate 1 answers every request with errorStatus, OpenAI-shaped; 0.5 about half", async () => {
  await setFaults({ errorRate: 1, errorStatus: 503 });
  const r = await postJson(`${pod.url}/v1/chat/completions`, chat());
  assert.equal(r.status, 503);
  assert.equal(r.body.error.code, 503);
  assert.equal(r.headers.get("x-sim-pod"), "fault-pod");
  await setFaults({ errorRate: 0.5, errorStatus: 500 });
  const statuses = await Promise.all(
    Array.from({ length: 40 }, () =>
      postJson(`${pod.url}/v1/chat/completions`, chat({ max_tokens: 1 })).then((x) => x.status),
    ),
  );
  const errors = statuses.filter((s) => s === 500).length;
  assert.ok(errors > 8 && errors < 32, `${errors} of 40 failed`);
  assert.ok(statuses.every((s) => s === 200 || s === 500));
});

test("hang accepts the request and never answers; clearing the fault drops held connections", async () => {
  await setFaults({ hang: true });
  await assert.rejects(
    fetch(`${pod.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify(chat()),
      signal: AbortSignal.timeout(300),
    }),
    /timeout|abort/i,
  );
  const held = fetch(`${pod.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chat()) });
  await new Promise((r) => setTimeout(r, 50));
  await fetch(`${pod.url}/admin/faults`, { method: "DELETE" });
  await assert.rejects(held.then((r) => r.text()));
  const log = (await (await fetch(`${pod.url}/debug/requests?limit=2`)).json()) as {
    requests: Array<{ outcome: string }>;
  };
  assert.deepEqual(
    log.requests.map((r) => r.outcome),
    ["hang", "hang"],
  );
  // health and metrics stay up while inference hangs
  assert.equal((await fetch(`${pod.url}/health`)).status, 200);
});

test("closeMidStream cuts a stream after N tokens without [DONE], and a JSON body halfway", async () => {
  await setFaults({ closeMidStream: 3 });
  const res = await fetch(`${pod.url}/v1/chat/completions`, {
    method: "POST",
    body: JSON.stringify(chat({ stream: true, max_tokens: 10 })),
  });
  assert.equal(res.status, 200);
  let text = "";
  const dec = new TextDecoder();
  await assert.rejects(
    (async () => {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>)
        text += dec.decode(chunk, { stream: true });
    })(),
  );
  const contents = text.split("\n\n").filter((e) => e.includes('"content":"') && !e.includes('"content":""'));
  assert.equal(contents.length, 3);
  assert.ok(!text.includes("[DONE]"));
  await setFaults({ closeMidStream: true });
  await assert.rejects(
    fetch(`${pod.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify(chat()) }).then((r) => r.text()),
  );
});

test("metricsDown (503 or connection reset), metricsDelayMs, healthDown", async () => {
  await setFaults({ metricsDown: true });
  assert.equal((await fetch(`${pod.url}/metrics`)).status, 503);
  await setFaults({ metricsDown: "reset" });
  await assert.rejects(fetch(`${pod.url}/metrics`));
  await setFaults({ metricsDown: false, metricsDelayMs: 300 });
  const t = performance.now();
  const m = await fetch(`${pod.url}/metrics`);
  assert.equal(m.status, 200);
  await m.text();
  assert.ok(performance.now() - t >= 280);
  await setFaults({ metricsDelayMs: 0, healthDown: true });
  assert.equal((await fetch(`${pod.url}/health`)).status, 503);
  // inference is unaffected by metrics/health faults
  assert.equal((await postJson(`${pod.url}/v1/chat/completions`, chat())).status, 200);
});

test("admin API validates faults; GET shows the current set; PUT replaces", async () => {
  const bad = await postJson(`${pod.url}/admin/faults`, { errorRate: 2 });
  assert.equal(bad.status, 400);
  assert.equal((await postJson(`${pod.url}/admin/faults`, { nonsense: 1 })).status, 400);
  await setFaults({ latencyMs: 5 });
  const put = await fetch(`${pod.url}/admin/faults`, { method: "PUT", body: JSON.stringify({ errorRate: 0.1 }) });
  const cur = (await put.json()) as { latencyMs: number; errorRate: number };
  assert.deepEqual([cur.latencyMs, cur.errorRate], [0, 0.1]);
  const got = (await (await fetch(`${pod.url}/admin/faults`)).json()) as { errorRate: number };
  assert.equal(got.errorRate, 0.1);
});

test("faults can be set by flag at start (a fleet pod with --fault-error-rate 1 --fault-error-status 429)", async () => {
  const fleet = await startFleet({
    pods: [{ name: "flaky", args: ["--fault-error-rate", "1", "--fault-error-status", "429", "--fault-metrics-down"] }],
  });
  try {
    const p = fleet.pods[0];
    const r = await postJson(`${p.url}/v1/chat/completions`, chat());
    assert.equal(r.status, 429);
    assert.equal(r.body.error.type, "RateLimitError");
    assert.equal((await fetch(`${p.url}/metrics`)).status, 503);
  } finally {
    await fleet.stop();
  }
});
