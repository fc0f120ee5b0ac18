// Scorers, GIE-style: each gives every candidate a score in [0,1] (1 = best) and has a weight; the
// picker takes the highest weighted sum. Adding a policy is adding a scorer.
import { Candidate, RoutingContext } from "./candidate";

export abstract class Scorer {
  constructor(
    public name: string,
    public weight: f64,
  ) {}
  /** Load scorers form the load-only score the new-prefix rendezvous uses. */
  isLoad: bool = true;
  /** Whether this scorer has anything to say for this decision (e.g. scraped load is stale). */
  applies(ctx: RoutingContext): bool {
    return true;
  }
  abstract score(c: Candidate, ctx: RoutingContext): f64;
  /** Called once before score() for each candidate; lets min-max scorers find their range. */
  prepare(ctx: RoutingContext): void {}
}

/** The model server's own waiting queue (vllm:num_requests_waiting and kin), from the last scrape.
 *  Scored 1 / (1 + waiting / scale), scale = the saturation queue depth (5): smooth, so one or
 *  two requests caught waiting between engine steps do not swing it across its whole range (as
 *  min-max normalisation would), yet it still orders pods with deep queues. */
export class QueueScorer extends Scorer {
  constructor(
    weight: f64,
    public scale: f64 = 5,
  ) {
    super("queue", weight);
  }
  applies(ctx: RoutingContext): bool {
    return ctx.loadFresh;
  }
  score(c: Candidate, ctx: RoutingContext): f64 {
    return 1.0 / (1.0 + c.endpoint.waiting / this.scale);
  }
}

/** Free KV cache: a pod near full KV preempts or queues. Absolute, not normalised: 1 - usage. */
export class KvCacheScorer extends Scorer {
  constructor(weight: f64) {
    super("kv-cache", weight);
  }
  applies(ctx: RoutingContext): bool {
    return ctx.loadFresh;
  }
  score(c: Candidate, ctx: RoutingContext): f64 {
    return 1.0 - c.endpoint.kvUsage;
  }
}

/** Requests this gateway (all workers) has sent to the pod and not seen finish: reacts at once,
 *  before the next scrape shows the load. Scored as 1 - inflight / (max + 1) rather than min-max,
 *  so one request more or less moves the score by a step proportional to the load, not by the
 *  whole range: a 3-vs-1 difference must not outweigh a conversation's KV cache. */
export class InFlightScorer extends Scorer {
  private hi: f64 = 0;
  constructor(weight: f64) {
    super("in-flight", weight);
  }
  prepare(ctx: RoutingContext): void {
    let hi: f64 = 0;
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) if (<f64>cs[i].inflight > hi) hi = <f64>cs[i].inflight;
    this.hi = hi;
  }
  score(c: Candidate, ctx: RoutingContext): f64 {
    return 1.0 - <f64>c.inflight / (this.hi + 1.0);
  }
}

/** Fraction of the request's blocks the endpoint holds (longest chained match). An overloaded
 *  endpoint (saturated, or over its balance bound) scores 0: affinity never melts one pod. */
export class PrefixScorer extends Scorer {
  constructor(weight: f64) {
    super("prefix", weight);
    this.isLoad = false;
  }
  applies(ctx: RoutingContext): bool {
    return ctx.prefixBlocks > 0;
  }
  score(c: Candidate, ctx: RoutingContext): f64 {
    if (c.overloaded) return 0;
    return <f64>c.prefixMatched / <f64>ctx.prefixBlocks;
  }
}
