// The scrapers against the project's model-server simulator (test/sim), one pod per runtime, under
// load: requests are held in the simulator's batch and queue, and the scraped waiting/running must
// show them. Skipped when the simulator is not in the tree.

import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryLogger } from "../../controlplane/log.js";
import { ScrapeLoop } from "../../controlplane/scrapers/scrape-loop.js";
import type { Runtime } from "../../controlplane/table/schema.js";
import { waitFor } from "./helpers.js";

type SimModule = {
  startSimServer(cfg: unknown): Promise<{ url: string; address: string; port: number; stop(): Promise<void> }>;
  simConfig(o: Record<string, unknown>): unknown;
};

async function loadSim(): Promise<SimModule | null> {
  try {
    return (await import("../sim/server.js")) as unknown as SimModule;
  } catch {
    return null;
  }
}

const RUNTIMES: [string, Runtime][] = [
  ["vllm", "vllm"],
  ["sglang", "sglang"],
  ["trtllm", "trt-llm"],
];

for (const [simRuntime, runtime] of RUNTIMES) {
  test(`simulator ${simRuntime}: queued and running requests show up in the scraped load`, {
    timeout: 20_000,
  }, async (t) => {
    const sim = await loadSim();
    if (!sim) return t.skip("test/sim is not available");
    // One sequence at a time and slow tokens, so extra requests wait in the simulator's queue.
    const pod = await sim.startSimServer(
      sim.simConfig({
        name: `pod-${simRuntime}`,
        host: "127.0.0.1",
        port: 0,
        runtime: simRuntime,
        maxNumSeqs: 1,
        interTokenLatencyMs: 50,
        outputLen: 40,
      }),
    );
    const address = `127.0.0.1:${pod.port}`;
    const loop = new ScrapeLoop({ intervalMs: 20, timeoutMs: 1000, logger: memoryLogger() });
    const controller = new AbortController();
    try {
      loop.setTargets([{ address, runtime }]);
      await loop.scrapeAll();
      assert.deepEqual(
        { ...loop.state(address)!.load!, kvUsage: 0 },
        { waiting: 0, running: 0, kvUsage: 0, loras: [] },
        "idle pod",
      );
      const reqs = Array.from({ length: 3 }, (_, i) =>
        fetch(`http://${address}/v1/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ model: "/models/Qwen3-32B", prompt: `request ${i} `.repeat(20), max_tokens: 40 }),
          signal: controller.signal,
        })
          .then((r) => r.text())
          .catch(() => ""),
      );
      loop.start();
      const busy = await waitFor(
        "1 running, 2 waiting",
        () => {
          const l = loop.state(address)?.load;
          return l && l.running === 1 && l.waiting === 2 ? l : null;
        },
        5000,
      );
      assert.ok(busy.kvUsage > 0 && busy.kvUsage <= 1, `kv usage in (0,1]: ${busy.kvUsage}`);
      controller.abort();
      await Promise.all(reqs);
    } finally {
      controller.abort();
      loop.stop();
      await pod.stop();
    }
  });
}
