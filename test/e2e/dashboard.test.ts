// The Grafana dashboard the chart ships (charts/infergate/dashboards/infergate.json), against a real
// Prometheus (Debian's) scraping a running local gateway: Envoy's admin /stats/prometheus (the
// filter's metrics), the control plane's /metrics, and the simulated pods' own /metrics (with the
// `pod` label a Kubernetes relabel gives them), every second. Two more simulated pods, SGLang and
// TensorRT-LLM, are scraped too, so each runtime's branch of an `a or b or c` query is checked
// against the metric names that runtime really exposes.
//
// The traffic is what an operator's dashboard is for: shared prefixes (PREFIX_CACHE), a burst that
// saturates the pods so requests are held (queueing, inFlightLimit 2), Sheddable requests refused
// under saturation, unknown models, and one pod failing a third of its requests with 503 (retries,
// fallbacks). Queueing is switched on and off every 8 s (a hot annotation change): on, a saturated
// pod is filtered out and requests are held; off, the pods holding a prefix stay candidates, and
// PREFIX_CACHE's guards make affinity yield to the deeper queues. It runs until every query (and
// every `or` branch) returns data, at most 90 s.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { type LocalGateway, SEED_MODEL, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { findPrometheus, type PrometheusInstance, startPrometheus } from "../harness/prometheus.js";
import { type Fleet, startFleet } from "../sim/fleet.js";
import { post, setFaults, sleep } from "./helpers.js";

const DASHBOARD = join(REPO_ROOT, "charts/infergate/dashboards/infergate.json");
const PROMETHEUS = findPrometheus();
/** Grafana's $__rate_interval is at least four scrape intervals; the scrapes here are 1 s apart. */
const RATE_INTERVAL = "10s";

interface Query {
  panel: string;
  legend: string;
  expr: string;
}

/** Every target of every panel, with Grafana's variables as a dashboard user with "All" gets them. */
function dashboardQueries(): Query[] {
  const d = JSON.parse(readFileSync(DASHBOARD, "utf8")) as {
    panels: { type: string; title: string; targets?: { expr: string; legendFormat: string }[] }[];
  };
  const out: Query[] = [];
  for (const p of d.panels)
    for (const t of p.targets ?? [])
      out.push({
        panel: p.title,
        legend: t.legendFormat,
        expr: t.expr.replaceAll("$__rate_interval", RATE_INTERVAL).replaceAll("$pool", ".*"),
      });
  return out;
}

/** The operands of the top-level `or`s of a PromQL expression (one element when there is none),
 *  without the `on()` matching modifier and without constant `vector(0)` fallbacks: a constant says
 *  nothing about whether the metric names are right, so only the other operands are checked. */
export function orBranches(expr: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "(" || c === "{" || c === "[") depth++;
    else if (c === ")" || c === "}" || c === "]") depth--;
    else if (depth === 0 && expr.startsWith(" or ", i)) {
      out.push(expr.slice(start, i).trim());
      start = i + 4;
      i += 3;
    }
  }
  out.push(expr.slice(start).trim());
  return out.map((b) => b.replace(/^on\s*\([^)]*\)\s*/, "")).filter((b) => b !== "vector(0)");
}

const POOL_SETTINGS = (queueing: boolean) => ({
  annotations: {
    "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE",
    "inference.networking.x-k8s.io/queueing": queueing ? "enabled" : "disabled",
  },
  extraModels: { "shed-model": "Sheddable" as const },
});

let gw: LocalGateway;
let others: Fleet;
let prom: PrometheusInstance;

before(async () => {
  if (!PROMETHEUS) return;
  gw = await startLocalGateway({
    fleet: {
      pods: 3,
      args: ["--max-num-seqs", "2", "--inter-token-latency-ms", "10", "--prefill-time-per-token-ms", "0.01"],
    },
    pool: POOL_SETTINGS(true),
    envoy: { gatewayConfig: { saturation: { inFlightLimit: 2 } } },
  });
  others = await startFleet({
    model: SEED_MODEL,
    cacheReport: true,
    pods: [
      { name: "sglang-0", runtime: "sglang" },
      { name: "trtllm-0", runtime: "trtllm" },
    ],
  });
  const hostPort = (url: string) => url.replace(/^http:\/\//, "");
  prom = await startPrometheus({
    bin: PROMETHEUS,
    jobs: [
      {
        job: "envoy",
        metricsPath: "/stats/prometheus",
        targets: gw.envoys.map((e) => ({ address: hostPort(e.adminUrl) })),
      },
      { job: "infergate-controlplane", targets: [{ address: gw.controlPlane!.address }] },
      {
        job: "model-servers",
        targets: [...gw.fleet.pods, ...others.pods].map((p) => ({ address: p.address, labels: { pod: p.name } })),
      },
    ],
  });
});

after(async () => {
  await prom?.stop();
  await others?.stop();
  await gw?.stop();
});

/** Traffic until `stop` is set; bounded by the caller's deadline. Every request goes to loopback. */
function traffic(stop: { done: boolean }): Promise<unknown> {
  const loop = async (fn: (i: number) => Promise<unknown>, pauseMs: number) => {
    for (let i = 0; !stop.done; i++) {
      await fn(i).catch(() => undefined);
      await sleep(pauseMs);
    }
  };
  const prefixes = ["You are a helpful assistant for billing questions. ", "You translate English to French. "];
  const chat = (model: string, content: string, max = 12) =>
    post(gw.url, "/v1/chat/completions", { model, messages: [{ role: "user", content }], max_tokens: max });
  return Promise.all([
    loop(async (i) => {
      await sleep(8000);
      gw.writeConfig(POOL_SETTINGS(i % 2 === 1));
    }, 0),
    // 16 at a time over 3 pods (2 running each): with queueing on (inFlightLimit 2) most are held;
    // off, a new topic every 3 rounds arrives 16 at once, so its first pod goes over its bounded-load
    // share and affinity yields (balance, or score once its queue is deep).
    ...Array.from({ length: 16 }, (_, w) =>
      loop(
        (i) =>
          chat(SEED_MODEL, `Topic ${Math.floor(i / 3)}: ${prefixes[w % 4 === 3 ? 1 : 0].repeat(8)} question ${w}-${i}`),
        20,
      ),
    ),
    loop((i) => chat("shed-model", `sheddable ${i}`), 150),
    loop((i) => chat("no-such-model", `unknown ${i}`), 400),
    ...others.pods.map((p) =>
      loop(
        (i) =>
          post(p.url, "/v1/chat/completions", {
            model: SEED_MODEL,
            messages: [{ role: "user", content: `direct ${i}` }],
            max_tokens: 4,
          }),
        200,
      ),
    ),
  ]);
}

test("every query of the Grafana dashboard returns data from a real Prometheus scraping a running gateway", {
  skip: PROMETHEUS ? false : "no Prometheus (scripts/get-prometheus.sh installs Debian's; make test does)",
}, async () => {
  const queries = dashboardQueries();
  assert.ok(queries.length >= 25, `${queries.length} queries in the dashboard`);
  const t0 = Date.now();
  // One pod fails a third of its requests with 503: Envoy retries them on the next listed pod.
  await setFaults(gw.fleet.pods[2].url, { errorRate: 0.33, errorStatus: 503 });
  const stop = { done: false };
  const running = traffic(stop);
  const pending = new Map<string, Query>();
  for (const q of queries) for (const b of orBranches(q.expr)) pending.set(b, q);
  const lastSeen = new Map<string, string>();
  try {
    while (pending.size > 0 && Date.now() - t0 < 90_000) {
      await sleep(1000);
      for (const [expr] of pending) {
        const r = await prom.query(expr);
        // Data: at least one series with a number (0/0 = NaN is no data: nothing was counted).
        const values = r.result.map((s) => Number(s.value[1]));
        lastSeen.set(expr, `${r.result.length} series ${JSON.stringify(values.slice(0, 4))}`);
        if (values.some((v) => Number.isFinite(v))) pending.delete(expr);
      }
    }
  } finally {
    stop.done = true;
    await running;
    await setFaults(gw.fleet.pods[2].url, null);
  }
  const took = ((Date.now() - t0) / 1000).toFixed(1);
  process.stdout.write(`# dashboard: ${queries.length} queries answered with data after ${took} s\n`);
  if (pending.size > 0) {
    const targets = await prom.targets();
    assert.fail(
      `no data after ${took} s for:\n${[...pending]
        .map(([e, q]) => `  [${q.panel} / ${q.legend}] ${e}\n    last: ${lastSeen.get(e)}`)
        .join("\n")}\nscrape targets: ${JSON.stringify(targets)}\nprometheus log: ${prom.log().slice(-2000)}`,
    );
  }
  // The share panel's numbers add up to the whole, one series per pod of the pool.
  const share = await prom.query(dashboardQueries()[0].expr);
  assert.deepEqual(share.result.map((s) => s.metric.pod).sort(), gw.fleet.pods.map((p) => p.name).sort());
  const sum = share.result.reduce((a, s) => a + Number(s.value[1]), 0);
  assert.ok(Math.abs(sum - 1) < 1e-6, `shares sum to ${sum}`);
});

test("orBranches splits only top-level `or`s", () => {
  assert.deepEqual(orBranches('max by (pod) (a) or max by (pod) (b{x="y or z"}) or c'), [
    "max by (pod) (a)",
    'max by (pod) (b{x="y or z"})',
    "c",
  ]);
  assert.deepEqual(orBranches("sum(rate(x[1m])) / sum(rate(y[1m]))"), ["sum(rate(x[1m])) / sum(rate(y[1m]))"]);
  assert.deepEqual(orBranches("100 * a or 100 * avg(b)"), ["100 * a", "100 * avg(b)"]);
  assert.deepEqual(orBranches("sum by (code) (rate(x[1m])) or on() vector(0)"), ["sum by (code) (rate(x[1m]))"]);
});
