// PREFIX_CACHE feedback mode: reading what a pod reports (usage.prompt_tokens_details.cached_tokens),
// learning how long each pod keeps what was recorded for it, and crediting only that.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, ep, gateway, POOL, promptOf, pure, tableJson } from "./pure.js";

test("usage is read from the last bytes of a JSON body or a stream's usage chunk", () => {
  const body = `{"id":"x","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":376,"total_tokens":380,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":352}}}`;
  assert.equal(pure.usageOf(body), "376 352 -");
  const stream = `data: {"choices":[{"delta":{"content":"a"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens": 90,"completion_tokens":8,"prompt_tokens_details":{"cached_tokens":64}}}\n\ndata: [DONE]\n\n`;
  assert.equal(pure.usageOf(stream), "90 64 -");
  // No cache report (vLLM without --enable-prompt-tokens-details; SGLang's miss): unknown here, the
  // stream knows the pool's runtime and reads SGLang's null as 0.
  assert.equal(pure.usageOf(`{"usage":{"prompt_tokens":10,"prompt_tokens_details":null}}`), "10 -1 null");
  assert.equal(pure.usageOf("data: [DONE]\n\n"), "-1 -1 -");
  // The tail keeps the end across chunks, however the body was cut.
  const chunks = ["x".repeat(5000), body.slice(0, 40), body.slice(40, 120), body.slice(120)].join("\u0001");
  assert.equal(pure.usageThroughTail(chunks), "376 352");
  assert.equal(pure.usageThroughTail(["y".repeat(3000), body].join("\u0001")), "376 352");
});

test("cached tokens become the prompt's blocks through its own bytes-per-token ratio", () => {
  // 1,280 bytes of prompt = 20 blocks of 64; 320 tokens; 160 cached = half = 10 blocks.
  assert.equal(pure.blocksFromUsage(320n, 160n, 1280, 64), 10);
  assert.equal(pure.blocksFromUsage(320n, 320n, 1280, 64), 20);
  assert.equal(pure.blocksFromUsage(320n, 999n, 1280, 64), 20, "more cached than prompt: capped");
  assert.equal(pure.blocksFromUsage(320n, -1n, 1280, 64), -1, "unknown");
});

test("lifetimes: an eviction bounds a pod's lifetime, a prefix that held up raises it", () => {
  gateway({}, tableJson([ep(0, "a"), ep(1, "b")], {}, { strategy: "PREFIX_CACHE", prefix: { mode: "feedback" } }));
  assert.equal(pure.lifetimeOf(POOL, 0, 1000), -1, "nothing learned: every entry credited");
  assert.equal(pure.learnLifetime(POOL, 0, 8000, true, 1000), -1, "held while none is known: still none");
  assert.equal(pure.learnLifetime(POOL, 0, 8000, false, 1000), 8000, "evicted at 8 s: at most 8 s");
  assert.equal(pure.learnLifetime(POOL, 0, 12000, false, 1000), 8000, "evicted later: no news");
  assert.equal(pure.learnLifetime(POOL, 0, 5000, true, 1000), 8000, "held younger: no news");
  assert.equal(pure.learnLifetime(POOL, 0, 11000, true, 1000), 11000, "held at 11 s: at least 11 s");
  assert.equal(
    pure.learnLifetime(POOL, 0, 300, false, 1000),
    11000,
    "a miss within a second: still prefilling, no news",
  );
  assert.equal(pure.learnLifetime(POOL, 0, 999, false, 1000), 11000);
  assert.equal(pure.learnLifetime(POOL, 0, 1000, false, 1000), 1000, "a cleared cache: at once");
  assert.equal(pure.lifetimeOf(POOL, 1, 1000), -1, "per pod");
});

test("lifetimes: evidence that changes nothing reads no shared data; a change is made to the shared value", () => {
  // A shared-data read is the dearest host call (~10 k instructions in Envoy): most responses
  // (a chain that held, no eviction seen) are judged against the worker's copy (<= 100 ms old).
  gateway({}, tableJson([ep(0, "a"), ep(1, "b")], {}, { strategy: "PREFIX_CACHE", prefix: { mode: "feedback" } }));
  const key = `infergate/v1/prefix-life/${POOL}`;
  const reads = () => pure.sharedReadsOf(key);
  assert.equal(pure.learnLifetime(POOL, 0, 8000, true, 1000), -1);
  assert.equal(reads(), 1, "the worker's copy, read once");
  for (let t = 1010; t < 1100; t += 10) assert.equal(pure.learnLifetime(POOL, 0, 8000, true, t), -1);
  assert.equal(reads(), 1, "held while none is known: nothing to change, no read");
  assert.equal(pure.learnLifetime(POOL, 0, 8000, false, 1100), 8000, "evicted at 8 s");
  const afterWrite = reads();
  assert.equal(pure.learnLifetime(POOL, 0, 5000, true, 1110), 8000, "held younger: no news");
  assert.equal(pure.learnLifetime(POOL, 0, 9000, false, 1120), 8000, "evicted older: no news");
  assert.equal(reads(), afterWrite + 1, "its own write read back once, then the copy serves");
  // Another worker learns of an eviction at 6 s. Evidence this worker's copy says changes something
  // is applied to the shared value: evicted at 7 s is no news there (6 s stays), evicted at 4 s is.
  assert.equal(pure.learnLifetimeOnOtherWorker(POOL, 0, 6000, false, 1130), 6000);
  assert.equal(pure.learnLifetime(POOL, 0, 7000, false, 1140), 6000);
  assert.equal(pure.lifetimeOf(POOL, 0, 1140), 6000);
  assert.equal(pure.learnLifetime(POOL, 0, 4000, false, 1150), 4000);
  assert.equal(pure.lifetimeOf(POOL, 0, 1150), 4000);
  assert.equal(pure.learnLifetime(POOL, 1, 3000, true, 1160), -1, "per pod");
});

test("feedback mode credits only what a pod keeps: stale chains are not, a refreshed head is", () => {
  const t0 = 1_800_000_000_000; // epoch ms, as in Envoy
  gateway(
    {},
    tableJson([ep(0, "a"), ep(1, "b"), ep(2, "c")], {}, { strategy: "PREFIX_CACHE", prefix: { mode: "feedback" } }),
  );
  pure.seed(11n);
  const head = promptOf(8, "a shared system prompt");
  const convA = head + promptOf(12, "conversation A");
  const route = (prompt: string, nowMs: number) =>
    decide({ model: "m", prompt }, { inflight: "", completions: true, nowMs });
  const first = route(convA, t0);
  const pod = first.pod!;
  const slot = ["a", "b", "c"].indexOf(pod);
  // No eviction seen: recorded 10 s ago, fully credited (what estimate mode does).
  const again = route(convA, t0 + 10_000);
  assert.deepEqual([again.pod, again.log!.matchedBlocks, again.log!.indexedBlocks], [pod, 20, 20]);
  // The pod evicted a chain recorded 5 s before: its lifetime is at most 5 s.
  pure.learnLifetime(POOL, slot, 5000, false, t0 + 10_000);
  // 20 s after A was last sent there, the index still holds it, but it is no longer credited.
  const stale = route(convA, t0 + 30_000);
  assert.deepEqual([stale.log!.indexedBlocks, stale.log!.matchedBlocks], [20, 0]);
  // Within the lifetime it is credited again (that last request refreshed A's entries on its pod).
  const fresh = route(convA, t0 + 31_000);
  assert.equal(fresh.log!.matchedBlocks, 20);
});

test("feedback mode: a head kept warm by other conversations is credited when the chain's tail is stale", () => {
  const t0 = 1_800_000_000_000;
  // One pod, so every conversation records there.
  gateway({}, tableJson([ep(0, "a")], {}, { strategy: "PREFIX_CACHE", prefix: { mode: "feedback" } }));
  const head = promptOf(8, "a shared system prompt");
  const convA = head + promptOf(12, "conversation A");
  const route = (prompt: string, nowMs: number) =>
    decide({ model: "m", prompt }, { inflight: "", completions: true, nowMs });
  route(convA, t0);
  pure.learnLifetime(POOL, 0, 5000, false, t0);
  // 20 s later another conversation with the same head: nothing of it is credited (stale), so it is
  // recorded whole, head included, at this time.
  assert.equal(route(head + promptOf(6, "conversation B"), t0 + 20_000).log!.matchedBlocks, 0);
  // Now A: its tail (blocks 8..19, recorded at t0) is stale, its head was just refreshed.
  const a = route(convA, t0 + 21_000);
  assert.equal(a.log!.indexedBlocks, 20);
  assert.ok(a.log!.matchedBlocks > 0 && a.log!.matchedBlocks <= 8, `head only: ${JSON.stringify(a.log)}`);
});

test("estimate mode credits whatever was routed, however old", () => {
  const t0 = 1_800_000_000_000;
  gateway({}, tableJson([ep(0, "a"), ep(1, "b")], {}, { strategy: "PREFIX_CACHE", prefix: { mode: "estimate" } }));
  const conv = promptOf(10, "an old conversation");
  const first = decide({ model: "m", prompt: conv }, { inflight: "", completions: true, nowMs: t0 });
  pure.learnLifetime(POOL, ["a", "b"].indexOf(first.pod!), 1000, false, t0);
  const later = decide({ model: "m", prompt: conv }, { inflight: "", completions: true, nowMs: t0 + 3_600_000 });
  assert.deepEqual([later.pod, later.log!.matchedBlocks, "indexedBlocks" in later.log!], [first.pod, 10, false]);
});

test("the request's stream_options.include_usage is read (a stream carries usage only then)", () => {
  const r = (extra: Record<string, unknown>) =>
    JSON.parse(
      pure.request(JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }], ...extra }), false),
    );
  assert.equal(r({ stream: true }).includeUsage, false);
  assert.equal(r({ stream: true, stream_options: { include_usage: true } }).includeUsage, true);
  assert.equal(r({ stream: true, stream_options: { include_usage: false } }).includeUsage, false);
  assert.equal(r({ stream: true, stream_options: null }).includeUsage, false);
});
