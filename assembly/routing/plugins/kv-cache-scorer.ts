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
  scoreAll(ctx: SchedulingContext, out: StaticArray<f64>): void {
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) unchecked((out[i] = this.score(unchecked(cs[i]), ctx)));
  }
}
