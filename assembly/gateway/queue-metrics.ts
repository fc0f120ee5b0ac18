// The queue's Envoy stats: depth (gauge, all workers), wait time (histogram, ms), and why
// requests left the queue other than by dispatch.
import { QueueEvent } from "../core/queue-dispatcher";
import { Counter, Gauge, Histogram } from "../host/metrics";

export class QueueMetrics {
  depth: Gauge = new Gauge("infergate_queue_depth");
  waitMs: Histogram = new Histogram("infergate_queue_wait_ms");
  dropped: Counter = new Counter("infergate_queue_dropped_total");
  expired: Counter = new Counter("infergate_queue_expired_total");
  shed: Counter = new Counter("infergate_queue_sheddable_rejected_total");
  abandoned: Counter = new Counter("infergate_queue_abandoned_total");

  record(event: QueueEvent, waitedMs: f64): void {
    this.depth.add(event == QueueEvent.Held ? 1 : -1);
    if (event == QueueEvent.Dispatched) this.waitMs.record(<u64>waitedMs);
    else if (event == QueueEvent.Dropped) this.dropped.increment(1);
    else if (event == QueueEvent.Expired) this.expired.increment(1);
    else if (event == QueueEvent.Abandoned) this.abandoned.increment(1);
  }
}
