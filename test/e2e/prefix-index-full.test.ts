// The prefix index at its capacity (found by `make soak`): once a PREFIX_CACHE pool's index holds
// prefix-cache-lru-capacity entries, every new block replaces the least recently used one, and the
// gateway must go on serving. A small capacity makes the index full within a few dozen requests
// of distinct prompts; real Envoy, simulated pods.

import assert from "node:assert/strict";
import { test } from "node:test";
import { startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { post, SEED_MODEL } from "./helpers.js";
import { wasmFailures } from "./wasm-log.js";

const FAST = ["--prefill-overhead-ms", "0", "--inter-token-latency-ms", "0", "--prefill-time-per-token-ms", "0"];

test("a full prefix index evicts and keeps serving (capacity 100 blocks, 300 distinct prompts)", {
  timeout: 120_000,
}, async () => {
  const gw = await startLocalGateway({
    fleet: { pods: 2, args: FAST },
    pool: {
      annotations: {
        "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE",
        "inference-epp-env.networking.x-k8s.io/prefix-cache-lru-capacity": "100",
      },
    },
  });
  try {
    const failed: string[] = [];
    for (let i = 0; i < 300 && failed.length < 3; i++) {
      // About four 64-byte blocks each, none shared with another request.
      const r = await post(gw.url, "/v1/chat/completions", {
        model: SEED_MODEL,
        messages: [{ role: "user", content: `unique prompt number ${i} `.repeat(8) }],
        max_tokens: 1,
      });
      if (r.status !== 200) failed.push(`request ${i}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    assert.deepEqual(failed, []);
    assert.deepEqual(wasmFailures(gw.envoys[0]!.log()), []);
    // Repeating an early prompt still routes (its blocks may have been evicted: a miss, not an error).
    const again = await post(gw.url, "/v1/chat/completions", {
      model: SEED_MODEL,
      messages: [{ role: "user", content: "unique prompt number 0 ".repeat(8) }],
      max_tokens: 1,
    });
    assert.equal(again.status, 200, again.text);
  } finally {
    await gw.stop();
  }
});
