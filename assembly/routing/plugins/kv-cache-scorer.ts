// Free KV cache: a pod near full KV preempts or queues. Absolute, not normalised: 1 - usage.
import { addScoresOf, Candidate, SchedulingContext, Scorer } from "../framework";

export class KvCacheScorer extends Scorer {
  constructor() {
    super("kv-cache-utilization-scorer");
    this.perEndpoint = true;
  }
  applies(ctx: SchedulingContext): bool {
    return ctx.loadFresh;
  }
  score(c: Candidate, ctx: SchedulingContext): f64 {
    return 1.0 - c.endpoint.kvUsage;
  }
  addScores(ctx: SchedulingContext, weight: f64, load: bool, recordAt: i32): void {
    addScoresOf<KvCacheScorer>(this, ctx, weight, load, recordAt);
  }
}
