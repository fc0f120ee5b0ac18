// What the filter itself knows, read back from every Envoy replica for the status view and the pool
// metrics: each replica's control listener (GET /infergate/v1/table: the generation it routes on,
// the requests held per pool and class, the in-flight count per pod address) and the filter's
// counters in its admin stats (requests per pod, outcomes, prefix predictions). The counters are
// kept as a short history (one sample every `intervalMs`, `windowMs` long) so the view can say what
// happened over the last minute rather than since Envoy started: a share of *recent* requests.
//
// Replicas are summed (each Envoy counts its own requests and in-flight). A counter that went down
// between two samples of one replica means that Envoy restarted: its increase counts from zero, as
// Prometheus's increase() does. A replica that does not answer is left out of that sample and said
// so in `errors`.

import type { Logger } from "../log.js";
import { MetricsError, parseExposition } from "../scrapers/prometheus-text.js";

/** Requests held in one pool's gateway queue (all workers of one Envoy), by class. */
export interface HeldRequests {
  bytes: number;
  critical: number;
  standard: number;
  sheddable: number;
}

/** Envoy's admin stats filter: only the filter's counters this view reads (full stat names, before
 *  tag extraction). */
export const FILTER_COUNTERS =
  "^wasmcustom\\.(infergate_pod_requests_total|infergate_requests_total|infergate_prefix_predictions_total)\\.";

/** One replica's answer at one time. Counter keys: metric name + "\u0000" + sorted label pairs. */
interface ReplicaSample {
  generation: number | null;
  builtAtMs: number | null;
  queues: Map<string, HeldRequests>;
  inflight: Map<string, number>;
  counters: Map<string, number>;
}

interface Sample {
  atMs: number;
  /** Index = replica; null when that replica did not answer. */
  replicas: (ReplicaSample | null)[];
}

export interface EnvoyReplica {
  /** Admin base URL (loopback), for the filter's counters. */
  admin?: string;
  /** Control listener base URL, for generation, queues and in-flight. */
  control?: string;
}

export interface EnvoySamplerOptions {
  replicas: EnvoyReplica[];
  token: string;
  intervalMs?: number;
  windowMs?: number;
  timeoutMs?: number;
  logger: Logger;
  now?: () => number;
}

/** A counter's increase over the window, by its labels. */
export interface CounterIncrease {
  labels: Record<string, string>;
  increase: number;
}

export interface RecentActivity {
  /** Seconds between the oldest and newest sample used (0 with fewer than two samples). */
  seconds: number;
  /** Counter increases over those seconds, summed over replicas, by metric name. */
  counters: Map<string, CounterIncrease[]>;
}

export interface LiveState {
  /** When the newest sample was taken; null before the first. */
  atMs: number | null;
  /** Replicas that answered in the newest sample, of `replicas`. */
  answered: number;
  replicas: number;
  /** Generation each replica routes on (null: no answer or no table yet). */
  generations: (number | null)[];
  /** Held requests per pool, summed over replicas. */
  queues: Map<string, HeldRequests>;
  /** Gateway in-flight requests per pod address, summed over replicas. */
  inflight: Map<string, number>;
  errors: string[];
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`);
  return `${name}\u0000${pairs.join("\u0000")}`;
}

function parseSeriesKey(key: string): { name: string; labels: Record<string, string> } {
  const [name, ...pairs] = key.split("\u0000");
  const labels: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf("=");
    labels[p.slice(0, i)] = p.slice(i + 1);
  }
  return { name, labels };
}

export class EnvoySampler {
  private readonly samples: Sample[] = [];
  private readonly errors: (string | null)[];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly now: () => number;
  readonly intervalMs: number;
  readonly windowMs: number;

  constructor(private readonly opts: EnvoySamplerOptions) {
    this.now = opts.now ?? Date.now;
    this.intervalMs = opts.intervalMs ?? 2000;
    this.windowMs = opts.windowMs ?? 60_000;
    this.errors = opts.replicas.map(() => null);
  }

  start(): void {
    if (this.timer) return;
    void this.sampleOnce();
    this.timer = setInterval(() => void this.sampleOnce(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes one sample of every replica now (a sample still being taken is awaited instead). */
  sampleOnce(): Promise<void> {
    if (!this.running)
      this.running = this.take().finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async take(): Promise<void> {
    const atMs = this.now();
    const replicas = await Promise.all(this.opts.replicas.map((r, i) => this.read(r, i)));
    this.samples.push({ atMs, replicas });
    // Keep one sample older than the window, so the window is always covered end to end.
    while (this.samples.length > 2 && this.samples[1].atMs <= atMs - this.windowMs) this.samples.shift();
  }

  private async read(r: EnvoyReplica, i: number): Promise<ReplicaSample | null> {
    const timeout = this.opts.timeoutMs ?? 1000;
    try {
      const out: ReplicaSample = {
        generation: null,
        builtAtMs: null,
        queues: new Map(),
        inflight: new Map(),
        counters: new Map(),
      };
      await Promise.all([
        r.control
          ? (async () => {
              const res = await fetch(`${r.control!.replace(/\/+$/, "")}/infergate/v1/table`, {
                headers: { authorization: `Bearer ${this.opts.token}` },
                signal: AbortSignal.timeout(timeout),
              });
              if (!res.ok) throw new Error(`control listener ${r.control}: HTTP ${res.status}`);
              const j = (await res.json()) as {
                generation?: number;
                builtAtMs?: number;
                queues?: Record<string, HeldRequests>;
                inflight?: Record<string, number>;
              };
              out.generation = j.generation ? j.generation : null;
              out.builtAtMs = j.builtAtMs ?? null;
              for (const [pool, q] of Object.entries(j.queues ?? {})) out.queues.set(pool, q);
              for (const [addr, n] of Object.entries(j.inflight ?? {})) out.inflight.set(addr, n);
            })()
          : Promise.resolve(),
        r.admin
          ? (async () => {
              const url = `${r.admin!.replace(/\/+$/, "")}/stats/prometheus?usedonly&filter=${encodeURIComponent(FILTER_COUNTERS)}`;
              const res = await fetch(url, { signal: AbortSignal.timeout(timeout) });
              if (!res.ok) throw new Error(`envoy admin ${r.admin}: HTTP ${res.status}`);
              const samples = parseExposition(await res.text());
              for (const [name, list] of samples)
                for (const s of list) out.counters.set(seriesKey(name, s.labels), s.value);
            })()
          : Promise.resolve(),
      ]);
      if (this.errors[i]) this.opts.logger.info("envoy replica answers again", { replica: i });
      this.errors[i] = null;
      return out;
    } catch (e) {
      const msg = e instanceof MetricsError ? `admin stats: ${e.message}` : (e as Error).message;
      if (this.errors[i] !== msg)
        this.opts.logger.warn("cannot read envoy replica for status", { replica: i, error: msg });
      this.errors[i] = msg;
      return null;
    }
  }

  live(): LiveState {
    const last = this.samples.at(-1);
    const queues = new Map<string, HeldRequests>();
    const inflight = new Map<string, number>();
    let answered = 0;
    for (const r of last?.replicas ?? []) {
      if (!r) continue;
      answered++;
      for (const [pool, q] of r.queues) {
        const s = queues.get(pool) ?? { bytes: 0, critical: 0, standard: 0, sheddable: 0 };
        s.bytes += q.bytes;
        s.critical += q.critical;
        s.standard += q.standard;
        s.sheddable += q.sheddable;
        queues.set(pool, s);
      }
      for (const [a, n] of r.inflight) inflight.set(a, (inflight.get(a) ?? 0) + n);
    }
    return {
      atMs: last?.atMs ?? null,
      answered,
      replicas: this.opts.replicas.length,
      generations: (last?.replicas ?? this.opts.replicas.map(() => null)).map((r) => r?.generation ?? null),
      queues,
      inflight,
      errors: this.errors.flatMap((e, i) => (e ? [`replica ${i}: ${e}`] : [])),
    };
  }

  /** Counter increases over the window (the oldest sample within it, or just before, to the newest). */
  recent(): RecentActivity {
    const n = this.samples.length;
    const counters = new Map<string, CounterIncrease[]>();
    if (n < 2) return { seconds: 0, counters };
    const last = this.samples[n - 1];
    const first = this.samples[0];
    const sums = new Map<string, number>();
    for (let i = 0; i < last.replicas.length; i++) {
      const to = last.replicas[i];
      if (!to) continue;
      // This replica's earliest answer in the window: its increase runs from there.
      const from = this.samples.find((s) => s.replicas[i])?.replicas[i];
      if (!from || from === to) continue;
      for (const [key, v] of to.counters) {
        const before = from.counters.get(key) ?? 0;
        const inc = v >= before ? v - before : v; // went down: that Envoy restarted
        sums.set(key, (sums.get(key) ?? 0) + inc);
      }
    }
    for (const [key, increase] of sums) {
      const { name, labels } = parseSeriesKey(key);
      let list = counters.get(name);
      if (!list) counters.set(name, (list = []));
      list.push({ labels, increase });
    }
    return { seconds: (last.atMs - first.atMs) / 1000, counters };
  }
}
