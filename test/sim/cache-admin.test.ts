// The engines' own prefix-cache resets: vLLM's POST /reset_prefix_cache and SGLang's /flush_cache.
// After a reset the next request hits nothing, and the hit/query counters (Prometheus counters,
// never reset) move accordingly.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { longText, metric, postJson, scrape, sleep } from "./helpers.js";
import { type SimServer, simConfig, startSimServer } from "./server.js";
import { countTokens } from "./tokens.js";

const MODEL = "/models/Qwen3-32B";
const BLOCK = 16;
let vllm: SimServer;
let sglang: SimServer;
let trtllm: SimServer;

before(async () => {
  const common = {
    port: 0,
    prefillOverheadMs: 0,
    prefillTimePerTokenMs: 0,
    interTokenLatencyMs: 5,
    decodeTimePerSeqMs: 0,
    blockSize: BLOCK,
  };
  vllm = await startSimServer(simConfig({ ...common, name: "v", runtime: "vllm", enablePromptTokensDetails: true }));
  sglang = await startSimServer(simConfig({ ...common, name: "s", runtime: "sglang", enableCacheReport: true }));
  trtllm = await startSimServer(simConfig({ ...common, name: "t", runtime: "trtllm" }));
});
after(async () => {
  await Promise.all([vllm.stop(), sglang.stop(), trtllm.stop()]);
});

const prompt = longText("a prompt to forget", 50);
const n = countTokens(prompt);
const warm = Math.floor((n - 1) / BLOCK) * BLOCK;

async function complete(pod: SimServer, maxTokens = 1) {
  const r = await postJson(`${pod.url}/v1/completions`, { model: MODEL, prompt, max_tokens: maxTokens });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.usage;
}

test("vLLM: POST /reset_prefix_cache empties the cache; the next request reports cached_tokens 0", async () => {
  await complete(vllm);
  assert.equal((await complete(vllm)).prompt_tokens_details.cached_tokens, warm);
  const L = { model_name: MODEL, engine: "0" };
  const before = await scrape(vllm.url);
  const r = await fetch(`${vllm.url}/reset_prefix_cache`, { method: "POST" });
  assert.equal(r.status, 200);
  assert.equal(await r.text(), "");
  assert.equal((await complete(vllm)).prompt_tokens_details.cached_tokens, 0);
  const afterReset = await scrape(vllm.url);
  assert.equal(
    metric(afterReset, "vllm:prefix_cache_queries_total", L),
    (metric(before, "vllm:prefix_cache_queries_total", L) ?? 0) + n,
  );
  assert.equal(
    metric(afterReset, "vllm:prefix_cache_hits_total", L),
    metric(before, "vllm:prefix_cache_hits_total", L),
  );
  assert.equal((await complete(vllm)).prompt_tokens_details.cached_tokens, warm, "and it fills again");
});

test("vLLM: while a request runs the reset changes nothing, unless reset_running_requests preempts it", async () => {
  await complete(vllm);
  const running = complete(vllm, 40); // ~200 ms of decode
  await sleep(40);
  assert.equal((await fetch(`${vllm.url}/reset_prefix_cache`, { method: "POST" })).status, 200);
  assert.equal((await complete(vllm)).prompt_tokens_details.cached_tokens, warm, "blocks in use: not reset");
  const preemptionsBefore = metric(await scrape(vllm.url), "vllm:num_preemptions_total") ?? 0;
  const r = await fetch(`${vllm.url}/reset_prefix_cache?reset_running_requests=true`, { method: "POST" });
  assert.equal(r.status, 200);
  assert.ok((metric(await scrape(vllm.url), "vllm:num_preemptions_total") ?? 0) > preemptionsBefore);
  const u = await running;
  assert.equal(u.completion_tokens, 40, "the preempted request recomputes and completes");
  await fetch(`${vllm.url}/reset_prefix_cache`, { method: "POST" });
  assert.equal((await complete(vllm)).prompt_tokens_details.cached_tokens, 0);
});

test("SGLang: /flush_cache (GET or POST) empties the radix cache; refused with 400 while busy", async () => {
  await complete(sglang);
  assert.equal((await complete(sglang)).prompt_tokens_details.cached_tokens, warm);
  const T = { model_name: MODEL };
  const cachedBefore = metric(await scrape(sglang.url), "sglang:cached_tokens_total", T);
  const ok = await fetch(`${sglang.url}/flush_cache`, { method: "POST" });
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /^Cache flushed\./);
  assert.equal((await complete(sglang)).prompt_tokens_details, null, "SGLang reports no details for 0 cached");
  assert.equal(metric(await scrape(sglang.url), "sglang:cached_tokens_total", T), cachedBefore);
  assert.equal((await complete(sglang)).prompt_tokens_details.cached_tokens, warm);
  const running = complete(sglang, 40);
  await sleep(40);
  const busy = await fetch(`${sglang.url}/flush_cache`);
  assert.equal(busy.status, 400);
  await busy.text();
  // ?timeout waits for the running request to finish, then flushes
  const waited = await fetch(`${sglang.url}/flush_cache?timeout=5`);
  assert.equal(waited.status, 200);
  await waited.text();
  await running;
  assert.equal((await complete(sglang)).prompt_tokens_details, null);
});

test("each runtime exposes only its own reset; Triton has none", async () => {
  for (const [pod, path] of [
    [vllm, "/flush_cache"],
    [sglang, "/reset_prefix_cache"],
    [trtllm, "/reset_prefix_cache"],
    [trtllm, "/flush_cache"],
  ] as const) {
    const r = await fetch(pod.url + path, { method: "POST" });
    assert.equal(r.status, 404, `${pod.config.runtime} ${path}`);
    await r.arrayBuffer();
  }
  const get = await fetch(`${vllm.url}/reset_prefix_cache`);
  assert.equal(get.status, 405);
  await get.arrayBuffer();
});
