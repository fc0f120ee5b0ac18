// `make up`: the gateway on this machine, on a simulated fleet. Installs nothing itself (the
// Makefile did); starts the fleet, Envoy with the filter and the control plane, prints
// "infergate ready: URL" once a request would succeed, and stops everything on Ctrl-C / SIGTERM.

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

const gw = await startLocalGateway({
  fleet: { pods, runtime: values.runtime as "vllm" | "sglang" | "trtllm", model: SEED_MODEL },
  envoy: { port, echoLog: true, logFile: join(REPO_ROOT, "build/logs/envoy.log") },
  pool: strategy ? { annotations: { "inference.networking.x-k8s.io/routing-strategy": strategy } } : {},
  logger: createLogger({ component: "controlplane", level: "info" }),
  controlPlane: { listen: `127.0.0.1:${cpPort}` },
}).catch((e: Error) => {
  const busy = /EADDRINUSE/.test(e.message) && e.message.includes(`:${cpPort}`);
  console.error(`up: ${e.message}${busy ? ` (another process has port ${cpPort}: set CONTROLPLANE_PORT)` : ""}`);
  process.exit(1);
});
console.log(`fleet: ${gw.fleet.pods.map((p) => `${p.name}=${p.address}`).join(" ")}`);
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
