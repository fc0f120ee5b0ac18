import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, ep, promptOf, pure, tableJson } from "../pure.js";
import { pluginTable } from "./harness.js";

const conv = promptOf(10, "a conversation");
const three = [ep(0, "a"), ep(1, "b"), ep(2, "c")];
let holder = "";
/** Routes the first `blocks` blocks of `conv` once, so the pool's index holds them on one pod. */
function routed(blocks: number): () => void {
  return () => {
    holder = decide({ model: "m", prompt: conv.slice(0, blocks * 64) }, { inflight: "", completions: true }).pod!;
  };
}
/** "a:x,b:y,c:z" with `score` for the holder and 0 elsewhere. */
function holderScores(score: string): () => string {
  return () => ["a", "b", "c"].map((n) => `${n}:${n === holder ? score : "0.0"}`).join(",");
}

pluginTable("prefix-cache-scorer", [
  { name: "nothing indexed", endpoints: three, strategy: "PREFIX_CACHE", prompt: conv, expect: "a:0.0,b:0.0,c:0.0" },
  {
    name: "no full block: nothing to say",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: "short",
    expect: "a:0.0,b:0.0,c:0.0",
  },
  {
    name: "the pod sent the first 5 of 10 blocks holds half the prompt",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: conv,
    setup: routed(5),
    expect: holderScores("0.5"),
  },
  {
    name: "and all of it once sent all",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: conv,
    setup: routed(10),
    expect: holderScores("1.0"),
  },
  {
    name: "a holder an affinity guard marked scores 0",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: conv,
    setup: () => {
      routed(10)();
    },
    yielded: ["a", "b", "c"],
    expect: "a:0.0,b:0.0,c:0.0",
  },
]);

test("prefix-cache-scorer: a held run of blocks is refreshed at most once a second, shared head or whole prompt", () => {
  // A sampled request (1 in 8) rewrites the stamps of the blocks its pod holds: a bucket read per
  // group of 4 blocks (16 for the head). Requests that share a 64-block head and each end in a new question: within a second the
  // head is refreshed once per pod; a second apart, about 1 in 8 refresh it.
  const head = promptOf(64, "a shared system prompt");
  const refreshes = (stepMs: number): number => {
    pure.gatewayReset("");
    pure.seed(7n);
    const pool = { strategy: "PREFIX_CACHE" as const, prefix: { mode: "estimate" } };
    pure.loadTable(tableJson([ep(0, "a"), ep(1, "b")], {}, pool));
    let n = 0;
    for (let i = 0; i < 200; i++) {
      const prompt = head + promptOf(4, `question ${i}`);
      const d = decide({ model: "m", prompt }, { inflight: "", completions: true, nowMs: 1500 + i * stepMs });
      assert.equal(d.kind, "routed");
      if (d.sharedReads > 12) n++; // a lookup alone reads a handful of buckets
    }
    return n;
  };
  const sameStamp = refreshes(0);
  assert.ok(sameStamp <= 2, `refreshes within one stamp: ${sameStamp} (at most one per pod)`);
  const over10s = refreshes(50);
  assert.ok(over10s <= 22, `refreshes over 10 s: ${over10s} (at most one per pod and second)`);
  const secondApart = refreshes(1000);
  assert.ok(secondApart >= 10, `refreshes a second apart: ${secondApart} (about 1 in 8 of 200)`);
});
