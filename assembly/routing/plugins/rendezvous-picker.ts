// A prefix no candidate holds yet (not even stale: a stale home keeps it) goes to the candidate with
// the highest hash of (first block, endpoint address), rendezvous hashing, among those no guard
// marked (bounded load: a pod over its share or with a much deeper queue is skipped) and within
// `tolerance` of the best scraped-load score. Every gateway replica, each with its own index, then
// sends the same new conversation to the same pod: what decides is what they all see alike.
// (Measured with two replicas on one fleet, clients alternating between them: the load-sensitive
// placement of tolerance 0.1 kept a prefix's home where each replica happened to see the least load,
// and the replicas' homes diverged: hit rate 47 % against 75 % with one replica; placing by hash
// gave 62 % against 73 %.) A known prefix, or none, is picked by score; fallbacks are by score.
import { mix64, xxh64String } from "../../prefix/xxhash64";
import { Candidate, Picker, SchedulingContext, Yield } from "../framework";
import { rankByScore } from "./max-score-picker";
import { prefixStateOf } from "./prefix-cache-scorer";

export class RendezvousPicker extends Picker {
  constructor(private tolerance: f64) {
    super("rendezvous-picker");
  }

  pick(ctx: SchedulingContext, out: Candidate[], max: i32): void {
    const st = prefixStateOf(ctx.state);
    if (st !== null && st.blocks > 0 && st.bestIndexed == 0 && st.affinityKey != 0) {
      const chosen = this.rendezvous(ctx, st.affinityKey);
      if (chosen !== null) out.push(chosen);
    }
    rankByScore(ctx, ctx.candidates, out, max);
  }

  private rendezvous(ctx: SchedulingContext, key: u64): Candidate | null {
    const cs = ctx.candidates;
    let bestLoad = -Infinity;
    let unmarked = 0;
    for (let i = 0; i < cs.length; i++) {
      const c = unchecked(cs[i]);
      if (ctx.yieldOf(c) != Yield.None) continue;
      unmarked++;
      if (c.loadScore > bestLoad) bestLoad = c.loadScore;
    }
    let chosen: Candidate | null = null;
    let top: u64 = 0;
    for (let i = 0; i < cs.length; i++) {
      const c = unchecked(cs[i]);
      if (unmarked > 0 && ctx.yieldOf(c) != Yield.None) continue;
      if (unmarked > 0 && c.loadScore < bestLoad - this.tolerance) continue;
      const w = mix64(key, xxh64String(c.endpoint.address, 0));
      if (chosen === null || w > top) {
        chosen = c;
        top = w;
      }
    }
    return chosen;
  }
}
