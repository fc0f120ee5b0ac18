// The queue's Envoy stats: depth (gauge, all workers), wait time (histogram, ms), and why
// requests left the queue other than by dispatch.
import { Counter, Gauge, Histogram } from "../host/metrics";

export class QueueMetrics {
  depth: Gauge = new Gauge("infergate_queue_depth");
  waitMs: Histogram = new Histogram("infergate_queue_wait_ms");
  dropped: Counter = new Counter("infergate_queue_dropped_total");
  expired: Counter = new Counter("infergate_queue_expired_total");
  shed: Counter = new Counter("infergate_queue_sheddable_rejected_total");
  abandoned: Counter = new Counter("infergate_queue_abandoned_total");
}
