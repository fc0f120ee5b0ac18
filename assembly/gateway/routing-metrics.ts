// The filter's routing metrics, in Envoy's stats (proxy-wasm metrics): Envoy aggregates them over
// its workers and serves them at admin /stats/prometheus, no extra process. Labels are Envoy tags,
// extracted from the stat name ("<metric>.<label>.<value>...") by the bootstrap's stats_tags; values
// come from the table (pools, pods, the InferenceModels' names) or from fixed sets (outcomes, error
// codes, yield reasons), and have '.' replaced (it separates tags). The one exception, a pool that
// serves any model, names its objective series after the clients' model names: bounded per worker
// (MAX_OBJECTIVE_SERIES).
//
// Counters and gauges are summed in the VM, and histogram values buffered (host/metrics.ts), until
// the root's 10 ms tick: a request costs array stores, not host calls.
import { Counter, flushHistograms, Gauge, Histogram } from "../host/metrics";
import { Endpoint, MetricSlot, Pool } from "../table/table";

/** A tag value: Envoy splits stat names on '.', so a dot in a name becomes '_'. */
export function tagValue(s: string): string {
  return s.indexOf(".") < 0 ? s : s.replaceAll(".", "_");
}

abstract class Family<M> {
  protected byName: Map<string, M> = new Map();
  constructor(protected base: string) {}
  protected abstract make(name: string): M;
  /** The series for a label list already rendered as ".label.value" pairs. */
  series(labels: string): M {
    if (this.byName.has(labels)) return this.byName.get(labels);
    const m = this.make(this.base + labels);
    this.byName.set(labels, m);
    return m;
  }
}

/** A counter or gauge series whose increments are summed until the next flush. */
class Pending {
  delta: i64 = 0;
  constructor(
    public counter: Counter | null,
    public gauge: Gauge | null,
  ) {}
  define(): void {
    if (this.counter !== null) this.counter!.define();
    else this.gauge!.define();
  }
  flush(): void {
    if (this.delta == 0) return;
    if (this.counter !== null) this.counter!.increment(this.delta);
    else this.gauge!.add(this.delta);
    this.delta = 0;
  }
}

const dirty = new Array<Pending>();

function bump(p: Pending, n: i64): void {
  if (p.delta == 0) dirty.push(p);
  p.delta += n;
}

export class CounterFamily extends Family<Pending> {
  protected make(name: string): Pending {
    return new Pending(new Counter(name), null);
  }
  /** The series at zero, before its first event. */
  define(labels: string): void {
    this.series(labels).define();
  }
  add(labels: string, n: i64 = 1): void {
    bump(this.series(labels), n);
  }
}

export class GaugeFamily extends Family<Pending> {
  protected make(name: string): Pending {
    return new Pending(null, new Gauge(name));
  }
  define(labels: string): void {
    this.series(labels).define();
  }
  add(labels: string, n: i64): void {
    bump(this.series(labels), n);
  }
}

export class HistogramFamily extends Family<Histogram> {
  protected make(name: string): Histogram {
    return new Histogram(name);
  }
  define(labels: string): void {
    this.series(labels).define();
  }
  record(labels: string, v: u64): void {
    this.series(labels).record(v);
  }
}

export function poolLabel(pool: string): string {
  return ".pool." + tagValue(pool);
}
export function podLabels(pool: string, pod: string): string {
  return ".pool." + tagValue(pool) + ".pod." + tagValue(pod);
}

/** A pool's series that every routed request touches, found once per table object (Pool.metrics). */
export class PoolSeries extends MetricSlot {
  constructor(
    public label: string,
    public routed: Pending,
    public decisionUs: Histogram,
    public prefixPredictedPercent: Histogram,
  ) {
    super();
  }
  /** One more request routed in this pool. */
  countRouted(): void {
    bump(this.routed, 1);
  }
}

/** A pod's series that every request it serves touches (Endpoint.metrics). */
export class PodSeries extends MetricSlot {
  constructor(
    public requests: Pending,
    public inFlight: Pending,
  ) {
    super();
  }
  /** One more request sent here (counted and in flight). */
  sent(): void {
    bump(this.requests, 1);
    bump(this.inFlight, 1);
  }
  /** In flight here: +1 when a request moves in, -1 when it ends or moves away. */
  inFlightAdd(n: i64): void {
    bump(this.inFlight, n);
  }
}

/**
 * inference_objective_request_total series a worker creates, one per (model, target model), before
 * it counts further pairs under OTHER_MODEL: a pool that serves any model takes model names from
 * its clients, and Envoy never frees a stat (one per name would grow without bound).
 */
export const MAX_OBJECTIVE_SERIES: i32 = 128;
/** The model_name and target_model_name of the pairs past MAX_OBJECTIVE_SERIES. */
export const OTHER_MODEL = "__other__";

/** The codes a request of a known pool can be refused with (defined per pool at zero). */
const POOL_REJECTION_CODES: string[] = [
  "no_ready_endpoint",
  "sheddable_rejected",
  "queue_capacity_exceeded",
  "queue_ttl_expired",
  "pool_gone",
  "prefill_failed",
];

/** Every metric the filter exports (README "Operating it" lists them with their labels). */
export class RoutingMetrics {
  /** By pool and outcome: routed | held | rejected. */
  requests: CounterFamily = new CounterFamily("infergate_requests_total");
  /** Answered with an error by the filter, by pool ("none" before a pool is known) and code. */
  rejections: CounterFamily = new CounterFamily("infergate_rejections_total");
  /** The upstream inference extension's per-model request counter (same name, same labels). */
  objectiveRequests: CounterFamily = new CounterFamily("inference_objective_request_total");
  podRequests: CounterFamily = new CounterFamily("infergate_pod_requests_total");
  podInFlight: GaugeFamily = new GaugeFamily("infergate_pod_in_flight");
  /** The pod holding the longest prefix was not chosen, by reason: imbalance | balance | score. */
  affinityYields: CounterFamily = new CounterFamily("infergate_affinity_yields_total");
  /** Served by a fallback pod (the chosen one failed before answering). */
  fallbacks: CounterFamily = new CounterFamily("infergate_fallbacks_total");
  decisionUs: HistogramFamily = new HistogramFamily("infergate_decision_duration_us");
  /** PREFIX_CACHE: percent of the prompt's blocks the chosen pod was credited with, and (feedback
   *  mode) what it really had cached. */
  prefixPredictedPercent: HistogramFamily = new HistogramFamily("infergate_prefix_predicted_percent");
  prefixRealPercent: HistogramFamily = new HistogramFamily("infergate_prefix_real_percent");
  /** Feedback mode: predictions the pod's report confirmed (within a block) or not. */
  prefixPredictions: CounterFamily = new CounterFamily("infergate_prefix_predictions_total");

  /** The objective counter's series by model, then target model (the label costs no string). */
  private objectiveSeries: Map<string, Map<string, Pending>> = new Map();
  private objectiveCount: i32 = 0;
  private objectiveOther: Pending | null = null;

  /** The pool's per-request series (labels built once per table object). */
  poolSeries(pool: Pool): PoolSeries {
    const cached = pool.metrics;
    if (cached !== null) return <PoolSeries>cached;
    const label = poolLabel(pool.id);
    const s = new PoolSeries(
      label,
      this.requests.series(label + ".outcome.routed"),
      this.decisionUs.series(label),
      this.prefixPredictedPercent.series(label),
    );
    pool.metrics = s;
    return s;
  }

  /** The pod's series within its pool (labels built once per table object). */
  podSeries(pool: Pool, pod: Endpoint): PodSeries {
    const cached = pod.metrics;
    if (cached !== null) return <PodSeries>cached;
    const label = podLabels(pool.id, pod.name);
    const s = new PodSeries(this.podRequests.series(label), this.podInFlight.series(label));
    pod.metrics = s;
    return s;
  }

  /** inference_objective_request_total for the model asked for and the one served. */
  countObjective(model: string, target: string): void {
    const byModel = this.objectiveSeries;
    const full = this.objectiveCount >= MAX_OBJECTIVE_SERIES;
    let targets: Map<string, Pending>;
    if (byModel.has(model)) targets = byModel.get(model);
    else if (full) {
      bump(this.otherObjective(), 1);
      return;
    } else {
      targets = new Map();
      byModel.set(model, targets);
    }
    let p: Pending;
    if (targets.has(target)) p = targets.get(target);
    else if (full) p = this.otherObjective();
    else {
      p = this.objectiveRequests.series(".model_name." + model + ".target_model_name." + target);
      targets.set(target, p);
      this.objectiveCount++;
    }
    bump(p, 1);
  }

  private otherObjective(): Pending {
    let p = this.objectiveOther;
    if (p === null) {
      p = this.objectiveRequests.series(".model_name." + OTHER_MODEL + ".target_model_name." + OTHER_MODEL);
      this.objectiveOther = p;
    }
    return p!;
  }

  /** Pools whose series are defined (at zero) already. */
  private definedPools: Set<string> = new Set();

  /** At plugin start: the series that exist before a pool is known. */
  defineStart(): void {
    this.requests.define(poolLabel("none") + ".outcome.rejected");
  }

  /** Once a pool is known (its table adopted): its per-pool series at zero, so dashboards and
   *  alerts see 0 rather than no data (each code a pool's requests can be refused with). */
  definePool(poolId: string): void {
    if (this.definedPools.has(poolId)) return;
    this.definedPools.add(poolId);
    const pool = poolLabel(poolId);
    this.requests.define(pool + ".outcome.routed");
    this.requests.define(pool + ".outcome.held");
    this.requests.define(pool + ".outcome.rejected");
    for (let i = 0; i < POOL_REJECTION_CODES.length; i++)
      this.rejections.define(pool + ".code." + POOL_REJECTION_CODES[i]);
    this.fallbacks.define(pool);
    this.decisionUs.define(pool);
  }

  /** Pushes what was summed since the last flush (the root's tick). */
  flush(): void {
    for (let i = 0; i < dirty.length; i++) unchecked(dirty[i]).flush();
    dirty.length = 0;
    flushHistograms(); // the queue's too
  }
}

/** One per VM: every root and stream of the worker adds to the same sums. */
export const routingMetrics = new RoutingMetrics();
