// Regression: PREFIX_CACHE decisions interleaved with fresh gateways (new prefix indexes) and plugin
// runs must never corrupt the filter's heap. The prefix index grew its per-lookup memo with
// `Array#length =`, which in AssemblyScript's incremental runtime can expose a reused block's old
// bytes as references; the collector then followed them ("memory access out of bounds" a few
// hundred operations in). A seeded mix of the operations that reached it, run to the end.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, ep, promptOf, pure, tableJson } from "./pure.js";

const three = [ep(0, "a"), ep(1, "b"), ep(2, "c")];
const conv = promptOf(10, "a conversation");

function run(seed: number, steps: number): string {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const ops = "RDPSDPRDDPP";
  for (let i = 0; i < steps; i++) {
    const op = ops[Math.floor(rnd() * ops.length)];
    try {
      if (op === "R") {
        pure.gatewayReset("{}");
        pure.loadTable(tableJson(three, {}, { strategy: "PREFIX_CACHE" }));
      } else if (op === "D") {
        const blocks = Math.floor(rnd() * 10);
        decide({ model: "m", prompt: conv.slice(0, blocks * 64) }, { inflight: "", completions: true });
      } else {
        const prompt = op === "P" ? conv : "short";
        const body = JSON.stringify({ model: "m", prompt });
        pure.pluginRun("prefix-cache-scorer", "{}", "m", "", true, false, body, "", "");
      }
    } catch (e) {
      return `step ${i} (${op}): ${(e as Error).message}`;
    }
  }
  return "ok";
}

test("PREFIX_CACHE decisions over fresh prefix indexes leave the heap intact", () => {
  for (const seed of [1, 2, 3]) assert.equal(run(seed, 1500), "ok", `seed ${seed}`);
});
