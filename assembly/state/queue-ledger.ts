// What all Envoy workers' queues hold for a pool, in shared data ("infergate/v1/queue/<pool>"):
// queued bytes (the capacity annotation counts prompt bytes), requests waiting per criticality
// class, and "debt": bytes a worker could not drop from its own queue when capacity overflowed,
// which whichever worker holds the oldest requests pays on its next tick.
// One key per pool; updated by compare-and-swap.
import { sharedGet, sharedSet, WasmResult } from "../host/abi";

export class LedgerState {
  bytes: f64 = 0;
  debt: f64 = 0;
  waiting: StaticArray<f64> = new StaticArray<f64>(3);
  /** Most critical class with a waiting request anywhere, or 3 when none. */
  topClass(): i32 {
    for (let k = 0; k < 3; k++) if (this.waiting[k] > 0) return k;
    return 3;
  }
  total(): f64 { return this.waiting[0] + this.waiting[1] + this.waiting[2]; }
}

const SIZE = 40;

function decode(buf: ArrayBuffer | null, out: LedgerState): void {
  if (buf === null || buf.byteLength < SIZE) { out.bytes = 0; out.debt = 0; out.waiting[0] = 0; out.waiting[1] = 0; out.waiting[2] = 0; return; }
  const p = changetype<usize>(buf);
  out.bytes = load<f64>(p); out.debt = load<f64>(p, 8);
  for (let k = 0; k < 3; k++) out.waiting[k] = load<f64>(p + <usize>(16 + k * 8));
}

export class QueueLedger {
  private state: LedgerState = new LedgerState();

  read(poolId: string): LedgerState {
    decode(sharedGet("infergate/v1/queue/" + poolId).value, this.state);
    return this.state;
  }

  /** Applies deltas atomically and returns the state after them. Values never go below 0. */
  apply(poolId: string, dBytes: f64, dDebt: f64, klass: i32, dWaiting: f64): LedgerState {
    const key = "infergate/v1/queue/" + poolId;
    const buf = new ArrayBuffer(SIZE);
    const p = changetype<usize>(buf);
    for (let attempt = 0; attempt < 64; attempt++) {
      const cur = sharedGet(key);
      decode(cur.value, this.state);
      const s = this.state;
      s.bytes = max(0, s.bytes + dBytes);
      s.debt = max(0, s.debt + dDebt);
      if (klass >= 0 && klass < 3) s.waiting[klass] = max(0, s.waiting[klass] + dWaiting);
      store<f64>(p, s.bytes); store<f64>(p, s.debt, 8);
      for (let k = 0; k < 3; k++) store<f64>(p + <usize>(16 + k * 8), s.waiting[k]);
      const r = sharedSet(key, buf, cur.cas);
      if (r != WasmResult.CasMismatch) return s;
    }
    return this.state;
  }
}
