// Affinity yields to load only when it buys something: when the pod holding the prefix has a
// scraped waiting queue much deeper than the shortest one among the candidates (at least `abs`
// more AND at least `rel` times as deep), in the manner of sglang-router's cache-aware balance
// thresholds. Never because the whole fleet is busy: when every pod queues, affinity is what
// lowers the load (a hit skips the prefill), and saturation of every pod is the queue's business.
// The scraped queue sees every gateway replica's traffic, which the in-flight counts do not.
import { AffinityGuard, Candidate, markYieldsOf, SchedulingContext, Yield } from "../framework";

export class QueueImbalanceGuard extends AffinityGuard {
  private shortest: f64 = 0;

  constructor(
    private abs: f64,
    private rel: f64,
  ) {
    super("queue-imbalance-guard");
  }
  prepare(ctx: SchedulingContext): bool {
    if (!ctx.loadFresh) return false;
    const cs = ctx.candidates;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < cs.length; i++) {
      const w = unchecked(cs[i]).endpoint.waiting;
      if (w < lo) lo = w;
      if (w > hi) hi = w;
    }
    this.shortest = lo;
    // The deepest queue is not much deeper than the shortest: nobody to mark (the usual case).
    return hi >= lo + this.abs && hi >= this.rel * lo;
  }
  yieldOf(c: Candidate, ctx: SchedulingContext): Yield {
    if (!ctx.loadFresh) return Yield.None;
    const w = c.endpoint.waiting;
    return w >= this.shortest + this.abs && w >= this.rel * this.shortest ? Yield.Imbalance : Yield.None;
  }
  markYields(ctx: SchedulingContext): void {
    markYieldsOf<QueueImbalanceGuard>(this, ctx);
  }
}
