// Requests this gateway has sent to each endpoint and not yet seen finish, counted across all
// Envoy workers. One shared-data key holding an i32 per endpoint slot (bounded by MAX_SLOTS),
// updated by compare-and-swap; reading it is one shared-data read per routing decision.
//
// The key also carries, in its first 8 bytes, the generation of the newest table stored
// (state/table-store.ts stamps it after each push): every decision reads this key anyway, so it
// learns of a new table with no read of its own. The table's own generation key had cost one
// shared-data read per decision whenever the last check was over a millisecond old: nearly every
// request at the rates a model server sees (v1 of this key had no header; v2 is a new key, so a
// reloaded module never reads the old layout, which shared data keeps across VM reloads).
import { MAX_SLOTS } from "../table/table";
import { SetResult, SharedStore, SharedValue } from "./shared-store";

/** The shared-data key (tests set and clear it directly). */
export const INFLIGHT_KEY = "infergate/v2/inflight";
const KEY = INFLIGHT_KEY;
const ATTEMPTS = 64;
/** Bytes before the counters: the stamped table generation (f64; 0 = none stamped yet). */
const HEADER: i32 = 8;

export class InFlightCounters {
  /** How often add() gave up under contention (each one a count left off by one). */
  lostUpdates: i32 = 0;

  constructor(private shared: SharedStore) {}

  /** The last snapshot's bytes and version: the first compare-and-swap of the decision that took
   *  it starts from them instead of reading the key again (one shared-data read less per request;
   *  another worker's write in between fails the swap, which then reads afresh). Used once. */
  private seen: ArrayBuffer | null = null;
  private seenCas: u32 = 0;

  /** The table generation stamped in the last snapshot's key (0: none yet). */
  generation: f64 = 0;

  /** Snapshot of all counters (index = slot); slots past the end are 0. Read it before the
   *  decision's swap: the swap that starts from it writes its new count into the same bytes.
   *  Also sets `generation`. */
  snapshot(): Int32Array {
    const v = this.shared.get(KEY);
    this.seen = v.value;
    this.seenCas = v.cas;
    const buf = v.value;
    if (buf === null || buf.byteLength < HEADER) {
      this.generation = 0;
      return new Int32Array(0);
    }
    this.generation = load<f64>(changetype<usize>(buf));
    return Int32Array.wrap(buf, HEADER);
  }

  /**
   * Records that a table of generation `gen` is stored, unless a newer one is stamped already
   * (two pushes stored at once on two workers). The counters are left as they are; a decision
   * whose swap this one overtakes reads again, as after any other worker's write.
   */
  stampGeneration(gen: f64): void {
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const cur = this.shared.get(KEY);
      let buf = cur.value;
      if (buf !== null && buf.byteLength >= HEADER && load<f64>(changetype<usize>(buf)) >= gen) return;
      if (buf === null || buf.byteLength < HEADER) buf = new ArrayBuffer(HEADER);
      store<f64>(changetype<usize>(buf), gen);
      if (this.shared.set(KEY, buf, cur.cas) != SetResult.CasMismatch) return;
    }
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

/** Slots the key holds counters for. */
function slotsIn(buf: ArrayBuffer | null): i32 {
  return buf === null || buf.byteLength < HEADER ? 0 : (buf.byteLength - HEADER) >> 2;
}

function countPtr(buf: ArrayBuffer, slot: i32): usize {
  return changetype<usize>(buf) + <usize>HEADER + ((<usize>slot) << 2);
}

function countAt(buf: ArrayBuffer | null, slot: i32): i32 {
  if (slot >= slotsIn(buf)) return 0;
  return load<i32>(countPtr(buf!, slot));
}

/**
 * The counters with one slot set, in place when `buf` is a fresh read of the key that nothing
 * else holds (a read-modify-write): a copy only when the slot lies past its end. At 512 pods the
 * counters are 2 KB, and a copy per write was a measurable part of the decision.
 */
function setCount(buf: ArrayBuffer | null, slot: i32, value: i32): ArrayBuffer {
  if (slot >= slotsIn(buf)) return withCount(buf, slot, value);
  store<i32>(countPtr(buf!, slot), value);
  return buf!;
}

/** A copy of the counters (and the stamped generation) with one slot set, grown to cover it (the
 *  snapshot stays as it was). */
function withCount(old: ArrayBuffer | null, slot: i32, value: i32): ArrayBuffer {
  const next = new ArrayBuffer(HEADER + (max(slotsIn(old), slot + 1) << 2));
  if (old !== null && old.byteLength >= HEADER)
    memory.copy(changetype<usize>(next), changetype<usize>(old), min(old.byteLength, next.byteLength));
  store<i32>(countPtr(next, slot), value);
  return next;
}
