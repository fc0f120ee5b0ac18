// Drains the Envoy next to this sidecar before the Pod stops (the chart's preStop hook; tests call
// drainEnvoy() against a real local Envoy). Through Envoy's admin interface (loopback):
//   1. POST /healthcheck/fail: Envoy's readiness path answers 503, so load balancers stop picking it;
//   2. wait `propagationMs` still serving new requests (endpoint removal takes a moment to reach
//      every kube-proxy / load balancer);
//   3. POST /drain_listeners?graceful: keep-alive clients get "connection: close" (HTTP/2: GOAWAY)
//      over Envoy's --drain-time-s, then the listeners stop accepting;
//   4. wait until no request is in flight on the public listener (downstream_rq_active), at most
//      until the deadline; streams in progress finish;
//   5. write `doneFile` (Envoy's own preStop waits for it, so Envoy gets SIGTERM only now).
// Run: node build/js/controlplane/envoy-drain.js --admin http://127.0.0.1:9901 [--propagation 5s]
//        [--max-wait 120s] [--stat-prefix infergate] [--done-file PATH]

import { writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { parseDurationMs } from "./model/duration.js";

export interface DrainOptions {
  admin: string;
  propagationMs?: number;
  /** Longest wait for in-flight requests after the drain started. */
  maxWaitMs?: number;
  /** The public listener's HTTP stat prefix (envoy/bootstrap.yaml: infergate). */
  statPrefix?: string;
  doneFile?: string;
  pollMs?: number;
  log?: (msg: string) => void;
}

export interface DrainResult {
  /** Requests still in flight when the drain gave up (0: all finished). */
  leftInFlight: number;
  waitedMs: number;
}

async function admin(url: string, method: "GET" | "POST"): Promise<string> {
  const r = await fetch(url, { method, signal: AbortSignal.timeout(2000) });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`${method} ${url}: HTTP ${r.status} ${text.slice(0, 200)}`);
  return text;
}

/** Requests in flight on the listener whose HTTP stat prefix is `prefix`. */
export async function inFlight(adminUrl: string, prefix: string): Promise<number> {
  const name = `http.${prefix}.downstream_rq_active`;
  const text = await admin(`${adminUrl}/stats?filter=${encodeURIComponent(`^${name.replace(/\./g, "\\.")}$`)}`, "GET");
  const m = new RegExp(`^${name.replace(/\./g, "\\.")}: (\\d+)$`, "m").exec(text);
  if (!m) throw new Error(`no stat ${name} in Envoy's admin /stats`);
  return Number(m[1]);
}

export async function drainEnvoy(opts: DrainOptions): Promise<DrainResult> {
  const base = opts.admin.replace(/\/+$/, "");
  const log = opts.log ?? (() => {});
  const prefix = opts.statPrefix ?? "infergate";
  try {
    await admin(`${base}/healthcheck/fail`, "POST");
    log("health check failing: load balancers stop sending new requests");
    if ((opts.propagationMs ?? 0) > 0) await sleep(opts.propagationMs);
    await admin(`${base}/drain_listeners?graceful`, "POST");
    log("listeners draining: keep-alive clients are told to reconnect elsewhere");
    const t0 = Date.now();
    const deadline = t0 + (opts.maxWaitMs ?? 120_000);
    let left = await inFlight(base, prefix);
    while (left > 0 && Date.now() < deadline) {
      await sleep(opts.pollMs ?? 200);
      left = await inFlight(base, prefix);
    }
    log(left === 0 ? "no request in flight" : `gave up waiting with ${left} request(s) in flight`);
    return { leftInFlight: left, waitedMs: Date.now() - t0 };
  } finally {
    if (opts.doneFile) writeFileSync(opts.doneFile, `${new Date().toISOString()}\n`);
  }
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      admin: { type: "string" },
      propagation: { type: "string" },
      "max-wait": { type: "string" },
      "stat-prefix": { type: "string" },
      "done-file": { type: "string" },
    },
  });
  if (!values.admin) {
    process.stderr.write("envoy-drain: --admin http://127.0.0.1:PORT is required\n");
    return 2;
  }
  const log = (msg: string) => process.stderr.write(`envoy-drain: ${msg}\n`);
  try {
    const r = await drainEnvoy({
      admin: values.admin,
      propagationMs: values.propagation ? parseDurationMs(values.propagation) : 5000,
      maxWaitMs: values["max-wait"] ? parseDurationMs(values["max-wait"]) : 120_000,
      statPrefix: values["stat-prefix"],
      doneFile: values["done-file"],
      log,
    });
    return r.leftInFlight === 0 ? 0 : 1;
  } catch (e) {
    log((e as Error).message);
    return 1;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href)
  void main(process.argv.slice(2)).then((c) => process.exit(c));
