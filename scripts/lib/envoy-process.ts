// Starts real Envoy with infergate's filter: renders envoy/bootstrap.yaml, spawns Envoy, waits
// until it is ready, reads back the ports it bound (0 = let Envoy choose), and captures its log so
// callers can read the filter's "Request Handled" lines. Used by `make up`, the tests and the bench.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureEndpointsFile } from "../../controlplane/envoy-endpoints/endpoints-file.js";
import { killOnExit, stopChild } from "./child-processes.js";
import { REPO_ROOT } from "./repo.js";

export interface EnvoyOptions {
  /** Public listener port; 0 = any free port. */
  port?: number;
  listenAddress?: string;
  controlPort?: number;
  adminPort?: number;
  /** Bearer token the control listener requires; random when omitted. */
  token?: string;
  wasmPath?: string;
  concurrency?: number;
  /** Largest request body the filter accepts (default DEFAULT_MAX_BODY_BYTES); Envoy's buffers follow. */
  maxBodyBytes?: number;
  /** Directory Envoy's file-based EDS watches for endpoints.json (the control plane's
   *  envoyEndpointsDir). Several replicas may share one; default: a fresh one per instance. */
  endpointsDir?: string;
  /** Heap budget for Envoy's overload manager (default 1 GiB): past 98 % new requests get 503. */
  maxHeapBytes?: number;
  /** Extra keys for the gateway role's plugin configuration (e.g. weights). */
  gatewayConfig?: Record<string, unknown>;
  envoyBin?: string;
  /** Envoy's own log level; the filter's lines are logged at info under the wasm component. */
  logLevel?: string;
  /** Level of the wasm component (the filter's "Request Handled" lines are info). */
  wasmLogLevel?: string;
  /** How often Envoy writes its buffered access log, the Request Handled lines (ms; default 20). */
  fileFlushMs?: number;
  /** Mirror Envoy's log to this process's stderr. */
  echoLog?: boolean;
  /** Also append Envoy's log to this file (make up: build/logs/envoy.log). */
  logFile?: string;
  /** How long Envoy may take to become ready (ms; default 30 s; under valgrind it takes minutes). */
  startTimeoutMs?: number;
  /** Changes the rendered bootstrap before Envoy reads it (tests of a deployment that lacks a part). */
  bootstrapEdit?: (yaml: string) => string;
}

export interface EnvoyInstance {
  url: string;
  port: number;
  controlUrl: string;
  adminUrl: string;
  token: string;
  /** Where Envoy reads the pods cluster's endpoints (give it to the control plane). */
  endpointsDir: string;
  process: ChildProcess;
  /** Everything Envoy has logged so far. */
  log(): string;
  /**
   * Parsed JSON of every "Request Handled" line so far. A line reaches the log through Envoy's
   * buffered access log once its stream has ended, up to fileFlushMs after the client got the
   * response: to read a request's line, wait for it with handledWhen().
   */
  handled(): RequestHandled[];
  /** The lines once `ready(lines)` holds; throws after timeoutMs (default 5 s). */
  handledWhen(ready: (lines: RequestHandled[]) => boolean, timeoutMs?: number): Promise<RequestHandled[]>;
  /** The line of one request (its x-request-id) once written; throws after timeoutMs (default 5 s). */
  handledLine(requestId: string, timeoutMs?: number): Promise<RequestHandled>;
  stop(): Promise<void>;
}

export interface RequestHandled {
  requestId: string;
  model: string;
  targetModel: string;
  pool: string;
  pod: string;
  address: string;
  strategy: string;
  candidates: number;
  eligible: number;
  stream: boolean;
  loadFresh: boolean;
  decisionUs: number;
  [k: string]: unknown;
}

/** 8 MiB: a 200k-token prompt or a few base64 images fit. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/** Envoy's per-connection buffer for a body limit: twice the limit plus 64 KiB, so the filter sees an
 *  oversized body (and answers its JSON 413) before Envoy's own buffer overflows, and the router can
 *  keep any accepted body for a retry. */
export function bufferLimitFor(maxBodyBytes: number): number {
  return maxBodyBytes * 2 + 65536;
}

export function findEnvoy(): string {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  return execFileSync(join(REPO_ROOT, "scripts/get-envoy.sh"), {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
}

function render(template: string, vars: Record<string, string>): string {
  return template.replace(/\{\{([A-Z_]+)\}\}/g, (_, k: string) => {
    if (!(k in vars)) throw new Error(`envoy/bootstrap.yaml: no value for {{${k}}}`);
    return vars[k];
  });
}

/** YAML single-quoted scalar content: only ' needs doubling. */
function yamlSingleQuoted(s: string): string {
  return s.replace(/'/g, "''");
}

export async function startEnvoy(opts: EnvoyOptions = {}): Promise<EnvoyInstance> {
  const bin = opts.envoyBin ?? findEnvoy();
  const wasm = opts.wasmPath ?? join(REPO_ROOT, "build/infergate.wasm");
  if (!existsSync(wasm)) throw new Error(`${wasm} is missing: run \`make wasm\` first`);
  const token = opts.token ?? randomBytes(24).toString("hex");
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const dir = mkdtempSync(join(tmpdir(), "infergate-envoy-"));
  const endpointsDir = opts.endpointsDir ?? join(dir, "endpoints");
  ensureEndpointsFile(endpointsDir);
  const instance = randomBytes(4).toString("hex");
  // "Request Handled" lines through the bootstrap's access log (assembly/gateway/handled-log.ts).
  const gatewayConfig = JSON.stringify({
    mode: "gateway",
    maxBodyBytes: maxBody,
    handledLog: "access-log",
    ...(opts.gatewayConfig ?? {}),
  });
  const controlConfig = JSON.stringify({ mode: "control", token });
  const yaml = render(readFileSync(join(REPO_ROOT, "envoy/bootstrap.yaml"), "utf8"), {
    INSTANCE: instance,
    ADMIN_PORT: String(opts.adminPort ?? 0),
    PORT: String(opts.port ?? 0),
    LISTEN_ADDRESS: opts.listenAddress ?? "127.0.0.1",
    CONTROL_PORT: String(opts.controlPort ?? 0),
    BUFFER_LIMIT: String(bufferLimitFor(maxBody)),
    ENDPOINTS_DIR: endpointsDir,
    MAX_HEAP_BYTES: String(opts.maxHeapBytes ?? 1024 * 1024 * 1024),
    WASM_PATH: wasm,
    GATEWAY_CONFIG: yamlSingleQuoted(gatewayConfig),
    CONTROL_CONFIG: yamlSingleQuoted(controlConfig),
  });
  const cfgPath = join(dir, "envoy.yaml");
  writeFileSync(cfgPath, opts.bootstrapEdit ? opts.bootstrapEdit(yaml) : yaml);
  const adminPath = join(dir, "admin-address");
  const args = [
    "-c",
    cfgPath,
    "--concurrency",
    String(opts.concurrency ?? 2),
    "--disable-hot-restart",
    // As the chart runs it: a drain tells every keep-alive client at once, then closes the listeners.
    "--drain-time-s",
    "5",
    "--drain-strategy",
    "immediate",
    "--admin-address-path",
    adminPath,
    "-l",
    opts.logLevel ?? "warning",
    "--component-log-level",
    `wasm:${opts.wasmLogLevel ?? "info"}`,
    "--log-format",
    "[%Y-%m-%d %T.%e][%l][%n] %v",
    // The access log (the Request Handled lines) reaches stdout within this; Envoy's default is 10 s.
    "--file-flush-interval-msec",
    String(opts.fileFlushMs ?? 20),
  ];
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let logText = "";
  if (opts.logFile) mkdirSync(dirname(opts.logFile), { recursive: true });
  const onData = (b: Buffer) => {
    const s = b.toString();
    logText += s;
    if (opts.echoLog) process.stderr.write(s);
    if (opts.logFile) appendFileSync(opts.logFile, s);
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let exited: number | null = null;
  child.on("exit", (code) => {
    exited = code ?? -1;
  });
  killOnExit(child);

  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };

  // Wait for the admin address file, then for /ready, then read the bound listener ports.
  const deadline = Date.now() + (opts.startTimeoutMs ?? 30000);
  let adminUrl = "";
  while (Date.now() < deadline) {
    if (exited !== null) break;
    if (existsSync(adminPath)) {
      const a = readFileSync(adminPath, "utf8").trim();
      if (a) {
        adminUrl = `http://${a}`;
        try {
          const r = await fetch(`${adminUrl}/ready`);
          if (r.ok) break;
        } catch {
          /* not yet */
        }
      }
    }
    await sleep(50);
  }
  if (exited !== null || !adminUrl || Date.now() >= deadline) {
    await stop();
    throw new Error(`envoy did not become ready (exit ${exited}):\n${logText.slice(-4000)}`);
  }
  const listeners = (await (await fetch(`${adminUrl}/listeners?format=json`)).json()) as {
    listener_statuses: { name: string; local_address: { socket_address: { address: string; port_value: number } } }[];
  };
  const portOf = (name: string) => {
    const l = listeners.listener_statuses.find((x) => x.name === name);
    if (!l) throw new Error(`listener ${name} missing from envoy admin`);
    return l.local_address.socket_address.port_value;
  };
  const port = portOf("infergate_public");
  const controlPort = portOf("infergate_control");
  const host = opts.listenAddress && opts.listenAddress !== "0.0.0.0" ? opts.listenAddress : "127.0.0.1";
  const handledWhen = async (ready: (lines: RequestHandled[]) => boolean, timeoutMs = 5000) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const lines = parseHandled(logText);
      if (ready(lines)) return lines;
      if (Date.now() > until)
        throw new Error(`Request Handled lines not there after ${timeoutMs} ms (${lines.length} lines)`);
      await sleep(10);
    }
  };
  return {
    url: `http://${host}:${port}`,
    port,
    controlUrl: `http://127.0.0.1:${controlPort}`,
    adminUrl,
    token,
    endpointsDir,
    process: child,
    log: () => logText,
    handled: () => parseHandled(logText),
    handledWhen,
    handledLine: async (requestId: string, timeoutMs = 5000) => {
      const mine = (h: RequestHandled) => h.requestId === requestId;
      return (await handledWhen((ls) => ls.some(mine), timeoutMs)).find(mine)!;
    },
    stop,
  };
}

export function parseHandled(text: string): RequestHandled[] {
  const out: RequestHandled[] = [];
  for (const line of text.split("\n")) {
    const i = line.indexOf("Request Handled {");
    if (i < 0) continue;
    try {
      out.push(JSON.parse(line.slice(i + "Request Handled ".length)) as RequestHandled);
    } catch {
      /* partial line */
    }
  }
  return out;
}
