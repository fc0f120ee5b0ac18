import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, ep, promptOf } from "../pure.js";
import { pluginTable, runPlugin } from "./harness.js";

const three = [ep(0, "a"), ep(1, "b"), ep(2, "c")];
const fresh = promptOf(4, "a new conversation");

pluginTable("rendezvous-picker", [
  { name: "no prompt: by score", endpoints: three, scores: "a:0.2,b:0.9,c:0.5", expect: "b,c,a" },
  {
    name: "a new prefix with tolerance 0: the best load score is the only rendezvous candidate",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: fresh,
    config: { rendezvousTolerance: 0 },
    scores: "a:0.2:0.2,b:0.9:0.9,c:0.5:0.5",
    expect: "b,c,a",
  },
  {
    name: "a known prefix is picked by score, not by rendezvous",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: fresh,
    config: { rendezvousTolerance: 10 },
    setup: () => {
      decide({ model: "m", prompt: fresh }, { inflight: "", completions: true });
    },
    scores: "a:0.2,b:0.9,c:0.5",
    expect: "b,c,a",
  },
]);

test("rendezvous-picker: a new prefix goes to the same pod whatever the (tolerated) scores; prefixes spread", () => {
  const first = (prompt: string, scores: string) =>
    runPlugin("rendezvous-picker", {
      endpoints: three,
      strategy: "PREFIX_CACHE",
      prompt,
      config: { rendezvousTolerance: 10 },
      scores,
    }).split(",")[0];
  const pick = first(fresh, "a:0.2,b:0.9,c:0.5");
  assert.equal(first(fresh, "a:0.9,b:0.2,c:0.5"), pick);
  assert.equal(first(fresh, "a:0.5,b:0.5,c:0.9"), pick);
  const spread = new Set<string>();
  for (let i = 0; i < 30; i++) spread.add(first(promptOf(4, `conversation ${i}`), "a:0.5,b:0.5,c:0.5"));
  assert.equal(spread.size, 3);
});
