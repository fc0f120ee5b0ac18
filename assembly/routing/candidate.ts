// What one routing decision looks at: the pool's endpoints as candidates, each with the
// gateway's own in-flight count beside the scraped load, and a score the scorers add to.
import { Endpoint, Pool } from "../table/table";
import { Random } from "./random";

export class Candidate {
  constructor(
    public endpoint: Endpoint,
    public inflight: i32,
  ) {}
  /** Reuse for another decision. */
  reset(endpoint: Endpoint, inflight: i32): void {
    this.endpoint = endpoint;
    this.inflight = inflight;
    this.score = 0;
    this.loadScore = 0;
    this.prefixMatched = 0;
    this.overloaded = false;
    this.overloadReason = 0;
  }
  score: f64 = 0;
  /** Load-only part of the score (queue, KV, in-flight), for the new-prefix rendezvous. */
  loadScore: f64 = 0;
  /** Leading request blocks this endpoint holds (PREFIX_CACHE). */
  prefixMatched: i32 = 0;
  /** Saturated or over its balance bound: affinity alone must not pick it. */
  overloaded: bool = false;
  /** Why overloaded: 1 = saturated (queue/KV), 2 = over the balance bound. */
  overloadReason: i32 = 0;
}

export class RoutingContext {
  pool: Pool;
  candidates: Candidate[] = [];
  /** False when the table is older than its staleness bound: scraped load is then not trusted. */
  loadFresh: bool = true;
  rng: Random;
  /** Blocks in the request's prompt (0 = no prefix information, e.g. DEFAULT or a short prompt). */
  prefixBlocks: i32 = 0;
  /** First block's hash: the rendezvous key for a prefix no endpoint holds yet. */
  affinityKey: u64 = 0;
  /** The request's chained block hashes (first prefixBlocks are valid). */
  hashes: StaticArray<u64> | null = null;
  /** Longest match any endpoint has (blocks). */
  bestMatch: i32 = 0;
  constructor(pool: Pool, rng: Random) {
    this.pool = pool;
    this.rng = rng;
  }
}
