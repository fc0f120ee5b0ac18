// This worker's held requests: strict priority across criticality classes (Critical, Standard,
// Sheddable), FIFO within a class. Pure bookkeeping; the gateway pauses and resumes the streams.
import { CRITICALITY_CLASSES, Criticality } from "../table/table";

export class QueuedRequest {
  constructor(
    public streamId: u32,
    public poolId: string,
    public model: string,
    public criticality: Criticality,
    public enqueuedMs: f64,
    public bytes: i32,
  ) {}
}

export class RequestQueue {
  private lanes: Array<Array<QueuedRequest>> = [
    new Array<QueuedRequest>(),
    new Array<QueuedRequest>(),
    new Array<QueuedRequest>(),
  ];
  bytes: i64 = 0;

  get size(): i32 {
    return this.lanes[0].length + this.lanes[1].length + this.lanes[2].length;
  }
  count(criticality: Criticality): i32 {
    return this.lanes[<i32>criticality].length;
  }

  push(r: QueuedRequest): void {
    this.lanes[<i32>r.criticality].push(r);
    this.bytes += r.bytes;
  }

  /** The next request to dispatch for a pool (highest class, oldest first), without removing it. */
  peekFor(poolId: string): QueuedRequest | null {
    for (let k = 0; k < CRITICALITY_CLASSES; k++) {
      const lane = this.lanes[k];
      for (let i = 0; i < lane.length; i++) if (lane[i].poolId == poolId) return lane[i];
    }
    return null;
  }

  /** The oldest request of a pool regardless of class (capacity overflow drops it first). */
  oldestFor(poolId: string): QueuedRequest | null {
    let best: QueuedRequest | null = null;
    for (let k = 0; k < CRITICALITY_CLASSES; k++) {
      const lane = this.lanes[k];
      for (let i = 0; i < lane.length; i++) {
        if (lane[i].poolId != poolId) continue;
        if (best === null || lane[i].enqueuedMs < best.enqueuedMs) best = lane[i];
        break; // lanes are FIFO: the first of this pool is its oldest in the lane
      }
    }
    return best;
  }

  remove(streamId: u32): QueuedRequest | null {
    for (let k = 0; k < CRITICALITY_CLASSES; k++) {
      const lane = this.lanes[k];
      for (let i = 0; i < lane.length; i++) {
        if (lane[i].streamId == streamId) {
          const r = lane[i];
          lane.splice(i, 1);
          this.bytes -= r.bytes;
          return r;
        }
      }
    }
    return null;
  }

  /** A pool's requests that have waited ttlMs or longer. */
  expiredFor(poolId: string, nowMs: f64, ttlMs: f64): QueuedRequest[] {
    const out = new Array<QueuedRequest>();
    for (let k = 0; k < CRITICALITY_CLASSES; k++) {
      const lane = this.lanes[k];
      for (let i = 0; i < lane.length; i++) {
        const r = lane[i];
        if (r.poolId == poolId && nowMs - r.enqueuedMs >= ttlMs) out.push(r);
      }
    }
    return out;
  }

  /** Distinct pools with held requests. */
  pools(): string[] {
    const out = new Array<string>();
    for (let k = 0; k < CRITICALITY_CLASSES; k++) {
      const lane = this.lanes[k];
      for (let i = 0; i < lane.length; i++) if (!out.includes(lane[i].poolId)) out.push(lane[i].poolId);
    }
    return out;
  }
}
