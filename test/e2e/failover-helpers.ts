// Load and fault tools for the failover tests: bounded streaming/non-streaming load through the
// gateway with a per-request outcome (failed before the first byte, cut mid-stream, or complete),
// signals to pod processes, and what the table and Envoy say about a pod.

import { readFileSync } from "node:fs";
import type { LocalGateway } from "../../scripts/lib/local-gateway.js";
import type { FleetPod } from "../sim/fleet.js";
import { chat, podRequests, sleep } from "./helpers.js";

export interface Outcome {
  status: number;
  /** No response byte reached the client (status != 200 counts here too). */
  failedBeforeFirstByte: boolean;
  /** 200 and bytes arrived, but the stream ended without [DONE]. */
  cutMidStream: boolean;
  complete: boolean;
  pod: string | null;
  /** The error body, or the SSE tail, for messages. */
  detail: string;
  retryAfter: string | null;
  /** Epoch ms when the request was sent. */
  startedAt: number;
  /** ms until the response headers arrived (-1: they never did). */
  headersMs: number;
  ms: number;
}

/** One request; streams are read to the end (bounded by `timeoutMs`). */
export async function request(url: string, stream: boolean, content: string, timeoutMs = 20_000): Promise<Outcome> {
  const t0 = Date.now();
  const base = { status: 0, pod: null, retryAfter: null, startedAt: t0, headersMs: -1 } as const;
  let res: Response;
  try {
    res = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat(content, { max_tokens: stream ? 8 : 2, stream })),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (e) {
    return {
      ...base,
      failedBeforeFirstByte: true,
      cutMidStream: false,
      complete: false,
      detail: (e as Error).message,
      ms: Date.now() - t0,
    };
  }
  const headersMs = Date.now() - t0;
  const pod = res.headers.get("x-sim-pod");
  const retryAfter = res.headers.get("retry-after");
  let text = "";
  let readError = "";
  try {
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
  } catch (e) {
    readError = (e as Error).message;
  }
  const ms = Date.now() - t0;
  if (res.status !== 200)
    return {
      status: res.status,
      failedBeforeFirstByte: true,
      cutMidStream: false,
      complete: false,
      pod,
      detail: text.slice(0, 400),
      retryAfter,
      startedAt: t0,
      headersMs,
      ms,
    };
  const complete = stream ? text.includes("data: [DONE]") : !readError && text.includes('"choices"');
  return {
    status: 200,
    failedBeforeFirstByte: false,
    cutMidStream: !complete,
    complete,
    pod,
    detail: (readError ? `${readError}: ` : "") + text.slice(-300),
    retryAfter,
    startedAt: t0,
    headersMs,
    ms,
  };
}

export interface LoadRun {
  outcomes: Outcome[];
  stop(): Promise<Outcome[]>;
}

/** Keeps `concurrency` requests in flight until stop() (or `maxRequests`, a hard bound). */
export function startLoad(
  url: string,
  opts: { concurrency: number; stream: boolean; maxRequests?: number; label?: string },
): LoadRun {
  const outcomes: Outcome[] = [];
  let stopped = false;
  let n = 0;
  const max = opts.maxRequests ?? 5000;
  const workers = Array.from({ length: opts.concurrency }, async (_, w) => {
    while (!stopped && n < max) {
      const i = n++;
      outcomes.push(await request(url, opts.stream, `${opts.label ?? "load"} ${w} ${i}`));
    }
  });
  return {
    outcomes,
    async stop() {
      stopped = true;
      await Promise.all(workers);
      return outcomes;
    },
  };
}

/** Requests sent at or after `t` (ms epoch). */
export function sentAfter(o: Outcome[], t: number): Outcome[] {
  return o.filter((x) => x.startedAt >= t);
}

export function summary(o: Outcome[]): string {
  const by = new Map<string, number>();
  for (const x of o) {
    const k = x.complete ? "ok" : x.cutMidStream ? "cut" : `failed ${x.status}`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  const firstFail = o.find((x) => !x.complete);
  return `${o.length} requests: ${JSON.stringify(Object.fromEntries(by))}${firstFail ? `; e.g. ${firstFail.status} ${firstFail.detail.slice(0, 200)}` : ""}`;
}

export function signal(pod: FleetPod, sig: NodeJS.Signals): void {
  process.kill(pod.pid, sig);
}

/**
 * SIGKILL, then waits until the process is gone (no /proc entry, or a zombie: every thread has
 * exited and its sockets are closed). kill(2) returns once the signal is queued; on a loaded
 * machine the pod has been seen answering a request sent right after it.
 */
export async function kill(pod: FleetPod, timeoutMs = 5000): Promise<void> {
  process.kill(pod.pid, "SIGKILL");
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    let state = "";
    try {
      const stat = readFileSync(`/proc/${pod.pid}/stat`, "utf8");
      state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    } catch {
      return; // reaped
    }
    if (state === "Z" || state === "X") return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`${pod.name} (pid ${pod.pid}) still running ${timeoutMs} ms after SIGKILL`);
}

/** The table's view of one pod: ready, and what Envoy makes of it. */
export function tableEndpoint(gw: LocalGateway, podName: string) {
  const t = gw.controlPlane?.lastTable();
  for (const p of t?.pools ?? []) {
    const e = p.endpoints.find((x) => x.name === podName);
    if (e) return e;
  }
  return undefined;
}

/** Waits until `pred` holds for the table's entry of `podName` and Envoy holds that table (every push
 *  target accepted its generation: the built table reaches the filter a push later, and a request
 *  sent in between is still routed by the one before), plus the millisecond a worker may take to look;
 *  returns the ms it took. */
export async function waitForEndpoint(
  gw: LocalGateway,
  podName: string,
  pred: (e: NonNullable<ReturnType<typeof tableEndpoint>>) => boolean,
  timeoutMs: number,
): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const e = tableEndpoint(gw, podName);
    if (e && pred(e)) {
      const generation = gw.controlPlane?.lastTable()?.generation ?? 0;
      const held = gw.controlPlane?.pusher
        .targets()
        .every((t) => t.lastAcceptedGeneration !== null && t.lastAcceptedGeneration >= generation);
      if (held ?? true) {
        // A worker looks at the shared generation at most once per millisecond (table-store.ts).
        await sleep(5);
        return Date.now() - t0;
      }
    }
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`${podName} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(e)}`);
    await sleep(10);
  }
}

/** Whether the filter writes fallbacks ("primary,fallback,...") into x-gateway-destination-endpoint:
 *  the pods record the header of every request they served. */
export async function filterWritesFallbacks(gw: LocalGateway): Promise<boolean> {
  for (let i = 0; i < 3; i++) await request(gw.url, false, `probe fallbacks ${i}`);
  for (const reqs of (await podRequests(gw.fleet)).values())
    for (const r of reqs) if ((r.headers["x-gateway-destination-endpoint"] ?? "").includes(",")) return true;
  return false;
}

export const NEEDS_FILTER_FALLBACKS =
  "needs the filter side of issue 12: x-gateway-destination-endpoint as primary,fallback1,fallback2 plus x-infergate-pool (today the filter writes one host, so a retry finds no next host)";

/** Envoy's per-host counters for the pods cluster (admin /clusters text). */
export async function hostStats(adminUrl: string, address: string): Promise<Record<string, string>> {
  const text = await (await fetch(`${adminUrl}/clusters`)).text();
  const out: Record<string, string> = {};
  const prefix = `infergate_pods::${address}::`;
  for (const line of text.split("\n"))
    if (line.startsWith(prefix)) {
      const [k, v] = line.slice(prefix.length).split("::");
      out[k!] = v ?? "";
    }
  return out;
}
