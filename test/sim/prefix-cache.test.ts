// The prefix KV cache changes TTFT by exactly what the timing model says, and stops doing so once
// the prefix was evicted.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { longText, metric, postJson, scrape } from "./helpers.js";
import { type SimServer, simConfig, startSimServer } from "./server.js";
import { countTokens } from "./tokens.js";

const MODEL = "/models/Qwen3-32B";
const OVERHEAD_MS = 5;
const PER_TOKEN_MS = 0.5;
const BLOCK = 16;
let pod: SimServer;

before(async () => {
  pod = await startSimServer(
    simConfig({
      name: "cache-pod",
      port: 0,
      prefillOverheadMs: OVERHEAD_MS,
      prefillTimePerTokenMs: PER_TOKEN_MS,
      interTokenLatencyMs: 0,
      decodeTimePerSeqMs: 0,
      blockSize: BLOCK,
      kvBlocks: 40,
      enablePromptTokensDetails: true,
    }),
  );
});
after(async () => {
  await pod.stop();
});

async function complete(prompt: string) {
  const r = await postJson(`${pod.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const log = (await (await fetch(`${pod.url}/debug/requests?limit=1`)).json()) as {
    requests: Array<{ ttftMs: number; cachedTokens: number }>;
  };
  return {
    cached: r.body.usage.prompt_tokens_details.cached_tokens as number,
    prompt: r.body.usage.prompt_tokens as number,
    ttft: log.requests[0].ttftMs,
    clientMs: r.ms,
  };
}

test("a cached prefix lowers TTFT by cached tokens x prefill time; after eviction it does not", async () => {
  const a = longText("conversation A", 300);
  const n = countTokens(a);
  assert.ok(n > 330 && n < 560, `prompt of ${n} tokens`); // needs 21..35 of the 40 blocks

  const first = await complete(a);
  assert.equal(first.cached, 0);
  assert.equal(first.prompt, n);
  const expectFull = OVERHEAD_MS + n * PER_TOKEN_MS;
  assert.ok(Math.abs(first.ttft - expectFull) < 40, `uncached TTFT ${first.ttft} vs model ${expectFull}`);

  const second = await complete(a);
  const hit = Math.floor((n - 1) / BLOCK) * BLOCK; // all full blocks, the last token recomputed
  assert.equal(second.cached, hit);
  const expectCached = OVERHEAD_MS + (n - hit) * PER_TOKEN_MS;
  assert.ok(Math.abs(second.ttft - expectCached) < 40, `cached TTFT ${second.ttft} vs model ${expectCached}`);
  const saved = first.ttft - second.ttft;
  assert.ok(Math.abs(saved - hit * PER_TOKEN_MS) < 50, `saved ${saved} ms, model says ${hit * PER_TOKEN_MS}`);
  assert.ok(first.clientMs - second.clientMs > (hit * PER_TOKEN_MS) / 2, "the client sees the difference too");

  // Two other long prompts fill the 40-block cache; A's blocks are least recently used: evicted.
  await complete(longText("conversation B", 300));
  await complete(longText("conversation C", 300));
  const third = await complete(a);
  assert.equal(third.cached, 0, "A was evicted");
  assert.ok(Math.abs(third.ttft - expectFull) < 40, `after eviction TTFT ${third.ttft} vs model ${expectFull}`);
  assert.ok(third.ttft - second.ttft > (hit * PER_TOKEN_MS) / 2);

  const m = await scrape(pod.url);
  const L = { model_name: MODEL, engine: "0" };
  assert.equal(metric(m, "vllm:prefix_cache_hits_total", L), hit);
  assert.ok((metric(m, "vllm:prefix_cache_queries_total", L) ?? 0) >= 3 * n);
  assert.equal(metric(m, "vllm:time_to_first_token_seconds_count", L), 5);
});

test("a shared system prompt is a prefix hit for a different question", async () => {
  await fetch(`${pod.url}/admin/reset`, { method: "POST" });
  const system = longText("shared system prompt", 120);
  const r1 = await postJson(`${pod.url}/v1/chat/completions`, {
    model: MODEL,
    messages: [
      { role: "system", content: system },
      { role: "user", content: "first question" },
    ],
    max_tokens: 1,
  });
  const r2 = await postJson(`${pod.url}/v1/chat/completions`, {
    model: MODEL,
    messages: [
      { role: "system", content: system },
      { role: "user", content: "a different question" },
    ],
    max_tokens: 1,
  });
  assert.equal(r1.body.usage.prompt_tokens_details.cached_tokens, 0);
  const sharedTokens = countTokens(`<|im_start|>system\n${system}<|im_end|>\n<|im_start|>user\n`);
  const cached = r2.body.usage.prompt_tokens_details.cached_tokens;
  assert.ok(
    cached > 0 && cached <= sharedTokens && sharedTokens - cached < BLOCK,
    `cached ${cached} of shared ${sharedTokens}`,
  );
});
