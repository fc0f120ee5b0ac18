// Free KV cache: a pod near full KV preempts or queues. Absolute, not normalised: 1 - usage.
import { Candidate, SchedulingContext, Scorer } from "../framework";

export class KvCacheScorer extends Scorer {
  constructor() {
    super("kv-cache-utilization-scorer");
  }
  applies(ctx: SchedulingContext): bool {
    return ctx.loadFresh;
  }
  score(c: Candidate, ctx: SchedulingContext): f64 {
    return 1.0 - c.endpoint.kvUsage;
  }
  addScores(ctx: SchedulingContext, weight: f64, load: bool, recordAt: i32): void {
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) {
      const c = unchecked(cs[i]);
      const v = weight * this.score(c, ctx);
      c.score += v;
      if (load) c.loadScore += v;
      if (recordAt >= 0) unchecked((ctx.scores[recordAt + i] = v));
    }
  }
}
