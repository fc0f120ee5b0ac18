// infergate: real Envoy + the compiled wasm filter + the control plane (in this process, as
// `make up` runs it), over the given fleet, with the pool's routing-strategy annotation.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import type { Contender } from "./types.js";
import { envoyVersion } from "./util.js";

const STRATEGY = "inference.networking.x-k8s.io/routing-strategy";

export function infergateVersion(): string {
  let rev = "unknown";
  try {
    rev = execFileSync("git", ["-C", REPO_ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
  } catch {
    /* not a checkout */
  }
  let wasm = "missing";
  try {
    wasm = createHash("sha256")
      .update(readFileSync(join(REPO_ROOT, "build/infergate.wasm")))
      .digest("hex")
      .slice(0, 12);
  } catch {
    /* not built */
  }
  return `infergate ${rev} (wasm sha256 ${wasm}) on envoy ${envoyVersion()}`;
}

export function infergate(
  strategy: "DEFAULT" | "PREFIX_CACHE",
  extraAnnotations: Record<string, string> = {},
  idSuffix = "",
): Contender {
  return {
    id: `infergate-${strategy === "DEFAULT" ? "default" : "prefix"}${idSuffix}`,
    label: `infergate ${strategy}${idSuffix ? ` ${idSuffix.replace(/^-/, "")}` : ""}`,
    kind: "infergate",
    unavailable: () => null,
    async start(fleet, opts) {
      const annotations = {
        ...(strategy === "PREFIX_CACHE" ? { [STRATEGY]: "PREFIX_CACHE" } : {}),
        ...extraAnnotations,
        ...(opts?.pool?.annotations ?? {}),
      };
      const gw = await startLocalGateway({
        existingFleet: fleet,
        pool: { annotations, criticality: opts?.pool?.criticality, extraModels: opts?.pool?.extraModels },
        envoy: { concurrency: 2 },
      });
      return {
        url: gw.url,
        envoy: gw.envoys[0],
        pids: gw.envoys.map((e) => e.process.pid ?? 0),
        version: infergateVersion(),
        flags: [
          "envoy --concurrency 2",
          "control plane scrape 100ms",
          ...Object.entries(annotations).map(([k, v]) => `${k}: ${v}`),
          ...(opts?.pool?.extraModels ? [`models ${JSON.stringify(opts.pool.extraModels)}`] : []),
        ],
        stop: () => gw.stop(),
      };
    },
  };
}
