// A whole request (prefill and decode on one pod) needs a pod that does both: prefill-only and
// decode-only endpoints cannot serve it. P/D pools never run this profile (pd-profile-handler.ts
// runs a prefill and a decode profile instead), so a P/D pod never gets a whole request.
import { Role } from "../../table/table";
import { Candidate, Filter, SchedulingContext } from "../framework";

export class WholeRequestRoleFilter extends Filter {
  constructor() {
    super("whole-request-role-filter");
    this.perEndpoint = true;
  }
  keep(c: Candidate, ctx: SchedulingContext): bool {
    return c.endpoint.role == Role.Both;
  }
}
