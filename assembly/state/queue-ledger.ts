// What all Envoy workers' queues hold for a pool, in shared data ("infergate/v1/queue/<pool>"),
// so that a worker dispatches only when no higher-priority request waits on another worker, and
// drops only what is the oldest anywhere:
//  - one entry per worker that holds requests of the pool (and only those: a worker that holds
//    none has no entry), written only by that worker and always whole (absolute values, never
//    deltas): its id, the enqueue time of its oldest held request, its held bytes, the highest
//    priority it holds, how many it holds, and how many per criticality class (> 0, 0, < 0: what
//    operators and the control listener see). As many entries as workers hold requests, up to
//    MAX_WORKERS: Envoy runs a worker per hardware thread unless told otherwise (often over a
//    hundred on a GPU node); a fixed 16 entries made a 17th worker overwrite a live one, whose held
//    bytes then escaped the capacity and whose oldest request escaped the drop order;
//  - debt: bytes that must be dropped because the pool's capacity overflowed. The oldest held
//    requests go first, wherever they are held: a worker pays debt only with a request that is the
//    oldest of all.
// Priorities are arbitrary int32s, so they are not counted per value (that would need a key or a
// slot per priority ever used); the highest one per worker is all the ordering needs. The value
// grows with the workers holding requests, not with the requests: bounded by construction.
// An entry whose oldest request is older than the pool's TTL (+1 s) is stale (a restarted worker's
// leftovers: no request waits that long): readers ignore it and the next writer clears it.
// One key per pool; updated by compare-and-swap.
import { PoolHoldings } from "../queue/request-queue";
import { CRITICALITY_CLASSES } from "../table/table";
import { SetResult, SharedStore } from "./shared-store";

/** Far above any Envoy's worker count; past it, a new worker takes the stalest entry. */
export const MAX_WORKERS: i32 = 1024;
/** debt, then the worker entries. */
const HEAD = 8;
/** id, oldestMs, bytes, top priority, count, then the per-class counts. */
const FIELDS = 5 + CRITICALITY_CLASSES;
const ENTRY = FIELDS * 8;

export class LedgerState {
  debt: f64 = 0;
  /** Entries in use: [0, n), none with id 0. */
  n: i32 = 0;
  /** Sums over every entry as stored (stale ones included until a writer clears them). */
  bytes: f64 = 0;
  waiting: StaticArray<f64> = new StaticArray<f64>(CRITICALITY_CLASSES);
  workerIds: StaticArray<f64> = new StaticArray<f64>(MAX_WORKERS);
  workerOldest: StaticArray<f64> = new StaticArray<f64>(MAX_WORKERS);
  workerBytes: StaticArray<f64> = new StaticArray<f64>(MAX_WORKERS);
  workerTop: StaticArray<f64> = new StaticArray<f64>(MAX_WORKERS);
  workerCount: StaticArray<f64> = new StaticArray<f64>(MAX_WORKERS);
  /** MAX_WORKERS x CRITICALITY_CLASSES. */
  workerClasses: StaticArray<f64> = new StaticArray<f64>(MAX_WORKERS * CRITICALITY_CLASSES);

  /** Entry w belongs to a worker that holds requests enqueued at or after notBeforeMs. */
  live(w: i32, notBeforeMs: f64): bool {
    return this.workerOldest[w] >= notBeforeMs;
  }
  /** Requests held by live workers. */
  held(notBeforeMs: f64): f64 {
    let n: f64 = 0;
    for (let w = 0; w < this.n; w++) if (this.live(w, notBeforeMs)) n += this.workerCount[w];
    return n;
  }
  /** Highest priority any live worker holds (-Infinity when none holds anything). */
  topPriority(notBeforeMs: f64): f64 {
    let top = -Infinity;
    for (let w = 0; w < this.n; w++)
      if (this.live(w, notBeforeMs) && this.workerCount[w] > 0 && this.workerTop[w] > top) top = this.workerTop[w];
    return top;
  }
  /** Enqueue time of the oldest request held by any live worker (Infinity when none). */
  oldest(notBeforeMs: f64): f64 {
    let o = Infinity;
    for (let w = 0; w < this.n; w++)
      if (this.live(w, notBeforeMs) && this.workerOldest[w] < o) o = this.workerOldest[w];
    return o;
  }

  /** Removes entry w; the last entry takes its place. */
  removeEntry(w: i32): void {
    const last = --this.n;
    if (w == last) return;
    this.workerIds[w] = this.workerIds[last];
    this.workerOldest[w] = this.workerOldest[last];
    this.workerBytes[w] = this.workerBytes[last];
    this.workerTop[w] = this.workerTop[last];
    this.workerCount[w] = this.workerCount[last];
    for (let c = 0; c < CRITICALITY_CLASSES; c++)
      this.workerClasses[w * CRITICALITY_CLASSES + c] = this.workerClasses[last * CRITICALITY_CLASSES + c];
  }

  /** Recomputes the sums and bounds debt by the bytes held. */
  total(): void {
    this.bytes = 0;
    for (let c = 0; c < CRITICALITY_CLASSES; c++) this.waiting[c] = 0;
    for (let w = 0; w < this.n; w++) {
      this.bytes += this.workerBytes[w];
      for (let c = 0; c < CRITICALITY_CLASSES; c++) this.waiting[c] += this.workerClasses[w * CRITICALITY_CLASSES + c];
    }
    this.debt = min(this.bytes, max(0, this.debt));
  }
}

function keyOf(poolId: string): string {
  return "infergate/v1/queue/" + poolId;
}

function decode(buf: ArrayBuffer | null, out: LedgerState): void {
  out.debt = 0;
  out.n = 0;
  // Any other size is nothing this layout wrote: an empty ledger. (An older filter's fixed 16
  // entries decode here, the unused ones, id 0, skipped.)
  const entries = buf === null ? -1 : (buf.byteLength - HEAD) / ENTRY;
  if (entries < 0 || buf!.byteLength != HEAD + entries * ENTRY) {
    out.total();
    return;
  }
  const p = changetype<usize>(buf);
  out.debt = load<f64>(p);
  for (let k = 0; k < entries && out.n < MAX_WORKERS; k++) {
    const e = p + <usize>(HEAD + k * ENTRY);
    const id = load<f64>(e);
    if (id == 0) continue;
    const w = out.n++;
    out.workerIds[w] = id;
    out.workerOldest[w] = load<f64>(e, 8);
    out.workerBytes[w] = load<f64>(e, 16);
    out.workerTop[w] = load<f64>(e, 24);
    out.workerCount[w] = load<f64>(e, 32);
    for (let c = 0; c < CRITICALITY_CLASSES; c++)
      out.workerClasses[w * CRITICALITY_CLASSES + c] = load<f64>(e + <usize>(40 + c * 8));
  }
  out.total();
}

function encode(s: LedgerState): ArrayBuffer {
  const buf = new ArrayBuffer(HEAD + s.n * ENTRY);
  const p = changetype<usize>(buf);
  store<f64>(p, s.debt);
  for (let w = 0; w < s.n; w++) {
    const e = p + <usize>(HEAD + w * ENTRY);
    store<f64>(e, s.workerIds[w]);
    store<f64>(e, s.workerOldest[w], 8);
    store<f64>(e, s.workerBytes[w], 16);
    store<f64>(e, s.workerTop[w], 24);
    store<f64>(e, s.workerCount[w], 32);
    for (let c = 0; c < CRITICALITY_CLASSES; c++)
      store<f64>(e + <usize>(40 + c * 8), s.workerClasses[w * CRITICALITY_CLASSES + c]);
  }
  return buf;
}

export class QueueLedger {
  private state: LedgerState = new LedgerState();

  constructor(private shared: SharedStore) {}

  /** The last pool's key, kept: one object per pool, not a new string per call (the host's key
   *  encoding is cached by object, host/abi.ts). */
  private lastPool: string = "";
  private lastKey: string = "";

  private keyFor(poolId: string): string {
    if (poolId != this.lastPool || this.lastKey.length == 0) {
      this.lastPool = poolId;
      this.lastKey = keyOf(poolId);
    }
    return this.lastKey;
  }

  read(poolId: string): LedgerState {
    decode(this.shared.get(this.keyFor(poolId)).value, this.state);
    return this.state;
  }

  /**
   * Atomically: adds dDebt (debt stays within [0, bytes held]); with workerId != 0 replaces that
   * worker's entry by `holdings` (removed when it holds nothing); clears entries older than
   * notBeforeMs (stale). Returns the state after.
   */
  apply(poolId: string, dDebt: f64, workerId: f64, holdings: PoolHoldings | null, notBeforeMs: f64): LedgerState {
    const key = this.keyFor(poolId);
    for (let attempt = 0; attempt < 64; attempt++) {
      const cur = this.shared.get(key);
      decode(cur.value, this.state);
      const s = this.state;
      for (let w = s.n - 1; w >= 0; w--) if (s.workerOldest[w] < notBeforeMs) s.removeEntry(w);
      if (workerId != 0 && holdings !== null) this.setEntry(s, workerId, holdings);
      s.debt += dDebt;
      s.total();
      const r = this.shared.set(key, encode(s), cur.cas);
      if (r != SetResult.CasMismatch) return s;
    }
    return this.state;
  }

  private setEntry(s: LedgerState, workerId: f64, h: PoolHoldings): void {
    let at = -1;
    for (let w = 0; w < s.n; w++) {
      if (s.workerIds[w] == workerId) {
        at = w;
        break;
      }
    }
    if (h.count == 0) {
      if (at >= 0) s.removeEntry(at);
      return;
    }
    if (at < 0) {
      // A worker new to this pool: a new entry (past MAX_WORKERS, the stalest one's).
      if (s.n < MAX_WORKERS) at = s.n++;
      else {
        at = 0;
        for (let w = 1; w < s.n; w++) if (s.workerOldest[w] < s.workerOldest[at]) at = w;
      }
    }
    s.workerIds[at] = workerId;
    s.workerOldest[at] = h.oldestMs;
    s.workerBytes[at] = h.bytes;
    s.workerTop[at] = <f64>h.top;
    s.workerCount[at] = <f64>h.count;
    for (let c = 0; c < CRITICALITY_CLASSES; c++) s.workerClasses[at * CRITICALITY_CLASSES + c] = <f64>h.classes[c];
  }
}
