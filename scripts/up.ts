// `make up`: the gateway on this machine, on a simulated fleet. Installs nothing itself (the
// Makefile did); starts the fleet, Envoy with the filter and the control plane, prints
// "infergate ready: URL" once a request would succeed, and stops everything on Ctrl-C / SIGTERM.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "../controlplane/log.js";
import { SEED_MODEL, startLocalGateway } from "./lib/local-gateway.js";
import { REPO_ROOT } from "./lib/repo.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    pods: { type: "string", default: "3" },
    strategy: { type: "string", default: "" },
    runtime: { type: "string", default: "vllm" },
    // The control plane's API (status page, /metrics): the chart's port, so `infergate status`
    // finds it with no --url here as in a port-forwarded cluster.
    "controlplane-port": { type: "string", default: "9090" },
    pd: { type: "boolean", default: false },
  },
});
const port = Number(values.port);
const pods = Number(values.pods);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`up: PORT=${values.port} is not a port`);
  process.exit(2);
}
if (!Number.isInteger(pods) || pods < 1 || pods > 64) {
  console.error(`up: PODS=${values.pods} must be 1..64`);
  process.exit(2);
}
const cpPort = Number(values["controlplane-port"]);
if (!Number.isInteger(cpPort) || cpPort < 0 || cpPort > 65535) {
  console.error(`up: CONTROLPLANE_PORT=${values["controlplane-port"]} is not a port`);
  process.exit(2);
}
const strategy = values.strategy ?? "";
if (strategy && strategy !== "DEFAULT" && strategy !== "PREFIX_CACHE") {
  console.error(`up: STRATEGY must be DEFAULT or PREFIX_CACHE`);
  process.exit(2);
}

// PD=1: the seed's SGLang P/D example. Two prefill and two decode SGLang-flavoured pods labelled as
// a RoleBasedGroup labels them, and the seed's InferencePool + InferenceTrafficPolicy verbatim (with
// STRATEGY=PREFIX_CACHE, the "P/D disaggregation with prefix cache" one).
const pdFixture = strategy === "PREFIX_CACHE" ? "seed-000-pd-prefix-cache-sglang.yaml" : "seed-000-pd-sglang.yaml";
const gw = await startLocalGateway({
  fleet: values.pd
    ? {
        runtime: "sglang",
        model: SEED_MODEL,
        pods: [
          { count: Math.max(1, Math.floor(pods / 2)), role: "prefill", namePrefix: "prefill" },
          { count: Math.max(1, pods - Math.floor(pods / 2)), role: "decode", namePrefix: "decode" },
        ],
      }
    : { pods, runtime: values.runtime as "vllm" | "sglang" | "trtllm", model: SEED_MODEL },
  envoy: { port, echoLog: true, logFile: join(REPO_ROOT, "build/logs/envoy.log") },
  pool: values.pd
    ? { pd: { manifests: readFileSync(join(REPO_ROOT, "test/kube/fixtures", pdFixture), "utf8") } }
    : strategy
      ? { annotations: { "inference.networking.x-k8s.io/routing-strategy": strategy } }
      : {},
  logger: createLogger({ component: "controlplane", level: "info" }),
  controlPlane: { listen: `127.0.0.1:${cpPort}` },
}).catch((e: Error) => {
  const busy = /EADDRINUSE/.test(e.message) && e.message.includes(`:${cpPort}`);
  console.error(`up: ${e.message}${busy ? ` (another process has port ${cpPort}: set CONTROLPLANE_PORT)` : ""}`);
  process.exit(1);
});
console.log(
  `fleet: ${gw.fleet.pods
    .map(
      (p) =>
        `${p.name}=${p.address}${p.role === "both" ? "" : ` (${p.role}${p.bootstrapPort ? `, bootstrap port ${p.bootstrapPort}` : ""})`}`,
    )
    .join(" ")}`,
);
if (values.pd) console.log(`P/D: the seed's ${pdFixture} (test/kube/fixtures/), verbatim`);
console.log(
  `control plane: http://${gw.controlPlane?.address} (/status /metrics /debug/table); config: ${gw.configPath}`,
);
console.log(`status: http://${gw.controlPlane?.address}/status (or \`make status\` in a terminal)`);
console.log(`envoy admin: ${gw.envoys[0].adminUrl}; log: build/logs/envoy.log`);
console.log(`infergate ready: ${gw.url}`);

let stopping = false;
const stop = async (sig: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`up: ${sig}: stopping`);
  await gw.stop();
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
