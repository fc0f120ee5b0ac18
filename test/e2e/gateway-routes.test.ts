// Gateway API routes, InferenceObjective priorities and InferenceModelRewrite splits through real Envoy
// with the filter: the behaviour the table's version 2 asks of the filter (controlplane/table/schema.ts:
// TableRoute, TableObjective, TableModel.priority, TablePool.anyModel). The control plane reads the
// seed's gateway_networking.yaml verbatim from its file source (the same resolver the Kubernetes
// source feeds: test/kube/gateway-controller.test.ts checks the table it pushes there).

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import YAML from "yaml";
import { type ControlPlane, startControlPlane } from "../../controlplane/control-plane.js";
import { memoryLogger } from "../../controlplane/log.js";
import { type EnvoyInstance, startEnvoy } from "../../scripts/lib/envoy-process.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { type Fleet, startFleet } from "../sim/fleet.js";
import { hostStats } from "./failover-helpers.js";
import { chat, clearPodLogs, eventually, podRequests, pool, post, SEED_MODEL, setFaults, sleep } from "./helpers.js";

/** Seed 000_*, Step 2, verbatim: GatewayClass, Gateway (listener http-llm on 8080), HTTPRoute /v1 → qwen-inference-pool. */
const SEED_GATEWAY = readFileSync(join(REPO_ROOT, "test/kube/fixtures/seed-000-gateway-httproute.yaml"), "utf8");
const WORKLOAD = "alibabacloud.com/inference-workload";
const OBJECTIVE = "x-gateway-inference-objective";
const X = "inference.networking.x-k8s.io/v1alpha2";

let fleet: Fleet;
let envoy: EnvoyInstance;
let cp: ControlPlane;
let dir = "";
let configPath = "";

interface Setup {
  /** HTTPRoute documents replacing the seed's (the GatewayClass and Gateway stay the seed's). */
  routes?: unknown[];
  queueing?: boolean;
  /** InferenceModelRewrite documents. */
  rewrites?: unknown[];
  /** More documents (another pool). */
  extra?: unknown[];
}

/** The seed's pool (pods a0, a1) and a second pool (b0) serving the same model, objectives, and the gateway. */
function render(s: Setup = {}): string {
  const gateway = s.routes
    ? SEED_GATEWAY.split(/^---$/m)
        .slice(0, 2)
        .join("---")
        .concat(s.routes.map((r) => `---\n${YAML.stringify(r)}`).join(""))
    : SEED_GATEWAY;
  const docs: unknown[] = [
    {
      apiVersion: X,
      kind: "InferencePool",
      metadata: {
        name: "qwen-inference-pool",
        ...(s.queueing ? { annotations: { "inference.networking.x-k8s.io/queueing": "enabled" } } : {}),
      },
      spec: { targetPortNumber: 8000, selector: { [WORKLOAD]: "vllm-inference" } },
    },
    {
      apiVersion: X,
      kind: "InferenceModel",
      metadata: { name: "qwen-inference-model" },
      spec: { modelName: SEED_MODEL, criticality: "Standard", poolRef: { name: "qwen-inference-pool" } },
    },
    {
      apiVersion: X,
      kind: "InferencePool",
      metadata: { name: "qwen-pool-b" },
      spec: { targetPortNumber: 8000, selector: { app: "pool-b" } },
    },
    {
      apiVersion: X,
      kind: "InferenceModel",
      metadata: { name: "qwen-on-b" },
      spec: { modelName: SEED_MODEL, poolRef: { name: "qwen-pool-b" } },
    },
    ...[
      ["gold", 10],
      ["batch", 0],
      ["scavenger", -5],
    ].map(([name, priority]) => ({
      apiVersion: X,
      kind: "InferenceObjective",
      metadata: { name },
      spec: { priority, poolRef: { name: "qwen-inference-pool" } },
    })),
    ...(s.rewrites ?? []),
    ...(s.extra ?? []),
    {
      apiVersion: "infergate.dev/v1alpha1",
      kind: "StaticEndpoints",
      metadata: { name: "fleet" },
      endpoints: fleet.pods.map((p) => ({
        name: p.name,
        address: p.address,
        labels: p.name.startsWith("b") ? { app: "pool-b" } : { [WORKLOAD]: "vllm-inference" },
      })),
    },
  ];
  return `${gateway}\n---\n${docs.map((d) => YAML.stringify(d)).join("---\n")}`;
}

/** Writes the config and waits until Envoy holds the table built from it. */
async function apply(s: Setup, pred: (t: NonNullable<ReturnType<ControlPlane["lastTable"]>>) => boolean) {
  writeFileSync(configPath, render(s));
  await eventually(async () => {
    const t = cp.lastTable();
    if (!t || !pred(t)) return false;
    const r = await fetch(`${envoy.controlUrl}/infergate/v1/table`, {
      headers: { authorization: `Bearer ${envoy.token}` },
    });
    return ((await r.json()) as { generation: number }).generation >= t.generation;
  }, 5000);
}

const route = (name: string, rules: unknown[]) => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name },
  spec: { parentRefs: [{ name: "inference-gateway" }], rules },
});
const poolRef = (name: string, weight?: number) => ({
  name,
  kind: "InferencePool",
  group: "inference.networking.x-k8s.io",
  ...(weight !== undefined ? { weight } : {}),
});

describe("Gateway API through Envoy: routes, objectives, rewrites", { timeout: 120_000 }, () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "infergate-routes-"));
    configPath = join(dir, "gateway.yaml");
    [fleet, envoy] = await Promise.all([
      startFleet({
        model: SEED_MODEL,
        pods: [
          { name: "a0", loraModules: ["canary-lora"] },
          { name: "a1", loraModules: ["canary-lora"] },
          { name: "b0", loraModules: ["canary-lora"] },
        ],
      }),
      startEnvoy({ gatewayConfig: { saturation: { inFlightLimit: 1 } } }),
    ]);
    writeFileSync(configPath, render());
    cp = await startControlPlane({
      source: "file",
      file: configPath,
      envoyControl: [envoy.controlUrl],
      // The pods reach Envoy as endpoints of its pods cluster (the file it watches), as in local-gateway.ts.
      envoyEndpointsDir: envoy.endpointsDir,
      envoyAdmin: [envoy.adminUrl],
      token: envoy.token,
      filePollIntervalMs: 100,
      scrapeIntervalMs: 50,
      logger: memoryLogger(),
    });
    await eventually(async () => (await post(envoy.url, "/v1/chat/completions", chat("ping"))).status === 200, 15_000);
  });
  after(async () => {
    await cp?.stop();
    await envoy?.stop();
    await fleet?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("the seed's HTTPRoute: /v1 requests reach its pool only; a path no route matches is a 404 in OpenAI's JSON", async () => {
    await apply({}, (t) => t.version === 2 && t.routes?.length === 1);
    for (let i = 0; i < 12; i++) {
      const r = await post(envoy.url, "/v1/chat/completions", chat(`seed route ${i}`));
      assert.equal(r.status, 200, r.text);
      assert.ok(r.pod === "a0" || r.pod === "a1", `served by ${r.pod}: qwen-pool-b is not a backend of the route`);
    }
    const miss = await post(envoy.url, "/v2/chat/completions", chat("no route"));
    assert.equal(miss.status, 404);
    assert.equal(miss.headers.get("content-type"), "application/json");
    assert.equal(miss.json.error.code, "route_not_found");
    assert.equal(miss.json.error.type, "invalid_request_error");
    assert.equal((await fetch(`${envoy.url}/health`)).status, 200, "the gateway's own /health is outside the routes");
  });

  test("editing the HTTPRoute live: a header rule to the second pool, the rest to the first", async () => {
    await apply(
      {
        routes: [
          route("inference-route", [
            {
              matches: [{ path: { type: "PathPrefix", value: "/v1" } }],
              backendRefs: [poolRef("qwen-inference-pool")],
            },
            {
              matches: [{ path: { type: "PathPrefix", value: "/v1" }, headers: [{ name: "X-Pool", value: "b" }] }],
              backendRefs: [poolRef("qwen-pool-b")],
            },
          ]),
        ],
      },
      (t) => t.routes?.length === 2,
    );
    for (let i = 0; i < 8; i++) {
      const b = await post(envoy.url, "/v1/chat/completions", chat(`to b ${i}`), { "x-pool": "b" });
      assert.equal(b.status, 200, b.text);
      assert.equal(b.pod, "b0");
      const a = await post(envoy.url, "/v1/chat/completions", chat(`to a ${i}`));
      assert.ok(a.pod === "a0" || a.pod === "a1", `no header: served by ${a.pod}`);
    }
    // An Exact rule narrows what is served: /v1/completions is no longer routed.
    await apply(
      {
        routes: [
          route("inference-route", [
            {
              matches: [{ path: { type: "Exact", value: "/v1/chat/completions" } }],
              backendRefs: [poolRef("qwen-inference-pool")],
            },
          ]),
        ],
      },
      (t) => t.routes?.length === 1 && t.routes[0].path.type === "Exact",
    );
    const gone = await post(envoy.url, "/v1/completions", { model: SEED_MODEL, prompt: "hi", max_tokens: 2 });
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error.code, "route_not_found");
  });

  test("InferenceObjective by header: negative priority is shed under saturation, the high one is served first", async () => {
    await apply({ queueing: true }, (t) => t.routes?.length === 1 && t.objectives.length === 3);
    await clearPodLogs(fleet);
    // Occupy a0 and a1 with one slow request each: with inFlightLimit 1 the pool is saturated.
    for (const p of ["a0", "a1"]) await setFaults(fleet.pod(p).url, { latencyMs: 1500 });
    const blockers = ["a0", "a1"].map((_, i) => post(envoy.url, "/v1/chat/completions", chat(`blocker ${i}`)));
    // The faults are cleared once both blockers are at their pods (Envoy has a request active on
    // each), not after a fixed wait: on a loaded machine a blocker that got there after the clear
    // was served at once and left a pod free for the first batch requests.
    await eventually(async () => {
      for (const p of ["a0", "a1"])
        if ((await hostStats(envoy.adminUrl, fleet.pod(p).address)).rq_active !== "1") return false;
      return true;
    }, 10_000);
    await sleep(50);
    for (const p of ["a0", "a1"]) await setFaults(fleet.pod(p).url, null);
    const batch = Array.from({ length: 6 }, (_, i) =>
      post(envoy.url, "/v1/chat/completions", chat(`batch ${i}`), { [OBJECTIVE]: "batch" }),
    );
    await sleep(100);
    const gold = Array.from({ length: 6 }, (_, i) =>
      post(envoy.url, "/v1/chat/completions", chat(`gold ${i}`), { [OBJECTIVE]: "gold" }),
    );
    await sleep(100);
    const shed = await Promise.all(
      Array.from({ length: 3 }, (_, i) =>
        post(envoy.url, "/v1/chat/completions", chat(`scavenger ${i}`), { [OBJECTIVE]: "scavenger" }),
      ),
    );
    for (const r of shed) {
      assert.equal(r.status, 429, r.text);
      assert.equal(r.headers.get("x-infergate-queue-reason"), "sheddable");
    }
    for (const r of await Promise.all([...batch, ...gold, ...blockers])) assert.equal(r.status, 200, r.text);
    // Dispatch order at the pods: every gold request (priority 10) before any batch one (0).
    const arrivals = [...(await podRequests(fleet)).values()]
      .flat()
      .filter((r) => r.headers[OBJECTIVE] === "gold" || r.headers[OBJECTIVE] === "batch")
      .sort((x, y) => x.arrivedAt - y.arrivedAt || x.seq - y.seq)
      .map((r) => r.headers[OBJECTIVE]);
    assert.deepEqual(arrivals, [...Array(6).fill("gold"), ...Array(6).fill("batch")]);
  });

  test("InferenceModelRewrite splits a model by weight (80/20 within ±7 points over 400 requests)", async () => {
    await apply(
      {
        rewrites: [
          {
            apiVersion: X,
            kind: "InferenceModelRewrite",
            metadata: { name: "canary" },
            spec: {
              poolRef: { name: "qwen-inference-pool" },
              rules: [
                {
                  matches: [{ model: { value: SEED_MODEL } }],
                  targets: [
                    { modelRewrite: SEED_MODEL, weight: 80 },
                    { modelRewrite: "canary-lora", weight: 20 },
                  ],
                },
              ],
            },
          },
        ],
      },
      (t) => t.models.some((m) => m.targets.some((x) => x.name === "canary-lora")),
    );
    await clearPodLogs(fleet);
    const N = 400;
    for (let i = 0; i < N; i++) {
      const r = await post(envoy.url, "/v1/chat/completions", chat(`split ${i}`));
      assert.equal(r.status, 200, r.text);
    }
    const served = [...(await podRequests(fleet)).values()].flat().filter((r) => r.path === "/v1/chat/completions");
    assert.equal(served.length, N);
    const canary = served.filter((r) => r.model === "canary-lora").length / N;
    // Binomial: sd = sqrt(0.2 * 0.8 / 400) = 0.02; ±0.07 is 3.5 sd.
    assert.ok(Math.abs(canary - 0.2) <= 0.07, `canary share ${canary.toFixed(3)} (expected 0.20 ± 0.07)`);
    assert.ok(served.every((r) => r.model === SEED_MODEL || r.model === "canary-lora"));
  });

  test("a pool that serves any model: the per-model counter keeps a bounded number of series, the rest under __other__, none lost", async () => {
    // No InferenceModel names this pool: the route's requests may name any model, taken from the
    // client; one stat per name would grow Envoy's stats without bound.
    await apply(
      {
        extra: [
          {
            apiVersion: X,
            kind: "InferencePool",
            metadata: { name: "qwen-pool-any" },
            spec: { targetPortNumber: 8000, selector: { app: "pool-b" } },
          },
        ],
        routes: [route("any-model", [{ backendRefs: [poolRef("qwen-pool-any")] }])],
      },
      (t) =>
        t.pools.some((p) => p.id === "default/qwen-pool-any" && p.anyModel !== undefined) && t.routes?.length === 1,
    );
    const series = async () => {
      const text = await (
        await fetch(`${envoy.adminUrl}/stats/prometheus?filter=inference_objective_request_total`)
      ).text();
      const out = new Map<string, number>();
      for (const m of text.matchAll(
        /^inference_objective_request_total\{model_name="([^"]*)",target_model_name="[^"]*"\} (\d+)$/gm,
      ))
        out.set(m[1], (out.get(m[1]) ?? 0) + Number(m[2]));
      return out;
    };
    const before = await series();
    // Two workers, a cap of 128 per worker: one of them sees at least 150 of 300 names.
    const N = 300;
    await pool(
      Array.from({ length: N }, (_, i) => i),
      8,
      async (i) => {
        const r = await post(envoy.url, "/v1/chat/completions", chat(`any ${i}`, { model: `client-model-${i}` }));
        // The filter routes it to the pool's pod; the simulated pod knows no such model (404).
        assert.equal(r.pod, "b0", `${r.status} ${r.text}`);
      },
    );
    let after = new Map<string, number>();
    const named = () => [...after.keys()].filter((k) => k.startsWith("client-model-"));
    const counted = () =>
      named().reduce((a, k) => a + after.get(k)!, 0) + (after.get("__other__") ?? 0) - (before.get("__other__") ?? 0);
    // Counted in the worker, pushed to Envoy's stats on its next tick.
    await eventually(async () => {
      after = await series();
      return counted() === N;
    }, 5000);
    assert.ok((after.get("__other__") ?? 0) > 0, "names past the cap are counted under __other__");
    assert.ok(named().length <= 2 * 128, `${named().length} series for client names: at most 128 per worker`);
    assert.ok(
      named().every((k) => after.get(k) === 1),
      "each named series counts its one request",
    );
  });
});
