// A prefix no candidate holds yet (not even stale: a stale home keeps it) goes, among the candidates within `tolerance` of the best load
// score, to the one with the highest hash of (first block, endpoint address): rendezvous hashing.
// Every gateway replica, each with its own index, then sends the same new conversation to the same
// pod while their views of load agree. A known prefix, or no prefix at all, is picked by score.
// Fallbacks are the rest by score either way.
import { mix64, xxh64String } from "../../prefix/xxhash64";
import { Candidate, Picker, SchedulingContext } from "../framework";
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
    for (let i = 0; i < cs.length; i++)
      if (unchecked(cs[i]).loadScore > bestLoad) bestLoad = unchecked(cs[i]).loadScore;
    let chosen: Candidate | null = null;
    let top: u64 = 0;
    for (let i = 0; i < cs.length; i++) {
      const c = unchecked(cs[i]);
      if (c.loadScore < bestLoad - this.tolerance) continue;
      const w = mix64(key, xxh64String(c.endpoint.address, 0));
      if (chosen === null || w > top) {
        chosen = c;
        top = w;
      }
    }
    return chosen;
  }
}
