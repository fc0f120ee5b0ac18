// Shared pieces of the end-to-end tests: requests through the gateway, and what the simulated
// pods saw (their /debug/requests logs), so a test can tell where a request went or that it
// never reached any pod.

import { setTimeout as sleep } from "node:timers/promises";
import { SEED_MODEL } from "../../scripts/lib/local-gateway.js";
import type { Fleet } from "../sim/fleet.js";
import type { RequestRecord } from "../sim/server.js";

export { setTimeout as sleep } from "node:timers/promises";

export { SEED_MODEL };

export interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: any;
  pod: string | null;
}

export async function post(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const r = await fetch(url + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: r.headers, text, json, pod: r.headers.get("x-sim-pod") };
}

export function chat(content: string, extra: Record<string, unknown> = {}) {
  return { model: SEED_MODEL, messages: [{ role: "user", content }], max_tokens: 2, ...extra };
}

export async function podRequests(fleet: Fleet): Promise<Map<string, RequestRecord[]>> {
  const out = new Map<string, RequestRecord[]>();
  await Promise.all(
    fleet.pods.map(async (p) => {
      const r = await fetch(`${p.url}/debug/requests`);
      const j = (await r.json()) as { requests: RequestRecord[] };
      out.set(p.name, j.requests);
    }),
  );
  return out;
}

/** Requests each pod served (completions only: the gateway's own readiness pings count too). */
export async function servedCounts(fleet: Fleet): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const [pod, reqs] of await podRequests(fleet)) m.set(pod, reqs.filter((r) => r.path.startsWith("/v1/")).length);
  return m;
}

/** The value of one sample (`name{labels} value`, labels as Envoy prints them) in Prometheus text, as a number (NaN when absent). */
export function promSample(text: string, name: string, labels: string): number {
  const m = new RegExp(`^${name}\\{${labels.replaceAll("/", "\\/")}\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Envoy's admin /stats/prometheus, the filter's metrics included. */
export async function envoyPrometheus(adminUrl: string): Promise<string> {
  return (await fetch(`${adminUrl}/stats/prometheus`)).text();
}

export async function clearPodLogs(fleet: Fleet): Promise<void> {
  await Promise.all(fleet.pods.map((p) => fetch(`${p.url}/debug/requests`, { method: "DELETE" })));
}

export async function setFaults(url: string, faults: Record<string, unknown> | null): Promise<void> {
  const r = await fetch(
    `${url}/admin/faults`,
    faults === null
      ? { method: "DELETE" }
      : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(faults) },
  );
  if (r.status >= 300) throw new Error(`faults ${r.status}: ${await r.text()}`);
}

/** Retries until fn returns true or the time runs out; returns how long it took (ms). */
export async function eventually(fn: () => Promise<boolean>, timeoutMs: number, stepMs = 50): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await fn()) return Date.now() - t0;
    await sleep(stepMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T, R>(items: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}
