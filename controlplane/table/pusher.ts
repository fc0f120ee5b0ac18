// Pushes the table into every Envoy: POST <target>/infergate/v1/table, `Authorization: Bearer <token>`,
// JSON body. The filter answers 204 (stored), 400 (malformed: it says why and keeps its last good
// table), 401 (wrong token), 409 (generation not newer than the one it holds).
//
// Why it behaves as it does:
//  - one request in flight per target, latest table wins: pushes coalesce instead of queueing;
//  - a heartbeat publishes a freshly built table at least every `heartbeatMs` (1 s): the filter's
//    staleness bound keeps moving, and an Envoy that restarted (and so holds no table) gets one within
//    a second without any restart detection;
//  - network errors and 5xx retry with exponential backoff; 400 and 401 wait for the next table or
//    heartbeat (retrying the same bytes cannot help) and are logged at error level;
//  - 409: the filter holds a newer generation (e.g. from a control plane that ran before this one with
//    a clock ahead of ours); the clock moves past the generation the filter reports and a rebuilt
//    table is pushed at once.
//  - targets must be loopback: the sidecar shares the pod with Envoy and the token travels in clear.

import { Agent, request } from "node:http";
import { isIP } from "node:net";
import type { Logger } from "../log.js";
import type { GenerationClock } from "./generation.js";
import type { Table } from "./schema.js";

export const TABLE_PATH = "/infergate/v1/table";

export interface PushTargetState {
  url: string;
  lastAcceptedGeneration: number | null;
  lastAcceptedAtMs: number | null;
  lastAttemptAtMs: number | null;
  /** HTTP status of the last answer, or null after a network error. */
  lastStatus: number | null;
  lastError: string | null;
  /** Milliseconds of the last push that got an answer. */
  lastLatencyMs: number | null;
  consecutiveFailures: number;
  accepted: number;
  failed: number;
}

export interface PushObserver {
  /** `outcome`: "accepted", an HTTP status as text, or "network". */
  pushed(target: string, seconds: number, outcome: string, generation: number): void;
}

export interface TablePusherOptions {
  /** Envoy control listeners: "http://127.0.0.1:PORT" (the table path is appended) or a full URL. */
  targets: string[];
  token: string;
  /** Builds a fresh table with a new generation (heartbeats and 409 recovery). */
  rebuild: () => Table;
  clock: GenerationClock;
  logger: Logger;
  observer?: PushObserver;
  heartbeatMs?: number;
  timeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
}

interface Target {
  state: PushTargetState;
  inFlight: boolean;
  retryTimer: NodeJS.Timeout | null;
  lastLoggedProblem: string | null;
}

/** Normalises a target to the table URL; throws with a reason for non-http or non-loopback targets. */
export function tableUrl(target: string): string {
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    throw new Error(`envoy control target ${JSON.stringify(target)} is not a URL (expected http://127.0.0.1:PORT)`);
  }
  if (u.protocol !== "http:")
    throw new Error(
      `envoy control target ${target}: only http:// is supported (the listener is loopback-only plain HTTP)`,
    );
  const host = u.hostname.replace(/^\[|\]$/g, "");
  const loopback = host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
  if (!loopback)
    throw new Error(`envoy control target ${target}: must be a loopback address (the bearer token travels in clear)`);
  if (u.pathname === "/" || u.pathname === "") u.pathname = TABLE_PATH;
  return u.toString();
}

/** Pulls the filter's current generation out of a 409 body, when it says it. */
export function generationFrom409(body: string): number | null {
  try {
    const j = JSON.parse(body) as Record<string, unknown>;
    const scopes = [j, (j.error ?? {}) as Record<string, unknown>];
    for (const s of scopes) {
      for (const k of ["current", "currentGeneration", "current_generation", "generation"]) {
        const v = s[k];
        if (typeof v === "number" && Number.isSafeInteger(v)) return v;
      }
    }
  } catch {
    // not JSON: fall through to text
  }
  let best: number | null = null;
  for (const m of body.matchAll(/generation\D{0,40}?(\d{1,16})/gi)) {
    const n = Number(m[1]);
    if (Number.isSafeInteger(n) && (best === null || n > best)) best = n;
  }
  return best;
}

export class TablePusher {
  private readonly targetList: Target[];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private latest: Table | null = null;
  private latestBody = "";
  private lastPublishAtMs = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly heartbeatMs: number;

  constructor(private readonly opts: TablePusherOptions) {
    this.now = opts.now ?? Date.now;
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.targetList = opts.targets.map((t) => ({
      state: {
        url: tableUrl(t),
        lastAcceptedGeneration: null,
        lastAcceptedAtMs: null,
        lastAttemptAtMs: null,
        lastStatus: null,
        lastError: null,
        lastLatencyMs: null,
        consecutiveFailures: 0,
        accepted: 0,
        failed: 0,
      },
      inFlight: false,
      retryTimer: null,
      lastLoggedProblem: null,
    }));
  }

  targets(): PushTargetState[] {
    return this.targetList.map((t) => ({ ...t.state }));
  }

  /** True once any target accepted a table (readiness). */
  anyAccepted(): boolean {
    return this.targetList.some((t) => t.state.lastAcceptedGeneration !== null);
  }

  latestTable(): Table | null {
    return this.latest;
  }

  start(): void {
    if (this.heartbeat || this.stopped) return;
    const tick = Math.max(20, Math.min(250, Math.floor(this.heartbeatMs / 4)));
    this.heartbeat = setInterval(() => {
      if (this.now() - this.lastPublishAtMs >= this.heartbeatMs) this.publish(this.opts.rebuild());
    }, tick);
  }

  stop(): void {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    for (const t of this.targetList) if (t.retryTimer) clearTimeout(t.retryTimer);
    this.agent.destroy();
  }

  /** Offers a table to every target; an older generation than the latest is ignored. */
  publish(table: Table): void {
    if (this.stopped) return;
    if (!this.latest || table.generation > this.latest.generation) {
      this.latest = table;
      this.latestBody = JSON.stringify(table);
    }
    this.lastPublishAtMs = this.now();
    for (const t of this.targetList) this.kick(t);
  }

  private kick(t: Target): void {
    if (this.stopped || t.inFlight || t.retryTimer || !this.latest) return;
    if (t.state.lastAcceptedGeneration !== null && t.state.lastAcceptedGeneration >= this.latest.generation) return;
    void this.send(t, this.latest, this.latestBody);
  }

  private retryLater(t: Target, delayMs: number, rebuild = false): void {
    if (this.stopped) return;
    t.retryTimer = setTimeout(() => {
      t.retryTimer = null;
      if (rebuild) this.publish(this.opts.rebuild());
      else this.kick(t);
    }, delayMs);
  }

  private backoff(failures: number): number {
    const initial = this.opts.backoffInitialMs ?? 50;
    const max = this.opts.backoffMaxMs ?? 2000;
    return Math.min(max, initial * 2 ** Math.max(0, failures - 1));
  }

  private async send(t: Target, table: Table, body: string): Promise<void> {
    t.inFlight = true;
    t.state.lastAttemptAtMs = this.now();
    const started = performance.now();
    let status: number | null = null;
    let text = "";
    let netError: string | null = null;
    try {
      ({ status, text } = await this.post(t.state.url, body));
    } catch (e) {
      netError = (e as Error).message;
    }
    t.inFlight = false;
    const seconds = (performance.now() - started) / 1000;
    this.opts.observer?.pushed(
      t.state.url,
      seconds,
      status === 204 || status === 200 ? "accepted" : status === null ? "network" : String(status),
      table.generation,
    );
    if (this.stopped) return;
    const s = t.state;
    s.lastStatus = status;
    if (status !== null) s.lastLatencyMs = seconds * 1000;

    if (status === 204 || status === 200) {
      if (s.consecutiveFailures > 0 || t.lastLoggedProblem)
        this.opts.logger.info("envoy accepts the table again", { target: s.url, generation: table.generation });
      s.lastAcceptedGeneration = Math.max(s.lastAcceptedGeneration ?? 0, table.generation);
      s.lastAcceptedAtMs = this.now();
      s.lastError = null;
      s.consecutiveFailures = 0;
      s.accepted++;
      t.lastLoggedProblem = null;
      this.kick(t); // a newer table may have been published meanwhile
      return;
    }

    s.failed++;
    s.consecutiveFailures++;
    const reason = text.trim().slice(0, 500);
    if (status === 409) {
      const theirs = generationFrom409(text);
      if (theirs !== null) this.opts.clock.observe(theirs);
      s.lastError = `409 stale generation ${table.generation}${theirs !== null ? ` (filter holds ${theirs})` : ""}`;
      this.note(t, "warn", "envoy refused a stale table generation; re-pushing with a newer one", {
        target: s.url,
        generation: table.generation,
        filterGeneration: theirs,
        reason,
      });
      // First 409: rebuild and push at once. Repeated 409s back off so two writers cannot spin.
      this.retryLater(t, s.consecutiveFailures <= 1 ? 0 : this.backoff(s.consecutiveFailures), true);
      return;
    }
    if (status === 401) {
      s.lastError = "401 unauthorized: the bearer token does not match the filter's";
      this.note(
        t,
        "error",
        "ENVOY REJECTED THE CONTROL-PLANE TOKEN (401): the table is NOT being delivered; check --token/--token-file against the filter's plugin configuration",
        { target: s.url, reason },
        true,
      );
      return; // the next heartbeat tries again
    }
    if (status === 400) {
      s.lastError = `400 table refused: ${reason || "(no reason given)"}`;
      this.note(t, "error", "envoy refused the table as malformed (400); it keeps its last good table", {
        target: s.url,
        generation: table.generation,
        reason,
      });
      return; // the next table or heartbeat tries again
    }
    s.lastError = netError ?? `HTTP ${status}: ${reason}`;
    this.note(t, "warn", "table push failed; retrying with backoff", {
      target: s.url,
      error: s.lastError,
      failures: s.consecutiveFailures,
    });
    this.retryLater(t, this.backoff(s.consecutiveFailures));
  }

  /** Logs a push problem once per distinct problem (and every 10th repeat when `loud`). */
  private note(t: Target, level: "warn" | "error", msg: string, fields: Record<string, unknown>, loud = false): void {
    const key = `${level}:${msg}:${fields.reason ?? fields.error ?? ""}`;
    if (key !== t.lastLoggedProblem || (loud && t.state.consecutiveFailures % 10 === 0)) {
      this.opts.logger[level](msg, { ...fields, failures: t.state.consecutiveFailures });
      t.lastLoggedProblem = key;
    }
  }

  private post(url: string, body: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method: "POST",
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.opts.token}`,
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
          },
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => {
            if (chunks.length < 64) chunks.push(c);
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) =>
        reject(
          new Error(
            e.name === "AbortError" || e.name === "TimeoutError"
              ? `no answer within ${this.opts.timeoutMs ?? 2000} ms`
              : (e.code ?? e.message),
          ),
        ),
      );
      req.end(body);
    });
  }
}
