// Marks candidates that must not win on affinity alone:
//  - saturated: the pod's own queue or KV cache is at its threshold (upstream saturation detector
//    defaults: queue depth 5, KV use 0.8), judged only while scraped load is fresh;
//  - over its balance bound: more in-flight requests than bound x the fair share, in the manner
//    of consistent hashing with bounded loads: capacity = ceil(bound * (total + 1) / n) + 1. The
//    +1 keeps tiny loads (one request in flight on four pods) from breaking affinity; at real
//    concurrency it is small next to the fair share.
import { RoutingContext } from "./candidate";

export class OverloadDetector {
  constructor(public queueDepth: f64, public kvUsage: f64, public balanceBound: f64) {}

  mark(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    const n = cs.length;
    if (n == 0) return;
    let total = 0;
    for (let i = 0; i < n; i++) total += cs[i].inflight;
    const capacity = this.balanceBound > 0 ? Math.ceil(this.balanceBound * <f64>(total + 1) / <f64>n) + 1 : Infinity;
    for (let i = 0; i < n; i++) {
      const c = cs[i];
      const e = c.endpoint;
      const saturated = ctx.loadFresh && (e.waiting >= this.queueDepth || e.kvUsage >= this.kvUsage);
      c.overloaded = saturated || <f64>c.inflight >= capacity;
    }
  }
}
