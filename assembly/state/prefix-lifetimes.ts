// How long a pod keeps what this gateway recorded for it (feedback mode): per pod, the age beyond
// which its prefix-index entries are no longer credited, learned from what the pods report in every
// response (core/usage.ts). An engine's KV cache is LRU: under pressure, a prefix not used for long
// enough is evicted, and the index (which only knows what was routed) keeps claiming it. A response
// whose cached prefix fell short of the prediction says the chain's tip, touched `age` ago, was
// gone: the lifetime is at most that. One that held up says at least that. A pod whose cache was
// cleared reports zero at a small age: from the next decision on nothing older is credited.
//
// One shared-data key per pool ("infergate/v1/prefix-life/<pool>"): a float64 of milliseconds per
// endpoint slot, 0 meaning "no eviction seen" (credit everything, as estimate mode does). Written by
// compare-and-swap only when a lifetime changes; read by each worker at most every REFRESH_MS, and
// before each write. Evidence is first judged against the worker's copy: most responses change
// nothing (a chain that held on a pod with no eviction seen), and a shared-data read is the dearest
// host call there is (~10 k instructions in Envoy, measured: a fiftieth of a whole request).
import { MAX_SLOTS } from "../table/table";
import { SetResult, SharedStore } from "./shared-store";

const REFRESH_MS: f64 = 100;
/**
 * A chain recorded less than this before a miss is no evidence of eviction. The index records a
 * chain when it routes the request, the pod caches it once its prefill is done: of a burst of
 * requests sharing a new prefix (a system prompt, a document), a later-routed one can reach the pod
 * before that, even before the first (two Envoy workers, two connections), and misses at an age of
 * 0 to a few hundred milliseconds (e2e: 4 of the 16 requests of 8 new system prompts x 2 users). Believed,
 * each such miss cut the pod's lifetime to that age (100-200 ms seen in the e2e suite; 1 ms
 * for a miss in the same 100 ms stamp), and the pod's chains went uncredited until responses that held raised it again. A cache
 * that really turns over within a second is one where little is worth matching anyway; a cleared
 * cache (an engine restart) is still learned from its first miss on a chain older than this.
 */
export const MIN_EVICTION_AGE_MS: f64 = 1000;

export class PrefixLifetimes {
  private key: string;
  private cached: Float64Array = new Float64Array(0);
  private readAtMs: f64 = -Infinity;

  constructor(
    private shared: SharedStore,
    poolId: string,
  ) {
    this.key = "infergate/v1/prefix-life/" + poolId;
  }

  /** Milliseconds a slot's entries stay true; Infinity when no eviction was seen. */
  lifetimeMs(slot: i32, nowMs: f64): f64 {
    if (nowMs - this.readAtMs >= REFRESH_MS || nowMs < this.readAtMs) {
      const v = this.shared.get(this.key).value;
      this.cached = v === null ? new Float64Array(0) : Float64Array.wrap(v);
      this.readAtMs = nowMs;
    }
    if (slot < 0 || slot >= this.cached.length) return Infinity;
    const ms = unchecked(this.cached[slot]);
    return ms > 0 ? ms : Infinity;
  }

  /**
   * Evidence from one response: the prefix chain predicted on `slot`, last recorded `ageMs` before
   * the decision, was still there (`held`) or partly evicted. Returns the lifetime now in force.
   */
  learn(slot: i32, ageMs: f64, held: bool, nowMs: f64): f64 {
    const copy = this.lifetimeMs(slot, nowMs);
    if (slot < 0 || slot >= MAX_SLOTS || !(ageMs >= 0)) return copy;
    if (!held && ageMs < MIN_EVICTION_AGE_MS) return copy;
    const age = max(ageMs, 1);
    // Nothing to change by the worker's copy (at most REFRESH_MS old; re-read after its own
    // writes): no read. Evidence that would change it is applied to the shared value, exactly.
    const seen = copy == Infinity ? 0 : copy;
    if (lifetimeAfter(seen, age, held) == seen) return copy;
    for (let attempt = 0; attempt < 16; attempt++) {
      const cur = this.shared.get(this.key);
      const old = cur.value;
      const n = old === null ? 0 : old.byteLength >> 3;
      const was = slot < n ? load<f64>(changetype<usize>(old!) + ((<usize>slot) << 3)) : 0;
      const known = was > 0;
      const next = lifetimeAfter(was, age, held);
      if (next == was) return known ? was : Infinity;
      const buf = new ArrayBuffer(max(n, slot + 1) << 3);
      if (old !== null) memory.copy(changetype<usize>(buf), changetype<usize>(old), old.byteLength);
      store<f64>(changetype<usize>(buf) + ((<usize>slot) << 3), next);
      const r = this.shared.set(this.key, buf, cur.cas);
      if (r == SetResult.CasMismatch) continue;
      this.readAtMs = -Infinity; // read our own write on the next decision
      return next;
    }
    return this.lifetimeMs(slot, nowMs);
  }
}

/**
 * The lifetime (ms, 0 = no eviction seen) after one piece of evidence: a chain that held at `age`
 * says the lifetime is at least that, one partly evicted at `age` that it is at most that.
 */
function lifetimeAfter(was: f64, age: f64, held: bool): f64 {
  const known = was > 0;
  if (held) return known && age > was ? age : was;
  return !known || age < was ? age : was;
}
