// PREFIX_CACHE affinity: the fraction of the request's prompt blocks a pod holds, by the pool's
// PrefixIndex (estimate mode: what this gateway routed there). A pod an affinity guard marked
// (saturated, over its balance bound) scores 0, so affinity never melts one pod. Once routed, the
// request's blocks are recorded against the chosen pod. What it learned per decision (matches,
// best match) is left in the CycleState for the rendezvous picker and the log line.
import { Candidate, CycleState, SchedulingContext, Scorer, StateData, stateKey, Yield } from "../framework";

export const PREFIX_STATE = stateKey();

/** What the prefix scorer learned in one decision (read by the rendezvous picker and the log). */
export class PrefixState extends StateData {
  /** Full prompt blocks of the request (0: nothing to match). */
  blocks: i32 = 0;
  /** Leading blocks each candidate holds, by candidate position. */
  matched: StaticArray<i32> = new StaticArray<i32>(0);
  /** Longest match of any candidate. */
  best: i32 = 0;
  /** First block's hash: the rendezvous key for a prefix nobody holds. */
  affinityKey: u64 = 0;

  matchedOf(c: Candidate): i32 {
    return c.pos < this.matched.length ? unchecked(this.matched[c.pos]) : 0;
  }
}

export function prefixStateOf(state: CycleState): PrefixState | null {
  const d = state.read(PREFIX_STATE);
  return d === null ? null : changetype<PrefixState>(d);
}

export class PrefixCacheScorer extends Scorer {
  private st: PrefixState = new PrefixState();
  private slots: StaticArray<i32> = new StaticArray<i32>(0);
  private tags: StaticArray<u16> = new StaticArray<u16>(0);

  constructor() {
    super("prefix-cache-scorer");
    this.isLoad = false;
  }

  prepare(ctx: SchedulingContext): void {
    const st = this.st;
    const req = ctx.request;
    const pool = ctx.pool;
    const hashes = req.promptHashes;
    if (req.tape !== null)
      hashes.ensure(req.tape!, req.messages, req.prompt, req.target, pool.blockSize, pool.maxBlocks);
    const n = ctx.candidates.length;
    if (st.matched.length < n) {
      st.matched = new StaticArray<i32>(n * 2);
      this.slots = new StaticArray<i32>(n * 2);
      this.tags = new StaticArray<u16>(n * 2);
    }
    st.blocks = hashes.count;
    st.affinityKey = st.blocks > 0 ? hashes.hashes[0] : 0;
    st.best = 0;
    for (let i = 0; i < n; i++) unchecked((st.matched[i] = 0));
    ctx.state.write(PREFIX_STATE, st);
    if (st.blocks == 0) return;
    for (let i = 0; i < n; i++) {
      const e = unchecked(ctx.candidates[i]).endpoint;
      unchecked((this.slots[i] = e.slot));
      unchecked((this.tags[i] = e.tag));
    }
    st.best = ctx.poolState.prefixIndex.longestMatches(hashes.hashes, st.blocks, this.slots, this.tags, n, st.matched);
  }

  score(c: Candidate, ctx: SchedulingContext): f64 {
    const st = this.st;
    if (st.blocks == 0 || ctx.yieldOf(c) != Yield.None) return 0;
    return <f64>st.matchedOf(c) / <f64>st.blocks;
  }

  /**
   * Estimate mode: the chosen pod now holds (or soon will) every block of this prompt. Blocks it
   * already holds are not rewritten; their stamps are refreshed on a sample of requests (1 in 8)
   * so a hot shared prefix stays recently used at an eighth of the writes.
   */
  routed(ctx: SchedulingContext, chosen: Candidate): void {
    const st = this.st;
    if (st.blocks == 0) return;
    const from = ctx.rng.below(8) == 0 ? 0 : st.matchedOf(chosen);
    const e = chosen.endpoint;
    ctx.poolState.prefixIndex.record(ctx.request.promptHashes.hashes, from, st.blocks, e.slot, e.tag, ctx.stamp);
  }
}
