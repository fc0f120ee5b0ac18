import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, ep, promptOf, pure, tableJson } from "../pure.js";
import { pluginTable, runPlugin } from "./harness.js";

const three = [ep(0, "a"), ep(1, "b"), ep(2, "c")];
const fresh = promptOf(4, "a new conversation");
/** One 64-byte block every prompt below starts with. */
const shared = promptOf(1, "shared system prompt");
let holder = "";

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
    name: "a known prefix (matched past the threshold) goes to its holder whatever the scores",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: fresh,
    setup: () => {
      holder = decide({ model: "m", prompt: fresh }, { inflight: "", completions: true }).pod!;
    },
    scores: "a:0.2,b:0.9,c:0.5",
    expect: () => [holder, ...["b", "c", "a"].filter((n) => n !== holder)].join(","),
  },
  {
    name: "a weak match (1 block of 4, under the threshold) is weighed by score",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: shared + promptOf(3, "question two"),
    setup: () => {
      decide({ model: "m", prompt: shared + promptOf(3, "question one") }, { inflight: "", completions: true });
    },
    scores: "a:0.2,b:0.9,c:0.5",
    expect: "b,c,a",
  },
  {
    name: "the threshold from the configuration: 0.25 makes the same match decide",
    endpoints: three,
    strategy: "PREFIX_CACHE",
    prompt: shared + promptOf(3, "question two"),
    config: { affinityThreshold: 0.25 },
    setup: () => {
      holder = decide({ model: "m", prompt: shared + promptOf(3, "question one") }, { inflight: "", completions: true })
        .pod!;
    },
    scores: "a:0.2,b:0.9,c:0.5",
    expect: () => [holder, ...["b", "c", "a"].filter((n) => n !== holder)].join(","),
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

test("rendezvous-picker: a prefix two pods hold alike goes home first, whatever the load scores; a guard still spills it", () => {
  const names = ["a", "b", "c"];
  let home = "";
  let spill = "";
  const setup = () => {
    const body = { model: "m", prompt: fresh };
    home = decide(body, { inflight: "", completions: true }).pod!;
    // the home far over its bounded-load share: the balance guard spills the prefix to a second pod
    const inflight = names.map((n) => (n === home ? "40" : "0")).join(",");
    spill = decide(body, { inflight, completions: true }).pod!;
    pure.setInflight("");
  };
  // Set the scores once the pods are known: run the setup, then the picker with the spill scored higher.
  pure.gatewayReset("{}");
  pure.loadTable(tableJson(three, {}, { strategy: "PREFIX_CACHE" }));
  setup();
  assert.notEqual(home, spill, "the guard spilled the prefix");
  const other = names.find((n) => n !== home && n !== spill)!;
  const scored = (h: number, s: number, o: number) =>
    names.map((n) => `${n}:${n === home ? h : n === spill ? s : o}`).join(",");
  const pick = (scores: string, yielded: string[] = []) =>
    pure.pluginRun(
      "rendezvous-picker",
      "{}",
      "m",
      "",
      true,
      false,
      JSON.stringify({ model: "m", prompt: fresh }),
      scores,
      yielded.join(","),
    );
  // both hold the prompt; the spill looks less loaded: home still goes first, the spill next
  assert.equal(pick(scored(0.8, 0.9, 0.1)), `${home},${spill},${other}`);
  // the home marked by a guard: the spill takes it
  assert.equal(pick(scored(0.8, 0.9, 0.1), [home]).split(",")[0], spill);
  // a pod that holds nothing does not win on load scores alone: only a guard moves a prefix
  assert.equal(pick(scored(0.8, 0.9, 1.5)).split(",")[0], home);
});
