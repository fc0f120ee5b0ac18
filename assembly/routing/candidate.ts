// What one routing decision looks at: the pool's endpoints as candidates, each with the
// gateway's own in-flight count beside the scraped load, and a score the scorers add to.
import { Endpoint, Pool } from "../table/table";
import { Random } from "./random";

export class Candidate {
  constructor(public endpoint: Endpoint, public inflight: i32) {}
  score: f64 = 0;
}

export class RoutingContext {
  pool: Pool;
  candidates: Candidate[] = [];
  /** False when the table is older than its staleness bound: scraped load is then not trusted. */
  loadFresh: bool = true;
  rng: Random;
  constructor(pool: Pool, rng: Random) { this.pool = pool; this.rng = rng; }
}
