// When is a pod saturated? (The upstream saturation detector's signals, adapted to a pushed table.)
//  - its estimated waiting queue is at queueDepth: the scraped waiting count plus requests this
//    gateway sent that the last scrape cannot have seen yet (in-flight beyond running + waiting),
//    so a burst is held back before the next scrape shows it;
//  - its KV cache use is at kvUsage;
//  - its gateway in-flight count is at inFlightLimit (0 = no limit);
//  - its metrics are older than stalenessMs (scrape age at build + table age).
// The upstream default staleness is 200 ms for an endpoint picker that scrapes itself; ours is
// 2000 ms because the table arrives by push with a 1 s heartbeat when nothing changes.
import { Candidate } from "./framework";

export class SaturationDetector {
  constructor(
    public queueDepth: f64,
    public kvUsage: f64,
    public inFlightLimit: i32,
    public stalenessMs: f64,
  ) {}

  estimatedWaiting(c: Candidate): f64 {
    const e = c.endpoint;
    const unseen = <f64>c.inflight - e.running - e.waiting;
    return e.waiting + (unseen > 0 ? unseen : 0);
  }

  /** The pod's own load signals alone: queue (estimated) or KV cache at threshold. */
  loadSaturated(c: Candidate): bool {
    return this.estimatedWaiting(c) >= this.queueDepth || c.endpoint.kvUsage >= this.kvUsage;
  }

  /** tableAgeMs: now - table.builtAtMs. */
  saturated(c: Candidate, tableAgeMs: f64): bool {
    const e = c.endpoint;
    if (this.inFlightLimit > 0 && c.inflight >= this.inFlightLimit) return true;
    if (e.scrapeAgeMs < 0 || e.scrapeAgeMs + tableAgeMs > this.stalenessMs) return true;
    return this.loadSaturated(c);
  }
}
