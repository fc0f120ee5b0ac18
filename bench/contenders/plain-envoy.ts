// Plain Envoy (no wasm filter) with a static cluster over the same pods: round robin or random.
// Same Envoy binary and --concurrency as infergate, so the difference is the filter.

import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findEnvoy } from "../../scripts/lib/envoy-process.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import type { Contender } from "./types.js";
import { envoyVersion, sleep, spawnProc, waitServing } from "./util.js";

/** A started Envoy of our own config (plain Envoy, or Envoy + the upstream picker over ext_proc). */
export interface StaticEnvoy {
  url: string;
  pid: number;
  log(): string;
  stop(): Promise<void>;
}

/** Starts Envoy with this rendered config (its listener and admin on port 0); resolves once it serves. */
export async function startStaticEnvoy(
  yaml: string,
  concurrency: number,
  what: string,
  servingTimeoutMs = 20000,
): Promise<StaticEnvoy> {
  const dir = mkdtempSync(join(tmpdir(), "bench-envoy-"));
  const cfg = join(dir, "envoy.yaml");
  writeFileSync(cfg, yaml);
  const adminPath = join(dir, "admin");
  const proc = spawnProc(findEnvoy(), [
    "-c",
    cfg,
    "--concurrency",
    String(concurrency),
    "--disable-hot-restart",
    "--admin-address-path",
    adminPath,
    "-l",
    "warning",
  ]);
  const stop = async () => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let admin = "";
    // Under valgrind on a busy machine Envoy takes longer than 15 s to write its admin address.
    const adminBy = Date.now() + Math.max(15000, servingTimeoutMs);
    while (!admin && Date.now() < adminBy) {
      if (existsSync(adminPath)) admin = readFileSync(adminPath, "utf8").trim();
      if (!admin) await sleep(50);
    }
    if (!admin) throw new Error(`${what} did not start: ${proc.log().slice(-1500)}`);
    let port = 0;
    for (let i = 0; i < 100 && !port; i++) {
      try {
        const l = (await (await fetch(`http://${admin}/listeners?format=json`)).json()) as {
          listener_statuses: { local_address: { socket_address: { port_value: number } } }[];
        };
        port = l.listener_statuses[0]?.local_address.socket_address.port_value ?? 0;
      } catch {
        /* not yet */
      }
      if (!port) await sleep(50);
    }
    const url = `http://127.0.0.1:${port}`;
    await waitServing(url, servingTimeoutMs, proc.child, proc.log);
    return { url, pid: proc.child.pid ?? 0, log: proc.log, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export function plainEnvoy(policy: "ROUND_ROBIN" | "RANDOM", concurrency = 2, servingTimeoutMs = 20000): Contender {
  const id = policy === "ROUND_ROBIN" ? "envoy-rr" : "envoy-random";
  return {
    id,
    label: policy === "ROUND_ROBIN" ? "plain Envoy round-robin" : "plain Envoy random",
    kind: "envoy",
    unavailable: () => null,
    async start(fleet) {
      const endpoints =
        "[" +
        fleet.pods
          .map((p) => `{ endpoint: { address: { socket_address: { address: 127.0.0.1, port_value: ${p.port} } } } }`)
          .join(", ") +
        "]";
      const yaml = readFileSync(join(REPO_ROOT, "envoy/plain-envoy.yaml"), "utf8")
        .replace("{{INSTANCE}}", randomBytes(4).toString("hex"))
        .replace("{{LB_POLICY}}", policy)
        .replace("{{ENDPOINTS}}", endpoints);
      const flags = ["-c", "envoy/plain-envoy.yaml", "--concurrency", String(concurrency), `lb_policy ${policy}`];
      const e = await startStaticEnvoy(yaml, concurrency, "plain envoy", servingTimeoutMs);
      return { url: e.url, version: `envoy ${envoyVersion()}`, flags, pids: [e.pid], stop: e.stop };
    },
  };
}
