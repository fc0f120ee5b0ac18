// Metrics move as load rises, under each runtime's real names: a burst beyond --max-num-seqs
// waits and the waiting gauge shows it; KV use and prefix-cache hits/queries rise.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { longText, metric, postJson, type Sample, scrape, sleep } from "./helpers.js";
import type { Runtime } from "./metrics.js";
import { type SimServer, simConfig, startSimServer } from "./server.js";

const MODEL = "/models/Qwen3-32B";
const pods: Partial<Record<Runtime, SimServer>> = {};

before(async () => {
  for (const runtime of ["vllm", "sglang", "trtllm"] as const) {
    pods[runtime] = await startSimServer(
      simConfig({
        name: `load-${runtime}`,
        runtime,
        port: 0,
        maxNumSeqs: 4,
        prefillOverheadMs: 2,
        prefillTimePerTokenMs: 0.01,
        interTokenLatencyMs: 15,
        decodeTimePerSeqMs: 1,
        kvBlocks: runtime === "sglang" ? 4096 : 256, // sglang counts 1-token pages
      }),
    );
  }
});
after(async () => {
  for (const p of Object.values(pods)) await p?.stop();
});

/** running, waiting, KV use, prefix hits, prefix queries - read with the runtime's own names */
function readLoad(runtime: Runtime, m: Sample[]) {
  switch (runtime) {
    case "vllm": {
      const L = { model_name: MODEL, engine: "0" };
      return {
        running: metric(m, "vllm:num_requests_running", L),
        waiting: metric(m, "vllm:num_requests_waiting", L),
        kv: metric(m, "vllm:kv_cache_usage_perc", L),
        kvOld: metric(m, "vllm:gpu_cache_usage_perc", L),
        hits: metric(m, "vllm:prefix_cache_hits_total", L),
        queries: metric(m, "vllm:prefix_cache_queries_total", L),
      };
    }
    case "sglang": {
      const L = { model_name: MODEL, engine_type: "unified", tp_rank: "0", pp_rank: "0" };
      const T = { model_name: MODEL };
      return {
        running: metric(m, "sglang:num_running_reqs", L),
        waiting: metric(m, "sglang:num_queue_reqs", L),
        kv: metric(m, "sglang:token_usage", L),
        kvOld: metric(m, "sglang:token_usage", L),
        hits: metric(m, "sglang:cached_tokens_total", T),
        queries: metric(m, "sglang:prompt_tokens_total", T),
      };
    }
    case "trtllm": {
      const M = { model: "tensorrt_llm", version: "1" };
      return {
        running: metric(m, "nv_trt_llm_request_metrics", { ...M, request_type: "scheduled" }),
        waiting: metric(m, "nv_trt_llm_request_metrics", { ...M, request_type: "waiting" }),
        kv: metric(m, "nv_trt_llm_kv_cache_block_metrics", { ...M, kv_cache_block_type: "fraction" }),
        kvOld: metric(m, "nv_trt_llm_kv_cache_block_metrics", { ...M, kv_cache_block_type: "fraction" }),
        hits: metric(m, "nv_trt_llm_kv_cache_block_metrics", { ...M, kv_cache_block_type: "reused" }),
        queries: metric(m, "nv_trt_llm_kv_cache_block_metrics", { ...M, kv_cache_block_type: "alloc_total" }),
      };
    }
  }
}

for (const runtime of ["vllm", "sglang", "trtllm"] as const) {
  test(`${runtime}: a burst of 10 beyond --max-num-seqs 4 waits; gauges and counters move`, async () => {
    const pod = pods[runtime]!;
    const idle = readLoad(runtime, await scrape(pod.url));
    assert.deepEqual(
      [idle.running, idle.waiting, idle.kv, idle.hits, idle.queries],
      [0, 0, 0, 0, 0],
      JSON.stringify(idle),
    );
    const shared = longText("burst system prompt", 100);
    const burst = Array.from({ length: 10 }, (_, i) =>
      postJson(`${pod.url}/v1/chat/completions`, {
        model: MODEL,
        messages: [
          { role: "system", content: shared },
          { role: "user", content: `question ${i}` },
        ],
        max_tokens: 12,
      }),
    );
    // Wait until all ten have arrived (on a busy machine that can take longer than a fixed sleep).
    let busy = readLoad(runtime, await scrape(pod.url));
    // ...and the engine has admitted what fits (between steps new arrivals count as waiting).
    for (let i = 0; i < 100 && ((busy.running ?? 0) + (busy.waiting ?? 0) < 10 || (busy.running ?? 0) < 4); i++) {
      await sleep(20);
      busy = readLoad(runtime, await scrape(pod.url));
    }
    assert.equal(busy.running, 4, JSON.stringify(busy));
    assert.equal(busy.waiting, 6, JSON.stringify(busy));
    assert.ok((busy.kv ?? 0) > 0 && (busy.kv ?? 0) <= 1, `kv ${busy.kv}`);
    assert.equal(busy.kvOld, busy.kv);
    const results = await Promise.all(burst);
    for (const r of results) assert.equal(r.status, 200);
    const done = readLoad(runtime, await scrape(pod.url));
    assert.deepEqual([done.running, done.waiting, done.kv], [0, 0, 0], JSON.stringify(done));
    assert.ok((done.queries ?? 0) > 0);
    assert.ok((done.hits ?? 0) > 0, "requests after the first reuse the shared system prompt");
    // the queued six started late: their queue time shows in the request log
    const log = (await (await fetch(`${pod.url}/debug/requests`)).json()) as { requests: Array<{ queueMs: number }> };
    const queued = log.requests.filter((r) => r.queueMs > 100);
    assert.equal(queued.length, 6, JSON.stringify(log.requests.map((r) => r.queueMs)));
  });
}

test("every runtime exposes its documented names", async () => {
  const names = async (r: Runtime) => new Set((await scrape(pods[r]!.url)).map((s) => s.name));
  const v = await names("vllm");
  for (const n of [
    "vllm:num_requests_running",
    "vllm:num_requests_waiting",
    "vllm:kv_cache_usage_perc",
    "vllm:gpu_cache_usage_perc",
    "vllm:prefix_cache_hits_total",
    "vllm:prefix_cache_queries_total",
    "vllm:cache_config_info",
    "vllm:time_to_first_token_seconds_bucket",
    "vllm:request_success_total",
  ])
    assert.ok(v.has(n), n);
  const cfgInfo = (await scrape(pods.vllm!.url)).find((s) => s.name === "vllm:cache_config_info")!;
  assert.equal(cfgInfo.labels.block_size, "16");
  assert.equal(cfgInfo.labels.num_gpu_blocks, "256");
  const s = await names("sglang");
  for (const n of [
    "sglang:num_running_reqs",
    "sglang:num_queue_reqs",
    "sglang:token_usage",
    "sglang:cache_hit_rate",
    "sglang:gen_throughput",
    "sglang:max_total_num_tokens",
    "sglang:time_to_first_token_seconds_bucket",
  ])
    assert.ok(s.has(n), n);
  const t = await scrape(pods.trtllm!.url);
  const types = (fam: string, label: string) => new Set(t.filter((x) => x.name === fam).map((x) => x.labels[label]));
  assert.deepEqual([...types("nv_trt_llm_request_metrics", "request_type")].sort(), [
    "active",
    "context",
    "max",
    "scheduled",
    "waiting",
  ]);
  assert.deepEqual([...types("nv_trt_llm_kv_cache_block_metrics", "kv_cache_block_type")].sort(), [
    "alloc_new",
    "alloc_total",
    "fraction",
    "free",
    "max",
    "reused",
    "tokens_per",
    "used",
  ]);
  assert.ok(t.some((x) => x.name === "nv_inference_pending_request_count"));
});
