// The decision: from a request body to a typed Outcome (route there / hold / answer this error).
// Parses, finds the model and its pool, applies admission (queueing), runs the pool's scheduling
// profiles, takes the pod's in-flight place and tells the plugins where the request went. Makes no
// host calls: shared state is reached through the SharedStore-backed state modules and time
// through a Clock, so the same code runs in Envoy and in the unit tests.
import { PluginConfig } from "../config";
import { Endpoint as ApiEndpoint, parseRequestBytes, requestTape } from "../request/openai";
import { Routing, strategyName } from "../routing/factory";
import { Candidate, SchedulingContext, SchedulingRequest, Yield, yieldName } from "../routing/framework";
import { prefixStateOf } from "../routing/plugins/prefix-cache-scorer";
import { SATURATION_FILTER } from "../routing/plugins/saturation-filter";
import { ProfileResult, SchedulingProfile } from "../routing/profile";
import { Random } from "../routing/random";
import { InFlightCounters } from "../state/inflight";
import { PoolStates } from "../state/pool-states";
import { QueueLedger } from "../state/queue-ledger";
import { TableStore } from "../state/table-store";
import { Criticality, Model, Pool, Strategy, Table } from "../table/table";
import { Outcome, OutcomeKind } from "./outcome";

export abstract class Clock {
  abstract nowNanos(): u64;
}

/** Attempts at the in-flight compare-and-swap before a bounded request is held instead. */
const ACQUIRE_ATTEMPTS: i32 = 4;

/** Weighted choice among the InferenceModel's targetModels; the request's own name when none. */
export function pickTarget(model: Model, rng: Random): string {
  const ts = model.targets;
  if (ts.length == 0) return model.name;
  if (ts.length == 1) return ts[0].name;
  let x = rng.unit() * model.totalWeight;
  for (let i = 0; i < ts.length; i++) {
    x -= ts[i].weight;
    if (x < 0) return ts[i].name;
  }
  return ts[ts.length - 1].name;
}

export class DecisionCore {
  private outcome: Outcome = new Outcome();
  private request: SchedulingRequest = new SchedulingRequest();
  /** Per profile index: its context, result and reusable candidate objects. */
  private contexts: SchedulingContext[] = [];
  private results: ProfileResult[] = [];
  private candidateObjects: Array<Array<Candidate>> = [];

  constructor(
    private config: PluginConfig,
    private routing: Routing,
    private tables: TableStore,
    private inflight: InFlightCounters,
    private ledger: QueueLedger,
    private pools: PoolStates,
    private rng: Random,
    private clock: Clock,
  ) {}

  /**
   * Decides for the body at [ptr, ptr+len). `heldTarget` is "" for a new request; for a held one
   * the queue offers again, the target model picked when it arrived (it was held already, so
   * admission is not asked again). The Outcome is reused by the next call.
   */
  decide(ptr: usize, len: i32, api: ApiEndpoint, nowNs: u64, heldTarget: string = ""): Outcome {
    const o = this.outcome;
    o.reset();
    const held = heldTarget.length > 0;
    const req = parseRequestBytes(ptr, len, api);
    if (req.status != 0) return o.reject(req.status, req.message, "invalid_request", req.param);
    const table = this.tables.currentAt(nowNs);
    if (table === null)
      return o.reject(
        503,
        "the gateway has no routing table yet (is the control plane running?)",
        "no_table",
        "",
        true,
      );
    this.pools.adopt(table);
    const model = table.findModel(req.model);
    if (model === null)
      return o.reject(
        404,
        "The model `" + req.model + "` does not exist (no InferenceModel has this modelName).",
        "model_not_found",
        "model",
      );
    const pool = model.pool!;
    const r = this.request;
    r.model = req.model;
    r.target = held ? heldTarget : pickTarget(model, this.rng);
    r.criticality = model.criticality;
    r.tape = requestTape;
    r.messages = req.messages;
    r.prompt = req.prompt;
    r.bodyBytes = len;
    r.promptHashes.reset();
    o.target = r.target;
    o.rewrite = r.target != req.model;
    o.modelStart = req.modelStart;
    o.modelEnd = req.modelEnd;
    o.pool = pool;
    o.criticality = <i32>model.criticality;
    const log = o.log;
    log.model = req.model;
    log.targetModel = r.target;
    log.stream = req.stream;
    o.includeUsage = req.includeUsage;
    // Someone at least as critical already waits (on any worker): queue behind them, in order.
    if (pool.queueEnabled && !held) {
      const st = this.ledger.read(pool.id);
      if (st.total() > 0 && st.topClass() <= o.criticality) return this.holdOrShed(o, pool);
    }
    return this.schedule(o, table, pool, <f64>(nowNs / 1000000));
  }

  private holdOrShed(o: Outcome, pool: Pool): Outcome {
    if (o.criticality == <i32>Criticality.Sheddable)
      return o.rejectQueued(
        429,
        "all endpoints of pool " + pool.id + " are saturated and model " + o.log.model + " is Sheddable",
        "sheddable_rejected",
        "sheddable",
      );
    return o.hold(pool, o.criticality);
  }

  private schedule(o: Outcome, table: Table, pool: Pool, nowMs: f64): Outcome {
    const handler = this.routing.handlerOf(pool);
    const profiles = handler.profiles();
    const primary = handler.primary();
    const bounded = pool.queueEnabled;
    let acquired = false;
    for (let attempt = 0; !acquired; attempt++) {
      if (attempt == ACQUIRE_ATTEMPTS) return this.holdOrShed(o, pool);
      const counts = this.inflight.snapshot();
      for (let i = 0; i < profiles.length; i++) {
        const ctx = this.contextFor(i, table, pool, counts, nowMs);
        const res = this.resultFor(i);
        profiles[i].run(ctx, res, 1 + this.config.fallbacks);
        if (res.targets.length > 0) continue;
        if (res.emptiedBy == SATURATION_FILTER) return this.holdOrShed(o, pool);
        const side = profiles.length > 1 ? " (" + profiles[i].name + ")" : "";
        return o.reject(
          503,
          "no ready endpoint in pool " + pool.id + side + " for model " + o.log.model,
          "no_ready_endpoint",
          "",
          true,
        );
      }
      acquired = this.acquire(profiles.length, bounded);
    }
    // Every stage's scorers learn where the request went (a P/D request's prefix is computed on the
    // prefill pod and handed to the decode pod: both hold it afterwards).
    const t0 = this.clock.nowNanos();
    for (let i = 0; i < profiles.length; i++) profiles[i].routed(this.contexts[i], this.results[i].targets[0]);
    const recordUs = <i64>((this.clock.nowNanos() - t0) / 1000);
    const pf = handler.prefill();
    if (pf >= 0) this.routedPrefill(o, pool, profiles[pf], this.contexts[pf], this.results[pf]);
    return this.routed(o, pool, profiles[primary], this.contexts[primary], this.results[primary], recordUs);
  }

  /**
   * Takes an in-flight place on every stage's pick. With queueing on, each is an atomic capacity
   * check across workers; when one is lost to another worker, the places already taken are given
   * back and the decision runs again on fresh counts.
   */
  private acquire(stages: i32, bounded: bool): bool {
    for (let i = 0; i < stages; i++) {
      const pick = this.results[i].targets[0];
      if (!bounded) this.inflight.add(pick.endpoint.slot, 1);
      else if (!this.inflight.tryAcquire(pick.endpoint.slot, pick.inflight)) {
        for (let k = 0; k < i; k++) this.inflight.add(this.results[k].targets[0].endpoint.slot, -1);
        return false;
      }
    }
    return true;
  }

  private routed(
    o: Outcome,
    pool: Pool,
    profile: SchedulingProfile,
    ctx: SchedulingContext,
    res: ProfileResult,
    recordUs: i64,
  ): Outcome {
    const chosen = res.targets[0];
    const ep = chosen.endpoint;
    o.kind = OutcomeKind.Routed;
    o.endpoint = ep;
    for (let i = 1; i < res.targets.length; i++) o.fallbacks.push(res.targets[i].endpoint);
    const log = o.log;
    log.pool = pool.id;
    log.pod = ep.name;
    log.address = ep.address;
    log.strategy = strategyName(profile.strategy);
    log.criticality = o.criticality;
    log.candidates = pool.endpoints.length;
    log.eligible = res.eligible;
    log.loadFresh = ctx.loadFresh;
    for (let i = 0; i < o.fallbacks.length; i++) log.fallbacks.push(o.fallbacks[i].name);
    if (profile.strategy == Strategy.PrefixCache) this.describePrefix(o, ctx, chosen, recordUs);
    if (this.config.logScores) log.scores = profile.scoresOf(ctx, chosen);
    return o;
  }

  /**
   * P/D: the prefill pod, the room both pods meet in, and where the decode pod finds the prefill
   * pod's bootstrap server. No fallbacks for the prefill: the decode request names this pod, so a
   * retry elsewhere could never be handed over; a failed prefill fails the request instead.
   */
  private routedPrefill(
    o: Outcome,
    pool: Pool,
    profile: SchedulingProfile,
    ctx: SchedulingContext,
    res: ProfileResult,
  ): void {
    const chosen = res.targets[0];
    const ep = chosen.endpoint;
    o.prefill = ep;
    o.bootstrapPort = ep.bootstrapPort > 0 ? ep.bootstrapPort : pool.bootstrapPort;
    // SGLang's router draws a random non-negative 63-bit room per request (it must be unique
    // among the rooms in flight on the prefill pod).
    o.bootstrapRoom = this.rng.next() >> 1;
    const tape = this.request.tape;
    o.bodyEnd = tape === null ? -1 : tape!.end(0) - 1;
    const log = o.log;
    log.prefillPod = ep.name;
    log.prefillAddress = ep.address;
    log.prefillStrategy = strategyName(profile.strategy);
    log.prefillEligible = res.eligible;
    log.bootstrapRoom = o.bootstrapRoom.toString();
    log.bootstrapPort = o.bootstrapPort;
    if (profile.strategy != Strategy.PrefixCache) return;
    const st = prefixStateOf(ctx.state);
    if (st === null) return;
    log.prefillMatchedBlocks = st.matchedOf(chosen);
    log.prefillTotalBlocks = st.blocks;
  }

  private describePrefix(o: Outcome, ctx: SchedulingContext, chosen: Candidate, recordUs: i64): void {
    const log = o.log;
    log.hasPrefix = true;
    log.recordUs = recordUs;
    const st = prefixStateOf(ctx.state);
    if (st === null) return;
    log.matchedBlocks = st.matchedOf(chosen);
    log.totalBlocks = st.blocks;
    log.bestMatch = st.best;
    const pool = ctx.pool;
    // Feedback reads the serving pod's cached tokens; a P/D decode pod reports the handed-over
    // prompt as cached, which says nothing about its own cache: P/D pools run in estimate mode.
    if (pool.prefixFeedback && !pool.hasPd && st.blocks > 0) {
      const p = o.prediction;
      const hashes = ctx.request.promptHashes;
      p.feedback = true;
      p.slot = chosen.endpoint.slot;
      p.indexed = st.indexedOf(chosen);
      p.credited = log.matchedBlocks;
      p.blocks = st.blocks;
      p.tipAgeMs = st.tipAgeOf(chosen);
      p.promptBytes = hashes.truncated ? max(hashes.bytes, ctx.request.bodyBytes) : hashes.bytes;
      p.blockSize = pool.blockSize;
      log.indexedBlocks = p.indexed;
    }
    if (st.best <= log.matchedBlocks) return;
    // The pod holding most of the prompt was not chosen: say which and why (operators ask).
    const cs = ctx.candidates;
    for (let i = 0; i < cs.length; i++) {
      const holder = cs[i];
      if (st.matchedOf(holder) != st.best) continue;
      const y = ctx.yieldOf(holder);
      log.affinityPod = holder.endpoint.name;
      log.affinityYield = y == Yield.None ? "score" : yieldName(y);
      log.affinityInflight = holder.inflight;
      return;
    }
  }

  /** Profile i's context for this decision: every endpoint of the pool a candidate. */
  private contextFor(i: i32, table: Table, pool: Pool, counts: Int32Array, nowMs: f64): SchedulingContext {
    while (this.contexts.length <= i) {
      this.contexts.push(new SchedulingContext(pool, this.pools.of(pool), this.request, this.rng));
      this.candidateObjects.push(new Array<Candidate>());
    }
    const ctx = this.contexts[i];
    ctx.pool = pool;
    ctx.poolState = this.pools.of(pool);
    ctx.request = this.request;
    ctx.nowMs = nowMs;
    ctx.tableAgeMs = nowMs - table.builtAtMs;
    ctx.loadFresh = ctx.tableAgeMs <= table.stalenessMs;
    ctx.bounded = pool.queueEnabled;
    ctx.recordScores = this.config.logScores;
    ctx.state.clear();
    const eps = pool.endpoints;
    // Candidate objects are reused across decisions (one decision at a time per VM).
    const objects = this.candidateObjects[i];
    while (objects.length < eps.length) objects.push(new Candidate(eps[0], 0));
    ctx.candidates.length = 0;
    for (let k = 0; k < eps.length; k++) {
      const e = unchecked(eps[k]);
      const c = unchecked(objects[k]);
      c.reset(e, e.slot < counts.length ? unchecked(counts[e.slot]) : 0);
      ctx.candidates.push(c);
    }
    return ctx;
  }

  private resultFor(i: i32): ProfileResult {
    while (this.results.length <= i) this.results.push(new ProfileResult());
    return this.results[i];
  }
}
