// The fleet launcher: N pods as processes on free loopback ports, named, healthy, stopped on exit;
// the same from the command line with a YAML spec.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
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
    cacheReport: true,
    pods: [{ name: "pod-a" }, { name: "pod-b", cacheReport: false }, { name: "pod-c", runtime: "sglang" }],
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
    // cacheReport: each pod its engine's flag (pod-b opted out); a warm prompt shows the report
    const prompt = "a prompt long enough to fill a couple of sixteen token blocks, said twice over here";
    const details: Record<string, unknown> = {};
    for (const p of fleet.pods) {
      const body = { model: "/models/Qwen3-32B", prompt, max_tokens: 1 };
      await postJson(`${p.url}/v1/completions`, body);
      details[p.name] = (await postJson(`${p.url}/v1/completions`, body)).body.usage.prompt_tokens_details;
    }
    // (22 tokens: vLLM hits one whole 16-token block, SGLang every token but the last)
    assert.deepEqual(details, { "pod-a": { cached_tokens: 16 }, "pod-b": null, "pod-c": { cached_tokens: 21 } });
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
  let child: ChildProcess | undefined;
  try {
    const spec = join(dir, "fleet.yaml");
    writeFileSync(
      spec,
      [
        "runtime: vllm",
        "args: [--max-num-seqs, '8']",
        "cacheReport: true",
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
    const launcher = spawn(process.execPath, [FLEET_JS, "--spec", spec], { stdio: ["ignore", "pipe", "inherit"] });
    child = launcher;
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: launcher.stdout });
      rl.once("line", resolve);
      launcher.once("exit", (c) => reject(new Error(`fleet exited ${c}`)));
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
    const chat = { model: "/models/Qwen3-32B", messages: [{ role: "user", content: "hi" }], max_tokens: 1 };
    const vllmUsage = (await postJson(`${pods[0].url}/v1/chat/completions`, chat)).body.usage;
    assert.deepEqual(vllmUsage.prompt_tokens_details, { cached_tokens: 0 }, "cacheReport reached the vLLM pod");
    const trtUsage = (await postJson(`${pods[1].url}/v1/chat/completions`, chat)).body.usage;
    assert.equal(trtUsage.prompt_tokens_details, undefined, "and the Triton pod started without a flag it lacks");
    const exited = new Promise((r) => launcher.once("exit", r));
    launcher.kill("SIGTERM");
    await exited;
    assert.ok(await gone(pods.map((p) => p.pid)), "pods stopped with the launcher");
  } finally {
    // a failed assertion above must not leave the launcher (and this test) running
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
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
