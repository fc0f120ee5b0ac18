// Outside P/D pools, a prefill-only or decode-only endpoint cannot serve a whole request.
import { Role } from "../../table/table";
import { Candidate, Filter, SchedulingContext } from "../framework";

export class WholeRequestRoleFilter extends Filter {
  constructor() {
    super("whole-request-role-filter");
  }
  keep(c: Candidate, ctx: SchedulingContext): bool {
    return ctx.pool.hasPd || c.endpoint.role == Role.Both;
  }
}
