// The queue's Envoy stats, by pool: depth (gauge, all workers), wait time (histogram, ms), and why
// requests left the queue other than by dispatch. Counters and the gauge are summed in the VM and
// flushed on the root's tick, as the routing metrics are (routing-metrics.ts).
import { QueueEvent } from "../core/queue-dispatcher";
import { CounterFamily, GaugeFamily, HistogramFamily, poolLabel } from "./routing-metrics";

export class QueueMetrics {
  depth: GaugeFamily = new GaugeFamily("infergate_queue_depth");
  waitMs: HistogramFamily = new HistogramFamily("infergate_queue_wait_ms");
  dropped: CounterFamily = new CounterFamily("infergate_queue_dropped_total");
  expired: CounterFamily = new CounterFamily("infergate_queue_expired_total");
  shed: CounterFamily = new CounterFamily("infergate_queue_sheddable_rejected_total");
  abandoned: CounterFamily = new CounterFamily("infergate_queue_abandoned_total");
  private definedPools: Set<string> = new Set();

  record(event: QueueEvent, poolId: string, waitedMs: f64): void {
    const pool = poolLabel(poolId);
    this.depth.add(pool, event == QueueEvent.Held ? 1 : -1);
    if (event == QueueEvent.Dispatched) this.waitMs.record(pool, <u64>waitedMs);
    else if (event == QueueEvent.Dropped) this.dropped.add(pool);
    else if (event == QueueEvent.Expired) this.expired.add(pool);
    else if (event == QueueEvent.Abandoned) this.abandoned.add(pool);
  }

  /** Every series of the pool at zero (once the pool is known). */
  definePool(poolId: string): void {
    if (this.definedPools.has(poolId)) return;
    this.definedPools.add(poolId);
    const pool = poolLabel(poolId);
    this.depth.define(pool);
    this.waitMs.define(pool);
    this.dropped.define(pool);
    this.expired.define(pool);
    this.shed.define(pool);
    this.abandoned.define(pool);
  }
}
