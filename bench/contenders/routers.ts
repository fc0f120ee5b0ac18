// The Rust routers users would pick instead, from PyPI into .venv-bench (bench/setup-peers.sh):
//   sglang-router: python -m sglang_router.launch_router --worker-urls ... --policy cache_aware|round_robin
//   smg:           python -m smg.launch_router ... (the SGLang Model Gateway, sglang-router's successor;
//                  same flags)
//   vllm-router:   vllm-router --worker-urls ... --policy cache_aware
// Bound to loopback on free ports (sglang-router's defaults are 0.0.0.0:30000 and metrics on 29000).
// sglang-router's power_of_two needs SGLang's /get_load, which only an SGLang-flavoured fleet
// serves; the bench fleet is vLLM-flavoured, so that policy is not run.

import { existsSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../../scripts/lib/ports.js";
import type { Contender } from "./types.js";
import { peerInstall, spawnProc, VENV_BENCH, waitServing } from "./util.js";

type RouterPackage = "sglang-router" | "smg" | "vllm-router";
const PYTHON_MODULE: Partial<Record<RouterPackage, string>> = {
  "sglang-router": "sglang_router.launch_router",
  smg: "smg.launch_router",
};

function router(pkg: RouterPackage, policy: string): Contender {
  const py = join(VENV_BENCH, "bin/python");
  const module = PYTHON_MODULE[pkg];
  const bin = module ? py : join(VENV_BENCH, "bin/vllm-router");
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
        ...(module ? ["-m", module] : []),
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
        pkg === "vllm-router" ? "warning" : "warn",
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
          module ? `python -m ${module}` : "vllm-router",
          ...args
            .filter((a) => a !== "-m" && a !== module)
            .map((a) => (fleet.pods.some((p) => p.url === a) ? "<pod>" : a))
            .filter((a, i, arr) => !(a === "<pod>" && arr[i - 1] === "<pod>")),
        ],
        pids: [proc.child.pid ?? 0],
        stop: () => proc.stop(),
      };
    },
  };
}

export const sglangCacheAware = router("sglang-router", "cache_aware");
export const smgCacheAware = router("smg", "cache_aware");
export const vllmRouterCacheAware = router("vllm-router", "cache_aware");
