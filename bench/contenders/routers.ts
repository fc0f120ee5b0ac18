// The Rust routers users would pick instead, from PyPI into .venv-bench (bench/setup-peers.sh):
//   sglang-router: python -m sglang_router.launch_router --worker-urls ... --policy cache_aware|round_robin
//   vllm-router:   vllm-router --worker-urls ... --policy cache_aware
// Bound to loopback on free ports (sglang-router's defaults are 0.0.0.0:30000 and metrics on 29000).
// sglang-router's power_of_two needs SGLang's /get_load, which only an SGLang-flavoured fleet
// serves; the bench fleet is vLLM-flavoured, so that policy is not run.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../scripts/lib/ports.js";
import type { Contender } from "./types.js";
import { peerInstall, spawnProc, VENV_BENCH, waitServing } from "./util.js";

function router(pkg: "sglang-router" | "vllm-router", policy: string): Contender {
  const py = join(VENV_BENCH, "bin/python");
  const bin = pkg === "sglang-router" ? py : join(VENV_BENCH, "bin/vllm-router");
  return {
    id: `${pkg}-${policy.replace(/_/g, "-")}`,
    label: `${pkg} ${policy}`,
    kind: "peer",
    unavailable() {
      const inst = peerInstall(pkg);
      if (!inst) return `${pkg}: not installed (bench/setup-peers.sh did not record it)`;
      if (!inst.ok) return `${pkg}: pip install failed: ${inst.error}`;
      if (!existsSync(bin)) return `${pkg}: ${bin} missing`;
      return null;
    },
    async start(fleet) {
      const port = await freePort();
      const prom = await freePort();
      const args = [
        ...(pkg === "sglang-router" ? ["-m", "sglang_router.launch_router"] : []),
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--prometheus-host",
        "127.0.0.1",
        "--prometheus-port",
        String(prom),
        "--worker-urls",
        ...fleet.pods.map((p) => p.url),
        "--policy",
        policy,
        "--log-level",
        pkg === "sglang-router" ? "warn" : "warning",
      ];
      const proc = spawnProc(bin, args, { RUST_LOG: "warn" });
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitServing(url, 60000, proc.child, proc.log);
      } catch (e) {
        await proc.stop();
        throw e;
      }
      const inst = peerInstall(pkg);
      return {
        url,
        version: `${pkg} ${inst?.version ?? "?"}`,
        flags: [
          pkg === "sglang-router" ? "python -m sglang_router.launch_router" : "vllm-router",
          ...args
            .filter((a) => !a.startsWith("-m") && a !== "sglang_router.launch_router")
            .map((a) => (fleet.pods.some((p) => p.url === a) ? "<pod>" : a))
            .filter((a, i, arr) => !(a === "<pod>" && arr[i - 1] === "<pod>")),
        ],
        stop: () => proc.stop(),
      };
    },
  };
}

export const sglangCacheAware = router("sglang-router", "cache_aware");
export const sglangRoundRobin = router("sglang-router", "round_robin");
export const vllmRouterCacheAware = router("vllm-router", "cache_aware");
