// A scheduling profile: filters -> affinity guards -> weighted scorers -> picker, and what one run
// of it produced. Pure: no host calls.
import { Endpoint, Pool, Strategy } from "../table/table";
import { AffinityGuard, Candidate, Filter, Picker, SchedulingContext, Scorer, Yield } from "./framework";

export class ProfileResult {
  /** Ranked: targets[0] is the pick, the rest fallbacks (as many as the decision asked for). */
  targets: Candidate[] = [];
  /** Candidates left after filtering. */
  eligible: i32 = 0;
  /** When nothing was left: the filter that removed the last candidates ("" otherwise). */
  emptiedBy: string = "";

  reset(): void {
    this.targets.length = 0;
    this.eligible = 0;
    this.emptiedBy = "";
  }
}

/** Pools whose per-endpoint filtering a profile remembers. */
const KEPT_POOLS: i32 = 8;

/** The endpoints of one pool the per-endpoint filters keep (endpoints[0, count)). */
class KeptEndpoints {
  constructor(
    public pool: Pool,
    public endpoints: StaticArray<Endpoint>,
    public count: i32,
    /** The filter that left nothing of a non-empty pool ("" otherwise). */
    public emptiedBy: string,
    /** Per kept endpoint: the weighted sum of the profile's leading per-endpoint scorers, and of
     *  those of them that count toward the load score. */
    public leadScore: StaticArray<f64>,
    public leadLoad: StaticArray<f64>,
    /** The pool's loadsPatched when computed: loads patched in since make it stale. */
    public loadsPatched: u32,
  ) {}
}

export class SchedulingProfile {
  /** The routing strategy this profile implements (the log line's, per stage for P/D). */
  strategy: Strategy = Strategy.Default;
  filters: Filter[] = [];
  guards: AffinityGuard[] = [];
  scorers: Scorer[] = [];
  picker: Picker;

  constructor(
    public readonly name: string,
    picker: Picker,
  ) {
    this.picker = picker;
  }

  /** Runs the profile over ctx.candidates; `picks` is how many ranked targets to return (>= 1). */
  run(ctx: SchedulingContext, out: ProfileResult, picks: i32): void {
    out.reset();
    ctx.preScored = 0;
    this.filter(ctx, out, 0);
    this.rank(ctx, out, picks);
  }

  /**
   * run() over candidates fill() made: the per-endpoint filters already ran (once per pool object),
   * the others run now. The same result as run() over every endpoint of the pool.
   */
  runFilled(ctx: SchedulingContext, out: ProfileResult, picks: i32): void {
    out.reset();
    if (ctx.candidates.length == 0) out.emptiedBy = this.keptEmptiedBy;
    else this.filter(ctx, out, this.leadingPerEndpoint);
    this.rank(ctx, out, picks);
  }

  private rank(ctx: SchedulingContext, out: ProfileResult, picks: i32): void {
    const cs = ctx.candidates;
    out.eligible = cs.length;
    if (cs.length == 0) return;
    for (let i = 0; i < cs.length; i++) unchecked(cs[i]).pos = i;
    this.guard(ctx);
    this.score(ctx);
    this.picker.pick(ctx, out.targets, picks);
  }

  // What the leading per-endpoint filters keep of a pool: computed once per Pool object and its
  // loads (a new table brings new Pool objects, and holding one keeps its address from being
  // reused; a push of loads alone bumps loadsPatched) instead of a virtual call per filter and
  // endpoint on every decision. A few pools are
  // remembered (a table's pools share the profile of their strategy).
  private kept: KeptEndpoints[] = [];
  private keptNext: i32 = 0;
  /** Filters [0, leadingPerEndpoint) are per-endpoint ones (filters from a dynamic one on run per decision). */
  private leadingPerEndpoint: i32 = -1;
  /** Scorers [0, leadingPerEndpointScorers) are per-endpoint ones: summed per pool object (keptOf). */
  private leadingPerEndpointScorers: i32 = 0;
  /** What fill() used for the current decision. */
  private keptEmptiedBy: string = "";

  private keptOf(pool: Pool, ctx: SchedulingContext): KeptEndpoints {
    let stale = -1;
    for (let i = 0; i < this.kept.length; i++) {
      const k = unchecked(this.kept[i]);
      if (k.pool !== pool) continue;
      if (k.loadsPatched == pool.loadsPatched) return k;
      stale = i; // the same pool with other loads (patched in since): computed again, in its place
      break;
    }
    if (this.leadingPerEndpoint < 0) {
      let lead = 0;
      while (lead < this.filters.length && unchecked(this.filters[lead]).perEndpoint) lead++;
      this.leadingPerEndpoint = lead;
      let leadScorers = 0;
      while (leadScorers < this.scorers.length && unchecked(this.scorers[leadScorers]).perEndpoint) leadScorers++;
      this.leadingPerEndpointScorers = leadScorers;
    }
    const eps = pool.endpoints;
    const kept = new StaticArray<Endpoint>(eps.length);
    for (let k = 0; k < eps.length; k++) unchecked((kept[k] = unchecked(eps[k])));
    let n = eps.length;
    let emptiedBy = "";
    const probe = new Candidate(eps.length > 0 ? eps[0] : new Endpoint(), 0);
    // The same steps as filter(): a filter that leaves nothing of a non-empty list is named.
    for (let f = 0; f < this.leadingPerEndpoint; f++) {
      const filter = unchecked(this.filters[f]);
      const before = n;
      let w = 0;
      for (let i = 0; i < n; i++) {
        probe.reset(unchecked(kept[i]), 0);
        if (filter.keep(probe, ctx)) unchecked((kept[w++] = kept[i]));
      }
      n = w;
      if (w == 0) {
        if (before > 0) emptiedBy = filter.name;
        break;
      }
    }
    // The leading per-endpoint scorers' sums, added as score() adds them (same order, from +0), so
    // a candidate starts its decision with exactly the score those scorers would have given it.
    const leadScore = new StaticArray<f64>(n);
    const leadLoad = new StaticArray<f64>(n);
    for (let s = 0; s < this.leadingPerEndpointScorers; s++) {
      const sc = unchecked(this.scorers[s]);
      if (sc.weight == 0) continue;
      const load = sc.isLoad && sc.sharedSignal;
      for (let i = 0; i < n; i++) {
        probe.reset(unchecked(kept[i]), 0);
        const v = sc.weight * sc.score(probe, ctx);
        unchecked((leadScore[i] += v));
        if (load) unchecked((leadLoad[i] += v));
      }
    }
    const k = new KeptEndpoints(pool, kept, n, emptiedBy, leadScore, leadLoad, pool.loadsPatched);
    if (stale >= 0) unchecked((this.kept[stale] = k));
    else if (this.kept.length < KEPT_POOLS) this.kept.push(k);
    else {
      unchecked((this.kept[this.keptNext] = k));
      this.keptNext = (this.keptNext + 1) % KEPT_POOLS;
    }
    return k;
  }

  /**
   * ctx.candidates := the pool's endpoints the per-endpoint filters keep, in pool order, as the
   * reusable `objects` (grown here, never shrunk), each with its in-flight count from `counts`
   * (index = slot). Then runFilled().
   */
  fill(ctx: SchedulingContext, pool: Pool, counts: Int32Array, objects: Array<Candidate>): void {
    const k = this.keptOf(pool, ctx);
    this.keptEmptiedBy = k.emptiedBy;
    const kept = k.endpoints;
    const n = k.count;
    const cs = ctx.candidates;
    const slots = counts.length;
    const leadScore = k.leadScore;
    const leadLoad = k.leadLoad;
    ctx.preScored = this.leadingPerEndpointScorers;
    // The list this profile filled last time, over the same endpoints, and no filter shortened it
    // (filters only remove): its objects already hold their endpoints in order; only the
    // per-decision fields are reset (at 512 endpoints, a quarter of a DEFAULT decision in Node).
    if (k === this.filledKept && cs === this.filledList && objects === this.filledObjects && cs.length == n) {
      for (let i = 0; i < n; i++) {
        const c = unchecked(cs[i]);
        const slot = c.slot;
        c.inflight = slot < slots ? unchecked(counts[slot]) : 0;
        c.score = unchecked(leadScore[i]);
        c.loadScore = unchecked(leadLoad[i]);
      }
      return;
    }
    while (objects.length < n) objects.push(new Candidate(unchecked(kept[0]), 0));
    // Grown by push (a grown Array's new slots are not initialised), shrunk by length.
    while (cs.length < n) cs.push(unchecked(objects[cs.length]));
    cs.length = n;
    for (let i = 0; i < n; i++) {
      const e = unchecked(kept[i]);
      const c = unchecked(objects[i]);
      c.reset(e, e.slot < slots ? unchecked(counts[e.slot]) : 0);
      c.score = unchecked(leadScore[i]);
      c.loadScore = unchecked(leadLoad[i]);
      unchecked((cs[i] = c));
    }
    this.filledKept = k;
    this.filledList = cs;
    this.filledObjects = objects;
  }

  /** What the last fill() built: reused while it is still whole (see fill). */
  private filledKept: KeptEndpoints | null = null;
  private filledList: Candidate[] | null = null;
  private filledObjects: Candidate[] | null = null;

  /** Keeps the candidates every applicable filter from `first` on accepts (in place). */
  filter(ctx: SchedulingContext, out: ProfileResult, first: i32 = 0): void {
    const cs = ctx.candidates;
    for (let f = first; f < this.filters.length; f++) {
      const filter = unchecked(this.filters[f]);
      if (!filter.applies(ctx)) continue;
      const before = cs.length;
      let w = 0;
      for (let i = 0; i < cs.length; i++) if (filter.keep(unchecked(cs[i]), ctx)) cs[w++] = unchecked(cs[i]);
      cs.length = w;
      if (w == 0) {
        if (before > 0) out.emptiedBy = filter.name;
        return;
      }
    }
  }

  private guard(ctx: SchedulingContext): void {
    const cs = ctx.candidates;
    if (ctx.yields.length < cs.length) ctx.yields = new StaticArray<u8>(cs.length * 2);
    memory.fill(changetype<usize>(ctx.yields), <u8>Yield.None, <usize>cs.length);
    for (let g = 0; g < this.guards.length; g++) {
      const guard = unchecked(this.guards[g]);
      if (guard.prepare(ctx)) guard.markYields(ctx); // the first guard's reason stands
    }
  }

  private score(ctx: SchedulingContext): void {
    const cs = ctx.candidates;
    const n = cs.length;
    const record = ctx.recordScores;
    if (record && ctx.scores.length < this.scorers.length * n) ctx.scores = new Float64Array(this.scorers.length * n);
    // fill() summed the leading per-endpoint scorers already: kept when each of them applies to
    // this decision (scraped load fresh), redone one by one when not, or when each scorer's own
    // score is recorded.
    const first = !record && this.preScoredApply(ctx) ? ctx.preScored : 0;
    if (first == 0 && ctx.preScored > 0) {
      for (let i = 0; i < n; i++) {
        const c = unchecked(cs[i]);
        c.score = 0;
        c.loadScore = 0;
      }
    }
    for (let s = first; s < this.scorers.length; s++) {
      const sc = unchecked(this.scorers[s]);
      const weight = sc.weight;
      if (weight != 0 && sc.applies(ctx)) {
        sc.prepare(ctx);
        sc.addScores(ctx, weight, sc.isLoad && sc.sharedSignal, record ? s * n : -1);
      } else if (record) {
        for (let i = 0; i < n; i++) unchecked((ctx.scores[s * n + i] = 0));
      }
      // A scorer that does not apply adds 0 to no sum: skipped (a sum from +0 is never -0, so
      // adding 0 would change nothing).
    }
  }

  /** Whether every scorer fill() summed (weighted, not 0) has something to say for this decision. */
  private preScoredApply(ctx: SchedulingContext): bool {
    for (let s = 0; s < ctx.preScored; s++) {
      const sc = unchecked(this.scorers[s]);
      if (sc.weight != 0 && !sc.applies(ctx)) return false;
    }
    return true;
  }

  /** Tells every scorer where the request went (they record what later decisions need). */
  routed(ctx: SchedulingContext, chosen: Candidate): void {
    for (let s = 0; s < this.scorers.length; s++) {
      const sc = unchecked(this.scorers[s]);
      if (sc.weight != 0 && sc.applies(ctx)) sc.routed(ctx, chosen);
    }
  }

  /** `"name":score,...` of each scorer's weighted score for one candidate (needs recordScores). */
  scoresOf(ctx: SchedulingContext, c: Candidate): string {
    const n = ctx.candidates.length;
    let out = "";
    for (let s = 0; s < this.scorers.length; s++) {
      if (s > 0) out += ",";
      const v = ctx.recordScores ? ctx.scores[s * n + c.pos] : 0;
      out += '"' + this.scorers[s].name + '":' + (Math.round(v * 1000) / 1000).toString();
    }
    return out;
  }
}
