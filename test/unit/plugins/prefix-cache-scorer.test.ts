import { decide, ep, promptOf } from "../pure.js";
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
