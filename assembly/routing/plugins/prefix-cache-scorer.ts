// PREFIX_CACHE affinity: the fraction of the request's prompt blocks a pod holds, by the pool's
// PrefixIndex (estimate mode: what this gateway routed there). A pod an affinity guard marked
// (saturated, over its balance bound) scores 0, so affinity never melts one pod. Once routed, the
// request's blocks are recorded against the chosen pod. What it learned per decision (matches,
// best match) is left in the CycleState for the rendezvous picker and the log line.
import { lookupCandidates, PrefixIndex } from "../../prefix/prefix-index";
import { mix64 } from "../../prefix/xxhash64";
import {
  addScoresOf,
  Candidate,
  CycleState,
  SchedulingContext,
  Scorer,
  StateData,
  stateKey,
  Yield,
} from "../framework";

export const PREFIX_STATE = stateKey();
/** Feedback mode: what a block the index holds but no longer credits is worth against a fresh one. */
const STALE_WEIGHT: f64 = 0.25;
/** Refreshes remembered per worker (direct-mapped, a power of two). */
const REFRESH_MEMO: i32 = 256;
/**
 * A run of blocks this worker refreshed for a pod is not refreshed again for this many stamps
 * (1 s). Stamps order a bucket's entries for eviction; a bucket whose entries all turn over within
 * a second holds nothing worth matching anyway. Every 100 ms, one in ten requests of a workload of
 * a few hot prompts rewrote ~64 buckets (~250 us: the decision's p90).
 */
const REFRESH_EVERY_STAMPS: u32 = 10;

/** What the prefix scorer learned in one decision (read by the rendezvous picker and the log). */
export class PrefixState extends StateData {
  /** Full prompt blocks of the request (0: nothing to match). */
  blocks: i32 = 0;
  /** Leading blocks each candidate holds, by candidate position. */
  matched: StaticArray<i32> = new StaticArray<i32>(0);
  /** Longest credited match of any candidate. */
  best: i32 = 0;
  /** Longest match the index holds for any candidate (feedback mode may credit less of it). */
  bestIndexed: i32 = 0;
  /** First block's hash: the rendezvous key for a prefix nobody holds. */
  affinityKey: u64 = 0;

  /** Feedback mode: what the index holds (matched is what is credited of it) and how long ago the
   *  chain's last held block was recorded, by candidate position (tipAgeMs only where indexed > 0). */
  indexed: StaticArray<i32> = new StaticArray<i32>(0);
  tipAgeMs: StaticArray<f64> = new StaticArray<f64>(0);
  /**
   * Positions of the candidates the index holds anything for (holders[0, holderCount)): the only
   * ones whose matched/indexed are not 0. At 512 pods most hold nothing; per-candidate work on them
   * was most of the scorer's time.
   */
  holders: StaticArray<i32> = new StaticArray<i32>(0);
  holderCount: i32 = 0;

  matchedOf(c: Candidate): i32 {
    return c.pos < this.matched.length ? unchecked(this.matched[c.pos]) : 0;
  }
  indexedOf(c: Candidate): i32 {
    return c.pos < this.indexed.length ? unchecked(this.indexed[c.pos]) : 0;
  }
  tipAgeOf(c: Candidate): f64 {
    return this.indexedOf(c) > 0 ? unchecked(this.tipAgeMs[c.pos]) : -1;
  }
}

export function prefixStateOf(state: CycleState): PrefixState | null {
  const d = state.read(PREFIX_STATE);
  return d === null ? null : changetype<PrefixState>(d);
}

export class PrefixCacheScorer extends Scorer {
  private st: PrefixState = new PrefixState();
  private tags: StaticArray<u16> = new StaticArray<u16>(0);
  private stamps: StaticArray<u32> = new StaticArray<u32>(0);

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
    // The last decision's holders are the only non-zero entries: zeroed here, not all n.
    for (let k = 0; k < st.holderCount; k++) {
      const i = unchecked(st.holders[k]);
      unchecked((st.matched[i] = 0));
      unchecked((st.indexed[i] = 0));
    }
    st.holderCount = 0;
    if (st.matched.length < n) {
      st.matched = new StaticArray<i32>(n * 2);
      st.indexed = new StaticArray<i32>(n * 2);
      st.tipAgeMs = new StaticArray<f64>(n * 2);
      st.holders = new StaticArray<i32>(n * 2);
      this.tags = new StaticArray<u16>(n * 2);
      this.stamps = new StaticArray<u32>(n * 2);
    }
    st.blocks = hashes.count;
    st.affinityKey = st.blocks > 0 ? hashes.hashes[0] : 0;
    st.best = 0;
    st.bestIndexed = 0;
    ctx.state.write(PREFIX_STATE, st);
    if (st.blocks == 0) return;
    // One pass over the candidates: their slots handed to the lookup, which then works only on the
    // pods the index names.
    const cs = ctx.candidates;
    const cands = lookupCandidates;
    cands.begin();
    for (let i = 0; i < n; i++) {
      const e = unchecked(cs[i]).endpoint;
      unchecked((this.tags[i] = e.tag));
      cands.add(e.slot, i);
    }
    const index = ctx.poolState.prefixIndex;
    st.best = index.longestMatches(hashes.hashes, st.blocks, cands, this.tags, st.matched, this.stamps);
    st.bestIndexed = st.best;
    const held = cands.settledCount;
    for (let k = 0; k < held; k++) unchecked((st.holders[k] = cands.settledPosition(k)));
    st.holderCount = held;
    if (!pool.prefixFeedback || st.best == 0) return;
    // Feedback mode: credit a pod only the part of its chain recorded within its learned lifetime.
    const lifetimes = ctx.poolState.lifetimes;
    const stampNow = <f64>ctx.stamp;
    let best = 0;
    for (let k = 0; k < held; k++) {
      const i = unchecked(st.holders[k]);
      const blocks = unchecked(st.matched[i]);
      unchecked((st.indexed[i] = blocks));
      const age = (stampNow - <f64>unchecked(this.stamps[i])) * 100;
      unchecked((st.tipAgeMs[i] = age));
      const slot = unchecked(cs[i]).endpoint.slot;
      const life = lifetimes.lifetimeMs(slot, ctx.nowMs);
      let credited = blocks;
      if (age > life) credited = this.freshPrefix(ctx, hashes.hashes, blocks, i, slot, stampNow, life);
      unchecked((st.matched[i] = credited));
      if (credited > best) best = credited;
    }
    st.best = best;
  }

  /**
   * The chain's tip is older than the pod's lifetime: its tail is likely evicted, its head (a shared
   * system prompt, refreshed by other conversations) perhaps not. Probes blocks held-2, then halving
   * (bucket reads mostly memoized by the lookup), and credits up to the first one recorded recently
   * enough.
   */
  private freshPrefix(
    ctx: SchedulingContext,
    hashes: StaticArray<u64>,
    held: i32,
    i: i32,
    slot: i32,
    stampNow: f64,
    life: f64,
  ): i32 {
    const index = ctx.poolState.prefixIndex;
    const tag = unchecked(this.tags[i]);
    let j = held - 2;
    while (j >= 0) {
      const stamp = index.stampAt(hashes, j, slot, tag);
      if (stamp >= 0 && (stampNow - <f64>stamp) * 100 <= life) return j + 1;
      j = j == 0 ? -1 : j >> 1;
    }
    return 0;
  }

  /**
   * Feedback mode ranks, it does not forget: blocks past a pod's lifetime still count STALE_WEIGHT
   * of a fresh one. A prefix's home keeps it when nobody holds it fresh (it recomputes it and keeps
   * the partition the fleet's caches are split by; spreading it would cost every pod the prefill),
   * while a pod that really holds it (fresh) wins over the stale home.
   */
  score(c: Candidate, ctx: SchedulingContext): f64 {
    const st = this.st;
    if (st.blocks == 0 || ctx.yieldOf(c) != Yield.None) return 0;
    const fresh = <f64>st.matchedOf(c);
    const stale = ctx.pool.prefixFeedback ? <f64>st.indexedOf(c) - fresh : 0;
    return (fresh + STALE_WEIGHT * stale) / <f64>st.blocks;
  }
  addScores(ctx: SchedulingContext, weight: f64, load: bool, recordAt: i32): void {
    if (recordAt >= 0) {
      addScoresOf<PrefixCacheScorer>(this, ctx, weight, load, recordAt);
      return;
    }
    // Only holders score above 0 (a sum from +0 never becomes -0: adding 0 would change nothing).
    const st = this.st;
    const cs = ctx.candidates;
    for (let k = 0; k < st.holderCount; k++) {
      const c = unchecked(cs[unchecked(st.holders[k])]);
      const v = weight * this.score(c, ctx);
      c.score += v;
      if (load) c.loadScore += v;
    }
  }

  /**
   * Estimate mode: the chosen pod now holds (or soon will) every block of this prompt. Blocks it
   * already holds are not rewritten; their stamps are refreshed on a sample of requests (1 in 8),
   * at most once a second per pod and run of blocks on this worker, so a hot shared prefix stays
   * recently used at a fraction of the writes.
   */
  routed(ctx: SchedulingContext, chosen: Candidate): void {
    const st = this.st;
    if (st.blocks == 0) return;
    // Feedback mode also refreshes the last credited block: the chain's tip is what its freshness
    // is judged by.
    const matched = st.matchedOf(chosen);
    const usual = ctx.pool.prefixFeedback && matched > 0 ? matched - 1 : matched;
    const e = chosen.endpoint;
    const index = ctx.poolState.prefixIndex;
    const hashes = ctx.request.promptHashes.hashes;
    const stamp = ctx.stamp;
    let from = usual;
    if (ctx.rng.below(8) == 0) {
      from = 0;
      // The blocks the pod holds, [0, matched), that this worker refreshed (or recorded) for it
      // within the last second: the reads (a bucket per block, host calls: ~250 us for 64 blocks)
      // are skipped and only the new blocks are recorded. Hashes are chained, so the last held
      // block's hash names the whole run: a shared system prompt followed by a new question is
      // skipped as well as a repeat.
      if (matched > 0 && this.refreshedSince(index, unchecked(hashes[matched - 1]), e.slot, e.tag, stamp)) from = usual;
    }
    index.record(hashes, from, st.blocks, e.slot, e.tag, stamp);
  }

  private memoKeys: StaticArray<u64> = new StaticArray<u64>(REFRESH_MEMO);
  private memoStamps: StaticArray<u32> = new StaticArray<u32>(REFRESH_MEMO);

  /** Whether (index, run's last block, pod) was refreshed within REFRESH_EVERY_STAMPS of `stamp`;
   *  remembers it at `stamp` if not (the caller refreshes it now). */
  private refreshedSince(index: PrefixIndex, tip: u64, slot: i32, tag: u16, stamp: u32): bool {
    const key = mix64(tip ^ <u64>changetype<usize>(index), ((<u64>slot) << 16) | <u64>tag);
    const k = <i32>(key & <u64>(REFRESH_MEMO - 1));
    if (unchecked(this.memoKeys[k]) == key && stamp - unchecked(this.memoStamps[k]) < REFRESH_EVERY_STAMPS) return true;
    unchecked((this.memoKeys[k] = key));
    unchecked((this.memoStamps[k] = stamp));
    return false;
  }
}
