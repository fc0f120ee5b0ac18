// `make bench-instructions`: user-space instructions Envoy executes per request, counted by
// valgrind's callgrind, for plain Envoy and for infergate on the same fleet and bodies. Unlike CPU
// time (the overhead scenario's figure, which drifts by ±10 % between rounds on this shared
// machine), an instruction count repeats to within about 1 %, so a change of a few thousand
// instructions per request (one host call) is visible in one run. Kernel work (the sockets) is not
// counted: plain Envoy's count is the same for a tiny and an 8 KB body, while its CPU time is not.
//
// Per contender and body: a fresh fleet (2 zero-latency pods that report cached tokens) and a fresh Envoy (--concurrency 1)
// under callgrind; 300 warm-up requests; counters zeroed, 10 s idle, dumped (what the filter's
// 10 ms tick and the control plane's pushes and scrapes cost per second); zeroed again, N requests
// one at a time, dumped. Per request = (busy count − idle rate × busy time) / N. Writes
// bench/results/instructions/{instructions.json,summary.md}.
//
// A streamed answer (200 tokens, 1 ms apart) says what the filter costs on a typical chat request,
// where Envoy's own work per chunk dominates; it runs twice for infergate: with the control plane
// pushing as it does under load (one table per scrape round whose loads changed), and with its pushes
// frozen (the control plane stopped after the warm-up, its table trusted for an hour) so the figure is
// the request's own cost.
//
// --only (make bench-instructions ONLY=plain/tiny,DEFAULT/tiny) runs some rows, for an A/B of one
// change or of another Envoy (ENVOY_BIN) in minutes; it prints them and leaves the committed
// results alone.
//
// Two floor variants of the filter say what any proxy-wasm filter costs in this Envoy before it
// decides anything: bench/floor/*.patch, applied to a copy of assembly/ and built there (never
// shipped). Both route every request after the first by the first one's decision: "header-only"
// writes the two headers in the headers callback (no body, no response callbacks), "body-read"
// reads the headers and buffers and reads the body first, as the filter does, then writes them.
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../controlplane/log.js";
import { startLocalGateway } from "../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../scripts/lib/repo.js";
import { startFleet } from "../test/sim/fleet.js";
import { infergateVersion } from "./contenders/infergate.js";
import { plainEnvoy } from "./contenders/plain-envoy.js";
import { envoyVersion } from "./contenders/util.js";
import { FAST_POD_ARGS, progress, sleep } from "./lib/common.js";
import { startStubFleet } from "./lib/stub-fleet.js";
import { type BodyKind, overheadBody } from "./scenarios/overhead.js";
import { generateWorkload, SEED_MODEL } from "./workloads.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string" },
    idle: { type: "string" },
    only: { type: "string" },
    keep: { type: "string" },
  },
});
/** A whole number of at least `min` from the command line, or exit with what was wrong. */
function count(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (Number.isInteger(n) && n >= min) return n;
  process.stderr.write(`bench-instructions: --${name} must be a whole number >= ${min}, got "${text}"\n`);
  process.exit(2);
}
const REQUESTS = count("requests", values.requests, 1000, 1);
/** Idle window whose instruction rate is subtracted (ms). */
const IDLE_MS = count("idle", values.idle, 10000, 1000);
const WARMUP = 300;
const START_TIMEOUT_MS = 600000; // Envoy compiles the filter's wasm under valgrind: a minute or more
const STRATEGY = "inference.networking.x-k8s.io/routing-strategy";

type Kind = "plain" | "DEFAULT" | "PREFIX_CACHE";
/** The overhead scenario's bodies, and a tiny prompt answered with 200 streamed tokens. */
/** stream200-usage: the same stream asked with stream_options.include_usage, a prompt of a few blocks,
 *  so PREFIX_CACHE's feedback keeps the tail of every chunk (the usage comes in the last one). */
/** 220KB: the long-prompt workload's request (text in lines, as documents and code are). */
/** 8KB-new: the 8KB request with a prompt nobody sent before, every time (a new conversation, a
 *  new document): PREFIX_CACHE records all its blocks. */
type Body = BodyKind | "8KB-new" | "220KB" | "stream200" | "stream200-usage";
/** A floor variant: bench/floor/<name>.patch. */
type Floor = "header-only" | "body-read";
type Run = { kind: Kind; body: Body; floor?: Floor; frozen?: boolean };
/** A body's ladder: plain Envoy, both floors, the whole filter (DEFAULT, and PREFIX_CACHE if asked). */
function ladder(body: Body, prefixCache: boolean): Run[] {
  return [
    { kind: "plain", body },
    { kind: "DEFAULT", body, floor: "header-only" },
    { kind: "DEFAULT", body, floor: "body-read" },
    { kind: "DEFAULT", body },
    ...(prefixCache ? [{ kind: "PREFIX_CACHE" as const, body }] : []),
  ];
}
const RUNS: Run[] = [
  ...ladder("tiny", false),
  ...ladder("8KB", true),
  { kind: "plain", body: "8KB-new" },
  { kind: "PREFIX_CACHE", body: "8KB-new" },
  ...ladder("220KB", true),
  { kind: "plain", body: "stream200" },
  { kind: "DEFAULT", body: "stream200" },
  { kind: "DEFAULT", body: "stream200", frozen: true },
  { kind: "plain", body: "stream200-usage" },
  { kind: "PREFIX_CACHE", body: "stream200-usage" },
];
/** A row's name for --only: "plain/tiny", "body-read/8KB", "DEFAULT/stream200/frozen", ... */
function rowName(r: Run): string {
  return `${r.floor ?? r.kind}/${r.body}${r.frozen ? "/frozen" : ""}`;
}
/** --only a,b: just those rows (an A/B of one change in minutes), printed and not written to
 *  bench/results/instructions, whose table stays a whole run's. */
const ONLY: Set<string> | null =
  values.only === undefined ? null : new Set(values.only.split(",").map((s) => s.trim()));
if (ONLY !== null) {
  const names = RUNS.map(rowName);
  const unknown = [...ONLY].filter((n) => !names.includes(n));
  if (unknown.length > 0 || ONLY.size === 0) {
    process.stderr.write(
      `bench-instructions: --only: unknown row(s) ${unknown.join(", ") || "(none given)"}; rows: ${names.join(", ")}\n`,
    );
    process.exit(2);
  }
}
const STREAM_TOKENS = 200;
/** Streamed requests take ~0.2 s each, and a 220 KB one is slow under callgrind: a tenth as many
 *  (at least 20). */
const FEW_REQUESTS = Math.max(20, Math.round(REQUESTS / 10));
/** --keep DIR: each row's callgrind dump of its measured requests, kept as DIR/<row>.out for
 *  callgrind_annotate (where the instructions go on the host's side; the wasm is JIT code). */
const KEEP = values.keep;

/** Requests sent with a new prompt so far (8KB-new): each one's first block differs. */
let newPrompts = 0;

function payloadOf(body: Body): string {
  if (body === "8KB-new") {
    const b = JSON.parse(overheadBody("8KB", 42));
    b.messages[0].content = `Request ${++newPrompts}. ${b.messages[0].content}`;
    return JSON.stringify(b);
  }
  if (body === "220KB") {
    const w = generateWorkload({
      kind: "sized",
      seed: 42,
      requests: 1,
      promptBytes: 220 * 1024,
      prefixes: 1,
      lineBytes: 80,
    });
    return JSON.stringify(w.requests[0].body);
  }
  if (!isStream(body)) return overheadBody(body as BodyKind, 42);
  if (body === "stream200")
    return JSON.stringify({
      model: SEED_MODEL,
      messages: [{ role: "user", content: "hi" }],
      max_tokens: STREAM_TOKENS,
      stream: true,
    });
  return JSON.stringify({
    model: SEED_MODEL,
    messages: [{ role: "user", content: "Summarise the history of the printing press in Europe. ".repeat(8) }],
    max_tokens: STREAM_TOKENS,
    stream: true,
    stream_options: { include_usage: true },
  });
}

function isStream(body: Body): boolean {
  return body === "stream200" || body === "stream200-usage";
}

/** Builds a floor variant's wasm: assembly/ copied, the patch applied, compiled as the filter is. */
function buildFloor(floor: Floor, work: string): string {
  const dir = join(work, `floor-${floor}`);
  mkdirSync(dir);
  cpSync(join(REPO_ROOT, "assembly"), join(dir, "assembly"), { recursive: true });
  cpSync(join(REPO_ROOT, "asconfig.json"), join(dir, "asconfig.json"));
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"));
  const patch = join(REPO_ROOT, "bench/floor", `${floor}.patch`);
  try {
    execFileSync("git", ["apply", patch], { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  } catch (e) {
    throw new Error(`${patch} no longer applies to assembly/ (update it): ${(e as { stderr?: Buffer }).stderr}`);
  }
  const out = join(dir, "floor.wasm");
  execFileSync(
    join(REPO_ROOT, "node_modules/.bin/asc"),
    ["assembly/index.ts", "--target", "release", "--outFile", out, "--textFile", join(dir, "floor.wat")],
    { cwd: dir, stdio: ["ignore", "ignore", "inherit"] },
  );
  return out;
}

interface Row {
  contender: string;
  body: Body;
  /** the control plane stopped during both windows (no table pushes) */
  pushesFrozen: boolean;
  requests: number;
  /** instructions per request, thousands (idle rate subtracted) */
  kIrPerRequest: number;
  vsPlain: number | null;
  idleMIrPerS: number;
  busyMs: number;
  errors: number;
}

/** The event totals of a callgrind output file (its "totals:" or "summary:" line: Ir first). */
function totalIr(file: string): number {
  const m = /^(?:totals|summary):\s+(\d+)/m.exec(readFileSync(file, "utf8"));
  if (!m) throw new Error(`no totals line in ${file}`);
  return Number(m[1]);
}

function callgrind(cmd: "-z" | "-d", pid: number): void {
  execFileSync("callgrind_control", [cmd, String(pid)], { stdio: "ignore" });
}

async function measure(
  kind: Kind,
  body: Body,
  outDir: string,
  frozen: boolean,
  keepName: string,
  wasmPath?: string,
): Promise<Row> {
  // Streamed tokens 1 ms apart: each its own chunk through Envoy (0 ms would send them in a burst).
  const args = isStream(body) ? [...FAST_POD_ARGS, "--inter-token-latency-ms", "1"] : FAST_POD_ARGS;
  // Pods report cached tokens (as the overhead scenario's do): PREFIX_CACHE's default mode, feedback,
  // learns from every response's usage, and that path is part of its per-request cost. 220KB: the
  // long-prompt workload's stub pods (bench/lib/stub-pods.ts, no usage reported), as the simulator
  // tokenizes such a prompt for ~40 ms, and Envoy's idle rate over that time, subtracted, would
  // be most of the figure.
  const fleet =
    body === "220KB"
      ? await startStubFleet(2)
      : await startFleet({ model: SEED_MODEL, pods: 2, args, cacheReport: true });
  for (const f of readdirSync(outDir)) rmSync(join(outDir, f));
  let stop: () => Promise<void> = async () => {};
  let freeze: () => Promise<void> = async () => {};
  try {
    let url: string;
    let pid: number;
    if (kind === "plain") {
      const inst = await plainEnvoy("ROUND_ROBIN", 1, START_TIMEOUT_MS).start(fleet);
      ({ url } = inst);
      pid = inst.pids[0];
      stop = inst.stop;
    } else {
      const gw = await startLocalGateway({
        existingFleet: fleet,
        pool: { annotations: kind === "PREFIX_CACHE" ? { [STRATEGY]: "PREFIX_CACHE" } : {} },
        envoy: { concurrency: 1, startTimeoutMs: START_TIMEOUT_MS, ...(wasmPath ? { wasmPath } : {}) },
        waitReady: false,
        // Under valgrind the control plane's first pushes and admin reads time out and are retried:
        // expected here, so only errors are shown.
        logger: createLogger({ component: "controlplane", level: "error" }),
        // Frozen: the last table pushed stays trusted, so decisions score loads as with pushes running.
        ...(frozen ? { controlPlane: { stalenessMs: 3600000 } } : {}),
      });
      url = gw.url;
      pid = gw.envoys[0].process.pid ?? 0;
      stop = () => gw.stop();
      if (frozen) freeze = () => gw.stopControlPlane();
    }
    const fixed = body === "8KB-new" ? null : payloadOf(body);
    const requests = isStream(body) || body === "220KB" ? FEW_REQUESTS : REQUESTS;
    const send = async (n: number, untilOk = false): Promise<number> => {
      let errors = 0;
      for (let i = 0; i < n; i++) {
        const r = await fetch(`${url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: fixed ?? payloadOf(body),
        }).catch(() => null);
        const answer = r ? await r.text().catch(() => "") : "";
        // A stream that ended early (a reset, an error event) is an error too.
        if (r?.status === 200 && (!isStream(body) || answer.includes("[DONE]"))) continue;
        errors++;
        if (untilOk) {
          i--;
          await sleep(500);
        }
      }
      return errors;
    };
    // The gateway serves once the control plane's first table reached the (slow) filter.
    const ready = Promise.race([send(1, true), sleep(START_TIMEOUT_MS).then(() => "timeout")]);
    if ((await ready) === "timeout") throw new Error(`${kind}: no 200 within ${START_TIMEOUT_MS} ms`);
    await send(WARMUP);
    if (isStream(body)) await send(20);
    await freeze();
    await sleep(2000);
    callgrind("-z", pid);
    const idleStart = Date.now();
    await sleep(IDLE_MS);
    callgrind("-d", pid);
    const idleMs = Date.now() - idleStart;
    callgrind("-z", pid);
    const t0 = Date.now();
    const errors = await send(requests);
    callgrind("-d", pid);
    const busyMs = Date.now() - t0;
    const dumps = readdirSync(outDir)
      .filter((f) => /\.out\.\d+$/.test(f))
      .sort((a, b) => Number(a.split(".").pop()) - Number(b.split(".").pop()));
    if (dumps.length < 2) throw new Error(`${kind}: expected two callgrind dumps, found ${dumps.join(", ")}`);
    if (KEEP) {
      mkdirSync(KEEP, { recursive: true });
      cpSync(join(outDir, dumps[1]), join(KEEP, `${keepName}.out`));
    }
    const idleIr = totalIr(join(outDir, dumps[0]));
    const busyIr = totalIr(join(outDir, dumps[1]));
    const idlePerMs = idleIr / idleMs;
    return {
      contender: kind === "plain" ? "plain Envoy round-robin" : `infergate ${kind}`,
      body,
      pushesFrozen: frozen,
      requests,
      kIrPerRequest: Math.round((busyIr - idlePerMs * busyMs) / requests / 100) / 10,
      vsPlain: null,
      idleMIrPerS: Math.round(idlePerMs / 100) / 10,
      busyMs,
      errors,
    };
  } finally {
    await stop();
    await fleet.stop();
  }
}

async function main() {
  const valgrind = execFileSync(join(REPO_ROOT, "bench/apt-tool.sh"), ["valgrind"], { encoding: "utf8" }).trim();
  const envoy = process.env.ENVOY_BIN;
  if (!envoy) throw new Error("set ENVOY_BIN (make bench-instructions does)");
  const work = mkdtempSync(join(tmpdir(), "infergate-callgrind-"));
  const outDir = join(work, "out");
  mkdirSync(outDir);
  // Every Envoy this process starts (plain and infergate) runs under callgrind.
  const wrapper = join(work, "envoy-callgrind.sh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec ${valgrind} --tool=callgrind --callgrind-out-file=${outDir}/cg.%p.out ${envoy} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  // Asked of the real binary now: the wrapper is gone by the time the summary is written.
  const envoyVer = envoyVersion();
  process.env.ENVOY_BIN = wrapper;
  const rows: Row[] = [];
  try {
    const floors = new Map<Floor, string>();
    for (const r of RUNS) {
      if (ONLY !== null && !ONLY.has(rowName(r))) continue;
      if (r.floor && !floors.has(r.floor)) floors.set(r.floor, buildFloor(r.floor, work));
      const what = `${r.floor ? `floor variant ${r.floor}` : r.kind}${r.frozen ? " (pushes frozen)" : ""}`;
      progress(`instructions: ${what}, ${r.body} body, under callgrind`);
      const keepName = rowName(r).replaceAll("/", "-");
      const row = await measure(
        r.kind,
        r.body,
        outDir,
        r.frozen ?? false,
        keepName,
        r.floor ? floors.get(r.floor) : undefined,
      );
      if (r.floor) row.contender = `floor: ${r.floor} filter`;
      progress(`  ${row.kIrPerRequest} k instructions per request (${row.errors} errors)`);
      rows.push(row);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const row of rows) {
    const plain = rows.find((x) => x.contender.startsWith("plain") && x.body === row.body);
    row.vsPlain = plain ? Math.round((row.kIrPerRequest / plain.kIrPerRequest) * 100) / 100 : null;
  }
  const dir = join(REPO_ROOT, "bench/results/instructions");
  mkdirSync(dir, { recursive: true });
  const meta = {
    date: new Date().toISOString(),
    infergate: infergateVersion(),
    envoy: envoyVer,
    valgrind: execFileSync(valgrind, ["--version"], { encoding: "utf8" }).trim(),
    requests: REQUESTS,
    idleMs: IDLE_MS,
  };
  const lines = [
    "# Instructions per request (callgrind)",
    "",
    `${meta.date}; ${meta.infergate}; ${meta.valgrind}. Envoy --concurrency 1, 2 zero-latency pods (reporting cached tokens, as vLLM does with --enable-prompt-tokens-details), ${REQUESTS} requests one at a time after ${WARMUP} warm-up ones (stream200 and 220KB: ${FEW_REQUESTS}; stream200 after 20 more streamed ones); the idle rate (${IDLE_MS / 1000} s measured just before) subtracted. User-space instructions only (no kernel work). Reproduce: \`make bench-instructions\`.`,
    "",
    "| contender | body | table pushes | k instructions / request | vs plain Envoy | idle M instructions / s | errors |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| ${r.contender} | ${r.body} | ${r.contender.startsWith("plain") ? "–" : r.pushesFrozen ? "frozen" : "running"} | ${r.kIrPerRequest} | ${r.vsPlain ?? "–"} | ${r.idleMIrPerS} | ${r.errors}/${r.requests} |`,
    ),
    "",
    `8KB-new: the 8KB request with a prompt nobody sent before on every request (its first words are the request's number): PREFIX_CACHE records each of its 128 blocks in the prefix index (the 8KB row's prompt is a repeat, found whole with two bucket reads).`,
    "",
    `stream200: a tiny prompt answered with ${STREAM_TOKENS} streamed tokens, 1 ms apart. Table pushes running: the control plane scrapes the pods every 100 ms and pushes a table per scrape round whose loads changed (patched into the filter's table), and a heartbeat each second; what that adds above the idle rate is in the per-request figure. Frozen: the control plane stopped after the warm-up, its last table trusted for an hour. stream200-usage: the same stream, a prompt of 7 blocks, the client asking for usage (stream_options.include_usage): PREFIX_CACHE's feedback keeps the tail of every chunk, since the usage comes in the last one.`,
    "",
    "220KB: the long-prompt workload's request (a 228 KB body, text in 80-byte lines) to its stub pods (one-token answers, no usage reported). Callgrind counts a copy made with `rep movsb` (glibc's memcpy for large blocks) as one instruction per byte, so every whole-body copy shows here as ~229 k instructions while costing the CPU a few microseconds: Envoy's router copies a body it may retry (the infergate route retries; the plain Envoy route does not), and the filter copies the body into its memory. Read these rows for what is not a copy; the long-prompt scenario of make bench gives their CPU time.",
    "",
    "Floor rows: the filter patched (bench/floor/*.patch) to route every request after the first by the first one's decision. header-only: the two headers written in the headers callback, nothing else (no body read, no response callbacks); body-read: headers read and the body buffered and read as the filter does, then the two headers written (no parse, no decision, no log line, no in-flight accounting).",
    "",
  ];
  if (ONLY === null) {
    writeFileSync(join(dir, "instructions.json"), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
    writeFileSync(join(dir, "summary.md"), lines.join("\n"));
  }
  process.stdout.write(lines.join("\n"));
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`bench-instructions: ${(e as Error).stack}\n`);
    process.exit(1);
  },
);
