// Polls every endpoint's /metrics on a fixed interval (default 100 ms) and keeps the last load per
// endpoint address. Why each knob exists:
//  - per-scrape timeout: a hung pod must not hold a slot; a scrape still in flight skips ticks instead
//    of piling up requests on a struggling server;
//  - bounded concurrency: 500 pods must not mean 500 simultaneous sockets every 100 ms;
//  - keep-alive agent: a new TCP connection per scrape per pod ten times a second is pure overhead;
//  - N consecutive failures (default 3) mark the endpoint unhealthy (not ready in the table) until a
//    scrape succeeds again: one dropped scrape should not eject a pod, a dead one must go;
//  - the time of the last success is kept so the table reports scrapeAgeMs and a stale load is
//    visible as stale, never passed off as fresh.
//  - changes are reported once per round (when its last scrape finished), not once per endpoint:
//    each report becomes a table push, which the filter validates and every Envoy worker decodes
//    again, so per-endpoint reports meant up to one push per pod per interval under load. A round
//    held open by a slow target reports at the next tick: at most one interval late.

import { Agent, request } from "node:http";
import type { Logger } from "../log.js";
import type { Runtime } from "../table/schema.js";
import { SCRAPERS } from "./index.js";
import { MetricsError, parseExposition } from "./prometheus-text.js";
import type { LoadSample } from "./types.js";

export interface ScrapeTarget {
  /** "IP:port" (IPv6 bracketed), the same string the table carries. */
  address: string;
  runtime: Runtime;
}

export type ScrapeFailure = "timeout" | "connect" | "http_status" | "parse" | "too_large";

export interface ScrapeState {
  address: string;
  runtime: Runtime;
  /** Epoch ms of the last successful scrape, null if none yet. */
  lastSuccessAtMs: number | null;
  /** Load from the last successful scrape (kept while later scrapes fail; its age says how old). */
  load: LoadSample | null;
  consecutiveFailures: number;
  /** False after `failureThreshold` failures in a row, true again on the next success. */
  healthy: boolean;
  lastError: string | null;
  lastDurationMs: number | null;
}

export interface ScrapeObserver {
  scraped(runtime: Runtime, seconds: number, failure: ScrapeFailure | null): void;
}

export interface ScrapeLoopOptions {
  intervalMs?: number;
  timeoutMs?: number;
  concurrency?: number;
  failureThreshold?: number;
  metricsPath?: string;
  maxBodyBytes?: number;
  logger: Logger;
  observer?: ScrapeObserver;
  /** Called once per round with the endpoints whose load or health its scrapes changed (and after scrapeAll). */
  onUpdate?: (addresses: string[]) => void;
  now?: () => number;
}

class ScrapeFailed extends Error {
  constructor(
    readonly kind: ScrapeFailure,
    message: string,
  ) {
    super(message);
  }
}

interface Entry {
  state: ScrapeState;
  inFlight: boolean;
  /** The round (tick) that last queued it. */
  round: number;
}

export class ScrapeLoop {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly failureThreshold: number;
  private readonly entries = new Map<string, Entry>();
  private readonly agent: Agent;
  private timer: NodeJS.Timeout | null = null;
  private active = 0;
  private readonly queue: Entry[] = [];
  private readonly now: () => number;
  /** Rounds started (ticks), and the current round's scrapes not finished yet. */
  private round = 0;
  private roundPending = 0;
  /** Endpoints changed since the last report. */
  private readonly changed = new Set<string>();

  constructor(private readonly opts: ScrapeLoopOptions) {
    this.intervalMs = opts.intervalMs ?? 100;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.concurrency = Math.max(1, opts.concurrency ?? 32);
    this.failureThreshold = Math.max(1, opts.failureThreshold ?? 3);
    this.now = opts.now ?? Date.now;
    // One scrape per target at a time, so one socket per host is enough to keep alive.
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 });
  }

  /** Replaces the target set; state is kept for addresses that stay (and reset if their runtime changed). */
  setTargets(targets: ScrapeTarget[]): void {
    const want = new Map(targets.map((t) => [t.address, t]));
    for (const addr of this.entries.keys()) if (!want.has(addr)) this.entries.delete(addr);
    for (const t of want.values()) {
      const e = this.entries.get(t.address);
      if (e && e.state.runtime === t.runtime) continue;
      this.entries.set(t.address, {
        inFlight: false,
        round: 0,
        state: {
          address: t.address,
          runtime: t.runtime,
          lastSuccessAtMs: null,
          load: null,
          consecutiveFailures: 0,
          healthy: true,
          lastError: null,
          lastDurationMs: null,
        },
      });
    }
  }

  state(address: string): ScrapeState | undefined {
    return this.entries.get(address)?.state;
  }

  states(): ScrapeState[] {
    return [...this.entries.values()].map((e) => e.state);
  }

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.agent.destroy();
  }

  /** Scrapes every target once and resolves when all are done (tests, startup). */
  async scrapeAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => (e.inFlight ? Promise.resolve() : this.scrape(e))));
    this.report();
  }

  private tick(): void {
    // What a round held open by a slow target (still in flight, up to the timeout) has not reported yet.
    this.report();
    this.round++;
    this.roundPending = 0;
    for (const e of this.entries.values()) {
      if (e.inFlight) continue; // still scraping (or queued) from an earlier tick
      e.inFlight = true;
      e.round = this.round;
      this.roundPending++;
      this.queue.push(e);
    }
    this.pump();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.queue.length > 0) {
      const e = this.queue.shift()!;
      this.active++;
      void this.scrape(e).finally(() => {
        this.active--;
        if (e.round === this.round && --this.roundPending === 0) this.report();
        this.pump();
      });
    }
  }

  private report(): void {
    if (this.changed.size === 0) return;
    const addresses = [...this.changed];
    this.changed.clear();
    this.opts.onUpdate?.(addresses);
  }

  private async scrape(e: Entry): Promise<void> {
    e.inFlight = true;
    const started = performance.now();
    const { address, runtime } = e.state;
    let failure: ScrapeFailure | null = null;
    let load: LoadSample | null = null;
    let error: string | null = null;
    try {
      const body = await this.fetchMetrics(address);
      try {
        load = SCRAPERS[runtime].extract(parseExposition(body));
      } catch (err) {
        if (err instanceof MetricsError) throw new ScrapeFailed("parse", `${runtime} metrics: ${err.message}`);
        throw err;
      }
    } catch (err) {
      failure = err instanceof ScrapeFailed ? err.kind : "connect";
      error = (err as Error).message;
    } finally {
      e.inFlight = false;
    }
    const seconds = (performance.now() - started) / 1000;
    this.opts.observer?.scraped(runtime, seconds, failure);
    if (this.entries.get(address) !== e) return; // target removed or replaced meanwhile
    const s = e.state;
    s.lastDurationMs = seconds * 1000;
    let changed = false;
    if (load) {
      changed = !s.healthy || !sameLoad(s.load, load) || s.lastSuccessAtMs === null;
      if (!s.healthy) this.opts.logger.info("endpoint metrics recovered", { address, runtime });
      s.load = load;
      s.lastSuccessAtMs = this.now();
      s.consecutiveFailures = 0;
      s.healthy = true;
      s.lastError = null;
    } else {
      s.consecutiveFailures++;
      s.lastError = error;
      if (s.healthy && s.consecutiveFailures >= this.failureThreshold) {
        s.healthy = false;
        changed = true;
        this.opts.logger.warn("endpoint marked not ready: metrics scrapes keep failing", {
          address,
          runtime,
          failures: s.consecutiveFailures,
          error,
        });
      }
    }
    if (changed) this.changed.add(address);
  }

  private fetchMetrics(address: string): Promise<string> {
    const maxBytes = this.opts.maxBodyBytes ?? 8 * 1024 * 1024;
    const path = this.opts.metricsPath ?? "/metrics";
    return new Promise((resolve, reject) => {
      const url = `http://${address}${path}`;
      const req = request(
        url,
        {
          method: "GET",
          agent: this.agent,
          // Ask for the classic text format: some servers answer OpenMetrics otherwise.
          headers: { accept: "text/plain; version=0.0.4" },
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            reject(new ScrapeFailed("http_status", `GET ${url}: HTTP ${res.statusCode}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > maxBytes) {
              req.destroy();
              reject(new ScrapeFailed("too_large", `GET ${url}: body larger than ${maxBytes} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
          res.on("error", (err) => reject(classify(url, err, this.timeoutMs)));
        },
      );
      req.on("error", (err) => reject(classify(url, err, this.timeoutMs)));
      req.end();
    });
  }
}

function classify(url: string, err: Error, timeoutMs: number): ScrapeFailed {
  if (err.name === "AbortError" || err.name === "TimeoutError" || (err as NodeJS.ErrnoException).code === "ABORT_ERR") {
    return new ScrapeFailed("timeout", `GET ${url}: no answer within ${timeoutMs} ms`);
  }
  return new ScrapeFailed("connect", `GET ${url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`);
}

function sameLoad(a: LoadSample | null, b: LoadSample): boolean {
  return (
    !!a &&
    a.waiting === b.waiting &&
    a.running === b.running &&
    a.kvUsage === b.kvUsage &&
    a.loras.join(",") === b.loras.join(",")
  );
}
