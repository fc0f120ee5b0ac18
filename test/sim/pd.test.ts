// SGLang prefill/decode: a decode request with a bootstrap room completes only after the prefill
// pod served the same room, and fails cleanly when the hand-over never comes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { freePort } from "../../scripts/lib/ports.js";
import { type Fleet, type FleetPod, startFleet } from "./fleet.js";
import { metric, postJson, scrape, sleep } from "./helpers.js";

const MODEL = "/models/Qwen3-32B";
let fleet: Fleet;
let prefill: FleetPod;
let decode: FleetPod;
let roomSeq = 1000 + Math.floor(Math.random() * 1e6);

before(async () => {
  fleet = await startFleet({
    runtime: "sglang",
    args: ["--prefill-overhead-ms", "2", "--prefill-time-per-token-ms", "0.05", "--inter-token-latency-ms", "3"],
    pods: [
      { name: "p-0", role: "prefill" },
      { name: "d-0", role: "decode", args: ["--bootstrap-timeout-ms", "800"] },
    ],
  });
  prefill = fleet.pod("p-0");
  decode = fleet.pod("d-0");
});
after(async () => {
  await fleet?.stop();
});

const messages = [{ role: "user", content: "Tell me about prefill and decode disaggregation in a few words." }];

test("the fleet reports the prefill pod's bootstrap port", () => {
  assert.equal(prefill.role, "prefill");
  assert.equal(typeof prefill.bootstrapPort, "number");
  assert.equal(decode.bootstrapPort, null);
});

test("decode waits for the room's hand-over from the prefill pod, then decodes", async () => {
  const room = roomSeq++;
  const pd = { bootstrap_host: "127.0.0.1", bootstrap_port: prefill.bootstrapPort, bootstrap_room: room };
  const t0 = performance.now();
  let decodeDoneAt = 0;
  const dec = postJson(`${decode.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 5, ...pd }).then(
    (r) => {
      decodeDoneAt = performance.now() - t0;
      return r;
    },
  );
  await sleep(250);
  assert.equal(decodeDoneAt, 0, "decode must not finish before the prefill pod served the room");
  const waiting = metric(await scrape(decode.url), "sglang:num_decode_transfer_queue_reqs", { engine_type: "decode" });
  assert.equal(waiting, 1);
  const pre = await postJson(`${prefill.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 5, ...pd });
  const prefillDoneAt = performance.now() - t0;
  assert.equal(pre.status, 200);
  assert.equal(pre.headers.get("x-sim-pod"), "p-0");
  assert.equal(pre.body.usage.completion_tokens, 1, "the prefill half stops after its first token");
  const d = await dec;
  assert.equal(d.status, 200, JSON.stringify(d.body));
  assert.equal(d.headers.get("x-sim-pod"), "d-0");
  assert.equal(d.body.usage.completion_tokens, 5);
  assert.ok(
    decodeDoneAt >= 250 && decodeDoneAt + 1 >= prefillDoneAt - 50,
    `decode done at ${decodeDoneAt}, prefill at ${prefillDoneAt}`,
  );
  const dlog = (await (await fetch(`${decode.url}/debug/requests?limit=1`)).json()) as {
    requests: Array<{ bootstrapRoom: string; role: string; outcome: string }>;
  };
  assert.deepEqual(
    [dlog.requests[0].bootstrapRoom, dlog.requests[0].role, dlog.requests[0].outcome],
    [String(room), "decode", "served"],
  );
  const plog = (await (await fetch(`${prefill.url}/debug/requests?limit=1`)).json()) as {
    requests: Array<{ bootstrapRoom: string; role: string }>;
  };
  assert.deepEqual([plog.requests[0].bootstrapRoom, plog.requests[0].role], [String(room), "prefill"]);
});

test("prefill first, decode later (streaming, openai client with extra body fields) also works", async () => {
  const room = roomSeq++;
  const pd = { bootstrap_host: "127.0.0.1", bootstrap_port: prefill.bootstrapPort, bootstrap_room: room };
  const pre = await postJson(`${prefill.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 4, ...pd });
  assert.equal(pre.status, 200);
  const client = new OpenAI({ baseURL: `${decode.url}/v1`, apiKey: "none", maxRetries: 0 });
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: messages[0].content }],
    max_tokens: 4,
    stream: true,
    stream_options: { include_usage: true },
    ...pd,
  } as OpenAI.ChatCompletionCreateParamsStreaming);
  let n = 0;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const c of stream) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) if (ch.delta.content) n++;
  }
  assert.equal(n, 4);
  assert.equal(usage?.completion_tokens, 4);
});

test("no hand-over within --bootstrap-timeout-ms: the decode request fails cleanly (500, OpenAI error)", async () => {
  const room = roomSeq++;
  const t = performance.now();
  const r = await postJson(`${decode.url}/v1/chat/completions`, {
    model: MODEL,
    messages,
    max_tokens: 3,
    bootstrap_host: "127.0.0.1",
    bootstrap_port: prefill.bootstrapPort,
    bootstrap_room: room,
  });
  const ms = performance.now() - t;
  assert.equal(r.status, 500);
  assert.match(r.body.error.message, new RegExp(String(room)));
  assert.ok(ms >= 700 && ms < 5000, `failed after ${ms} ms`);
  const m = await scrape(decode.url);
  assert.ok((metric(m, "sglang:num_transfer_failed_reqs_total") ?? 0) >= 1);
  assert.equal(metric(m, "sglang:num_decode_transfer_queue_reqs"), 0);
});

test("an unreachable bootstrap server fails the decode request as a bootstrap failure", async () => {
  const closed = await freePort();
  const r = await postJson(`${decode.url}/v1/chat/completions`, {
    model: MODEL,
    messages,
    max_tokens: 3,
    bootstrap_host: "127.0.0.1",
    bootstrap_port: closed,
    bootstrap_room: roomSeq++,
  });
  assert.equal(r.status, 500);
  assert.match(r.body.error.message, /could not reach bootstrap server/);
  assert.ok((metric(await scrape(decode.url), "sglang:num_bootstrap_failed_reqs_total") ?? 0) >= 1);
});

test("a decode pod refuses requests without bootstrap fields (400)", async () => {
  const r = await postJson(`${decode.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: 3 });
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /bootstrap/);
});
