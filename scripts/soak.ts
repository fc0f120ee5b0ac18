// `make soak`: a local gateway (PREFIX_CACHE) on simulated pods under moderate, steady load for
// SOAK_MINUTES (default 30), sampling Envoy's memory over time:
//   - RSS of the Envoy process (/proc/<pid>/status VmRSS);
//   - the wasm VMs' linear memory: Envoy's admin has no wasm memory statistic (its /stats carry only
//     wasm.envoy.wasm.runtime.v8.active/created and vm_reload counters), so it is read from
//     /proc/<pid>/smaps: V8 reserves 8 GiB of address space per wasm memory and makes its head
//     accessible as the memory grows; the read-write mapping right before each such reservation is
//     one VM's linear memory (mapped size = pages the module grew to, Rss = pages touched);
//   - tcmalloc's allocated and heap bytes (admin /memory).
// Expected: zero failed requests, and after the warm-up Envoy's RSS flat within +-5 %.
// Writes bench/results/soak-<timestamp>/soak.json, memory.svg, wasm-memory.svg and requests.svg; exits 1 when an
// expectation fails. Loopback only; bounded by --minutes.
//   node build/js/scripts/soak.js [--minutes 30] [--rate 40] [--sample-seconds 10] [--warmup-minutes M]

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { lineChart } from "../bench/report/svg.js";
import { type Outcome, request } from "../test/e2e/failover-helpers.js";
import { wasmFailures } from "../test/e2e/wasm-log.js";
import { startLocalGateway } from "./lib/local-gateway.js";
import { REPO_ROOT } from "./lib/repo.js";
import { type WasmMemory, wasmMemory } from "./lib/wasm-memory.js";

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "30" },
    rate: { type: "string", default: "40" },
    "max-in-flight": { type: "string", default: "64" },
    "sample-seconds": { type: "string", default: "10" },
    "warmup-minutes": { type: "string" },
    pods: { type: "string", default: "4" },
    seed: { type: "string", default: "7" },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const maxInFlight = Number(values["max-in-flight"]);
const sampleMs = Number(values["sample-seconds"]) * 1000;
// Default warm-up: a sixth of the run, at least one minute (caches, connection pools, the prefix
// index and the wasm heaps reach their working size).
const warmupMs = Number(values["warmup-minutes"] ?? Math.max(1, minutes / 6)) * 60_000;
const log = (s: string) => process.stderr.write(`soak: ${s}\n`);

function rssBytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? 0) * 1024;
}

interface Sample {
  atS: number;
  rssBytes: number;
  wasm: WasmMemory;
  tcmallocAllocated: number;
  tcmallocHeap: number;
  requests: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
}

const quantile = (xs: number[], q: number) => {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

// Conversations on a few long shared system prompts (the prefix index fills, evicts, and keeps
// its bounded size), streaming and not.
const SYSTEM = Array.from(
  { length: 24 },
  (_, i) => `System prompt ${i}: ${"You are a careful assistant who answers briefly and cites sources. ".repeat(20)}`,
);

const gw = await startLocalGateway({
  fleet: {
    pods: Number(values.pods),
    args: ["--prefill-overhead-ms", "2", "--prefill-time-per-token-ms", "0.002", "--inter-token-latency-ms", "5"],
  },
  pool: { annotations: { "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE" } },
});
const envoy = gw.envoys[0]!;
const pid = envoy.process.pid!;
log(`gateway ${gw.url}, Envoy pid ${pid}; ${minutes} min at ${rate} req/s (at most ${maxInFlight} in flight)`);

const t0 = Date.now();
const endAt = t0 + minutes * 60_000;
const samples: Sample[] = [];
const failures: Outcome[] = [];
let total = 0;
let failedTotal = 0;
let inFlight = 0;
let window: number[] = [];
let skipped = 0;

async function sample(): Promise<void> {
  const mem = (await (await fetch(`${envoy.adminUrl}/memory`)).json()) as { allocated: string; heap_size: string };
  samples.push({
    atS: Math.round((Date.now() - t0) / 1000),
    rssBytes: rssBytes(pid),
    wasm: wasmMemory(pid),
    tcmallocAllocated: Number(mem.allocated),
    tcmallocHeap: Number(mem.heap_size),
    requests: total,
    failed: failedTotal,
    p50Ms: quantile(window, 0.5),
    p99Ms: quantile(window, 0.99),
  });
  const s = samples.at(-1)!;
  log(
    `${(s.atS / 60).toFixed(1)} min: ${s.requests} requests, ${s.failed} failed, RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB, wasm ${(s.wasm.mappedBytes / 2 ** 20).toFixed(2)} MiB in ${s.wasm.vms} VMs, p99 ${s.p99Ms} ms`,
  );
  window = [];
}

let seq = 0;
const sampler = (async () => {
  while (Date.now() < endAt) {
    await sleep(Math.min(sampleMs, Math.max(0, endAt - Date.now())));
    await sample();
  }
})();
// Open loop at `rate`, bounded in flight (a request that cannot start now is counted as skipped:
// the gateway or the machine fell behind, which the report shows).
const pending = new Set<Promise<void>>();
while (Date.now() < endAt) {
  const due = t0 + (seq * 1000) / rate;
  if (due > Date.now()) await sleep(due - Date.now());
  const i = seq++;
  if (inFlight >= maxInFlight) {
    skipped++;
    continue;
  }
  inFlight++;
  const conversation = i % 240;
  const content = `${SYSTEM[conversation % SYSTEM.length]} User ${conversation} turn ${Math.floor(i / 240)}: question ${i}?`;
  const p = request(gw.url, i % 2 === 0, content, 30_000).then((o) => {
    inFlight--;
    total++;
    window.push(o.ms);
    if (!o.complete) {
      failedTotal++;
      if (failures.length < 20) failures.push(o);
    }
    pending.delete(p);
  });
  pending.add(p);
}
await Promise.all(pending);
await sampler;
const wasmFailureLines = wasmFailures(envoy.log());
await gw.stop();

const after = samples.filter((s) => s.atS * 1000 >= warmupMs);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const rssAfter = after.map((s) => s.rssBytes);
const rssMean = mean(rssAfter);
const rssSpread = rssAfter.length ? Math.max(...rssAfter.map((x) => Math.abs(x - rssMean))) / rssMean : Number.NaN;
/** Least-squares slope of RSS after the warm-up, in MiB per hour. */
function slopeMiBPerHour(pts: Sample[]): number {
  if (pts.length < 2) return 0;
  const xs = pts.map((s) => s.atS / 3600);
  const ys = pts.map((s) => s.rssBytes / 2 ** 20);
  const mx = mean(xs);
  const my = mean(ys);
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den ? num / den : 0;
}
const mib = (b: number) => Math.round((b / 2 ** 20) * 100) / 100;
const result = {
  startedAt: new Date(t0).toISOString(),
  minutes,
  rate,
  warmupMinutes: warmupMs / 60_000,
  requests: total,
  failed: failedTotal,
  skippedAtMaxInFlight: skipped,
  rssMiB: {
    atStart: mib(samples[0]?.rssBytes ?? 0),
    afterWarmupMin: mib(Math.min(...rssAfter)),
    afterWarmupMax: mib(Math.max(...rssAfter)),
    afterWarmupMean: mib(rssMean),
    afterWarmupSpreadPercent: Math.round(rssSpread * 10000) / 100,
    slopeMiBPerHour: Math.round(slopeMiBPerHour(after) * 100) / 100,
    atEnd: mib(samples.at(-1)?.rssBytes ?? 0),
  },
  wasmMiB: {
    vms: samples.at(-1)?.wasm.vms ?? 0,
    mappedAtStart: mib(samples[0]?.wasm.mappedBytes ?? 0),
    mappedAtEnd: mib(samples.at(-1)?.wasm.mappedBytes ?? 0),
    residentAtEnd: mib(samples.at(-1)?.wasm.residentBytes ?? 0),
  },
  wasmFailureLines,
  expectations: {
    zeroErrors: failedTotal === 0,
    rssFlatWithin5Percent: rssSpread <= 0.05,
    noWasmFailures: wasmFailureLines.length === 0,
  },
  failures: failures.map((f) => ({ status: f.status, cut: f.cutMidStream, detail: f.detail.slice(0, 300) })),
  samples,
};
const dir = join(REPO_ROOT, "bench/results", `soak-${new Date(t0).toISOString().replace(/[:.]/g, "-")}`);
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, "soak.json"), JSON.stringify(result, null, 1));
const min = (s: Sample) => s.atS / 60;
writeFileSync(
  join(dir, "memory.svg"),
  lineChart({
    title: `Envoy memory over ${minutes} min at ${rate} req/s (warm-up ${result.warmupMinutes.toFixed(0)} min)`,
    xLabel: "minutes",
    yLabel: "MiB",
    series: [
      { name: "Envoy RSS", points: samples.map((s) => [min(s), s.rssBytes / 2 ** 20]) },
      { name: "tcmalloc heap", points: samples.map((s) => [min(s), s.tcmallocHeap / 2 ** 20]) },
      { name: "tcmalloc allocated", points: samples.map((s) => [min(s), s.tcmallocAllocated / 2 ** 20]) },
      { name: "wasm linear memory", points: samples.map((s) => [min(s), s.wasm.mappedBytes / 2 ** 20]) },
    ],
  }),
);
// Requests per sample interval, and how many of them failed (a failure is visible where it began).
const perInterval = samples.map((s, i) => ({
  at: min(s),
  served: s.requests - (samples[i - 1]?.requests ?? 0),
  failed: s.failed - (samples[i - 1]?.failed ?? 0),
}));
writeFileSync(
  join(dir, "requests.svg"),
  lineChart({
    title: `Requests per ${values["sample-seconds"]} s`,
    xLabel: "minutes",
    yLabel: "requests",
    series: [
      { name: "finished", points: perInterval.map((x) => [x.at, x.served]) },
      { name: "failed", points: perInterval.map((x) => [x.at, x.failed]) },
    ],
  }),
);
writeFileSync(
  join(dir, "wasm-memory.svg"),
  lineChart({
    title: `wasm VMs' linear memory (${result.wasmMiB.vms} VMs)`,
    xLabel: "minutes",
    yLabel: "MiB",
    series: [
      { name: "grown to (mapped)", points: samples.map((s) => [min(s), s.wasm.mappedBytes / 2 ** 20]) },
      { name: "resident", points: samples.map((s) => [min(s), s.wasm.residentBytes / 2 ** 20]) },
    ],
  }),
);
const ok = Object.values(result.expectations).every(Boolean);
process.stdout.write(
  `${JSON.stringify({ ...result, samples: undefined, failures: result.failures.slice(0, 3) }, null, 1)}\nresults: ${dir}\n`,
);
log(ok ? "passed" : "FAILED");
process.exit(ok ? 0 : 1);
