// `make bench` entry: runs every scenario against every contender on fresh simulated fleets and
// writes bench/results/<timestamp>/: raw.json (every per-request sample; stays local, git-ignored),
// results.json (compact: per-step / per-contender aggregates, what is committed), the SVG pictures
// and summary.md (report/render.ts); then copies them to bench/results/latest/. `--quick` is the
// few-minute version; `--only a,b` runs some scenarios. Progress goes to stderr.

import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, platform, release } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT } from "../scripts/lib/repo.js";
import { direct } from "./contenders/direct.js";
import { EPP_PLUGIN_CONFIG, epp, eppVersion, stopEppKube } from "./contenders/epp.js";
import { infergate } from "./contenders/infergate.js";
import { plainEnvoy } from "./contenders/plain-envoy.js";
import { sglangCacheAware, smgCacheAware, vllmRouterCacheAware } from "./contenders/routers.js";
import type { Contender } from "./contenders/types.js";
import { envoyVersion, peerInstalls } from "./contenders/util.js";
import { BENCH_START, progress, round } from "./lib/common.js";
import { renderRun } from "./report/render.js";
import { BURST_MODELS, burstScenario } from "./scenarios/burst.js";
import { faultsScenario } from "./scenarios/faults.js";
import { fieldScenario } from "./scenarios/field.js";
import { inferencePerfScenario } from "./scenarios/inference-perf.js";
import { longPromptScenario } from "./scenarios/long-prompt.js";
import { overheadScenario } from "./scenarios/overhead.js";
import { pdConfig, pdScenario } from "./scenarios/pd.js";
import { phasesScenario } from "./scenarios/phases.js";
import { scaleScenario } from "./scenarios/scale.js";
import { thirdPartyScenario } from "./scenarios/third-party.js";
import type { WorkloadSpec } from "./workloads.js";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    contenders: { type: "string" },
    seed: { type: "string", default: "42" },
  },
});
const quick = values.quick!;
const seed = Number(values.seed);
const only = values.only ? values.only.split(",") : null;
const want = (s: string) => !only || only.includes(s);
// --contenders a,b (contender ids): the comparison scenarios run only those, for an A/B of one
// change in minutes (two checkouts, one contender each).
const contenderIds = values.contenders ? values.contenders.split(",") : null;
const pick = (cs: Contender[]) => (contenderIds ? cs.filter((c) => contenderIds.includes(c.id)) : cs);

// Peers: install into .venv-bench (bench/setup-peers.sh records each outcome; it is a no-op when
// its inputs did not change).
progress("peers: bench/setup-peers.sh (installs into .venv-bench when its package list changed) ...");
try {
  execFileSync(join(REPO_ROOT, "bench/setup-peers.sh"), [], { stdio: ["ignore", "inherit", "inherit"] });
} catch (e) {
  progress(`setup-peers failed: ${(e as Error).message}`);
}

const envoyRr = plainEnvoy("ROUND_ROBIN");
const igDefault = infergate("DEFAULT");
const igPrefix = infergate("PREFIX_CACHE");
// issue 11: the index that trusts what it routed (estimate) next to the default that learns from
// every response what the pod really had cached (feedback)
const igPrefixEstimate = infergate("PREFIX_CACHE", { "infergate.dev/prefix-cache-mode": "estimate" }, "-estimate");
const eppDefault = epp("default");
const eppPrefix = epp("prefix");
const all: Contender[] = [
  direct,
  envoyRr,
  igDefault,
  igPrefix,
  igPrefixEstimate,
  sglangCacheAware,
  smgCacheAware,
  vllmRouterCacheAware,
  eppDefault,
  eppPrefix,
];
const byId = (id: string) => all.find((c) => c.id === id)!;
// An id that names no contender would leave every scenario with nothing to run, silently.
const unknownIds = (contenderIds ?? []).filter((id) => !all.some((c) => c.id === id));
if (unknownIds.length > 0 || contenderIds?.length === 0) {
  process.stderr.write(
    `--contenders: unknown ${JSON.stringify(unknownIds)}; contenders: ${all.map((c) => c.id).join(", ")}\n`,
  );
  process.exit(2);
}
// The routing comparisons: the floor, both infergate strategies, every prefix-aware peer.
const routers = [
  envoyRr,
  igDefault,
  igPrefix,
  sglangCacheAware,
  smgCacheAware,
  vllmRouterCacheAware,
  eppDefault,
  eppPrefix,
];
const rampRouters = [...routers.slice(0, 3), igPrefixEstimate, ...routers.slice(3)];
// Two replicas: infergate and each prefix-aware peer kind (the EPP's prefix configuration stands for
// both of its profiles; vllm-router's cache_aware is sglang-router's algorithm).
const replicaContenders = [igPrefix, sglangCacheAware, smgCacheAware, eppPrefix];

// ---- Workload 1: llm-d's shared-prefix capacity ramp, scaled to the simulated fleet ----
// llm-d's published benchmark: 150 groups x 5 prompts, 6,000-token system prompt + 1,200-token
// question, 1,000 output tokens, QPS 3 -> 60 on 8 pods (H100s). Here (each number and why):
//   pods 8 -> 4: ten Node processes (pods, gateway, load generator) share 2 cores;
//   system / question tokens 6,000 / 1,200 -> 2,000 / 400: the same 5:1 ratio; at the simulated
//     0.15 ms/token prefill a miss still costs ~300 ms against ~25 ms for a hit;
//   output 1,000 -> 32 tokens: a simulated decode step is 22 ms of wall time, 1,000 tokens would
//     be 22 s per request; 32 keeps TTFT (prefill, i.e. routing) the dominant cost;
//   groups 150 -> 32, 5 prompts each: working set 32 x 2,000 + 160 x 400 = 128k tokens;
//   KV per pod 3,072 blocks x 16 = 49k tokens: the fleet holds 196k (fits when the router gives
//     each pod a quarter of the groups, 32k each) but one pod cannot hold the 128k working set that
//     round-robin spreads over every pod: cache pressure unless the router partitions;
//   QPS 3 -> 60 on 8 pods -> stages 4 -> 60 on 4 pods (full) / 6, 20 (quick), 15 s each: from
//     light load, past where round-robin's misses saturate the fleet (~16 req/s here), to where
//     prefix-aware routing is loaded too (a run to 36 QPS left every prefix-aware router at
//     TTFT p90 < 130 ms).
const RAMP_POD_ARGS = ["--kv-blocks", "3072"];
const ramp = {
  fleet: { pods: 4, args: RAMP_POD_ARGS },
  workload: {
    kind: "field-shared-prefix" as const,
    seed,
    groups: 32,
    promptsPerGroup: 5,
    systemTokens: 2000,
    questionTokens: 400,
    maxTokens: 32,
    stages: (quick ? [6, 20] : [4, 8, 16, 28, 44, 60]).map((rate) => ({
      rate,
      durationMs: quick ? 8_000 : 15_000,
    })),
  },
  timeoutMs: 60_000,
};
// Workloads 3-5 use the ramp's shape at one rate where the fleet is busy but not past capacity.
type FieldWorkload = Extract<WorkloadSpec, { kind: "field-shared-prefix" }>;
const oneRate = (rate: number, extra: Partial<FieldWorkload> = {}): FieldWorkload => ({
  ...ramp.workload,
  seed: seed + 3,
  stages: [{ rate, durationMs: quick ? 8_000 : 15_000 }],
  ...extra,
});
// Long prompts (agentic and RAG requests: documents, code, tool output) come in lines: every line
// break is an escape in the JSON body, which the filter parses and hashes. The decision-time and
// long-prompt scenarios send text in lines of about this many bytes (plain words hid a decision that
// decoded a whole 220 KB prompt to hash its first 8 KB: 122 us in Node, 37 once it stopped).
const PROMPT_LINE_BYTES = 80;
const SLOW_POD_ARGS = [
  "--prefill-overhead-ms",
  "40",
  "--prefill-time-per-token-ms",
  "0.3",
  "--inter-token-latency-ms",
  "44",
];

const cfg = {
  overhead: {
    pods: 2,
    connections: 8,
    threads: 2,
    durationS: quick ? 2 : 5,
    warmupS: 1,
    rounds: 2,
    seed,
    runs: [
      { contender: "direct", bodies: ["tiny" as const] },
      { contender: "envoy-rr", bodies: ["tiny" as const, "8KB" as const] },
      { contender: "infergate-default", bodies: ["tiny" as const, "8KB" as const] },
      { contender: "infergate-prefix", bodies: ["tiny" as const, "8KB" as const] },
      ...(quick
        ? []
        : ["sglang-router-cache-aware", "smg-cache-aware", "vllm-router-cache-aware", "epp-default"].map((c) => ({
            contender: c,
            bodies: ["tiny" as const],
          }))),
    ],
  },
  ramp,
  longPrompt: {
    pods: 4,
    promptKb: 220,
    prefixes: 8,
    lineBytes: PROMPT_LINE_BYTES,
    concurrency: [20, 150],
    durationMs: quick ? 3000 : 10000,
    warmupMs: quick ? 1000 : 2000,
    seed,
  },
  replicas: { fleet: ramp.fleet, workload: oneRate(12), replicas: [1, 2], timeoutMs: 60_000 },
  hotSpot: { fleet: ramp.fleet, workload: oneRate(12, { hotShare: 0.5 }), timeoutMs: 60_000 },
  uneven: {
    fleet: { ...ramp.fleet, perPod: { 0: SLOW_POD_ARGS } },
    workload: oneRate(10),
    timeoutMs: 60_000,
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
    endpoints: quick ? [16, 512] : [8, 16, 64, 512],
    promptKb: quick ? [8, 220] : [1, 8, 64, 220],
    lineBytes: PROMPT_LINE_BYTES,
    durationMs: quick ? 1200 : 3000,
    warmupRequests: 20,
    pushIterations: quick ? 20 : 100,
    metricTrials: quick ? 3 : 10,
    seed,
  },
  phases: {
    endpoints: [16, 512],
    promptKb: [8, 220],
    lineBytes: PROMPT_LINE_BYTES,
    iterations: quick ? 300 : 2000,
    seed,
  },
  inferencePerf: { fleet: ramp.fleet, workload: ramp.workload },
  thirdParty: {
    pods: 4,
    podArgs: [] as string[],
    rate: 6,
    durationS: quick ? 8 : 30,
    promptTokens: 2300,
    prefixTokens: 2000,
    prefixCount: 16,
    outputTokens: 16,
    seed,
  },
};
// Quick: the floor, infergate PREFIX_CACHE and two kinds of peer (the Rust router, the EPP).
const quickRouters = [envoyRr, igPrefix, sglangCacheAware, eppDefault];
const rampContenders = quick ? quickRouters : rampRouters;

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
  epp: { version: eppVersion(), plugins: EPP_PLUGIN_CONFIG },
  contenders: all.map((c) => ({ id: c.id, label: c.label, kind: c.kind, unavailable: c.unavailable() })),
  notRun: [
    "sglang-router / smg power_of_two: needs SGLang's /get_load, which only an SGLang-flavoured fleet serves; the bench fleet is vLLM-flavoured (the metric names the hit rate is read from), so it is not run.",
  ],
  config: cfg,
  scenarios: {},
  errors: [] as string[],
};
const save = () => writeFileSync(join(outDir, "raw.json"), JSON.stringify(results));

async function scenario(name: string, fn: () => Promise<unknown>) {
  if (!want(name)) return;
  const t0 = Date.now();
  progress(`=== scenario ${name} ===`);
  try {
    results.scenarios[name] = await fn();
    results.scenarios[name].elapsedS = round((Date.now() - t0) / 1000, 1);
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
try {
  await scenario("overhead", () => overheadScenario(pick(all), cfg.overhead));
  await scenario("ramp", () => fieldScenario("cache-pressure ramp", pick(rampContenders), cfg.ramp));
  await scenario("inferencePerf", () => inferencePerfScenario(pick([igPrefix, envoyRr]), cfg.inferencePerf));
  await scenario("longPrompt", () =>
    longPromptScenario(
      pick(quick ? [envoyRr, igPrefix, eppDefault] : [envoyRr, igDefault, igPrefix, eppDefault, eppPrefix]),
      cfg.longPrompt,
    ),
  );
  await scenario("replicas", () =>
    fieldScenario("two replicas", pick(quick ? [igPrefix, sglangCacheAware] : replicaContenders), cfg.replicas),
  );
  await scenario("hotSpot", () =>
    fieldScenario("hot spot", pick(quick ? quickRouters.slice(0, 3) : routers), cfg.hotSpot),
  );
  await scenario("uneven", () =>
    fieldScenario("uneven fleet", pick(quick ? quickRouters.slice(0, 3) : routers), cfg.uneven),
  );
  // The upstream EPP's last scenario: its kube-apiserver and etcd would otherwise idle on the same
  // two cores through the scenarios that time the filter alone (scale, phases).
  await stopEppKube();
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
  await scenario("phases", () => phasesScenario(cfg.phases));
  await scenario("faults", () => faultsScenario({ quick, outDir }));
  await scenario("thirdParty", () => thirdPartyScenario(pick([igPrefix, envoyRr]), cfg.thirdParty));
} finally {
  await stopEppKube();
}

await scenario("pd", () => pdScenario({ ...pdConfig(quick, seed), outDir }));

results.machine.loadAvgAtEnd = loadavg().map((x) => round(x, 2));
results.elapsedS = round((Date.now() - BENCH_START) / 1000, 1);
save();
const md = renderRun(results, outDir);
process.stdout.write(
  `${md.split("## Contenders")[0]}\nresults: ${outDir} (committed part copied to bench/results/latest/; raw.json stays local)\n`,
);
process.exit(0);
