// Requests this gateway has sent to each endpoint and not yet seen finish, counted across all
// Envoy workers. One shared-data key holding an i32 per endpoint slot (bounded by MAX_SLOTS),
// updated by compare-and-swap; reading it is one shared-data read per routing decision.
import { MAX_SLOTS } from "../table/table";
import { SetResult, SharedStore, SharedValue } from "./shared-store";

const KEY = "infergate/v1/inflight";
const ATTEMPTS = 64;

export class InFlightCounters {
  /** How often add() gave up under contention (each one a count left off by one). */
  lostUpdates: i32 = 0;

  constructor(private shared: SharedStore) {}

  /** The last snapshot's bytes and version: the first compare-and-swap of the decision that took
   *  it starts from them instead of reading the key again (one shared-data read less per request;
   *  another worker's write in between fails the swap, which then reads afresh). Used once. */
  private seen: ArrayBuffer | null = null;
  private seenCas: u32 = 0;

  /** Snapshot of all counters (index = slot); slots past the end are 0. Read it before the
   *  decision's swap: the swap that starts from it writes its new count into the same bytes. */
  snapshot(): Int32Array {
    const v = this.shared.get(KEY);
    this.seen = v.value;
    this.seenCas = v.cas;
    if (v.value === null) return new Int32Array(0);
    return Int32Array.wrap(v.value!);
  }

  /** The key as of the last snapshot, once (null: read it). A missing key (cas 0) is always read:
   *  a swap with cas 0 would write unconditionally. */
  private takeSeen(): SharedValue | null {
    const v = this.seen;
    this.seen = null;
    return v === null || this.seenCas == 0 ? null : new SharedValue(v, this.seenCas);
  }

  /** add() right after snapshot(): the first attempt swaps against the snapshot. */
  addAfterSnapshot(slot: i32, delta: i32): void {
    const seen = this.takeSeen();
    if (seen !== null && slot >= 0 && slot < MAX_SLOTS) {
      const val = countAt(seen.value, slot) + delta;
      const r = this.shared.set(KEY, setCount(seen.value, slot, val < 0 ? 0 : val), seen.cas);
      if (r == SetResult.Ok) return;
    }
    this.add(slot, delta);
  }

  /** tryAcquire() right after snapshot(): the first attempt swaps against the snapshot. */
  tryAcquireAfterSnapshot(slot: i32, seen: i32): bool {
    const snap = this.takeSeen();
    if (snap !== null && slot >= 0 && slot < MAX_SLOTS) {
      if (countAt(snap.value, slot) != seen) return false;
      const r = this.shared.set(KEY, setCount(snap.value, slot, seen + 1), snap.cas);
      if (r == SetResult.Ok) return true;
      if (r != SetResult.CasMismatch) return false;
    }
    return this.tryAcquire(slot, seen);
  }

  /**
   * Takes one in-flight place on the slot only if its count is still `seen` (what the routing
   * decision looked at): a decision about a pod's capacity and the increment are then atomic
   * across Envoy workers. False when another worker sent a request there in between.
   */
  tryAcquire(slot: i32, seen: i32): bool {
    if (slot < 0 || slot >= MAX_SLOTS) return false;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const cur = this.shared.get(KEY);
      if (countAt(cur.value, slot) != seen) return false;
      const r = this.shared.set(KEY, setCount(cur.value, slot, seen + 1), cur.cas);
      if (r == SetResult.Ok) return true;
      if (r != SetResult.CasMismatch) return false;
    }
    return false;
  }

  add(slot: i32, delta: i32): void {
    if (slot < 0 || slot >= MAX_SLOTS) return;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const cur = this.shared.get(KEY);
      const val = countAt(cur.value, slot) + delta;
      const r = this.shared.set(KEY, setCount(cur.value, slot, val < 0 ? 0 : val), cur.cas);
      if (r == SetResult.Ok) return;
      if (r != SetResult.CasMismatch) break;
    }
    this.lostUpdates++;
  }
}

function countAt(buf: ArrayBuffer | null, slot: i32): i32 {
  if (buf === null || slot >= buf.byteLength >> 2) return 0;
  return load<i32>(changetype<usize>(buf) + ((<usize>slot) << 2));
}

/**
 * The counters with one slot set, in place when `buf` is a fresh read of the key that nothing
 * else holds (a read-modify-write): a copy only when the slot lies past its end. At 512 pods the
 * counters are 2 KB, and a copy per write was a measurable part of the decision.
 */
function setCount(buf: ArrayBuffer | null, slot: i32, value: i32): ArrayBuffer {
  if (buf === null || slot >= buf.byteLength >> 2) return withCount(buf, slot, value);
  store<i32>(changetype<usize>(buf) + ((<usize>slot) << 2), value);
  return buf;
}

/** A copy of the counters with one slot set, grown to cover it (the snapshot stays as it was). */
function withCount(old: ArrayBuffer | null, slot: i32, value: i32): ArrayBuffer {
  const oldLen = old === null ? 0 : old.byteLength >> 2;
  const next = new ArrayBuffer(max(oldLen, slot + 1) << 2);
  if (old !== null) memory.copy(changetype<usize>(next), changetype<usize>(old), old.byteLength);
  store<i32>(changetype<usize>(next) + ((<usize>slot) << 2), value);
  return next;
}
