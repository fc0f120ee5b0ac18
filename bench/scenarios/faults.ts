// Fault scenario (issue 12): steady streaming load while, in turn, a pod is killed (SIGKILL), the
// killed pod is restarted, a pod hangs (SIGSTOP, SIGCONT 5 s later), the control plane restarts,
// and a pod fails every request fast (HTTP 500) while its /health and /metrics stay fine. The same
// timeline, on a fresh simulated fleet each, against:
//   - infergate (DEFAULT): fallbacks in x-gateway-destination-endpoint, Envoy's retries, outlier
//     detection and active health checks (envoy/bootstrap.yaml);
//   - plain Envoy round-robin (envoy/plain-envoy.yaml) given the same Envoy machinery: the same
//     retry policy (connect failure, reset, 500/502/503/504, 2 retries on other hosts), the same
//     outlier detection and /health checks, a 10 s per-try timeout (infergate's first-byte default);
//   - smg (PyPI `smg`, the SGLang Model Gateway), cache_aware as the other scenarios run it, with its
//     default retries and circuit breaker.
// Per fault window: requests lost before their first byte, streams cut mid-way, p99 time to first
// token. Writes faults.json and faults-*.svg into the run's directory. Loopback only, bounded.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { setFaults } from "../../test/e2e/helpers.js";
import { type Fleet, type FleetPod, startFleet } from "../../test/sim/fleet.js";
import { infergateVersion } from "../contenders/infergate.js";
import { startStaticEnvoy } from "../contenders/plain-envoy.js";
import { smgCacheAware } from "../contenders/routers.js";
import { envoyVersion } from "../contenders/util.js";
import { percentile, progress, round, sleep } from "../lib/common.js";
import { barChart } from "../report/svg.js";
import { SEED_MODEL } from "../workloads.js";

export interface FaultsConfig {
  quick: boolean;
  /** Where the pictures go (the run's results directory). */
  outDir: string;
  pods?: number;
  concurrency?: number;
}

/** What the scenario needs from a gateway: its URL and, if it has one, a control plane to restart. */
interface FaultTarget {
  id: string;
  label: string;
  /** For picture legends. */
  short: string;
  unavailable(): string | null;
  start(fleet: Fleet): Promise<{
    url: string;
    version: string;
    flags: string[];
    restartControlPlane?: (downMs: number) => Promise<void>;
    stop(): Promise<void>;
  }>;
}

/** Streams of ~16 tokens 15 ms apart (a quarter of a second), 4 pods. */
const POD_ARGS = [
  "--prefill-overhead-ms",
  "2",
  "--prefill-time-per-token-ms",
  "0.01",
  "--inter-token-latency-ms",
  "15",
];
const MAX_TOKENS = 16;

const infergateTarget: FaultTarget = {
  id: "infergate-default",
  label: "infergate DEFAULT",
  short: "infergate",
  unavailable: () => null,
  async start(fleet) {
    const gw = await startLocalGateway({ existingFleet: fleet, envoy: { concurrency: 2 } });
    return {
      url: gw.url,
      version: infergateVersion(),
      flags: [
        "envoy --concurrency 2",
        "envoy/bootstrap.yaml: override_host + retries + outlier detection + /health checks",
      ],
      async restartControlPlane(downMs) {
        await gw.stopControlPlane();
        await sleep(downMs);
        await gw.startControlPlane();
      },
      stop: () => gw.stop(),
    };
  },
};

/** envoy/plain-envoy.yaml (round robin) plus the Envoy machinery infergate's bootstrap configures. */
export function resilientPlainEnvoyConfig(pods: FleetPod[]): string {
  const template = readFileSync(join(REPO_ROOT, "envoy/plain-envoy.yaml"), "utf8")
    .replace("{{INSTANCE}}", "faults")
    .replace("{{LB_POLICY}}", "ROUND_ROBIN")
    .replace("{{ENDPOINTS}}", "[]");
  const cfg = YAML.parse(template);
  const route =
    cfg.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0]
      .route;
  route.retry_policy = {
    retry_on: "connect-failure,refused-stream,reset,retriable-status-codes",
    retriable_status_codes: [500, 502, 503, 504],
    num_retries: 2,
    per_try_timeout: "10s",
    retry_host_predicate: [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        typed_config: {
          "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
        },
      },
    ],
    host_selection_retry_max_attempts: 5,
    retry_back_off: { base_interval: "0.01s", max_interval: "0.1s" },
  };
  const cluster = cfg.static_resources.clusters[0];
  cluster.load_assignment.endpoints[0].lb_endpoints = pods.map((p) => ({
    endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: p.port } } },
  }));
  cluster.outlier_detection = {
    split_external_local_origin_errors: true,
    consecutive_local_origin_failure: 1,
    enforcing_consecutive_local_origin_failure: 100,
    consecutive_5xx: 3,
    enforcing_consecutive_5xx: 100,
    consecutive_gateway_failure: 3,
    enforcing_consecutive_gateway_failure: 100,
    enforcing_success_rate: 0,
    enforcing_local_origin_success_rate: 0,
    interval: "1s",
    base_ejection_time: "2s",
    max_ejection_time: "30s",
    max_ejection_percent: 50,
    successful_active_health_check_uneject_host: false,
  };
  cluster.health_checks = [
    {
      timeout: "1s",
      interval: "1s",
      no_traffic_interval: "1s",
      unhealthy_threshold: 2,
      healthy_threshold: 1,
      http_health_check: { path: "/health" },
    },
  ];
  cluster.circuit_breakers.thresholds[0].max_retries = 100000;
  return YAML.stringify(cfg);
}

const plainEnvoyTarget: FaultTarget = {
  id: "envoy-rr-retries",
  label: "plain Envoy round-robin + retries, outlier detection, health checks",
  short: "plain Envoy",
  unavailable: () => null,
  async start(fleet) {
    const e = await startStaticEnvoy(resilientPlainEnvoyConfig(fleet.pods), 2, "plain envoy (faults)");
    return {
      url: e.url,
      version: `envoy ${envoyVersion()}`,
      flags: [
        "envoy/plain-envoy.yaml ROUND_ROBIN",
        "retry_policy, outlier_detection, health_checks as envoy/bootstrap.yaml",
        "per_try_timeout 10s",
      ],
      stop: e.stop,
    };
  },
};

/** The bench's smg contender (bench/contenders/routers.ts), whose retries and circuit breaker are on
 *  by default; cache_aware as the other scenarios run it. */
const smgTarget: FaultTarget = {
  id: "smg",
  label: "smg cache_aware, default retries and circuit breaker",
  short: "smg",
  unavailable: () => smgCacheAware.unavailable(),
  start: (fleet) => smgCacheAware.start(fleet),
};

export const FAULT_TARGETS: FaultTarget[] = [infergateTarget, plainEnvoyTarget, smgTarget];

interface Sent {
  startedAt: number;
  endedAt: number;
  /** ms to the first token (first non-empty content delta); -1 when none came. */
  ttftMs: number;
  status: number;
  /** lost: no response byte reached the client (nothing was sent yet, so nothing could be retried
   *  by the client unknowingly); cut: the stream started (200 and bytes) but did not complete. */
  outcome: "complete" | "lost" | "cut";
  /** A cut stream that ended with an SSE event carrying an "error" (OpenAI's mid-stream error). */
  sseError: boolean;
  detail: string;
}

/** One streaming chat request; the outcome by what reached the client. */
async function stream(url: string, i: number): Promise<Sent> {
  const startedAt = Date.now();
  let ttftMs = -1;
  let text = "";
  let status = 0;
  try {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: SEED_MODEL,
        messages: [{ role: "user", content: `${i}: a request of the fault scenario, tell me something` }],
        max_tokens: MAX_TOKENS,
        stream: true,
      }),
      signal: AbortSignal.timeout(30_000),
    });
    status = r.status;
    const reader = r.body!.getReader();
    const dec = new TextDecoder();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
      if (ttftMs < 0 && status === 200 && /"content":"[^"]/.test(text)) ttftMs = Date.now() - startedAt;
    }
  } catch (e) {
    text += ` [${(e as Error).message}]`;
  }
  const endedAt = Date.now();
  // Complete: a final chunk with a finish_reason, then [DONE], and no error event (smg, for one,
  // ends a broken stream with an error event and [DONE]).
  const errorEvent = /data: \{"error"/.test(text);
  const finished = /"finish_reason":"[^"]+"/.test(text) && text.includes("data: [DONE]");
  const outcome =
    status === 200 && finished && !errorEvent
      ? "complete"
      : status === 200 && text.startsWith("data:")
        ? "cut"
        : "lost";
  return {
    startedAt,
    endedAt,
    ttftMs,
    status,
    outcome,
    sseError: outcome === "cut" && errorEvent,
    detail: outcome === "complete" ? "" : `${status} ${text.slice(-200)}`,
  };
}

interface Window {
  name: string;
  /** ms from the load's start. */
  from: number;
  to: number;
  fault: string;
}

/** The timeline (ms from the load's start). Windows count every request in flight during them. */
function timeline(quick: boolean) {
  const k = quick ? 0.6 : 1;
  const at = (s: number) => Math.round(s * 1000 * k);
  return {
    warmup: at(3),
    killAt: at(8),
    restartAt: at(13),
    stopAt: at(19),
    contAt: at(24),
    cpAt: at(28),
    cpDownMs: at(3),
    failAt: at(35),
    failUntil: at(41),
    end: at(45),
  };
}

export async function faultsScenario(cfg: FaultsConfig): Promise<unknown> {
  const podCount = cfg.pods ?? 4;
  const concurrency = cfg.concurrency ?? 12;
  const t = timeline(cfg.quick);
  // Contiguous windows from the warm-up's end: every request belongs to exactly one by when it
  // started (its time to first token) and one by when it ended (a failure is counted where it happened).
  const windows: Window[] = [
    { name: "baseline", from: t.warmup, to: t.killAt, fault: "none" },
    { name: "kill", from: t.killAt, to: t.restartAt, fault: "pod-0 SIGKILL" },
    { name: "restart", from: t.restartAt, to: t.stopAt, fault: "pod-0 started again (same address)" },
    { name: "hang", from: t.stopAt, to: t.cpAt, fault: `pod-1 SIGSTOP for ${(t.contAt - t.stopAt) / 1000} s` },
    { name: "control plane", from: t.cpAt, to: t.failAt, fault: `control plane down ${t.cpDownMs / 1000} s` },
    {
      name: "fail fast",
      from: t.failAt,
      to: t.end + 60_000,
      fault: "pod-2 answers 500 to inference, /health and /metrics fine",
    },
  ];
  const rows: Record<string, unknown>[] = [];
  for (const target of FAULT_TARGETS) {
    const why = target.unavailable();
    if (why) {
      rows.push({ id: target.id, label: target.label, unavailable: why });
      progress(`faults: ${target.label} unavailable: ${why}`);
      continue;
    }
    progress(`faults: ${target.label}`);
    const fleet = await startFleet({ model: SEED_MODEL, pods: podCount, args: POD_ARGS });
    const restarted: Fleet[] = [];
    let gw: Awaited<ReturnType<FaultTarget["start"]>> | null = null;
    try {
      gw = await target.start(fleet);
      const sent: Sent[] = [];
      const t0 = Date.now();
      const until = t0 + t.end;
      let n = 0;
      const workers = Array.from({ length: concurrency }, async () => {
        while (Date.now() < until) sent.push(await stream(gw!.url, n++));
      });
      const events: { atMs: number; what: string }[] = [];
      const at = async (ms: number, what: string, fn: () => unknown) => {
        await sleep(Math.max(0, t0 + ms - Date.now()));
        events.push({ atMs: Date.now() - t0, what });
        await fn();
      };
      const [p0, p1, p2] = fleet.pods as [FleetPod, FleetPod, FleetPod];
      await at(t.killAt, "SIGKILL pod-0", () => process.kill(p0.pid, "SIGKILL"));
      await at(t.restartAt, "restart pod-0", async () => {
        restarted.push(
          await startFleet({
            model: SEED_MODEL,
            pods: [{ name: p0.name, args: ["--port", String(p0.port)] }],
            args: POD_ARGS,
          }),
        );
      });
      await at(t.stopAt, "SIGSTOP pod-1", () => process.kill(p1.pid, "SIGSTOP"));
      await at(t.contAt, "SIGCONT pod-1", () => process.kill(p1.pid, "SIGCONT"));
      await at(t.cpAt, gw.restartControlPlane ? "control plane restart" : "no control plane to restart", async () => {
        await gw!.restartControlPlane?.(t.cpDownMs);
      });
      await at(t.failAt, "pod-2 fails fast (500)", () => setFaults(p2.url, { errorRate: 1, errorStatus: 500 }));
      await at(t.failUntil, "pod-2 healthy again", () => setFaults(p2.url, null));
      await Promise.all(workers);
      const rel = (s: Sent) => ({ from: s.startedAt - t0, to: s.endedAt - t0 });
      const measured = sent.filter((s) => rel(s).from >= t.warmup);
      const perWindow = windows.map((w) => {
        const started = measured.filter((s) => rel(s).from >= w.from && rel(s).from < w.to);
        const ended = measured.filter((s) => rel(s).to >= w.from && rel(s).to < w.to);
        const ttfts = started.filter((s) => s.ttftMs >= 0).map((s) => s.ttftMs);
        const applies = w.name !== "control plane" || !!gw!.restartControlPlane;
        const cut = ended.filter((s) => s.outcome === "cut");
        return {
          window: w.name,
          fault: applies ? w.fault : "n/a (no control plane)",
          requestsStarted: started.length,
          lostBeforeFirstByte: ended.filter((s) => s.outcome === "lost").length,
          cutMidStream: cut.length,
          cutWithSseErrorEvent: cut.filter((s) => s.sseError).length,
          p50TtftMs: round(percentile(ttfts, 50), 1),
          p99TtftMs: round(percentile(ttfts, 99), 1),
          maxTtftMs: ttfts.length ? Math.max(...ttfts) : null,
          examples: ended
            .filter((s) => s.outcome !== "complete")
            .slice(0, 3)
            .map((s) => s.detail),
        };
      });
      rows.push({
        id: target.id,
        label: target.label,
        short: target.short,
        version: gw.version,
        flags: gw.flags,
        requests: measured.length,
        lostBeforeFirstByte: measured.filter((s) => s.outcome === "lost").length,
        cutMidStream: measured.filter((s) => s.outcome === "cut").length,
        cutWithSseErrorEvent: measured.filter((s) => s.sseError).length,
        events,
        windows: perWindow,
      });
      const w = perWindow.map(
        (x) => `${x.window}: ${x.lostBeforeFirstByte} lost, ${x.cutMidStream} cut, p99 ${x.p99TtftMs} ms`,
      );
      progress(`faults: ${target.label}: ${measured.length} requests; ${w.join("; ")}`);
    } catch (e) {
      rows.push({ id: target.id, label: target.label, error: String((e as Error).stack ?? e).slice(0, 2000) });
      progress(`faults: ${target.label} failed: ${(e as Error).message}`);
    } finally {
      await gw?.stop().catch(() => {});
      for (const f of restarted) await f.stop();
      await fleet.stop();
    }
  }
  const result = {
    what: "streaming load (closed loop) through each gateway while faults happen in turn; failures count in the window where the request ended, time to first token in the window where it started",
    pods: podCount,
    concurrency,
    podArgs: POD_ARGS,
    maxTokens: MAX_TOKENS,
    timelineMs: t,
    rows,
  };
  writeFileSync(join(cfg.outDir, "faults.json"), JSON.stringify(result, null, 1));
  writePictures(result.rows, windows, cfg.outDir);
  return result;
}

function writePictures(rows: Record<string, unknown>[], windows: Window[], outDir: string): void {
  const ran = rows.filter((r) => Array.isArray(r.windows)) as { short: string; windows: Record<string, number>[] }[];
  const categories = windows.map((w) => w.name);
  const series = (key: string, suffix: string) =>
    ran.map((r) => ({
      name: `${r.short} ${suffix}`.trim(),
      values: r.windows.map((w) => w[key] ?? null),
    }));
  writeFileSync(
    join(outDir, "faults-failures.svg"),
    barChart({
      title: "Requests lost before their first byte / streams cut, per fault window",
      yLabel: "requests",
      categories,
      series: [...series("lostBeforeFirstByte", "lost"), ...series("cutMidStream", "cut")],
      width: 900,
    }),
  );
  writeFileSync(
    join(outDir, "faults-ttft.svg"),
    barChart({
      title: "p99 time to first token, per fault window",
      yLabel: "ms",
      categories,
      series: series("p99TtftMs", ""),
      width: 900,
    }),
  );
}
