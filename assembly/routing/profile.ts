// A scheduling profile: filters -> affinity guards -> weighted scorers -> picker, and what one run
// of it produced. Pure: no host calls.
import { Strategy } from "../table/table";
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
    this.filter(ctx, out);
    const cs = ctx.candidates;
    out.eligible = cs.length;
    if (cs.length == 0) return;
    for (let i = 0; i < cs.length; i++) unchecked(cs[i]).pos = i;
    this.guard(ctx);
    this.score(ctx);
    this.picker.pick(ctx, out.targets, picks);
  }

  /** Keeps the candidates every applicable filter accepts (in place). */
  filter(ctx: SchedulingContext, out: ProfileResult): void {
    const cs = ctx.candidates;
    for (let f = 0; f < this.filters.length; f++) {
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
    for (let i = 0; i < cs.length; i++) unchecked((ctx.yields[i] = <u8>Yield.None));
    for (let g = 0; g < this.guards.length; g++) {
      const guard = unchecked(this.guards[g]);
      guard.prepare(ctx);
      for (let i = 0; i < cs.length; i++) {
        if (unchecked(ctx.yields[i]) != <u8>Yield.None) continue; // the first guard's reason stands
        unchecked((ctx.yields[i] = <u8>guard.yieldOf(unchecked(cs[i]), ctx)));
      }
    }
  }

  private score(ctx: SchedulingContext): void {
    const cs = ctx.candidates;
    const n = cs.length;
    if (ctx.recordScores && ctx.scores.length < this.scorers.length * n)
      ctx.scores = new Float64Array(this.scorers.length * n);
    for (let s = 0; s < this.scorers.length; s++) {
      const sc = unchecked(this.scorers[s]);
      const applies = sc.weight != 0 && sc.applies(ctx);
      if (applies) sc.prepare(ctx);
      for (let i = 0; i < n; i++) {
        const c = unchecked(cs[i]);
        const v = applies ? sc.weight * sc.score(c, ctx) : 0;
        c.score += v;
        if (sc.isLoad && sc.sharedSignal) c.loadScore += v;
        if (ctx.recordScores) unchecked((ctx.scores[s * n + i] = v));
      }
    }
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
