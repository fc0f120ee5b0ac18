// The fuzzers' small seeded slice for `make test` (seconds); `make fuzz` runs the big one
// (test/fuzz/run.ts). A failure prints the kind, the body's index and its bytes as hex.

import assert from "node:assert/strict";
import { test } from "node:test";
import { startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { FUZZ_POD_ARGS, fuzzEnvoy, PREFIX_CACHE } from "./envoy-fuzz.js";
import { fuzzParser } from "./parser-fuzz.js";
import { corpusSeeds } from "./seeds.js";

test("request parser (wasm): 30000 seeded bodies, no trap, every answer a status the body deserves", () => {
  const r = fuzzParser({ seed: 20260101, count: 30_000, maxSeconds: 120, seeds: corpusSeeds(256 * 1024) });
  console.log(`# parser fuzz: ${r.bodies} bodies in ${r.ms} ms, ${JSON.stringify(r.statuses)}, hashed ${r.hashed}`);
  assert.equal(r.timedOut, false);
  assert.deepEqual(r.failuresByKind, {}, JSON.stringify(r.failures, null, 1));
  assert.ok((r.statuses["0"] ?? 0) > 1000, "enough bodies get past the type checks");
});

test("through real Envoy: 600 seeded bodies, the pod's answer or an OpenAI 4xx, no wasm trap", {
  timeout: 180_000,
}, async () => {
  const gw = await startLocalGateway({ fleet: { pods: 2, args: FUZZ_POD_ARGS }, pool: { annotations: PREFIX_CACHE } });
  try {
    const r = await fuzzEnvoy(gw, {
      seed: 20260102,
      count: 600,
      concurrency: 6,
      maxSeconds: 120,
      seeds: corpusSeeds(64 * 1024),
    });
    console.log(`# envoy fuzz: ${r.requests} requests in ${r.ms} ms, ${JSON.stringify(r.answers)}`);
    assert.equal(r.timedOut, false);
    assert.deepEqual(r.failuresByKind, {}, JSON.stringify(r.failures, null, 1));
    assert.deepEqual(r.wasmFailures, []);
    assert.ok((r.answers["pod 200"] ?? 0) > 0, "some bodies were routed");
  } finally {
    await gw.stop();
  }
});
