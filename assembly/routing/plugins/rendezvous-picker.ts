// A prefix no candidate holds yet (not even stale: a stale home keeps it) goes to the candidate with
// the highest hash of (first block, endpoint address), rendezvous hashing, among those no guard
// marked (bounded load: a pod over its share or with a much deeper queue is skipped) and within
// `tolerance` of the best scraped-load score. Every gateway replica, each with its own index, then
// sends the same new conversation to the same pod: what decides is what they all see alike.
// (Measured with two replicas on one fleet, clients alternating between them: the load-sensitive
// placement of tolerance 0.1 kept a prefix's home where each replica happened to see the least load,
// and the replicas' homes diverged: hit rate 47 % against 75 % with one replica; placing by hash
// gave 62 % against 73 %.)
//
// A known prefix matched for at least `threshold` of the prompt (sglang-router's cache_threshold)
// goes to the unmarked pod holding the longest match, without asking the load scorers: load moves
// it only through a guard (bounded load, a much deeper queue), i.e. only when moving buys
// something; scores that trade a 2,000-token prefill for a slightly shorter queue are how prefix
// routing collapses under load. A weaker match, or none, is picked by score (fallbacks always
// are). When several unmarked pods hold the longest match, the one ranked first by the same hash
// goes first: a prefix a guard spilled to a second pod returns home once the home has room and
// the spilled copy ages out, instead of load noise splitting it over both pods for good (doubling
// what it takes of the fleet's cache: on the cache-pressure ramp 27 spills in 2502 requests cost
// 5 points of hit rate at 60 QPS). A hot prefix spills in that same hash order, over a few pods,
// the same few on every replica.
import { mix64 } from "../../prefix/xxhash64";
import { Candidate, Picker, SchedulingContext, Yield } from "../framework";
import { rankByScore } from "./max-score-picker";
import { PrefixState, prefixStateOf } from "./prefix-cache-scorer";

export class RendezvousPicker extends Picker {
  constructor(
    private tolerance: f64,
    private threshold: f64,
  ) {
    super("rendezvous-picker");
  }

  pick(ctx: SchedulingContext, out: Candidate[], max: i32): void {
    const st = prefixStateOf(ctx.state);
    if (st !== null && st.blocks > 0 && st.bestIndexed == 0 && st.affinityKey != 0) {
      const chosen = this.rendezvous(ctx, st.affinityKey);
      if (chosen !== null) out.push(chosen);
    }
    const known = st !== null && st.best > 0 && out.length == 0;
    if (known && <f64>st!.best >= this.threshold * <f64>st!.blocks) {
      const home = this.home(ctx, st!);
      if (home !== null) out.push(home);
    }
    const from = out.length;
    rankByScore(ctx, ctx.candidates, out, max);
    if (known && from == 0 && out.length > 0) this.homeFirst(ctx, st!, out);
  }

  /** The unmarked pod holding the longest match that the hash ranks first; null when a guard marked
   *  every holder. */
  private home(ctx: SchedulingContext, st: PrefixState): Candidate | null {
    const cs = ctx.candidates;
    let home: Candidate | null = null;
    let w: u64 = 0;
    // Only holders can hold the longest match; on an equal hash the first in candidate order wins.
    for (let k = 0; k < st.holderCount; k++) {
      const c = unchecked(cs[unchecked(st.holders[k])]);
      if (st.matchedOf(c) != st.best || ctx.yieldOf(c) != Yield.None) continue;
      const wc = mix64(st.affinityKey, c.endpoint.addressHash);
      if (home === null || wc > w || (wc == w && c.pos < home!.pos)) {
        home = c;
        w = wc;
      }
    }
    return home;
  }

  /** The score picked a pod holding the longest match: the holder the hash ranks first goes first. */
  private homeFirst(ctx: SchedulingContext, st: PrefixState, out: Candidate[]): void {
    const top = unchecked(out[0]);
    if (st.matchedOf(top) != st.best || ctx.yieldOf(top) != Yield.None) return;
    const home = this.home(ctx, st)!;
    if (home === top) return;
    const at = out.indexOf(home);
    if (at < 0) {
      // not among the fallbacks asked for: it takes the last one's place
      for (let i = out.length - 1; i > 0; i--) unchecked((out[i] = out[i - 1]));
    } else {
      for (let i = at; i > 0; i--) unchecked((out[i] = out[i - 1]));
    }
    unchecked((out[0] = home));
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
      const w = mix64(key, c.endpoint.addressHash);
      if (chosen === null || w > top) {
        chosen = c;
        top = w;
      }
    }
    return chosen;
  }
}
