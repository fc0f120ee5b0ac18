// The OpenAI API surface of one simulated pod, checked with the real `openai` npm client.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { postJson } from "./helpers.js";
import { type SimServer, simConfig, startSimServer } from "./server.js";
import { countTokens, renderChat } from "./tokens.js";

const MODEL = "/models/Qwen3-32B";
let pod: SimServer;
let client: OpenAI;

before(async () => {
  pod = await startSimServer(
    simConfig({
      name: "api-pod",
      port: 0,
      prefillOverheadMs: 1,
      prefillTimePerTokenMs: 0.01,
      interTokenLatencyMs: 1,
      decodeTimePerSeqMs: 0,
    }),
  );
  client = new OpenAI({ baseURL: `${pod.url}/v1`, apiKey: "none", maxRetries: 0 });
});
after(async () => {
  await pod.stop();
});

test("chat completion, non-streaming: content, usage, identity header", async () => {
  const messages = [{ role: "user" as const, content: "Hello, this is a test" }];
  const { data, response } = await client.chat.completions
    .create({ model: MODEL, messages, max_tokens: 7 })
    .withResponse();
  assert.equal(response.headers.get("x-sim-pod"), "api-pod");
  assert.equal(data.object, "chat.completion");
  assert.equal(data.model, MODEL);
  assert.equal(data.choices[0].message.role, "assistant");
  assert.equal(data.choices[0].finish_reason, "length");
  assert.ok((data.choices[0].message.content ?? "").length > 0);
  const promptTokens = countTokens(renderChat(messages));
  assert.equal(data.usage?.prompt_tokens, promptTokens);
  assert.equal(data.usage?.completion_tokens, 7);
  assert.equal(data.usage?.total_tokens, promptTokens + 7);
  // vLLM's default: no --enable-prompt-tokens-details, so no cached-token report (usage.test.ts)
  assert.equal(data.usage?.prompt_tokens_details, null);
});

test("chat completion, streaming with include_usage parses with the openai client", async () => {
  const messages = [{ role: "user" as const, content: "Stream me some tokens please, a few of them." }];
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages,
    max_tokens: 12,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let contentChunks = 0;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.content) {
        text += c.delta.content;
        contentChunks++;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(contentChunks, 12);
  assert.equal(countTokens(text), 12);
  assert.equal(finish, "length");
  assert.ok(usage, "usage chunk present");
  assert.equal(usage.completion_tokens, 12);
  assert.equal(usage.prompt_tokens, countTokens(renderChat(messages)));
  assert.equal(usage.total_tokens, usage.prompt_tokens + 12);
});

test("streaming without include_usage has no usage chunk; without max_tokens stops at --output-len", async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "hi" }],
    stream: true,
  });
  let n = 0;
  let finish: string | null = null;
  for await (const chunk of stream) {
    assert.equal(chunk.usage ?? undefined, undefined);
    for (const c of chunk.choices) {
      if (c.delta.content) n++;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(n, 32);
  assert.equal(finish, "stop");
});

test("completions, streaming and not", async () => {
  const prompt = "The capital of France is";
  const r = await client.completions.create({ model: MODEL, prompt, max_tokens: 5 });
  assert.equal(r.object, "text_completion");
  assert.equal(r.usage?.prompt_tokens, countTokens(prompt));
  assert.equal(r.usage?.completion_tokens, 5);
  assert.equal(countTokens(r.choices[0].text), 5);
  const s = await client.completions.create({
    model: MODEL,
    prompt,
    max_tokens: 4,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const c of s) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) text += ch.text;
  }
  assert.equal(countTokens(text), 4);
  assert.equal(usage?.completion_tokens, 4);
  // token-id prompts count as given
  const ids = await postJson(`${pod.url}/v1/completions`, { model: MODEL, prompt: [1, 2, 3, 4, 5], max_tokens: 1 });
  assert.equal(ids.status, 200);
  assert.equal(ids.body.usage.prompt_tokens, 5);
});

test("raw SSE framing ends with data: [DONE]", async () => {
  const res = await fetch(`${pod.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 2, stream: true }),
  });
  assert.equal(res.headers.get("content-type"), "text/event-stream");
  const text = await res.text();
  const events = text.split("\n\n").filter(Boolean);
  assert.ok(events.every((e) => e.startsWith("data: ")));
  assert.equal(events.at(-1), "data: [DONE]");
});

test("errors are OpenAI-shaped: 400 bad body, 404 unknown model, 404 unknown path", async () => {
  const bad = await postJson(`${pod.url}/v1/chat/completions`, "{not json");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, 400);
  assert.equal(typeof bad.body.error.message, "string");
  assert.equal(bad.headers.get("x-sim-pod"), "api-pod");
  for (const body of [
    { model: MODEL },
    { model: MODEL, messages: [] },
    { messages: [{ role: "user", content: "x" }] },
    { model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 0 },
    { model: MODEL, messages: [{ role: "user", content: "x" }], stream: "yes" },
    { model: MODEL, messages: [{ role: "user", content: "x" }], stream_options: { include_usage: true } },
    { model: MODEL, messages: [{ role: "user", content: "x" }], max_tokens: 1_000_000 },
  ]) {
    const r = await postJson(`${pod.url}/v1/chat/completions`, body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(r.body.error.type, "BadRequestError");
  }
  const unknown = await postJson(`${pod.url}/v1/chat/completions`, {
    model: "no-such-model",
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(unknown.status, 404);
  assert.match(unknown.body.error.message, /no-such-model/);
  assert.equal(unknown.body.error.type, "NotFoundError");
  await assert.rejects(
    client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
    (e: unknown) => e instanceof OpenAI.NotFoundError,
  );
  const nope = await fetch(`${pod.url}/v2/nothing`);
  assert.equal(nope.status, 404);
  assert.equal(((await nope.json()) as { error: { code: number } }).error.code, 404);
});

test("models, health endpoints, debug request log", async () => {
  const models = await client.models.list();
  assert.deepEqual(
    models.data.map((m) => m.id),
    [MODEL],
  );
  for (const p of ["/health", "/health_generate", "/v2/health/ready"]) {
    const r = await fetch(pod.url + p);
    assert.equal(r.status, 200, p);
    assert.equal(r.headers.get("x-sim-pod"), "api-pod");
  }
  await postJson(
    `${pod.url}/v1/completions`,
    { model: MODEL, prompt: "tagged", max_tokens: 1 },
    { headers: { "content-type": "application/json", "x-request-id": "req-42", "x-test-tag": "t1" } },
  );
  const log = (await (await fetch(`${pod.url}/debug/requests?limit=1`)).json()) as {
    pod: string;
    requests: Array<Record<string, unknown>>;
  };
  assert.equal(log.pod, "api-pod");
  assert.equal(log.requests.length, 1);
  const r = log.requests[0];
  assert.equal(r.id, "req-42");
  assert.equal(r.pod, "api-pod");
  assert.equal(r.path, "/v1/completions");
  assert.equal(r.status, 200);
  assert.equal(r.completionTokens, 1);
  assert.deepEqual(r.headers, { "x-request-id": "req-42", "x-test-tag": "t1" });
  assert.equal(typeof r.ttftMs, "number");
});
