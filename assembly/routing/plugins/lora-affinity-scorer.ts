// A request for a LoRA adapter (its target model names one) prefers pods that already have that
// adapter loaded: loading one costs the pod time and a slot (vLLM's --max-loras). Scores 1 where
// the adapter is loaded (the scraped vllm:lora_requests_info, carried as the endpoint's `loras`),
// 0 elsewhere; no opinion when no candidate has it loaded.
import { Pool } from "../../table/table";
import { Candidate, SchedulingContext, Scorer } from "../framework";

export class LoraAffinityScorer extends Scorer {
  constructor() {
    super("lora-affinity-scorer");
  }
  /** The last pool asked about, and whether any of its endpoints has an adapter loaded: most pools
   *  have none, and then no candidate needs asking (a string search per candidate and decision). */
  private pool: Pool | null = null;
  private poolHasLoras: bool = false;

  applies(ctx: SchedulingContext): bool {
    if (this.pool !== ctx.pool) {
      const eps = ctx.pool.endpoints;
      let any = false;
      for (let i = 0; i < eps.length && !any; i++) any = unchecked(eps[i]).loras.length > 0;
      this.pool = ctx.pool;
      this.poolHasLoras = any;
    }
    if (!this.poolHasLoras) return false;
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) if (unchecked(cs[i]).endpoint.loras.includes(ctx.request.target)) return true;
    return false;
  }
  score(c: Candidate, ctx: SchedulingContext): f64 {
    return c.endpoint.loras.includes(ctx.request.target) ? 1.0 : 0.0;
  }
}
