// Cross-check against a simulator we did not write: llm-d-inference-sim (installed by
// scripts/get-llm-d-sim.sh into .tools/bin), started by the same fleet launcher. Skipped when the
// binary is absent, unless INFERGATE_REQUIRE_LLMD_SIM is set (then absence is a failure).
import assert from "node:assert/strict";
import { test } from "node:test";
import { llmdSimBinary, startFleet } from "./fleet.js";
import { longText, metric, postJson, scrape } from "./helpers.js";

const MODEL = "/models/Qwen3-32B";
const bin = llmdSimBinary();
const skip =
  !bin && !process.env.INFERGATE_REQUIRE_LLMD_SIM
    ? "llm-d-inference-sim not installed (run scripts/get-llm-d-sim.sh, or set INFERGATE_REQUIRE_LLMD_SIM=1 to make this a failure)"
    : false;

test("llm-d-inference-sim fleet: identity, prefix-cache hit lowers TTFT, vLLM metric names", { skip }, async () => {
  assert.ok(bin, "llm-d-inference-sim binary required (INFERGATE_REQUIRE_LLMD_SIM is set)");
  const PER_TOKEN_MS = 1;
  const fleet = await startFleet({
    impl: "llm-d",
    pods: [{ name: "llmd-0" }, { name: "llmd-1" }],
    args: [
      "--block-size",
      "16",
      "--kv-cache-size",
      "256",
      "--max-num-seqs",
      "8",
      "--prefill-overhead",
      "5ms",
      "--prefill-time-per-token",
      `${PER_TOKEN_MS}ms`,
      "--inter-token-latency",
      "1ms",
    ],
  });
  try {
    const pod = fleet.pod("llmd-0");
    // Identity: llm-d names the pod in x-inference-pod (from POD_NAME).
    const hello = await postJson(`${pod.url}/v1/chat/completions`, {
      model: MODEL,
      messages: [{ role: "user", content: "Hello, this is a test" }],
      max_tokens: 5,
    });
    assert.equal(hello.status, 200);
    assert.equal(hello.headers.get("x-inference-pod"), "llmd-0");
    // its "random" mode picks a random length up to max_tokens (ours always generates max_tokens)
    assert.ok(hello.body.usage.completion_tokens >= 1 && hello.body.usage.completion_tokens <= 5);
    assert.equal(
      (
        await postJson(`${fleet.pod("llmd-1").url}/v1/completions`, { model: MODEL, prompt: "x", max_tokens: 1 })
      ).headers.get("x-inference-pod"),
      "llmd-1",
    );

    // Prefix cache: the same long prompt twice; the second reports cached tokens and is faster
    // by about cached x per-token prefill time.
    const prompt = longText("llm-d prompt", 300);
    const first = await postJson(`${pod.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    const second = await postJson(`${pod.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 1 });
    assert.equal(first.status, 200);
    assert.equal(first.body.usage.prompt_tokens_details?.cached_tokens ?? 0, 0);
    const cached = second.body.usage.prompt_tokens_details.cached_tokens as number;
    assert.ok(cached > 0, "second request hits the prefix cache");
    const saved = first.ms - second.ms;
    assert.ok(saved > cached * PER_TOKEN_MS * 0.6, `saved ${saved.toFixed(1)} ms for ${cached} cached tokens`);

    // Metric names: the ones the gateway reads are present (no "engine" label, and prefix-cache
    // counters without the _total suffix that real vLLM exposes).
    const m = await scrape(pod.url);
    const L = { model_name: MODEL };
    assert.equal(metric(m, "vllm:num_requests_running", L), 0);
    assert.equal(metric(m, "vllm:num_requests_waiting", L), 0);
    assert.equal(metric(m, "vllm:kv_cache_usage_perc", L), 0);
    const hits = metric(m, "vllm:prefix_cache_hits_total", L) ?? metric(m, "vllm:prefix_cache_hits", L);
    assert.equal(hits, cached);
    assert.ok(m.some((s) => s.name === "vllm:cache_config_info" && s.labels.block_size === "16"));
  } finally {
    await fleet.stop();
  }
});
