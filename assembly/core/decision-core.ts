// The decision: from a request body to a typed Outcome (route there / hold / answer this error).
// Parses, finds the model and its pool (version 1: by model name; version 2: through the matched
// route's backends), its priority, applies admission (queueing), runs the pool's scheduling
// profiles, takes the pod's in-flight place and tells the plugins where the request went. Makes no
// host calls: shared state is reached through the SharedStore-backed state modules, time is passed
// in (the prefix index reads its Clock to time its writes) and request headers come through the
// RouteRequest's HeaderSource, so the same code runs in Envoy and in the unit tests.
import { PluginConfig } from "../config";
import { RoutedChain } from "../prefix/routed-chain";
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
import { criticalityOfPriority, Pool, RouteBackend, Strategy, Table, TargetModel } from "../table/table";
import { Outcome, OutcomeKind } from "./outcome";
import { liveSinceMs } from "./queue-dispatcher";
import { matchRoute, RouteRequest } from "./route-match";

/** Attempts at the in-flight compare-and-swap before a bounded request is held instead. */
const ACQUIRE_ATTEMPTS: i32 = 4;

/** The header naming the request's InferenceObjective (GIE v1's x-gateway-inference-objective). */
export const OBJECTIVE_HEADER = "x-gateway-inference-objective";

/** Weighted choice among target models (an InferenceModel's targetModels, a rewrite's); `name` when none. */
export function pickTarget(targets: TargetModel[], totalWeight: f64, name: string, rng: Random): string {
  const ts = targets;
  if (ts.length == 0) return name;
  if (ts.length == 1) return ts[0].name;
  let x = rng.unit() * totalWeight;
  for (let i = 0; i < ts.length; i++) {
    x -= ts[i].weight;
    if (x < 0) return ts[i].name;
  }
  return ts[ts.length - 1].name;
}

/** What a held request chose when it arrived; offered again by the queue, it keeps all of it. */
export class HeldChoice {
  target: string = "";
  poolId: string = "";
  priority: i32 = 0;
  route: string = "";
}

/** A route backend can take a request for `model`: unresolved (null, it answers 500), or its pool has
 *  an entry for the model or serves any model. */
function servesModel(table: Table, pool: Pool | null, model: string): bool {
  return pool === null || pool.anyModel || table.findModelIn(model, pool) !== null;
}

function routeNotFoundMessage(request: RouteRequest): string {
  return "no HTTPRoute rule matches " + request.method + " " + request.path + " (host " + request.host() + ")";
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
  ) {}

  /**
   * Decides for the body at [ptr, ptr+len). `request` is the request's method, path and headers
   * (and, for a version-2 table, the route entry the headers phase matched). `held` is null for a
   * new request; for a held one the queue offers again, what it chose on arrival (pool, target
   * model, priority: admission is not asked again). The Outcome is reused by the next call.
   */
  decide(
    ptr: usize,
    len: i32,
    api: ApiEndpoint,
    nowNs: u64,
    request: RouteRequest,
    held: HeldChoice | null = null,
  ): Outcome {
    const o = this.outcome;
    o.reset();
    const req = parseRequestBytes(ptr, len, api);
    if (req.status != 0) return o.reject(req.status, req.message, "invalid_request", req.param);
    // The in-flight counters first: their key carries the newest table's generation, so finding the
    // table costs no read of its own (state/inflight.ts); schedule() starts from this snapshot.
    const counts = this.inflight.snapshot();
    const table = this.tables.atGeneration(this.inflight.generation, nowNs);
    if (table === null)
      return o.reject(
        503,
        "the gateway has no routing table yet (is the control plane running?)",
        "no_table",
        "",
        true,
      );
    this.pools.adopt(table);
    const log = o.log;
    log.model = req.model;
    let pool: Pool;
    if (held !== null) {
      const p = table.findPool(held.poolId);
      if (p === null)
        return o.reject(
          503,
          "pool " + held.poolId + " left the routing table while the request waited",
          "pool_gone",
          "",
          true,
        );
      if (table.findModelIn(req.model, p) === null && !p.anyModel) return this.modelNotFound(o, req.model);
      pool = p;
      o.target = held.target;
      o.priority = held.priority;
      log.route = held.route;
    } else {
      const p = table.hasRoutes
        ? this.poolOfRoute(o, table, request, req.model)
        : this.poolOfModel(o, table, req.model);
      if (p === null) return o; // answered
      pool = p;
      // The pool's entry for the model (version 1: the model's own pool), else the pool's anyModel.
      const model = table.findModelIn(req.model, pool);
      o.priority = model !== null ? model.priority : 0;
      if (pool.objectiveNames.length > 0) {
        // Read only for pools with objectives: one host call, and no cost for every other request.
        const name = request.header(OBJECTIVE_HEADER);
        const k = name === null ? -1 : pool.findObjective(name);
        if (k >= 0) o.priority = pool.objectivePriorities[k];
      }
      o.target =
        model !== null
          ? pickTarget(model.targets, model.totalWeight, req.model, this.rng)
          : pickTarget(pool.anyTargets, pool.anyTotalWeight, req.model, this.rng);
    }
    const r = this.request;
    r.model = req.model;
    r.target = o.target;
    r.criticality = criticalityOfPriority(o.priority);
    r.tape = requestTape;
    r.messages = req.messages;
    r.prompt = req.prompt;
    r.bodyBytes = len;
    r.promptHashes.reset();
    o.rewrite = o.target != req.model;
    o.modelStart = req.modelStart;
    o.modelEnd = req.modelEnd;
    o.pool = pool;
    log.targetModel = o.target;
    log.stream = req.stream;
    o.includeUsage = req.includeUsage;
    // Someone of at least this priority already waits (on any worker): queue behind them, in order.
    if (pool.queueEnabled && held === null) {
      const st = this.ledger.read(pool.id);
      const live = liveSinceMs(pool, <f64>(nowNs / 1000000));
      if (st.held(live) > 0 && st.topPriority(live) >= <f64>o.priority) return this.holdOrShed(o, pool);
    }
    return this.schedule(o, table, pool, <f64>(nowNs / 1000000), counts);
  }

  /** Version 1: the model's one pool. Null when answered (unknown model). */
  private poolOfModel(o: Outcome, table: Table, model: string): Pool | null {
    const m = table.findModel(model);
    if (m === null) {
      this.modelNotFound(o, model);
      return null;
    }
    return m.pool;
  }

  /**
   * Version 2: the pool of the request's route entry that serves this model, picked by backend
   * weight (schema.ts TableRoute.backends, steps 1 to 5). Null when answered.
   */
  private poolOfRoute(o: Outcome, table: Table, request: RouteRequest, model: string): Pool | null {
    let route = request.route;
    if (request.matchedIn !== table) {
      // The table changed since the headers phase (or it was not matched there): match again.
      const i = matchRoute(table.routes, request);
      route = i >= 0 ? table.routes[i] : null;
      request.matched(table, route);
    }
    if (route === null) {
      o.reject(404, routeNotFoundMessage(request), "route_not_found");
      return null;
    }
    o.log.route = route.label;
    const bs = route.backends;
    if (bs.length == 0) {
      o.reject(500, "HTTPRoute rule " + route.label + " has no backendRefs", "no_backend");
      return null;
    }
    // Candidates: unresolved backends keep their share (they answer 500); pools that serve the model.
    let total: f64 = 0;
    let candidates = 0;
    for (let i = 0; i < bs.length; i++) {
      const b = unchecked(bs[i]);
      if (!servesModel(table, b.pool, model)) continue;
      candidates++;
      total += b.weight;
    }
    if (candidates == 0) {
      o.reject(
        404,
        "The model `" + model + "` is not served by any backend of HTTPRoute rule " + route.label + ".",
        "model_not_found",
        "model",
      );
      return null;
    }
    if (total <= 0) {
      o.reject(
        500,
        "every backend of HTTPRoute rule " + route.label + " that serves model " + model + " has weight 0",
        "no_backend",
      );
      return null;
    }
    let x = this.rng.unit() * total;
    let chosen: RouteBackend | null = null;
    for (let i = 0; i < bs.length; i++) {
      const b = unchecked(bs[i]);
      if (!servesModel(table, b.pool, model) || b.weight <= 0) continue;
      chosen = b;
      x -= b.weight;
      if (x < 0) break;
    }
    if (chosen!.pool === null) {
      o.reject(500, chosen!.error, "backend_not_found");
      return null;
    }
    return chosen!.pool;
  }

  private modelNotFound(o: Outcome, model: string): Outcome {
    return o.reject(
      404,
      "The model `" + model + "` does not exist (no InferenceModel has this modelName).",
      "model_not_found",
      "model",
    );
  }

  private holdOrShed(o: Outcome, pool: Pool): Outcome {
    if (o.priority < 0)
      return o.rejectQueued(
        429,
        "all endpoints of pool " +
          pool.id +
          " are saturated and the request is sheddable (model " +
          o.log.model +
          ", priority " +
          o.priority.toString() +
          ")",
        "sheddable_rejected",
        "sheddable",
      );
    return o.hold(pool, o.priority);
  }

  private schedule(o: Outcome, table: Table, pool: Pool, nowMs: f64, first: Int32Array): Outcome {
    const handler = this.routing.handlerOf(pool);
    const profiles = handler.profiles();
    const primary = handler.primary();
    const bounded = pool.queueEnabled;
    let acquired = false;
    for (let attempt = 0; !acquired; attempt++) {
      if (attempt == ACQUIRE_ATTEMPTS) return this.holdOrShed(o, pool);
      const counts = attempt == 0 ? first : this.inflight.snapshot();
      for (let i = 0; i < profiles.length; i++) {
        const ctx = this.contextFor(i, table, pool, profiles[i], counts, nowMs);
        const res = this.resultFor(i);
        profiles[i].runFilled(ctx, res, 1 + this.config.fallbacks);
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
    // prefill pod and handed to the decode pod: both hold it afterwards). The pool's index times its
    // own host calls (a repeat visit makes none, and reads no clock either).
    const index = this.contexts[primary].poolState.prefixIndex; // the pool's (contextFor), no lookup
    index.recordNanos = 0;
    for (let i = 0; i < profiles.length; i++) profiles[i].routed(this.contexts[i], this.results[i].targets[0]);
    const recordUs = <i64>(index.recordNanos / 1000);
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
      // The first stage's swap starts from the decision's snapshot (no second read); later ones read.
      if (!bounded) this.inflight.addAfterSnapshot(pick.endpoint.slot, 1);
      else if (!this.inflight.tryAcquireAfterSnapshot(pick.endpoint.slot, pick.inflight)) {
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
    log.priority = o.priority;
    log.criticality = <i32>criticalityOfPriority(o.priority);
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
    // A fallback that answers holds the prompt too: the stream records it there (RoutedChain).
    if (o.prefill === null && o.fallbacks.length > 0 && st.blocks > 0)
      o.chain = RoutedChain.copyOf(ctx.pool.id, ctx.poolState.prefixIndex, ctx.request.promptHashes.hashes, st.blocks);
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

  /** Profile i's context for this decision: the pool's endpoints its per-endpoint filters keep. */
  private contextFor(
    i: i32,
    table: Table,
    pool: Pool,
    profile: SchedulingProfile,
    counts: Int32Array,
    nowMs: f64,
  ): SchedulingContext {
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
    // Candidate objects are reused across decisions (one decision at a time per VM).
    profile.fill(ctx, pool, counts, this.candidateObjects[i]);
    return ctx;
  }

  private resultFor(i: i32): ProfileResult {
    while (this.results.length <= i) this.results.push(new ProfileResult());
    return this.results[i];
  }
}
