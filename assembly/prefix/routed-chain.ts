// RoutedChain: a routed request's prompt block chain, kept by its stream while Envoy may still
// retry the request on a fallback pod. The index recorded the chain for the chosen pod when the
// decision was made; when that pod fails before its response headers (a 5xx, a reset) and a
// fallback answers, the fallback computed the whole prompt and holds it from then on. Recording it
// there too keeps the conversation's next turn on the pod that has its KV cache: otherwise the
// index names only the failed pod, and once that pod is out the turn goes wherever load sends it.
//
// The hashes are the stream's own copy: the worker's are the next decision's as soon as this one
// returns. Only PREFIX_CACHE requests with fallbacks listed keep one; P/D requests do not (a decode
// half answered by another decode pod is not recorded there: knowingly left out).
import { PoolStates } from "../state/pool-states";
import { Endpoint } from "../table/table";
import { PrefixIndex, recencyStamp } from "./prefix-index";

export class RoutedChain {
  constructor(
    readonly poolId: string,
    /** The pool's index as of the decision. */
    readonly index: PrefixIndex,
    /** The prompt's chained block hashes (all valid). */
    readonly hashes: StaticArray<u64>,
  ) {}

  /** A copy of the first `count` of `hashes`. */
  static copyOf(poolId: string, index: PrefixIndex, hashes: StaticArray<u64>, count: i32): RoutedChain {
    const own = new StaticArray<u64>(count);
    memory.copy(changetype<usize>(own), changetype<usize>(hashes), (<usize>count) << 3);
    return new RoutedChain(poolId, index, own);
  }

  /**
   * The pod that answered in place of the chosen one holds every block now. Nothing is recorded
   * when the pool's index was replaced since the decision (its capacity changed: the old keys were
   * emptied and must stay so) or dropped (the pool left the table; looked up without creating
   * state, which the next table would then empty bucket by bucket).
   */
  recordAnswered(states: PoolStates, answered: Endpoint, nowMs: f64): void {
    if (states.indexOf(this.poolId) !== this.index) return;
    this.index.record(this.hashes, 0, this.hashes.length, answered.slot, answered.tag, recencyStamp(nowMs));
  }
}
