// Starts bench/lib/stub-pods.ts (N near-instant OpenAI endpoints in one process) and hands it out
// either as bare ports (the decision-time benchmark pushes its own table) or as a Fleet that any
// contender can start on (the long-prompt workload: pods that cost no CPU per prompt byte).
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { killOnExit } from "../../scripts/lib/child-processes.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import type { Fleet, FleetPod } from "../../test/sim/fleet.js";

export async function startStubs(n: number): Promise<{ ports: number[]; pid: number; stop(): void }> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "build/js/bench/lib/stub-pods.js"), String(n)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error("stub pods did not start")), 20000);
    rl.once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once("exit", (c) => reject(new Error(`stub pods exited ${c}`)));
  });
  const forget = killOnExit(child);
  return {
    ports: (JSON.parse(line) as { ports: number[] }).ports,
    pid: child.pid ?? 0,
    stop: () => {
      forget();
      child.stdin!.end();
      child.kill("SIGKILL");
    },
  };
}

/** N stub pods as a Fleet (vLLM-flavoured metrics, names stub-0..N-1). */
export async function startStubFleet(n: number): Promise<Fleet> {
  const s = await startStubs(n);
  const pods: FleetPod[] = s.ports.map((port, i) => ({
    name: `stub-${i}`,
    address: `127.0.0.1:${port}`,
    port,
    url: `http://127.0.0.1:${port}`,
    runtime: "vllm",
    role: "both",
    bootstrapPort: null,
    adapters: [],
    pid: s.pid,
    impl: "sim",
  }));
  return {
    pods,
    pod(name: string) {
      const p = pods.find((x) => x.name === name);
      if (!p) throw new Error(`stub fleet: no pod named "${name}"`);
      return p;
    },
    async stop() {
      s.stop();
    },
  };
}
