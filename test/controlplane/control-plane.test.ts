// The whole control plane in-process and as a child process: file → scrapes → table → push into an
// Envoy stand-in, the HTTP API, hot reload reaching the pushed table, scrape failures reaching it.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { memoryLogger } from "../../controlplane/log.js";
import { startControlPlane } from "../../controlplane/main.js";
import type { Table } from "../../controlplane/table/schema.js";
import { startEnvoyStandIn } from "./envoy-standin.js";
import { metricsServer, SRC_DIR, waitFor } from "./helpers.js";

const TOKEN = "cp-test-token";
const VLLM = readFileSync(join(SRC_DIR, "fixtures/metrics/vllm.txt"), "utf8");
const BUILD_MAIN = join(SRC_DIR, "../../build/js/controlplane/main.js");

function fleetYaml(addresses: string[], annotations: Record<string, string> = {}): string {
  const ann = Object.keys(annotations).length
    ? `  annotations:\n${Object.entries(annotations)
        .map(([k, v]) => `    ${k}: "${v}"`)
        .join("\n")}\n`
    : "";
  return `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata:
  name: qwen-inference-pool
${ann}spec:
  targetPortNumber: 8000
  selector:
    alibabacloud.com/inference-workload: vllm-inference
  extensionRef:
    name: inference-gateway-ext-proc
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata:
  name: qwen-inference-model
spec:
  modelName: /models/Qwen3-32B
  criticality: Critical
  poolRef:
    group: inference.networking.x-k8s.io
    kind: InferencePool
    name: qwen-inference-pool
  targetModels:
  - name: /models/Qwen3-32B
    weight: 100
---
apiVersion: infergate.dev/v1alpha1
kind: StaticEndpoints
metadata:
  name: sims
endpoints:
${addresses.map((a, i) => `- name: vllm-${i}\n  address: "${a}"\n  labels:\n    alibabacloud.com/inference-workload: vllm-inference`).join("\n")}
`;
}

/** Replaces the watched file as deployments do (a ConfigMap volume swaps its files atomically): a
 *  reload never sees it half written, so each edit is seen whole or not at all. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function get(base: string, path: string): Promise<{ status: number; text: string; json: () => any }> {
  const r = await fetch(`http://${base}${path}`);
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

test("in-process: pushes real load to Envoy, serves the API, hot-reloads annotations, reports failing pods", async () => {
  let page0: string | { status: number; body: string } = VLLM;
  const pod0 = await metricsServer(() => page0);
  const pod1 = await metricsServer(() =>
    VLLM.replace(
      'vllm:num_requests_waiting{engine="0",model_name="/models/Qwen3-32B"} 3.0',
      'vllm:num_requests_waiting{engine="0",model_name="/models/Qwen3-32B"} 0.0',
    ),
  );
  const envoy = await startEnvoyStandIn({ token: TOKEN });
  const dir = mkdtempSync(join(tmpdir(), "infergate-cp-"));
  const file = join(dir, "fleet.yaml");
  writeFileSync(file, fleetYaml([pod0.address, pod1.address]));
  const cp = await startControlPlane({
    source: "file",
    file,
    envoyControl: [envoy.url],
    token: TOKEN,
    listen: "127.0.0.1:0",
    scrapeIntervalMs: 20,
    pushIntervalMs: 200,
    filePollIntervalMs: 100,
    logger: memoryLogger(),
  });
  try {
    assert.match(cp.address, /^127\.0\.0\.1:\d+$/);
    await waitFor("Envoy has a table", () => envoy.table);
    const t = envoy.table!;
    assert.deepEqual(t.models, [
      {
        name: "/models/Qwen3-32B",
        pool: "default/qwen-inference-pool",
        criticality: "Critical",
        priority: 1,
        targets: [{ name: "/models/Qwen3-32B", weight: 100 }],
      },
    ]);
    const eps = t.pools[0].endpoints;
    assert.deepEqual(
      eps.map((e) => [e.name, e.address, e.ready, e.waiting, e.running, e.kvUsage]),
      [
        ["vllm-0", pod0.address, true, 3, 7, 0.4375],
        ["vllm-1", pod1.address, true, 0, 7, 0.4375],
      ],
    );
    assert.ok(
      eps.every((e) => e.scrapeAgeMs >= 0 && e.scrapeAgeMs < 1000),
      "scraped before the first push",
    );
    assert.deepEqual(eps[0].loras, ["chat-lora", "sql-lora", "tool-lora"]);

    assert.equal((await get(cp.address, "/healthz")).status, 200);
    await waitFor("ready", () => cp.ready());
    const ready = await get(cp.address, "/readyz");
    assert.equal(ready.status, 200);
    assert.equal(ready.json().targets[0].lastStatus, 204);
    const dbg = (await get(cp.address, "/debug/table")).json() as Table;
    assert.equal(dbg.version, 1);
    assert.ok(dbg.generation >= t.generation);
    const metrics = (await get(cp.address, "/metrics")).text;
    for (const name of [
      "infergate_scrape_duration_seconds_bucket",
      "infergate_table_generation",
      "infergate_push_duration_seconds_bucket",
      "infergate_push_accepted_generation",
      "process_cpu_seconds_total",
    ]) {
      assert.ok(metrics.includes(name), `/metrics has ${name}`);
    }
    assert.equal((await get(cp.address, "/debug/model")).json().problems.length, 0);
    assert.equal((await get(cp.address, "/nope")).status, 404);

    // Hot update: the seed's routing-strategy + queueing annotations reach Envoy without restarts.
    replaceFile(
      file,
      fleetYaml([pod0.address, pod1.address], {
        "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE",
        "inference.networking.x-k8s.io/queueing": "enabled",
        "inference-epp-env.networking.x-k8s.io/queue-ttl": "1.5s",
      }),
    );
    await waitFor("strategy pushed", () => envoy.table?.pools[0].strategy === "PREFIX_CACHE", 3000);
    assert.deepEqual(envoy.table!.pools[0].queue, { enabled: true, capacityBytes: 104857600, ttlMs: 1500 });

    // A bad annotation value: last good stays in force, the problem is visible.
    replaceFile(
      file,
      fleetYaml([pod0.address, pod1.address], {
        "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE",
        "inference.networking.x-k8s.io/queueing": "enabled",
        "inference-epp-env.networking.x-k8s.io/queue-ttl": "soon",
      }),
    );
    await waitFor("problem reported", () => cp.store.resolved().problems.length === 1, 3000);
    assert.equal(envoy.table!.pools[0].queue.ttlMs, 1500);
    const problems = (await get(cp.address, "/debug/model")).json().problems;
    assert.match(problems[0].message, /"soon": time: invalid duration "soon".*1500 stays in force/);

    // A pod whose metrics fail 3 times in a row is pushed as not ready, its scrape age growing.
    page0 = { status: 503, body: "down" };
    await waitFor(
      "pod0 not ready in Envoy",
      () => envoy.table?.pools[0].endpoints.find((e) => e.name === "vllm-0")?.ready === false,
      3000,
    );
    const stale = envoy.table!.pools[0].endpoints.find((e) => e.name === "vllm-0")!;
    assert.equal(stale.waiting, 3, "last good load, flagged by its age");
    await waitFor(
      "age grows",
      () =>
        envoy.table!.pools[0].endpoints.find((e) => e.name === "vllm-0")!.scrapeAgeMs > stale.scrapeAgeMs ? true : null,
      3000,
    );
    assert.ok(envoy.table!.pools[0].endpoints.find((e) => e.name === "vllm-1")!.ready);
    page0 = VLLM;
    await waitFor(
      "pod0 back",
      () => envoy.table?.pools[0].endpoints.find((e) => e.name === "vllm-0")?.ready === true,
      3000,
    );
  } finally {
    await cp.stop();
    await Promise.all([pod0.close(), pod1.close(), envoy.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("in-process: /readyz is 503 until an Envoy accepts a table (wrong token never does)", async () => {
  const envoy = await startEnvoyStandIn({ token: "other-token" });
  const dir = mkdtempSync(join(tmpdir(), "infergate-cp-"));
  const file = join(dir, "fleet.yaml");
  writeFileSync(file, fleetYaml([]));
  const logger = memoryLogger();
  const cp = await startControlPlane({
    source: "file",
    file,
    envoyControl: [envoy.url],
    token: TOKEN,
    pushIntervalMs: 100,
    logger,
  });
  try {
    await waitFor("401s", () => envoy.received.filter((r) => r.status === 401).length >= 2);
    const r = await get(cp.address, "/readyz");
    assert.equal(r.status, 503);
    assert.match(r.json().targets[0].lastError, /401/);
    assert.ok(logger.lines.some((l) => l.level === "error" && /401/.test(l.msg)));
  } finally {
    await cp.stop();
    await envoy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("in-process: a --staleness past the filter's bound fails start (the filter would refuse every table)", async () => {
  await assert.rejects(
    startControlPlane({ source: "file", file: "unused.yaml", envoyControl: [], token: TOKEN, stalenessMs: 86400001 }),
    /--staleness 86400001 ms: at most 24h/,
  );
});

test("child process: prints the bound address as one JSON line, serves /healthz, stops on SIGTERM", async () => {
  const envoy = await startEnvoyStandIn({ token: TOKEN });
  const pod = await metricsServer(() => VLLM);
  const dir = mkdtempSync(join(tmpdir(), "infergate-cp-"));
  const file = join(dir, "fleet.yaml");
  const tokenFile = join(dir, "token");
  writeFileSync(file, fleetYaml([pod.address]));
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const child = spawn(
    process.execPath,
    [
      BUILD_MAIN,
      "--source",
      "file",
      "--file",
      file,
      "--envoy-control",
      envoy.url,
      "--token-file",
      tokenFile,
      "--listen",
      "127.0.0.1:0",
      "--scrape-interval",
      "50ms",
      "--push-interval",
      "1s",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (c) => (stderr += c));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout });
      rl.once("line", resolve);
      child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    const { controlplane } = JSON.parse(line) as { controlplane: string };
    assert.match(controlplane, /^127\.0\.0\.1:\d+$/);
    assert.equal((await get(controlplane, "/healthz")).status, 200);
    await waitFor("table pushed by the child", () => envoy.table);
    assert.equal(envoy.table!.pools[0].endpoints[0].address, pod.address);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(stderr, /"msg":"control plane stopped"/);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await Promise.all([envoy.close(), pod.close()]);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("child process: bad flags exit 2 with a clear message", async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = spawn(process.execPath, [BUILD_MAIN, ...args], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      c.stderr.on("data", (d) => (stderr += d));
      c.once("exit", (code) => resolve({ code, stderr }));
    });
  // Four separate processes, started together (each loads the whole control plane).
  const [a, b, c, d] = await Promise.all([
    run(["--file", "x.yaml"]),
    run(["--file", "x.yaml", "--token", "t", "--scrape-interval", "100"]),
    run(["--file", "x.yaml", "--token", "t", "--envoy-control", "http://10.1.2.3:9901"]),
    run(["--file", "/nonexistent/fleet.yaml", "--token", "t"]),
  ]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /a token is required/);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /--scrape-interval "100": time: missing unit in duration "100"/);
  assert.equal(c.code, 2);
  assert.match(c.stderr, /must be a loopback address/);
  assert.equal(d.code, 1);
  assert.match(d.stderr, /fleet\.yaml: cannot read: no such file/);
});
