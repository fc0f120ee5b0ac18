// Affinity must not pick a pod saturated by its own scraped signals (queue depth, KV use), judged
// only while load is fresh. Not the burst estimate the queue uses: a pod with room in its batch
// runs the requests the last scrape missed, and counting them as waiting would break affinity.
import { AffinityGuard, Candidate, SchedulingContext, Yield } from "../framework";
import { SaturationDetector } from "../saturation";

export class SaturationGuard extends AffinityGuard {
  constructor(private detector: SaturationDetector) {
    super("saturation-guard");
  }
  yieldOf(c: Candidate, ctx: SchedulingContext): Yield {
    return ctx.loadFresh && this.detector.scrapedSaturated(c) ? Yield.Saturated : Yield.None;
  }
}
