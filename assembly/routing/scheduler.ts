// The routing pipeline: filters -> scorers -> picker. Pure: no host calls, so it is unit-tested
// on its own (test/assembly/).

import { mix64, xxh64String } from "../prefix/xxhash64";
import { Candidate, RoutingContext } from "./candidate";
import { CandidateFilter } from "./filters";
import { OverloadDetector } from "./overload";
import { Scorer } from "./scorers";

/** Fills each candidate's prefixMatched from whatever index the policy keeps. */
export abstract class PrefixMatcher {
  abstract match(ctx: RoutingContext): void;
}

export class Scheduler {
  filters: CandidateFilter[] = [];
  scorers: Scorer[] = [];
  /** New prefixes: endpoints whose load score is within this of the best are rendezvous candidates. */
  rendezvousTolerance: f64 = 0.1;
  overload: OverloadDetector | null = null;
  matcher: PrefixMatcher | null = null;

  addFilter(f: CandidateFilter): Scheduler {
    this.filters.push(f);
    return this;
  }
  addScorer(s: Scorer): Scheduler {
    this.scorers.push(s);
    return this;
  }

  /** Keeps the candidates every filter accepts (in place). */
  filter(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    let w = 0;
    for (let i = 0; i < cs.length; i++) {
      let keep = true;
      for (let f = 0; f < this.filters.length; f++) {
        if (!this.filters[f].keep(cs[i], ctx)) {
          keep = false;
          break;
        }
      }
      if (keep) cs[w++] = cs[i];
    }
    cs.length = w;
  }

  score(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) {
      cs[i].score = 0;
      cs[i].loadScore = 0;
    }
    for (let s = 0; s < this.scorers.length; s++) {
      const sc = this.scorers[s];
      if (sc.weight == 0 || !sc.applies(ctx)) continue;
      sc.prepare(ctx);
      for (let i = 0; i < cs.length; i++) {
        const v = sc.weight * sc.score(cs[i], ctx);
        cs[i].score += v;
        if (sc.isLoad) cs[i].loadScore += v;
      }
    }
  }

  /**
   * A prefix no endpoint holds: among the endpoints within rendezvousTolerance of the least
   * loaded, take the highest hash of (first block, endpoint address). Every gateway replica,
   * with its own index, then sends the same new conversation to the same pod while loads agree.
   */
  rendezvous(ctx: RoutingContext): Candidate | null {
    const cs = ctx.candidates;
    let bestLoad = -Infinity;
    for (let i = 0; i < cs.length; i++) if (cs[i].loadScore > bestLoad) bestLoad = cs[i].loadScore;
    let chosen: Candidate | null = null;
    let top: u64 = 0;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i];
      if (c.loadScore < bestLoad - this.rendezvousTolerance) continue;
      const w = mix64(ctx.affinityKey, xxh64String(c.endpoint.address, 0));
      if (chosen === null || w > top) {
        chosen = c;
        top = w;
      }
    }
    return chosen;
  }

  /** Highest score wins; exact ties are broken uniformly at random (reservoir sampling). */
  pick(ctx: RoutingContext): Candidate | null {
    const cs = ctx.candidates;
    if (cs.length == 0) return null;
    let best = cs[0];
    let ties = 1;
    for (let i = 1; i < cs.length; i++) {
      const c = cs[i];
      if (c.score > best.score + 1e-9) {
        best = c;
        ties = 1;
      } else if (c.score >= best.score - 1e-9) {
        ties++;
        if (ctx.rng.below(ties) == 0) best = c;
      }
    }
    return best;
  }

  run(ctx: RoutingContext): Candidate | null {
    this.filter(ctx);
    if (this.overload !== null) this.overload!.mark(ctx);
    if (ctx.prefixBlocks > 0 && this.matcher !== null) this.matcher!.match(ctx);
    this.score(ctx);
    if (ctx.prefixBlocks > 0 && ctx.affinityKey != 0) {
      let anyMatch = false;
      for (let i = 0; i < ctx.candidates.length; i++)
        if (ctx.candidates[i].prefixMatched > 0) {
          anyMatch = true;
          break;
        }
      if (!anyMatch) return this.rendezvous(ctx);
    }
    return this.pick(ctx);
  }
}
