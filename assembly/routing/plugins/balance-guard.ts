// Affinity must not pick a pod over its bounded-load share of the gateway's in-flight requests:
// capacity ceil(bound * (total + 1) / n) + SLACK, in the manner of consistent hashing with bounded
// loads. The slack keeps tiny loads (a few requests in flight on four pods, where one more is
// +25 %) from breaking affinity on noise; at real concurrency (dozens per pod) it is negligible.
import { AffinityGuard, Candidate, markYieldsOf, SchedulingContext, Yield } from "../framework";

const SLACK: f64 = 3;

export class BalanceGuard extends AffinityGuard {
  private capacity: f64 = Infinity;

  /** bound 0 turns the guard off. */
  constructor(private bound: f64) {
    super("balance-guard");
  }
  prepare(ctx: SchedulingContext): bool {
    const cs = ctx.candidates;
    let total = 0;
    let most = 0;
    for (let i = 0; i < cs.length; i++) {
      const n = unchecked(cs[i]).inflight;
      total += n;
      if (n > most) most = n;
    }
    this.capacity =
      this.bound > 0 && cs.length > 0 ? Math.ceil((this.bound * <f64>(total + 1)) / <f64>cs.length) + SLACK : Infinity;
    // Usually no pod is over its share: nobody to mark.
    return <f64>most >= this.capacity;
  }
  yieldOf(c: Candidate, ctx: SchedulingContext): Yield {
    return <f64>c.inflight >= this.capacity ? Yield.Balance : Yield.None;
  }
  markYields(ctx: SchedulingContext): void {
    markYieldsOf<BalanceGuard>(this, ctx);
  }
}
