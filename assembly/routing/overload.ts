// Marks candidates that must not win on affinity alone:
//  - saturated by their own scraped load signals (queue depth, KV use; see saturation.ts), judged
//    only while load is fresh. Not the burst estimate the queue uses: a pod with room in its batch
//    runs the requests the last scrape missed, and counting them as waiting would break affinity;
//  - over their balance bound: more in-flight requests than the bounded-load capacity
//    ceil(bound * (total + 1) / n) + SLACK, in the manner of consistent hashing with bounded loads.
//    The slack keeps tiny loads (a few requests in flight on four pods, where one more is +25 %)
//    from breaking affinity on noise; at real concurrency (dozens per pod) it is negligible.
import { RoutingContext } from "./candidate";
import { SaturationDetector } from "./saturation";

const SLACK: f64 = 3;

export class OverloadDetector {
  constructor(
    public saturation: SaturationDetector,
    public balanceBound: f64,
  ) {}

  mark(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    const n = cs.length;
    if (n == 0) return;
    let total = 0;
    for (let i = 0; i < n; i++) total += cs[i].inflight;
    const capacity =
      this.balanceBound > 0 ? Math.ceil((this.balanceBound * <f64>(total + 1)) / <f64>n) + SLACK : Infinity;
    for (let i = 0; i < n; i++) {
      const c = cs[i];
      c.overloadReason = ctx.loadFresh && this.saturation.scrapedSaturated(c) ? 1 : <f64>c.inflight >= capacity ? 2 : 0;
      c.overloaded = c.overloadReason != 0;
    }
  }
}
