// The routing pipeline: filters -> scorers -> picker. Pure: no host calls, so it is unit-tested
// on its own (test/assembly/).
import { Candidate, RoutingContext } from "./candidate";
import { CandidateFilter } from "./filters";
import { Scorer } from "./scorers";

export class Scheduler {
  filters: CandidateFilter[] = [];
  scorers: Scorer[] = [];

  addFilter(f: CandidateFilter): Scheduler { this.filters.push(f); return this; }
  addScorer(s: Scorer): Scheduler { this.scorers.push(s); return this; }

  /** Keeps the candidates every filter accepts (in place). */
  filter(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    let w = 0;
    for (let i = 0; i < cs.length; i++) {
      let keep = true;
      for (let f = 0; f < this.filters.length; f++) {
        if (!this.filters[f].keep(cs[i], ctx)) { keep = false; break; }
      }
      if (keep) cs[w++] = cs[i];
    }
    cs.length = w;
  }

  score(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) cs[i].score = 0;
    for (let s = 0; s < this.scorers.length; s++) {
      const sc = this.scorers[s];
      if (sc.weight == 0 || !sc.applies(ctx)) continue;
      sc.prepare(ctx);
      for (let i = 0; i < cs.length; i++) cs[i].score += sc.weight * sc.score(cs[i], ctx);
    }
  }

  /** Highest score wins; exact ties are broken uniformly at random (reservoir sampling). */
  pick(ctx: RoutingContext): Candidate | null {
    const cs = ctx.candidates;
    if (cs.length == 0) return null;
    let best = cs[0];
    let ties = 1;
    for (let i = 1; i < cs.length; i++) {
      const c = cs[i];
      if (c.score > best.score + 1e-9) { best = c; ties = 1; }
      else if (c.score >= best.score - 1e-9) {
        ties++;
        if (ctx.rng.below(ties) == 0) best = c;
      }
    }
    return best;
  }

  run(ctx: RoutingContext): Candidate | null {
    this.filter(ctx);
    this.score(ctx);
    return this.pick(ctx);
  }
}
