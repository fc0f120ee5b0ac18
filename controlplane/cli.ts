// Command-line flags → ControlPlaneOptions. Durations use Go syntax ("100ms", "1s"), like the seed's
// annotations, so one notation covers everything a user types.

import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type ControlPlaneOptions, DEFAULTS, parseGatewayService } from "./control-plane.js";
import { parseDurationMs } from "./model/duration.js";

export const USAGE = `usage: node build/js/controlplane/main.js (--source file --file FLEET.yaml | --source kubernetes [--kubeconfig PATH]) \\
         --envoy-control http://127.0.0.1:PORT [--envoy-control ...] (--token TOKEN | --token-file PATH) [options]
       node build/js/controlplane/main.js status [--url http://127.0.0.1:9090] [--json] [--watch 2s]

  --source file|kubernetes   where documents come from (default file)
  --file PATH                YAML with InferencePool / InferenceModel / InferenceTrafficPolicy / StaticEndpoints
  --kubeconfig PATH          kubernetes: kubeconfig file (default: in-cluster service account, else $KUBECONFIG, else ~/.kube/config)
  --all-namespaces           kubernetes: watch every namespace (default: only --namespace)
  --resync DUR               kubernetes: relist everything this often (default 5m)
  --gateway-service NS/NAME  kubernetes: be the Gateway API controller (standalone mode); Gateways get this Service's address
  --gateway-controller-name NAME  GatewayClass controllerName to claim besides the seed's (repeatable)
  --envoy-control URL        Envoy control listener to push the table to (repeatable)
  --envoy-endpoints-dir DIR  directory Envoy's file-based EDS watches: every pool's pods are written there
  --envoy-admin URL          Envoy admin (loopback, repeatable): pods Envoy ejects or finds unhealthy are not routed
  --envoy-admin-interval DUR how often Envoy's admin is read (default 100ms)
  --token TOKEN              bearer token the filter expects
  --token-file PATH          ... or read it from a file (surrounding whitespace trimmed)
  --listen HOST:PORT         API listener (default ${DEFAULTS.listen}; port 0 = any free port)
  --namespace NS             kubernetes: the namespace watched; file: namespace of documents that name none (default ${DEFAULTS.namespace})
  --scrape-interval DUR      metrics scrape period (default 100ms)
  --scrape-timeout DUR       per-scrape timeout (default 1s)
  --scrape-concurrency N     scrapes in flight at once (default ${DEFAULTS.scrapeConcurrency})
  --scrape-failures N        failed scrapes in a row that mark a pod not ready (default ${DEFAULTS.scrapeFailureThreshold})
  --push-interval DUR        heartbeat: push a fresh table at least this often (default 1s)
  --push-timeout DUR         per-push timeout (default 2s)
  --staleness DUR            table staleness bound for the filter (default 3s)
  --log-level LEVEL          debug | info | warn | error (default info)
`;

export class UsageError extends Error {
  override name = "UsageError";
}

function duration(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDurationMs(v);
  } catch (e) {
    throw new UsageError(`--${flag} ${JSON.stringify(v)}: ${(e as Error).message}`);
  }
  if (!(ms > 0)) throw new UsageError(`--${flag} ${v}: must be positive`);
  return ms;
}

function count(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new UsageError(`--${flag} ${JSON.stringify(v)}: must be a positive integer`);
  return Number(v);
}

function gatewayService(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  try {
    parseGatewayService(v);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return v;
}

export interface CliResult {
  options: ControlPlaneOptions;
  logLevel: "debug" | "info" | "warn" | "error";
}

export function parseCli(argv: string[]): CliResult {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        source: { type: "string" },
        file: { type: "string" },
        kubeconfig: { type: "string" },
        "all-namespaces": { type: "boolean" },
        resync: { type: "string" },
        "gateway-service": { type: "string" },
        "gateway-controller-name": { type: "string", multiple: true },
        "envoy-control": { type: "string", multiple: true },
        "envoy-endpoints-dir": { type: "string" },
        "envoy-admin": { type: "string", multiple: true },
        "envoy-admin-interval": { type: "string" },
        token: { type: "string" },
        "token-file": { type: "string" },
        listen: { type: "string" },
        namespace: { type: "string" },
        "scrape-interval": { type: "string" },
        "scrape-timeout": { type: "string" },
        "scrape-concurrency": { type: "string" },
        "scrape-failures": { type: "string" },
        "push-interval": { type: "string" },
        "push-timeout": { type: "string" },
        staleness: { type: "string" },
        "log-level": { type: "string" },
        help: { type: "boolean" },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) throw new UsageError("");
  const source = values.source ?? "file";
  if (source !== "file" && source !== "kubernetes")
    throw new UsageError(`--source ${JSON.stringify(source)}: must be "file" or "kubernetes"`);
  if (source === "file") {
    if (!values.file) throw new UsageError("--file is required with --source file");
    for (const f of ["kubeconfig", "all-namespaces", "resync", "gateway-service"] as const)
      if (values[f] !== undefined) throw new UsageError(`--${f} applies to --source kubernetes only`);
  } else {
    if (values.file !== undefined) throw new UsageError("--file applies to --source file only");
    if (values["all-namespaces"] && values.namespace !== undefined)
      throw new UsageError("give --namespace or --all-namespaces, not both");
  }
  if (values.token !== undefined && values["token-file"] !== undefined)
    throw new UsageError("give --token or --token-file, not both");
  let token = values.token;
  if (values["token-file"] !== undefined) {
    try {
      token = readFileSync(values["token-file"], "utf8").trim();
    } catch (e) {
      throw new UsageError(
        `--token-file ${values["token-file"]}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
      );
    }
    if (!token) throw new UsageError(`--token-file ${values["token-file"]}: the file is empty`);
  }
  if (!token) throw new UsageError("a token is required: --token TOKEN or --token-file PATH");
  const logLevel = (values["log-level"] ?? "info") as CliResult["logLevel"];
  if (!["debug", "info", "warn", "error"].includes(logLevel))
    throw new UsageError(`--log-level ${logLevel}: must be debug, info, warn or error`);
  return {
    logLevel,
    options: {
      source,
      file: values.file,
      kubeconfigPath: values.kubeconfig,
      allNamespaces: values["all-namespaces"] ?? false,
      resyncMs: duration("resync", values.resync),
      gatewayService: gatewayService(values["gateway-service"]),
      gatewayControllerNames: values["gateway-controller-name"],
      envoyControl: values["envoy-control"] ?? [],
      envoyEndpointsDir: values["envoy-endpoints-dir"],
      envoyAdmin: values["envoy-admin"],
      envoyAdminIntervalMs: duration("envoy-admin-interval", values["envoy-admin-interval"]),
      token,
      listen: values.listen,
      namespace: values.namespace,
      scrapeIntervalMs: duration("scrape-interval", values["scrape-interval"]),
      scrapeTimeoutMs: duration("scrape-timeout", values["scrape-timeout"]),
      scrapeConcurrency: count("scrape-concurrency", values["scrape-concurrency"]),
      scrapeFailureThreshold: count("scrape-failures", values["scrape-failures"]),
      pushIntervalMs: duration("push-interval", values["push-interval"]),
      pushTimeoutMs: duration("push-timeout", values["push-timeout"]),
      stalenessMs: duration("staleness", values.staleness),
    },
  };
}
