// Requests this gateway has sent to each endpoint and not yet seen finish, counted across all
// Envoy workers. One shared-data key holding an i32 per endpoint slot (bounded by MAX_SLOTS),
// updated by compare-and-swap; reading it is one host call per routing decision.
import { LogLevel, log, sharedGet, sharedSet, WasmResult } from "../host/abi";
import { MAX_SLOTS } from "../table/table";

const KEY = "infergate/v1/inflight";

export class InFlightCounters {
  /** Snapshot of all counters (index = slot); slots past the end are 0. */
  snapshot(): Int32Array {
    const v = sharedGet(KEY);
    if (v.value === null) return new Int32Array(0);
    return Int32Array.wrap(v.value!);
  }

  /**
   * Takes one in-flight place on the slot only if its count is still `seen` (what the routing
   * decision looked at): a decision about a pod's capacity and the increment are then atomic
   * across Envoy workers. False when another worker sent a request there in between.
   */
  tryAcquire(slot: i32, seen: i32): bool {
    if (slot < 0 || slot >= MAX_SLOTS) return false;
    for (let attempt = 0; attempt < 64; attempt++) {
      const cur = sharedGet(KEY);
      const old = cur.value;
      const oldLen = old === null ? 0 : old.byteLength >> 2;
      const now = slot < oldLen ? load<i32>(changetype<usize>(old!) + ((<usize>slot) << 2)) : 0;
      if (now != seen) return false;
      const next = new ArrayBuffer(max(oldLen, slot + 1) << 2);
      if (old !== null) memory.copy(changetype<usize>(next), changetype<usize>(old), old.byteLength);
      store<i32>(changetype<usize>(next) + ((<usize>slot) << 2), seen + 1);
      const r = sharedSet(KEY, next, cur.cas);
      if (r == WasmResult.Ok) return true;
      if (r != WasmResult.CasMismatch) return false;
    }
    return false;
  }

  add(slot: i32, delta: i32): void {
    if (slot < 0 || slot >= MAX_SLOTS) return;
    for (let attempt = 0; attempt < 64; attempt++) {
      const cur = sharedGet(KEY);
      const old = cur.value;
      const oldLen = old === null ? 0 : old.byteLength >> 2;
      const len = max(oldLen, slot + 1);
      const next = new ArrayBuffer(len << 2);
      if (old !== null) memory.copy(changetype<usize>(next), changetype<usize>(old), old.byteLength);
      const p = changetype<usize>(next) + ((<usize>slot) << 2);
      const val = load<i32>(p) + delta;
      store<i32>(p, val < 0 ? 0 : val);
      const r = sharedSet(KEY, next, cur.cas);
      if (r == WasmResult.Ok) return;
      if (r != WasmResult.CasMismatch) break;
    }
    log(LogLevel.Warn, `infergate: in-flight counter update for slot ${slot.toString()} gave up`);
  }
}
