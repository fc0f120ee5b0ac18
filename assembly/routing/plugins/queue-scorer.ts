// The model server's own waiting queue (vllm:num_requests_waiting and kin), from the last scrape.
// Scored 1 / (1 + waiting / scale), scale = the saturation queue depth (5): smooth, so one or two
// requests caught waiting between engine steps do not swing it across its whole range (as min-max
// normalisation would), yet it still orders pods with deep queues.
import { addScoresOf, Candidate, SchedulingContext, Scorer } from "../framework";

export class QueueScorer extends Scorer {
  constructor(private scale: f64) {
    super("queue-scorer");
    this.perEndpoint = true;
  }
  applies(ctx: SchedulingContext): bool {
    return ctx.loadFresh;
  }
  score(c: Candidate, ctx: SchedulingContext): f64 {
    return 1.0 / (1.0 + c.endpoint.waiting / this.scale);
  }
  addScores(ctx: SchedulingContext, weight: f64, load: bool, recordAt: i32): void {
    addScoresOf<QueueScorer>(this, ctx, weight, load, recordAt);
  }
}
