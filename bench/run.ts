// `make bench` entry: runs every scenario against every contender on fresh simulated fleets and
// writes bench/results/<timestamp>/ (results.json, SVG pictures, summary.md), then copies it to
// bench/results/latest/. `--quick` is the few-minute version. Progress goes to stderr.

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../scripts/lib/repo.js";
import { direct } from "./contenders/direct.js";
import { infergate } from "./contenders/infergate.js";
import { plainEnvoy } from "./contenders/plain-envoy.js";
import { sglangCacheAware, sglangRoundRobin, vllmRouterCacheAware } from "./contenders/routers.js";
import type { Contender } from "./contenders/types.js";
import { envoyVersion, peerInstalls } from "./contenders/util.js";
import { BENCH_START, progress, round } from "./lib/common.js";
import { goals, writePictures, writeSummary } from "./report/summary.js";
import { BURST_MODELS, burstScenario } from "./scenarios/burst.js";
import { overheadScenario } from "./scenarios/overhead.js";
import { pdConfig, pdScenario } from "./scenarios/pd.js";
import { routingQualityScenario } from "./scenarios/routing-quality.js";
import { scaleScenario } from "./scenarios/scale.js";
import { thirdPartyScenario } from "./scenarios/third-party.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    seed: { type: "string", default: "42" },
  },
});
const quick = values.quick!;
const seed = Number(values.seed);
const only = values.only ? values.only.split(",") : null;
const want = (s: string) => !only || only.includes(s);

// Peers: install into .venv-bench on first use (bench/setup-peers.sh records each outcome).
if (!existsSync(join(REPO_ROOT, ".venv-bench/peers.json"))) {
  progress("installing peers into .venv-bench (bench/setup-peers.sh) ...");
  try {
    execFileSync(join(REPO_ROOT, "bench/setup-peers.sh"), [], { stdio: ["ignore", "inherit", "inherit"] });
  } catch (e) {
    progress(`setup-peers failed: ${(e as Error).message}`);
  }
}

const all: Contender[] = [
  direct,
  plainEnvoy("ROUND_ROBIN"),
  plainEnvoy("RANDOM"),
  infergate("DEFAULT"),
  infergate("PREFIX_CACHE"),
  sglangCacheAware,
  sglangRoundRobin,
  vllmRouterCacheAware,
];
const gateways = all.filter((c) => c.kind !== "direct");
const byId = (id: string) => all.find((c) => c.id === id)!;

// Realistic simulated vLLM timing (test/sim/config.ts defaults: prefill 0.15 ms/token + 20 ms per
// step, 22 ms per decode step, 2048 KV blocks of 16 tokens); output kept short so TTFT dominates.
const QUALITY_POD_ARGS: string[] = [];
const cfg = {
  overhead: {
    pods: 2,
    fixedConcurrency: 4,
    maxConcurrency: 32,
    durationMs: quick ? 1500 : 5000,
    warmupMs: quick ? 300 : 1000,
    rounds: quick ? 2 : 4,
    seed,
  },
  quality: {
    pods: 4,
    podArgs: QUALITY_POD_ARGS,
    warmupMs: quick ? 4000 : 10000,
    shared: {
      kind: "shared-prefix" as const,
      seed,
      systemPrompts: quick ? 16 : 32,
      systemTokens: 2000,
      usersPerPrompt: quick ? 4 : 6,
      minTurns: 4,
      maxTurns: 6,
      userWords: 40,
      maxTokens: 16,
      rate: quick ? 8 : 16,
      thinkMs: 2000,
      durationMs: quick ? 16000 : 60000,
    },
    control: {
      kind: "no-sharing" as const,
      seed: seed + 1,
      promptTokens: 2200,
      maxTokens: 16,
      rate: 6,
      durationMs: quick ? 8000 : 25000,
    },
    controlContenders: quick
      ? ["envoy-rr", "infergate-default", "infergate-prefix", "sglang-router-cache-aware"]
      : gateways.map((c) => c.id),
  },
  burst: {
    pods: 2,
    maxNumSeqs: 4,
    capacityRps: 16,
    factor: 3,
    podArgs: [
      "--max-num-seqs",
      "4",
      "--prefill-overhead-ms",
      "5",
      "--prefill-time-per-token-ms",
      "0.05",
      "--inter-token-latency-ms",
      "20",
      "--decode-time-per-seq-ms",
      "0.1",
    ],
    workload: {
      kind: "burst" as const,
      seed: seed + 2,
      rate: 48,
      durationMs: quick ? 5000 : 12000,
      promptWords: 100,
      maxTokens: 24,
      classes: [
        { model: BURST_MODELS.critical, criticality: "Critical", share: 0.2 },
        { model: BURST_MODELS.standard, criticality: "Standard", share: 0.4 },
        { model: BURST_MODELS.sheddable, criticality: "Sheddable", share: 0.4 },
      ],
    },
  },
  scale: {
    endpoints: [8, 16, 64, 512],
    promptKb: [1, 8, 64],
    durationMs: quick ? 1200 : 4000,
    warmupRequests: 20,
    pushIterations: quick ? 20 : 100,
    metricTrials: quick ? 3 : 10,
    seed,
  },
  thirdParty: {
    pods: 4,
    podArgs: QUALITY_POD_ARGS,
    rate: 6,
    durationS: quick ? 12 : 40,
    promptTokens: 2300,
    prefixTokens: 2000,
    prefixCount: 16,
    outputTokens: 16,
    seed,
  },
};
// Quick: the quality comparison keeps one round-robin baseline (plain Envoy) and drops random and
// sglang round_robin; the full run has everyone.
const qualityContenders = quick
  ? gateways.filter((c) => !["envoy-random", "sglang-router-round-robin"].includes(c.id))
  : gateways;

function gitRev(): string {
  try {
    return execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const outDir = join(REPO_ROOT, "bench/results", stamp);
mkdirSync(outDir, { recursive: true });
const results: Record<string, any> = {
  startedAt: new Date(BENCH_START).toISOString(),
  mode: quick ? "quick" : "full",
  seed,
  git: gitRev(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "?",
    os: `${platform()} ${release()}`,
    node: process.version,
    envoy: envoyVersion(),
    loadAvgAtStart: loadavg().map((x) => round(x, 2)),
  },
  peers: peerInstalls(),
  contenders: all.map((c) => ({ id: c.id, label: c.label, kind: c.kind, unavailable: c.unavailable() })),
  notRun: [
    "sglang-router power_of_two: needs SGLang's /get_load, which only an SGLang-flavoured fleet serves; the bench fleet is vLLM-flavoured (the metric names the hit rate is read from), so it is not run.",
    "upstream GIE endpoint picker: not attempted (optional; needs its Go build and an ext_proc Envoy setup).",
  ],
  config: cfg,
  scenarios: {},
  errors: [] as string[],
};
const save = () => writeFileSync(join(outDir, "results.json"), JSON.stringify(results, null, 1));

async function scenario(name: string, fn: () => Promise<unknown>) {
  if (!want(name)) return;
  progress(`=== scenario ${name} ===`);
  try {
    results.scenarios[name] = await fn();
  } catch (e) {
    results.errors.push(`${name}: ${(e as Error).stack ?? e}`);
    progress(`scenario ${name} failed: ${(e as Error).message}`);
  }
  save();
}

for (const c of all) {
  const why = c.unavailable();
  if (why) progress(`contender ${c.label} unavailable: ${why.slice(0, 300)}`);
}
await scenario("overhead", () => overheadScenario(all, cfg.overhead));
await scenario("routingQuality", () => routingQualityScenario(qualityContenders, cfg.quality));
await scenario("burst", () =>
  burstScenario(
    [
      { contender: byId("envoy-rr"), queueing: false },
      { contender: byId("infergate-default"), queueing: false },
      { contender: byId("infergate-default"), queueing: true },
    ],
    cfg.burst,
  ),
);
await scenario("scale", () => scaleScenario(cfg.scale));
await scenario("thirdParty", async () => {
  const r = await thirdPartyScenario([byId("infergate-prefix"), byId("envoy-rr")], cfg.thirdParty);
  const q = (results.scenarios.routingQuality?.rows ?? []) as any[];
  return {
    ...r,
    ownClientOverPod: q
      .filter(
        (x) =>
          x.workload === "shared-prefix" &&
          x.summary &&
          x.podTtftMs &&
          ["infergate-prefix", "envoy-rr"].includes(x.contender),
      )
      .map((x) => ({ label: x.label, ratio: round(x.summary.ttftMs.p50 / x.podTtftMs.p50, 3) })),
  };
});

await scenario("pd", () => pdScenario({ ...pdConfig(quick, seed), outDir }));

results.machine.loadAvgAtEnd = loadavg().map((x) => round(x, 2));
results.elapsedS = round((Date.now() - BENCH_START) / 1000, 1);
results.goals = goals(results);
save();
const pictures = writePictures(results, outDir);
const md = writeSummary(results, outDir, pictures);
const latest = join(REPO_ROOT, "bench/results/latest");
rmSync(latest, { recursive: true, force: true });
cpSync(outDir, latest, { recursive: true });
process.stdout.write(`${md.split("## Contenders")[0]}\nresults: ${outDir} (copied to bench/results/latest/)\n`);
process.exit(0);
