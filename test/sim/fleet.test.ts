// The fleet launcher: N pods as processes on free loopback ports, named, healthy, stopped on exit;
// the same from the command line with a YAML spec.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { expandPods, type FleetPod, startFleet } from "./fleet.js";
import { postJson } from "./helpers.js";

const FLEET_JS = join(dirname(fileURLToPath(import.meta.url)), "fleet.js");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pids: number[], ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pids.every((p) => !alive(p))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test("spec expansion names pods and rejects duplicates", () => {
  const pods = expandPods({
    runtime: "sglang",
    pods: [{ name: "a" }, { count: 2, role: "decode" }, { count: 2, namePrefix: "x" }],
  });
  assert.deepEqual(
    pods.map((p) => [p.name, p.runtime, p.role]),
    [
      ["a", "sglang", "both"],
      ["decode-0", "sglang", "decode"],
      ["decode-1", "sglang", "decode"],
      ["x-0", "sglang", "both"],
      ["x-1", "sglang", "both"],
    ],
  );
  assert.deepEqual(
    expandPods({ pods: 2 }).map((p) => p.name),
    ["pod-0", "pod-1"],
  );
  assert.throws(() => expandPods({ pods: [{ name: "a" }, { name: "a" }] }), /duplicate/);
});

test("startFleet: three named pods, each answers as itself; stop() ends the processes", async () => {
  const fleet = await startFleet({
    pods: [{ name: "pod-a" }, { name: "pod-b" }, { name: "pod-c", runtime: "sglang" }],
  });
  let pids: number[] = [];
  try {
    assert.equal(fleet.pods.length, 3);
    pids = fleet.pods.map((p) => p.pid);
    assert.equal(new Set(fleet.pods.map((p) => p.port)).size, 3);
    for (const p of fleet.pods) {
      assert.equal(p.address, `127.0.0.1:${p.port}`);
      assert.equal(p.url, `http://127.0.0.1:${p.port}`);
      const r = await postJson(`${p.url}/v1/chat/completions`, {
        model: "/models/Qwen3-32B",
        messages: [{ role: "user", content: "who are you" }],
        max_tokens: 1,
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("x-sim-pod"), p.name);
    }
    assert.equal(fleet.pod("pod-c").runtime, "sglang");
    assert.match(await (await fetch(`${fleet.pod("pod-c").url}/metrics`)).text(), /^sglang:num_running_reqs\{/m);
  } finally {
    await fleet.stop();
  }
  assert.ok(await gone(pids), "all pod processes exited");
});

test("a pod that cannot start fails startFleet with its stderr, and the others are stopped", async () => {
  await assert.rejects(
    startFleet({ pods: [{ name: "good" }, { name: "bad", args: ["--runtime", "nonsense"] }] }),
    /pod bad: .*--runtime/s,
  );
});

test("command line: --spec fleet.yaml prints the pods as JSON; SIGTERM stops them all", async () => {
  const dir = mkdtempSync(join(tmpdir(), "fleet-"));
  try {
    const spec = join(dir, "fleet.yaml");
    writeFileSync(
      spec,
      [
        "runtime: vllm",
        "args: [--max-num-seqs, '8']",
        "pods:",
        "  - name: web-0",
        "    loraModules: [sql-lora]",
        "  - name: trt-0",
        "    runtime: trtllm",
        "  - count: 1",
        "    role: prefill",
        "    runtime: sglang",
        "",
      ].join("\n"),
    );
    const child = spawn(process.execPath, [FLEET_JS, "--spec", spec], { stdio: ["ignore", "pipe", "inherit"] });
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.once("line", resolve);
      child.once("exit", (c) => reject(new Error(`fleet exited ${c}`)));
    });
    const { pods } = JSON.parse(line) as { pods: FleetPod[] };
    assert.deepEqual(
      pods.map((p) => [p.name, p.runtime, p.role]),
      [
        ["web-0", "vllm", "both"],
        ["trt-0", "trtllm", "both"],
        ["prefill-0", "sglang", "prefill"],
      ],
    );
    assert.deepEqual(pods[0].adapters, ["sql-lora"]);
    assert.equal(typeof pods[2].bootstrapPort, "number");
    const models = (await (await fetch(`${pods[0].url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    assert.ok(models.data.some((m) => m.id === "sql-lora"));
    assert.match(await (await fetch(`${pods[1].url}/metrics`)).text(), /^nv_trt_llm_request_metrics\{/m);
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
    assert.ok(await gone(pods.map((p) => p.pid)), "pods stopped with the launcher");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pods do not outlive a launcher killed with SIGKILL", async () => {
  const child = spawn(process.execPath, [FLEET_JS, "--pods", "2"], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout }).once("line", resolve));
  const { pods } = JSON.parse(line) as { pods: FleetPod[] };
  assert.equal(pods.length, 2);
  child.kill("SIGKILL");
  assert.ok(await gone(pods.map((p) => p.pid)), "orphaned pods exit when their stdin closes");
});
