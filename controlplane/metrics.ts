// The control plane's own Prometheus metrics, on a registry per instance (not prom-client's global
// one) so several control planes can run in one process, as tests do.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ScrapeFailure, ScrapeObserver } from "./scrapers/scrape-loop.js";
import type { PushObserver } from "./table/pusher.js";
import type { Runtime, Table } from "./table/schema.js";

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
