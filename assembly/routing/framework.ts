// The scheduling framework's vocabulary, after the Gateway API Inference Extension's scheduler:
// a decision runs one or more scheduling profiles (the profile handler says which); a profile is
//   filters -> affinity guards -> weighted scorers -> picker
// over candidates (a pool's endpoints). Plugins are small classes registered by name
// (registry.ts) and assembled by one factory (factory.ts) for production and tests alike.
// Everything a plugin learns during one decision lives in that decision's SchedulingContext and
// CycleState, never on the plugin or on the shared Candidate. Pure: no host calls.
import { Tape } from "../json/tape";
import { recencyStamp } from "../prefix/prefix-index";
import { PromptHashes } from "../prefix/prompt-hashes";
import { PoolState } from "../state/pool-states";
import { Criticality, Endpoint, Pool } from "../table/table";
import { Random } from "./random";

/** One endpoint under consideration, with the gateway's in-flight count beside its scraped load. */
export class Candidate {
  constructor(
    public endpoint: Endpoint,
    public inflight: i32,
  ) {
    this.slot = endpoint.slot;
  }
  /** endpoint.slot, kept beside the per-decision fields (the in-flight count is read by it). */
  slot: i32 = 0;
  /** Position in the context's candidates once filtering is done: index into per-decision arrays. */
  pos: i32 = 0;
  /** Weighted sum of every scorer's score. */
  score: f64 = 0;
  /** Weighted sum of the load scorers whose signal every gateway replica sees alike (the pods'
   *  scraped load, not this replica's in-flight counts): new prefixes are placed by it, so separate
   *  replicas send the same new conversation to the same pod. */
  loadScore: f64 = 0;

  reset(endpoint: Endpoint, inflight: i32): void {
    this.endpoint = endpoint;
    this.slot = endpoint.slot;
    this.inflight = inflight;
    this.pos = 0;
    this.score = 0;
    this.loadScore = 0;
  }
}

/** What the decision knows about the request, the same for every profile it runs. */
export class SchedulingRequest {
  model: string = "";
  /** The model name the pod will see (a weighted targetModel, or the request's own). */
  target: string = "";
  criticality: Criticality = Criticality.Standard;
  /** The parsed body: its tape and the entries of "messages" (chat) or "prompt" (completions). */
  tape: Tape | null = null;
  messages: i32 = -1;
  prompt: i32 = -1;
  bodyBytes: i32 = 0;
  /** The prompt's block hashes, filled on demand by plugins that need them. */
  promptHashes: PromptHashes = new PromptHashes();
}

/** Why affinity may not pick a candidate it would otherwise win (set by guards, read by scorers). */
export enum Yield {
  None = 0,
  /** The pod's own queue is much deeper than the shortest (queue-imbalance-guard). */
  Imbalance = 1,
  /** The pod holds more than its bounded-load share of the gateway's in-flight requests. */
  Balance = 2,
}

export function yieldName(y: Yield): string {
  if (y == Yield.Imbalance) return "imbalance";
  if (y == Yield.Balance) return "balance";
  return "none";
}

/** Plugin-private data for one decision, keyed by a number each plugin class takes once. */
export abstract class StateData {}

let nextStateKey: i32 = 0;
/** A key for CycleState (call once per plugin class, at module start). */
export function stateKey(): i32 {
  return nextStateKey++;
}

export class CycleState {
  private slots: Array<StateData | null> = new Array<StateData | null>();
  read(key: i32): StateData | null {
    return key < this.slots.length ? unchecked(this.slots[key]) : null;
  }
  write(key: i32, data: StateData): void {
    while (this.slots.length <= key) this.slots.push(null);
    unchecked((this.slots[key] = data));
  }
  /** Forgets every plugin's data (objects are kept by the plugins for reuse, not here). */
  clear(): void {
    for (let i = 0; i < this.slots.length; i++) unchecked((this.slots[i] = null));
  }
}

/** One profile run: the pool, the request, the candidates and what plugins record on the way. */
export class SchedulingContext {
  pool: Pool;
  poolState: PoolState;
  request: SchedulingRequest;
  rng: Random;
  candidates: Candidate[] = [];
  /** False when the table is older than its staleness bound: scraped load is then not trusted. */
  loadFresh: bool = true;
  /** Milliseconds since the table was built (scrape ages are relative to that). */
  tableAgeMs: f64 = 0;
  /** Wall clock of the decision (epoch ms). */
  nowMs: f64 = 0;
  /** Queueing is on for this pool: only a pod with room may take the request (saturation filter). */
  bounded: bool = false;
  /** Per candidate position: why affinity must not pick it (Yield), set by the guards. */
  yields: StaticArray<u8> = new StaticArray<u8>(0);
  state: CycleState = new CycleState();
  /** Scorers [0, preScored) of the profile are already summed into the candidates' score and
   *  loadScore (SchedulingProfile.fill: the leading per-endpoint scorers, summed once per pool). */
  preScored: i32 = 0;
  /** Record each scorer's weighted score per candidate (the debug log line's "scores"). */
  recordScores: bool = false;
  /** scores[s * candidates + pos] when recordScores. */
  scores: Float64Array = new Float64Array(0);

  constructor(pool: Pool, poolState: PoolState, request: SchedulingRequest, rng: Random) {
    this.pool = pool;
    this.poolState = poolState;
    this.request = request;
    this.rng = rng;
  }

  /** Coarse time for the prefix index's recency stamps. */
  get stamp(): u32 {
    return recencyStamp(this.nowMs);
  }

  yieldOf(c: Candidate): Yield {
    return <Yield>unchecked(this.yields[c.pos]);
  }
}

export abstract class Plugin {
  constructor(public readonly name: string) {}
}

/** Drops candidates that must not receive the request at all. */
export abstract class Filter extends Plugin {
  /** keep() reads the endpoint alone (its table fields) and applies() is always true: what it keeps
   *  of a pool is the same for every decision on one table, and profiles compute it once. */
  perEndpoint: bool = false;
  abstract keep(c: Candidate, ctx: SchedulingContext): bool;
  /** Whether this filter runs for this decision (e.g. only when queueing bounds the pool). */
  applies(ctx: SchedulingContext): bool {
    return true;
  }
}

/** Marks candidates that affinity alone must not pick (a hot spot guard). */
export abstract class AffinityGuard extends Plugin {
  /** Once per decision, before yieldOf() is asked per candidate. False when this guard marks no
   *  candidate of this decision (yieldOf() would say None to every one): then it is not asked. */
  prepare(ctx: SchedulingContext): bool {
    return true;
  }
  abstract yieldOf(c: Candidate, ctx: SchedulingContext): Yield;
  /**
   * Sets ctx.yields[i] := yieldOf(candidate i) where no earlier guard marked it (the first guard's
   * reason stands): one call and one pass per guard and decision. Guards override it with
   * `markYieldsOf<TheirClass>(this, ctx)`, where yieldOf() is a direct call.
   */
  markYields(ctx: SchedulingContext): void {
    markYieldsOf<AffinityGuard>(this, ctx);
  }
}

/** AffinityGuard.markYields's loop, compiled once per concrete guard class G (as addScoresOf). */
export function markYieldsOf<G extends AffinityGuard>(g: G, ctx: SchedulingContext): void {
  const cs = ctx.candidates;
  const yields = ctx.yields;
  for (let i = 0; i < cs.length; i++) {
    if (unchecked(yields[i]) != <u8>Yield.None) continue;
    unchecked((yields[i] = <u8>g.yieldOf(unchecked(cs[i]), ctx)));
  }
}

/** Gives every candidate a score in [0, 1] (1 = best); the profile adds them, weighted. */
export abstract class Scorer extends Plugin {
  weight: f64 = 1;
  /** Load scorers form the load-only score the new-prefix rendezvous uses... */
  isLoad: bool = true;
  /** ...when every gateway replica sees the same signal (false for this replica's own counts). */
  sharedSignal: bool = true;
  /** score() reads the candidate's endpoint alone (its table fields) and nothing of the decision:
   *  what it gives a pool's endpoints is the same for every decision on one table, and profiles
   *  add the leading such scorers once per pool object instead of once per decision. */
  perEndpoint: bool = false;
  /** Whether this scorer has anything to say for this decision (e.g. scraped load is stale). */
  applies(ctx: SchedulingContext): bool {
    return true;
  }
  /** Once per decision before score(): find ranges, look things up. */
  prepare(ctx: SchedulingContext): void {}
  abstract score(c: Candidate, ctx: SchedulingContext): f64;
  /**
   * Adds weight * score() to every candidate's score (and loadScore when `load`), and records it at
   * ctx.scores[recordAt + i] when recordAt >= 0: one call and one pass per scorer and decision.
   * Scorers override it with `addScoresOf<TheirClass>(this, ...)`, where score() is a direct call.
   */
  addScores(ctx: SchedulingContext, weight: f64, load: bool, recordAt: i32): void {
    addScoresOf<Scorer>(this, ctx, weight, load, recordAt);
  }
  /** The request was sent to `chosen` (GIE's PreRequest): record what the next decision needs. */
  routed(ctx: SchedulingContext, chosen: Candidate): void {}
}

/**
 * Scorer.addScores's loop, compiled once per concrete scorer class S: the call to score() is then
 * static (no virtual dispatch per candidate; at 512 pods that was most of the scoring time).
 */
export function addScoresOf<S extends Scorer>(
  s: S,
  ctx: SchedulingContext,
  weight: f64,
  load: bool,
  recordAt: i32,
): void {
  const cs = ctx.candidates;
  for (let i = 0; i < cs.length; i++) {
    const c = unchecked(cs[i]);
    const v = weight * s.score(c, ctx);
    c.score += v;
    if (load) c.loadScore += v;
    if (recordAt >= 0) unchecked((ctx.scores[recordAt + i] = v));
  }
}

/** Orders the scored candidates: out[0] is the pick, the rest are fallbacks in order. */
export abstract class Picker extends Plugin {
  abstract pick(ctx: SchedulingContext, out: Candidate[], max: i32): void;
}
