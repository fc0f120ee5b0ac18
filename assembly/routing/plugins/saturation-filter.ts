// With queueing on, only a pod with room may take a request: a saturated one (saturation.ts) is
// left out, and when none is left the request is held in the gateway's queue instead.
import { Candidate, Filter, SchedulingContext } from "../framework";
import { SaturationDetector } from "../saturation";

export const SATURATION_FILTER = "saturation-filter";

export class SaturationFilter extends Filter {
  constructor(private detector: SaturationDetector) {
    super(SATURATION_FILTER);
  }
  applies(ctx: SchedulingContext): bool {
    return ctx.bounded;
  }
  keep(c: Candidate, ctx: SchedulingContext): bool {
    return !this.detector.saturated(c, ctx.tableAgeMs);
  }
}
