// Filters drop candidates that must not receive the request at all.

import { Role } from "../table/table";
import { Candidate, RoutingContext } from "./candidate";

export abstract class CandidateFilter {
  constructor(public name: string) {}
  abstract keep(c: Candidate, ctx: RoutingContext): bool;
}

/** Not-ready endpoints (pod not Ready, or scrapes failing) never get traffic. */
export class ReadyFilter extends CandidateFilter {
  constructor() {
    super("ready");
  }
  keep(c: Candidate, ctx: RoutingContext): bool {
    return c.endpoint.ready;
  }
}

/** Outside P/D pools, prefill-only or decode-only endpoints cannot serve a whole request. */
export class WholeRequestRoleFilter extends CandidateFilter {
  constructor() {
    super("whole-request-role");
  }
  keep(c: Candidate, ctx: RoutingContext): bool {
    return ctx.pool.hasPd || c.endpoint.role == Role.Both;
  }
}
