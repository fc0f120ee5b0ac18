// Requests this gateway (all workers) has sent to the pod and not seen finish: reacts at once,
// before the next scrape shows the load. Scored 1 - inflight / (max + 1) rather than min-max, so
// one request more or less moves the score by a step proportional to the load, not by the whole
// range: a 3-vs-1 difference must not outweigh a conversation's KV cache.
import { addScoresOf, Candidate, SchedulingContext, Scorer } from "../framework";

export class InFlightScorer extends Scorer {
  private hi: f64 = 0;
  constructor() {
    super("in-flight-scorer");
    this.sharedSignal = false; // each gateway replica counts its own
  }
  prepare(ctx: SchedulingContext): void {
    let hi: f64 = 0;
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) if (<f64>unchecked(cs[i]).inflight > hi) hi = <f64>unchecked(cs[i]).inflight;
    this.hi = hi;
  }
  score(c: Candidate, ctx: SchedulingContext): f64 {
    return 1.0 - <f64>c.inflight / (this.hi + 1.0);
  }
  addScores(ctx: SchedulingContext, weight: f64, load: bool, recordAt: i32): void {
    addScoresOf<InFlightScorer>(this, ctx, weight, load, recordAt);
  }
}
