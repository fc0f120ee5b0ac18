// Marks candidates that must not win on affinity alone:
//  - saturated by their own load signals (see saturation.ts), judged only while load is fresh;
//  - over their balance bound: more in-flight requests than the bounded-load capacity
//    ceil(bound * (total + 1) / n) + 1, in the manner of consistent hashing with bounded loads.
//    The +1 keeps tiny loads (one request in flight on four pods) from breaking affinity; at real
//    concurrency it is small next to the fair share.
import { RoutingContext } from "./candidate";
import { SaturationDetector } from "./saturation";

export class OverloadDetector {
  constructor(public saturation: SaturationDetector, public balanceBound: f64) {}

  mark(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    const n = cs.length;
    if (n == 0) return;
    let total = 0;
    for (let i = 0; i < n; i++) total += cs[i].inflight;
    const capacity = this.balanceBound > 0 ? Math.ceil(this.balanceBound * <f64>(total + 1) / <f64>n) + 1 : Infinity;
    for (let i = 0; i < n; i++) {
      const c = cs[i];
      c.overloaded = (ctx.loadFresh && this.saturation.loadSaturated(c)) || <f64>c.inflight >= capacity;
    }
  }
}
