// The control plane's own Prometheus metrics, on a registry per instance (not prom-client's global
// one) so several control planes can run in one process, as tests do.
//
// Pool-level gauges use the upstream inference extension's names and meanings where it has them
// (GIE pkg/epp/metrics: inference_pool_*{name}); they are computed at scrape time from the last
// table (the pods' scraped load and readiness) and from what the Envoy replicas report back (held
// requests), so they are never older than those. Besides GIE's `name` (the pool's metadata.name)
// they carry `pool`, the "namespace/name" the filter's own metrics use, so a dashboard can join them.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ScrapeFailure, ScrapeObserver } from "./scrapers/scrape-loop.js";
import type { HeldRequests } from "./status/envoy-sampler.js";
import { statTagValue } from "./status/status-view.js";
import type { PushObserver } from "./table/pusher.js";
import type { Runtime, Table } from "./table/schema.js";

/** What the pool gauges are computed from, read at each scrape of /metrics. */
export interface PoolMetricsSource {
  table(): Table | null;
  /** Held requests per pool id, summed over Envoy replicas; null when no replica answered. */
  held(): Map<string, HeldRequests> | null;
}

export class ControlPlaneMetrics implements ScrapeObserver, PushObserver {
  readonly registry = new Registry();
  private readonly scrapeDuration: Histogram<"runtime">;
  private readonly scrapeErrors: Counter<"runtime" | "reason">;
  private readonly tableGeneration: Gauge;
  private readonly tableEndpoints: Gauge<"state">;
  private readonly tableBuilds: Counter;
  private readonly pushDuration: Histogram<"target">;
  private readonly pushErrors: Counter<"target" | "outcome">;
  private readonly pushAccepted: Gauge<"target">;
  private readonly modelProblems: Gauge<"level">;
  private poolSource: PoolMetricsSource | null = null;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.scrapeDuration = new Histogram({
      name: "infergate_scrape_duration_seconds",
      help: "Model-server /metrics scrape time, successful or not.",
      labelNames: ["runtime"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.scrapeErrors = new Counter({
      name: "infergate_scrape_errors_total",
      help: "Failed scrapes by reason (timeout, connect, http_status, parse, too_large).",
      labelNames: ["runtime", "reason"],
      registers,
    });
    this.tableGeneration = new Gauge({
      name: "infergate_table_generation",
      help: "Generation of the last table built.",
      registers,
    });
    this.tableEndpoints = new Gauge({
      name: "infergate_table_endpoints",
      help: "Endpoints in the last table, by readiness.",
      labelNames: ["state"],
      registers,
    });
    this.tableBuilds = new Counter({
      name: "infergate_table_builds_total",
      help: "Tables issued with a new generation (changes and heartbeats).",
      registers,
    });
    this.pushDuration = new Histogram({
      name: "infergate_push_duration_seconds",
      help: "Table push round trip to an Envoy control listener.",
      labelNames: ["target"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    this.pushErrors = new Counter({
      name: "infergate_push_errors_total",
      help: "Table pushes not accepted, by outcome (HTTP status or network).",
      labelNames: ["target", "outcome"],
      registers,
    });
    this.pushAccepted = new Gauge({
      name: "infergate_push_accepted_generation",
      help: "Last table generation each Envoy accepted.",
      labelNames: ["target"],
      registers,
    });
    this.modelProblems = new Gauge({
      name: "infergate_model_problems",
      help: "Problems in the current documents (invalid fields, dangling references).",
      labelNames: ["level"],
      registers,
    });
    this.definePoolGauges(registers);
  }

  private definePoolGauges(registers: Registry[]): void {
    const self = this;
    /** Ready endpoints of each pool in the last table (the pods the filter may pick). */
    const pools = () => {
      const t = self.poolSource?.table() ?? null;
      return (t?.pools ?? []).map((p) => ({
        labels: { name: p.id.slice(p.id.indexOf("/") + 1), pool: statTagValue(p.id) },
        id: p.id,
        all: p.endpoints,
        ready: p.endpoints.filter((e) => e.ready),
      }));
    };
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    new Gauge({
      name: "inference_pool_ready_pods",
      help: "The number of ready pods in the inference server pool (ready in the table: Pod Ready, scrapes succeeding, Envoy's health checks passing).",
      labelNames: ["name", "pool"],
      registers,
      collect() {
        this.reset();
        for (const p of pools()) this.set(p.labels, p.ready.length);
      },
    });
    new Gauge({
      name: "inference_pool_average_kv_cache_utilization",
      help: "The average kv cache utilization (0..1) over the ready pods of an inference server pool.",
      labelNames: ["name", "pool"],
      registers,
      collect() {
        this.reset();
        for (const p of pools()) if (p.ready.length) this.set(p.labels, mean(p.ready.map((e) => e.kvUsage)));
      },
    });
    new Gauge({
      name: "inference_pool_average_queue_size",
      help: "The average number of requests pending in the model server queue, over the ready pods of a pool.",
      labelNames: ["name", "pool"],
      registers,
      collect() {
        this.reset();
        for (const p of pools()) if (p.ready.length) this.set(p.labels, mean(p.ready.map((e) => e.waiting)));
      },
    });
    new Gauge({
      name: "inference_pool_average_running_requests",
      help: "The average number of requests running in the model servers' batch, over the ready pods of a pool.",
      labelNames: ["name", "pool"],
      registers,
      collect() {
        this.reset();
        for (const p of pools()) if (p.ready.length) this.set(p.labels, mean(p.ready.map((e) => e.running)));
      },
    });
    new Gauge({
      name: "inference_pool_per_pod_queue_size",
      help: "The total number of requests pending in the model server queue for each underlying pod.",
      labelNames: ["name", "pool", "model_server_pod"],
      registers,
      collect() {
        this.reset();
        for (const p of pools())
          for (const e of p.all) this.set({ ...p.labels, model_server_pod: statTagValue(e.name) }, e.waiting);
      },
    });
    new Gauge({
      name: "infergate_pod_kv_cache_utilization",
      help: "KV-cache use (0..1) of each pod, from its last scrape, whatever its runtime's metric name.",
      labelNames: ["pool", "pod"],
      registers,
      collect() {
        this.reset();
        for (const p of pools())
          for (const e of p.all) this.set({ pool: p.labels.pool, pod: statTagValue(e.name) }, e.kvUsage);
      },
    });
    new Gauge({
      name: "infergate_pod_ready",
      help: "1 when the pod is routable in the table, else 0.",
      labelNames: ["pool", "pod"],
      registers,
      collect() {
        this.reset();
        for (const p of pools())
          for (const e of p.all) this.set({ pool: p.labels.pool, pod: statTagValue(e.name) }, e.ready ? 1 : 0);
      },
    });
    new Gauge({
      name: "infergate_queue_held_requests",
      help: "Requests held in the gateway's queue now, per pool and class, summed over the Envoy replicas.",
      labelNames: ["pool", "class"],
      registers,
      collect() {
        this.reset();
        const held = self.poolSource?.held() ?? null;
        if (!held) return;
        for (const p of pools()) {
          const q = held.get(p.id) ?? { bytes: 0, critical: 0, standard: 0, sheddable: 0 };
          for (const c of ["critical", "standard", "sheddable"] as const)
            this.set({ pool: p.labels.pool, class: c }, q[c]);
        }
      },
    });
  }

  /** Turns on the pool gauges, read from `source` at every scrape. */
  observePools(source: PoolMetricsSource): void {
    this.poolSource = source;
  }

  scraped(runtime: Runtime, seconds: number, failure: ScrapeFailure | null): void {
    this.scrapeDuration.observe({ runtime }, seconds);
    if (failure) this.scrapeErrors.inc({ runtime, reason: failure });
  }

  pushed(target: string, seconds: number, outcome: string, generation: number): void {
    if (outcome !== "network") this.pushDuration.observe({ target }, seconds);
    if (outcome === "accepted") this.pushAccepted.set({ target }, generation);
    else this.pushErrors.inc({ target, outcome });
  }

  tableBuilt(table: Table): void {
    this.tableBuilds.inc();
    this.tableGeneration.set(table.generation);
    let ready = 0;
    let notReady = 0;
    for (const p of table.pools) for (const e of p.endpoints) e.ready ? ready++ : notReady++;
    this.tableEndpoints.set({ state: "ready" }, ready);
    this.tableEndpoints.set({ state: "not_ready" }, notReady);
  }

  problems(errors: number, warnings: number): void {
    this.modelProblems.set({ level: "error" }, errors);
    this.modelProblems.set({ level: "warning" }, warnings);
  }
}
