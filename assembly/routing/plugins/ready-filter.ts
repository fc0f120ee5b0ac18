// Not-ready endpoints (pod not Ready, or its scrapes failing) never get traffic.
import { Candidate, Filter, SchedulingContext } from "../framework";

export class ReadyFilter extends Filter {
  constructor() {
    super("ready-filter");
    this.perEndpoint = true;
  }
  keep(c: Candidate, ctx: SchedulingContext): bool {
    return c.endpoint.ready;
  }
}
