// This worker's held requests: strict priority (an integer, highest first), FIFO within one
// priority. One lane per priority that has requests, lanes kept in descending priority order and
// removed when empty, so the structure is as large as what it holds. Pure bookkeeping; the
// gateway pauses and resumes the streams.
import { CRITICALITY_CLASSES, criticalityOfPriority } from "../table/table";

export class QueuedRequest {
  constructor(
    public streamId: u32,
    public poolId: string,
    public model: string,
    public priority: i32,
    public enqueuedMs: f64,
    public bytes: i32,
  ) {}
}

class Lane {
  items: QueuedRequest[] = [];
  constructor(public priority: i32) {}
}

/** What this worker holds for one pool: what it publishes in the queue ledger. */
export class PoolHoldings {
  count: i32 = 0;
  bytes: f64 = 0;
  /** Highest priority held (meaningless when count is 0). */
  top: i32 = 0;
  /** Enqueue time of the oldest held (-1 when none). */
  oldestMs: f64 = -1;
  /** Held per criticality class of their priority (Critical, Standard, Sheddable). */
  classes: StaticArray<i32> = new StaticArray<i32>(CRITICALITY_CLASSES);
}

export class RequestQueue {
  private lanes: Lane[] = [];
  size: i32 = 0;
  bytes: i64 = 0;

  push(r: QueuedRequest): void {
    const ls = this.lanes;
    let i = 0;
    while (i < ls.length && ls[i].priority > r.priority) i++;
    if (i == ls.length || ls[i].priority != r.priority) {
      // A new priority: its lane goes at i (AssemblyScript's splice cannot insert).
      const lane = new Lane(r.priority);
      ls.push(lane);
      for (let k = ls.length - 1; k > i; k--) ls[k] = ls[k - 1];
      ls[i] = lane;
    }
    ls[i].items.push(r);
    this.size++;
    this.bytes += r.bytes;
  }

  /** The next request to dispatch for a pool (highest priority, oldest first), without removing it. */
  peekFor(poolId: string): QueuedRequest | null {
    const ls = this.lanes;
    for (let k = 0; k < ls.length; k++) {
      const items = ls[k].items;
      for (let i = 0; i < items.length; i++) if (items[i].poolId == poolId) return items[i];
    }
    return null;
  }

  /** The oldest request of a pool regardless of priority (capacity overflow drops it first). */
  oldestFor(poolId: string): QueuedRequest | null {
    let best: QueuedRequest | null = null;
    const ls = this.lanes;
    for (let k = 0; k < ls.length; k++) {
      const items = ls[k].items;
      for (let i = 0; i < items.length; i++) {
        if (items[i].poolId != poolId) continue;
        if (best === null || items[i].enqueuedMs < best.enqueuedMs) best = items[i];
        break; // lanes are FIFO: the first of this pool is its oldest in the lane
      }
    }
    return best;
  }

  /** What this worker holds for a pool, into `out`. */
  holdingsFor(poolId: string, out: PoolHoldings): PoolHoldings {
    out.count = 0;
    out.bytes = 0;
    out.top = 0;
    out.oldestMs = -1;
    for (let c = 0; c < CRITICALITY_CLASSES; c++) out.classes[c] = 0;
    const ls = this.lanes;
    for (let k = 0; k < ls.length; k++) {
      const items = ls[k].items;
      for (let i = 0; i < items.length; i++) {
        const r = items[i];
        if (r.poolId != poolId) continue;
        if (out.count == 0) out.top = r.priority; // lanes run from the highest priority down
        out.count++;
        out.bytes += r.bytes;
        if (out.oldestMs < 0 || r.enqueuedMs < out.oldestMs) out.oldestMs = r.enqueuedMs;
        out.classes[<i32>criticalityOfPriority(r.priority)]++;
      }
    }
    return out;
  }

  remove(streamId: u32): QueuedRequest | null {
    const ls = this.lanes;
    for (let k = 0; k < ls.length; k++) {
      const items = ls[k].items;
      for (let i = 0; i < items.length; i++) {
        if (items[i].streamId != streamId) continue;
        const r = items[i];
        items.splice(i, 1);
        if (items.length == 0) ls.splice(k, 1);
        this.size--;
        this.bytes -= r.bytes;
        return r;
      }
    }
    return null;
  }

  /** A pool's requests that have waited ttlMs or longer. */
  expiredFor(poolId: string, nowMs: f64, ttlMs: f64): QueuedRequest[] {
    const out = new Array<QueuedRequest>();
    const ls = this.lanes;
    for (let k = 0; k < ls.length; k++) {
      const items = ls[k].items;
      for (let i = 0; i < items.length; i++) {
        const r = items[i];
        if (r.poolId == poolId && nowMs - r.enqueuedMs >= ttlMs) out.push(r);
      }
    }
    return out;
  }

  /** Distinct pools with held requests. */
  pools(): string[] {
    const out = new Array<string>();
    const ls = this.lanes;
    for (let k = 0; k < ls.length; k++) {
      const items = ls[k].items;
      for (let i = 0; i < items.length; i++) if (!out.includes(items[i].poolId)) out.push(items[i].poolId);
    }
    return out;
  }
}
