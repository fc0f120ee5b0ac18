// The two stages of a P/D request each take pods of their own role only: SGLang's prefill servers
// (--disaggregation-mode prefill) for the prefill profile, its decode servers for the decode one.
import { Role } from "../../table/table";
import { Candidate, Filter, SchedulingContext } from "../framework";

export class PrefillRoleFilter extends Filter {
  constructor() {
    super("prefill-role-filter");
    this.perEndpoint = true;
  }
  keep(c: Candidate, ctx: SchedulingContext): bool {
    return c.endpoint.role == Role.Prefill;
  }
}

export class DecodeRoleFilter extends Filter {
  constructor() {
    super("decode-role-filter");
    this.perEndpoint = true;
  }
  keep(c: Candidate, ctx: SchedulingContext): bool {
    return c.endpoint.role == Role.Decode;
  }
}
