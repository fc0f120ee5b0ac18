// What all Envoy workers' queues hold for a pool, in shared data ("infergate/v1/queue/<pool>"):
//  - queued bytes (the capacity annotation counts prompt bytes) and requests waiting per class;
//  - debt: bytes that must be dropped because capacity overflowed. The oldest held requests go
//    first, wherever they are held, so each worker publishes the age of its oldest held request
//    (one entry per worker, WORKERS of them) and a worker pays debt only with a request that is
//    the oldest of all. Entries older than the pool's TTL are stale (a restarted worker's) and
//    ignored, since no request can wait longer than that.
// One key per pool; updated by compare-and-swap.
import { CRITICALITY_CLASSES } from "../table/table";
import { SetResult, SharedStore } from "./shared-store";

export const WORKERS: i32 = 16;
const HEAD = 40;
const SIZE = HEAD + WORKERS * 16;

export class LedgerState {
  bytes: f64 = 0;
  debt: f64 = 0;
  waiting: StaticArray<f64> = new StaticArray<f64>(CRITICALITY_CLASSES);
  workerIds: StaticArray<f64> = new StaticArray<f64>(WORKERS);
  workerOldest: StaticArray<f64> = new StaticArray<f64>(WORKERS);
  /** Most critical class with a waiting request anywhere, or CRITICALITY_CLASSES when none. */
  topClass(): i32 {
    for (let k = 0; k < CRITICALITY_CLASSES; k++) if (this.waiting[k] > 0) return k;
    return CRITICALITY_CLASSES;
  }
  total(): f64 {
    let n: f64 = 0;
    for (let k = 0; k < CRITICALITY_CLASSES; k++) n += this.waiting[k];
    return n;
  }
  /** Enqueue time of the oldest request held by any live worker (Infinity when none). */
  oldest(notBeforeMs: f64): f64 {
    let o = Infinity;
    for (let w = 0; w < WORKERS; w++) {
      const t = this.workerOldest[w];
      if (this.workerIds[w] != 0 && t >= notBeforeMs && t < o) o = t;
    }
    return o;
  }
}

function keyOf(poolId: string): string {
  return "infergate/v1/queue/" + poolId;
}

function decode(buf: ArrayBuffer | null, out: LedgerState): void {
  if (buf === null || buf.byteLength < SIZE) {
    out.bytes = 0;
    out.debt = 0;
    for (let k = 0; k < CRITICALITY_CLASSES; k++) out.waiting[k] = 0;
    for (let w = 0; w < WORKERS; w++) {
      out.workerIds[w] = 0;
      out.workerOldest[w] = 0;
    }
    return;
  }
  const p = changetype<usize>(buf);
  out.bytes = load<f64>(p);
  out.debt = load<f64>(p, 8);
  for (let k = 0; k < CRITICALITY_CLASSES; k++) out.waiting[k] = load<f64>(p + <usize>(16 + k * 8));
  for (let w = 0; w < WORKERS; w++) {
    out.workerIds[w] = load<f64>(p + <usize>(HEAD + w * 16));
    out.workerOldest[w] = load<f64>(p + <usize>(HEAD + w * 16 + 8));
  }
}

function encode(s: LedgerState, buf: ArrayBuffer): void {
  const p = changetype<usize>(buf);
  store<f64>(p, s.bytes);
  store<f64>(p, s.debt, 8);
  for (let k = 0; k < CRITICALITY_CLASSES; k++) store<f64>(p + <usize>(16 + k * 8), s.waiting[k]);
  for (let w = 0; w < WORKERS; w++) {
    store<f64>(p + <usize>(HEAD + w * 16), s.workerIds[w]);
    store<f64>(p + <usize>(HEAD + w * 16 + 8), s.workerOldest[w]);
  }
}

export class QueueLedger {
  private state: LedgerState = new LedgerState();
  private buf: ArrayBuffer = new ArrayBuffer(SIZE);

  constructor(private shared: SharedStore) {}

  read(poolId: string): LedgerState {
    decode(this.shared.get(keyOf(poolId)).value, this.state);
    return this.state;
  }

  /**
   * Applies deltas atomically and returns the state after them. Values never go below 0; debt
   * never exceeds the bytes held. `criticality` -1 changes no class count. workerId != 0 also sets
   * that worker's oldest (-1 = holds none).
   */
  apply(
    poolId: string,
    dBytes: f64,
    dDebt: f64,
    criticality: i32,
    dWaiting: f64,
    workerId: f64 = 0,
    oldestMs: f64 = -1,
  ): LedgerState {
    const key = `infergate/v1/queue/${poolId}`;
    for (let attempt = 0; attempt < 64; attempt++) {
      const cur = this.shared.get(key);
      decode(cur.value, this.state);
      const s = this.state;
      s.bytes = max(0, s.bytes + dBytes);
      s.debt = min(s.bytes, max(0, s.debt + dDebt));
      if (criticality >= 0 && criticality < CRITICALITY_CLASSES)
        s.waiting[criticality] = max(0, s.waiting[criticality] + dWaiting);
      if (workerId != 0) {
        let at = -1,
          free = -1;
        for (let w = 0; w < WORKERS; w++) {
          if (s.workerIds[w] == workerId) {
            at = w;
            break;
          }
          if (free < 0 && s.workerIds[w] == 0) free = w;
        }
        if (at < 0 && oldestMs >= 0) {
          // A new worker: take a free entry, or the one whose oldest is the stalest.
          at = free;
          if (at < 0) {
            at = 0;
            for (let w = 1; w < WORKERS; w++) if (s.workerOldest[w] < s.workerOldest[at]) at = w;
          }
        }
        if (at >= 0) {
          if (oldestMs >= 0) {
            s.workerIds[at] = workerId;
            s.workerOldest[at] = oldestMs;
          } else {
            s.workerIds[at] = 0;
            s.workerOldest[at] = 0;
          }
        }
      }
      encode(s, this.buf);
      const r = this.shared.set(key, this.buf, cur.cas);
      if (r != SetResult.CasMismatch) return s;
    }
    return this.state;
  }
}
