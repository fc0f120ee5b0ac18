// Starts a fleet of simulated model-server pods, one process each, on free loopback ports.
//
// As a library (tests, `make up`):
//   const fleet = await startFleet({ runtime: "vllm", pods: 3 });
//   fleet.pods[0].url  // http://127.0.0.1:PORT      also .name .address .port .role .bootstrapPort
//   await fleet.stop();
// As a command (prints the pods as JSON on stdout, runs until SIGINT/SIGTERM, then stops them):
//   node build/js/test/sim/fleet.js --pods 3 --runtime vllm [-- <flags for every pod>]
//   node build/js/test/sim/fleet.js --spec fleet.yaml
//   node build/js/test/sim/fleet.js --runtime sglang --prefill 1 --decode 2
//   node build/js/test/sim/fleet.js --impl llm-d --pods 2      (llm-d-inference-sim instead of ours)
//
// Spec (YAML or JSON file, or the object given to startFleet):
//   impl: sim                  # or llm-d
//   runtime: vllm              # vllm | sglang | trtllm (default for every pod)
//   model: /models/Qwen3-32B
//   args: [--max-num-seqs, "8"]            # flags for every pod (server.ts flags)
//   cacheReport: true                      # cached tokens in usage, each pod its engine's way
//   pods:                                  # or a number: that many plain pods
//     - name: pod-a
//     - name: pod-b
//       loraModules: [sql-lora, chat-lora]
//       maxLoras: 2
//     - count: 2                           # pods named decode-0, decode-1
//       namePrefix: decode
//       role: decode
//       args: [--bootstrap-timeout-ms, "5000"]
//
// Every child is stopped by fleet.stop(), on process exit, and (through its stdin) even when the
// launcher is killed.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import YAML from "yaml";
import { killOnExit, stopChild } from "../../scripts/lib/child-processes.js";
import { freePort } from "../../scripts/lib/ports.js";
import type { Role } from "./config.js";
import type { Runtime } from "./metrics.js";

export type Impl = "sim" | "llm-d";

export interface PodSpec {
  name?: string;
  namePrefix?: string;
  count?: number;
  runtime?: Runtime;
  role?: Role;
  loraModules?: string[];
  maxLoras?: number;
  /** overrides the fleet's cacheReport for these pods */
  cacheReport?: boolean;
  /** extra flags for this pod (server.ts flags; for llm-d, its own flags) */
  args?: string[];
}

export interface FleetSpec {
  impl?: Impl;
  runtime?: Runtime;
  model?: string;
  args?: string[];
  /** Report usage.prompt_tokens_details.cached_tokens, each pod with its own engine's switch
   *  (vllm: --enable-prompt-tokens-details, sglang: --enable-cache-report; trtllm has none and
   *  llm-d-inference-sim always reports). Off by default, as in the engines. */
  cacheReport?: boolean;
  pods?: PodSpec[] | number;
  /** how long to wait for every pod to be healthy (default 20 s) */
  startTimeoutMs?: number;
  /** path of the llm-d-inference-sim binary (default: $LLMD_SIM_BIN or .tools/bin/) */
  llmdBin?: string;
  /** pass children's stderr through (default: only when INFERGATE_SIM_LOG=1) */
  log?: boolean;
}

export interface FleetPod {
  name: string;
  address: string;
  port: number;
  url: string;
  runtime: Runtime;
  role: Role;
  bootstrapPort: number | null;
  adapters: string[];
  pid: number;
  impl: Impl;
}

export interface Fleet {
  readonly pods: FleetPod[];
  /** the pod with this name (throws if none) */
  pod(name: string): FleetPod;
  stop(): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const SERVER_JS = join(here, "server.js");
const DEFAULT_MODEL = "/models/Qwen3-32B";

/** The repository root: build/js/test/sim -> 4 levels up; test/sim (ts run directly) -> 2. */
function repoRoot(): string {
  for (const up of ["../../../..", "../.."]) {
    const r = resolve(here, up);
    if (existsSync(join(r, "package.json"))) return r;
  }
  return process.cwd();
}

/** Where llm-d-inference-sim is, if installed (scripts/get-llm-d-sim.sh puts it in .tools/bin). */
export function llmdSimBinary(): string | null {
  const p = process.env.LLMD_SIM_BIN || join(repoRoot(), ".tools", "bin", "llm-d-inference-sim");
  return existsSync(p) ? p : null;
}

/** The runtime's own switch for cached tokens in usage (none: Triton's frontend has none). */
export function cacheReportFlag(runtime: Runtime): string | null {
  return runtime === "vllm" ? "--enable-prompt-tokens-details" : runtime === "sglang" ? "--enable-cache-report" : null;
}

/** Expands a spec into one entry per pod, with names. */
export function expandPods(spec: FleetSpec): Array<Required<Pick<PodSpec, "name" | "runtime" | "role">> & PodSpec> {
  const runtime = spec.runtime ?? "vllm";
  const list: PodSpec[] = typeof spec.pods === "number" ? [{ count: spec.pods }] : (spec.pods ?? [{ count: 1 }]);
  const out: Array<Required<Pick<PodSpec, "name" | "runtime" | "role">> & PodSpec> = [];
  const counters = new Map<string, number>();
  for (const p of list) {
    const count = p.count ?? 1;
    for (let i = 0; i < count; i++) {
      let name = p.name;
      if (!name || count > 1) {
        const prefix = p.namePrefix ?? p.name ?? (p.role && p.role !== "both" ? p.role : "pod");
        const k = counters.get(prefix) ?? 0;
        counters.set(prefix, k + 1);
        name = `${prefix}-${k}`;
      }
      out.push({ ...p, name, runtime: p.runtime ?? runtime, role: p.role ?? "both" });
    }
  }
  const seen = new Set<string>();
  for (const p of out) {
    if (seen.has(p.name)) throw new Error(`fleet: duplicate pod name "${p.name}"`);
    seen.add(p.name);
  }
  return out;
}

async function waitHealthy(url: string, child: ChildProcess, deadline: number, path = "/health"): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before becoming healthy`);
    try {
      const res = await fetch(url + path, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`not healthy at ${url}${path} in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function firstLine(child: ChildProcess, deadline: number): Promise<string> {
  return new Promise((resolveLine, reject) => {
    let buf = "";
    const timer = setTimeout(
      () => reject(new Error("did not report its address in time")),
      Math.max(0, deadline - Date.now()),
    );
    const onData = (d: Buffer) => {
      buf += d.toString("utf8");
      const i = buf.indexOf("\n");
      if (i >= 0) {
        cleanup();
        resolveLine(buf.slice(0, i));
      }
    };
    const onExit = (code: number | null, sig: string | null) => {
      cleanup();
      reject(new Error(`exited (${code ?? sig}) before reporting its address`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off("data", onData);
      child.off("exit", onExit);
    };
    child.stdout?.on("data", onData);
    child.once("exit", onExit);
  });
}

async function startOne(
  spec: FleetSpec,
  p: ReturnType<typeof expandPods>[number],
  deadline: number,
): Promise<{ pod: FleetPod; child: ChildProcess; stderr: () => string }> {
  const impl = spec.impl ?? "sim";
  const model = spec.model ?? DEFAULT_MODEL;
  const log = spec.log ?? process.env.INFERGATE_SIM_LOG === "1";
  let child: ChildProcess;
  let port = 0;
  if (impl === "sim") {
    const args = [
      SERVER_JS,
      "--name",
      p.name,
      "--port",
      "0",
      "--runtime",
      p.runtime,
      "--model",
      model,
      "--role",
      p.role,
    ];
    if (p.role === "prefill") args.push("--bootstrap-port", "0");
    if (p.loraModules?.length) args.push("--lora-modules", p.loraModules.join(","));
    if (p.maxLoras !== undefined) args.push("--max-loras", String(p.maxLoras));
    const flag = cacheReportFlag(p.runtime);
    if ((p.cacheReport ?? spec.cacheReport) && flag) args.push(flag);
    args.push(...(spec.args ?? []), ...(p.args ?? []));
    child = spawn(process.execPath, args, {
      stdio: ["pipe", "pipe", log ? "inherit" : "pipe"],
      env: { ...process.env, INFERGATE_SIM_EXIT_ON_STDIN_END: "1" },
    });
  } else {
    const bin = spec.llmdBin ?? llmdSimBinary();
    if (!bin) throw new Error("llm-d-inference-sim is not installed (run scripts/get-llm-d-sim.sh)");
    if (p.runtime !== "vllm" || p.role !== "both")
      throw new Error("llm-d-inference-sim simulates vLLM only (no sglang/trtllm runtime, no P/D roles here)");
    port = await freePort();
    const args = [
      "--port",
      String(port),
      "--model",
      model,
      "--force-dummy-tokenizer",
      "--enable-kvcache",
      "--latency-calculator",
      "per-token",
      "--mode",
      "random",
    ];
    if (p.loraModules?.length)
      args.push("--lora-modules", ...p.loraModules.map((n) => JSON.stringify({ name: n, path: `/loras/${n}` })));
    if (p.maxLoras !== undefined) args.push("--max-loras", String(p.maxLoras));
    args.push(...(spec.args ?? []), ...(p.args ?? []));
    child = spawn(bin, args, {
      stdio: ["pipe", "pipe", log ? "inherit" : "pipe"],
      env: { ...process.env, POD_IP: "127.0.0.1", POD_NAME: p.name, POD_NAMESPACE: "default" },
    });
  }
  killOnExit(child);
  let errTail = "";
  child.stderr?.on("data", (d: Buffer) => {
    errTail = (errTail + d.toString("utf8")).slice(-4000);
  });
  try {
    let info: {
      address: string;
      port: number;
      url: string;
      pid: number;
      bootstrapPort: number | null;
      adapters: string[];
    };
    if (impl === "sim") {
      info = JSON.parse(await firstLine(child, deadline));
      // drain the rest of stdout so the child never blocks on a full pipe
      child.stdout?.resume();
    } else {
      child.stdout?.resume();
      info = {
        address: `127.0.0.1:${port}`,
        port,
        url: `http://127.0.0.1:${port}`,
        pid: child.pid ?? 0,
        bootstrapPort: null,
        adapters: p.loraModules ?? [],
      };
    }
    await waitHealthy(info.url, child, deadline);
    const pod: FleetPod = {
      name: p.name,
      address: info.address,
      port: info.port,
      url: info.url,
      runtime: p.runtime,
      role: p.role,
      bootstrapPort: info.bootstrapPort ?? null,
      adapters: info.adapters ?? [],
      pid: child.pid ?? 0,
      impl,
    };
    return { pod, child, stderr: () => errTail };
  } catch (e) {
    await stopChild(child, 500);
    throw new Error(`fleet: pod ${p.name}: ${(e as Error).message}${errTail ? `\n--- stderr ---\n${errTail}` : ""}`);
  }
}

/** Starts every pod of the spec, waits until all are healthy. */
export async function startFleet(spec: FleetSpec = {}): Promise<Fleet> {
  const pods = expandPods(spec);
  const deadline = Date.now() + (spec.startTimeoutMs ?? 20_000);
  const results = await Promise.allSettled(pods.map((p) => startOne(spec, p, deadline)));
  const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
  const stop = async () => {
    await Promise.all(ok.map((o) => stopChild(o.child)));
  };
  if (failed.length > 0) {
    await stop();
    throw new Error(failed.map((e) => e.message).join("\n"));
  }
  const list = ok.map((o) => o.pod);
  let stopping: Promise<void> | null = null;
  return {
    pods: list,
    pod(name: string) {
      const p = list.find((x) => x.name === name);
      if (!p) throw new Error(`fleet: no pod named "${name}"`);
      return p;
    },
    stop() {
      stopping ??= stop();
      return stopping;
    },
  };
}

/** Reads a fleet spec from a YAML or JSON file. */
export function loadFleetSpec(path: string): FleetSpec {
  const doc = YAML.parse(readFileSync(path, "utf8")) as unknown;
  if (typeof doc !== "object" || doc === null || Array.isArray(doc))
    throw new Error(`${path}: a fleet spec must be a mapping`);
  return doc as FleetSpec;
}

// ---- command line ----------------------------------------------------------------------------

const FLEET_USAGE = `usage: node build/js/test/sim/fleet.js [--spec FILE] [--pods N] [--runtime vllm|sglang|trtllm]
         [--model NAME] [--prefill N --decode M] [--lora-modules a,b] [--max-loras N]
         [--impl sim|llm-d] [--start-timeout-ms MS] [--cache-report] [-- <flags for every pod>]
Starts the pods, prints {"pods":[{name,address,port,url,runtime,role,bootstrapPort,adapters,pid,impl}]}
on one line of stdout, and stops them all on SIGINT/SIGTERM.`;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dd = argv.indexOf("--");
  const podArgs = dd >= 0 ? argv.slice(dd + 1) : [];
  const s = { type: "string" } as const;
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: dd >= 0 ? argv.slice(0, dd) : argv,
      strict: true,
      options: {
        spec: s,
        pods: s,
        runtime: s,
        model: s,
        prefill: s,
        decode: s,
        "lora-modules": s,
        "max-loras": s,
        impl: s,
        "start-timeout-ms": s,
        "cache-report": { type: "boolean" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${FLEET_USAGE}\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(`${FLEET_USAGE}\n`);
    return;
  }
  const spec: FleetSpec = typeof values.spec === "string" ? loadFleetSpec(values.spec) : {};
  if (typeof values.runtime === "string")
    spec.runtime = (values.runtime === "trt-llm" ? "trtllm" : values.runtime) as Runtime;
  if (typeof values.model === "string") spec.model = values.model;
  if (typeof values.impl === "string") spec.impl = values.impl as Impl;
  if (typeof values["start-timeout-ms"] === "string") spec.startTimeoutMs = Number(values["start-timeout-ms"]);
  if (podArgs.length) spec.args = [...(spec.args ?? []), ...podArgs];
  if (values["cache-report"]) spec.cacheReport = true;
  const lora =
    typeof values["lora-modules"] === "string" ? values["lora-modules"].split(",").filter(Boolean) : undefined;
  const maxLoras = typeof values["max-loras"] === "string" ? Number(values["max-loras"]) : undefined;
  if (values.prefill !== undefined || values.decode !== undefined) {
    const pd: PodSpec[] = [
      { count: Number(values.prefill ?? 0), role: "prefill", namePrefix: "prefill" },
      { count: Number(values.decode ?? 0), role: "decode", namePrefix: "decode" },
    ];
    spec.pods = pd.filter((p) => (p.count ?? 0) > 0);
  } else if (values.pods !== undefined) {
    spec.pods = [{ count: Number(values.pods), loraModules: lora, maxLoras }];
  } else if (spec.pods === undefined) {
    spec.pods = [{ count: 1, loraModules: lora, maxLoras }];
  }
  let fleet: Fleet;
  try {
    fleet = await startFleet(spec);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ pods: fleet.pods })}\n`);
  let exiting = false;
  const exit = () => {
    if (exiting) return;
    exiting = true;
    void fleet.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", exit);
  process.on("SIGTERM", exit);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) void main();
