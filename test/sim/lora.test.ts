// LoRA adapters: served by name, 404 when unknown, --max-loras limits adapters per batch, and
// vllm:lora_requests_info reports running and waiting adapters.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { longText, parseMetrics, postJson, sleep } from "./helpers.js";
import { type SimServer, simConfig, startSimServer } from "./server.js";

let pod: SimServer;

before(async () => {
  pod = await startSimServer(
    simConfig({
      name: "lora-pod",
      port: 0,
      loraModules: ["sql-lora", "chat-lora"],
      maxLoras: 1,
      prefillOverheadMs: 1,
      prefillTimePerTokenMs: 0.01,
      interTokenLatencyMs: 15,
      decodeTimePerSeqMs: 0,
      enablePromptTokensDetails: true,
    }),
  );
});
after(async () => {
  await pod.stop();
});

/** the newest vllm:lora_requests_info series (largest timestamp value) */
async function loraInfo() {
  const m = parseMetrics(await (await fetch(`${pod.url}/metrics`)).text()).filter(
    (s) => s.name === "vllm:lora_requests_info",
  );
  m.sort((a, b) => b.value - a.value);
  return m[0]?.labels;
}

test("adapters are listed and served; unknown adapters 404", async () => {
  const models = (await (await fetch(`${pod.url}/v1/models`)).json()) as {
    data: Array<{ id: string; parent: string | null }>;
  };
  assert.deepEqual(
    models.data.map((m) => [m.id, m.parent]),
    [
      ["/models/Qwen3-32B", null],
      ["sql-lora", "/models/Qwen3-32B"],
      ["chat-lora", "/models/Qwen3-32B"],
    ],
  );
  const ok = await postJson(`${pod.url}/v1/chat/completions`, {
    model: "sql-lora",
    messages: [{ role: "user", content: "select" }],
    max_tokens: 2,
  });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.model, "sql-lora");
  const log = (await (await fetch(`${pod.url}/debug/requests?limit=1`)).json()) as {
    requests: Array<{ adapter: string }>;
  };
  assert.equal(log.requests[0].adapter, "sql-lora");
  const missing = await postJson(`${pod.url}/v1/chat/completions`, {
    model: "no-lora",
    messages: [{ role: "user", content: "x" }],
  });
  assert.equal(missing.status, 404);
  assert.match(missing.body.error.message, /no-lora/);
});

test("--max-loras 1: a second adapter waits; lora_requests_info shows running and waiting", async () => {
  const idle = await loraInfo();
  assert.deepEqual(idle, { max_lora: "1", waiting_lora_adapters: "", running_lora_adapters: "" });
  const aStart = Date.now();
  const a = postJson(`${pod.url}/v1/chat/completions`, {
    model: "sql-lora",
    messages: [{ role: "user", content: "long job" }],
    max_tokens: 15,
  });
  await sleep(30);
  const bStart = Date.now();
  const b = postJson(`${pod.url}/v1/chat/completions`, {
    model: "chat-lora",
    messages: [{ role: "user", content: "other job" }],
    max_tokens: 2,
  });
  await sleep(50);
  const busy = await loraInfo();
  assert.deepEqual(busy, { max_lora: "1", waiting_lora_adapters: "chat-lora", running_lora_adapters: "sql-lora" });
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.status, 200);
  assert.equal(rb.status, 200);
  // Finish times, not durations: b's start depends on how long the sleep above really took.
  assert.ok(bStart + rb.ms >= aStart + ra.ms - 20, "chat-lora only ran once sql-lora finished");
  const after = await loraInfo();
  assert.deepEqual(after, { max_lora: "1", waiting_lora_adapters: "", running_lora_adapters: "" });
});

test("the same prompt under another adapter does not share KV blocks", async () => {
  const prompt = longText("adapter prompt", 80);
  const r1 = await postJson(`${pod.url}/v1/completions`, { model: "sql-lora", prompt, max_tokens: 1 });
  const r2 = await postJson(`${pod.url}/v1/completions`, { model: "chat-lora", prompt, max_tokens: 1 });
  const r3 = await postJson(`${pod.url}/v1/completions`, { model: "sql-lora", prompt, max_tokens: 1 });
  assert.equal(r1.body.usage.prompt_tokens_details.cached_tokens, 0);
  assert.equal(r2.body.usage.prompt_tokens_details.cached_tokens, 0);
  assert.ok(r3.body.usage.prompt_tokens_details.cached_tokens > 0);
});
