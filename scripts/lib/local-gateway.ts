// A whole local gateway: a simulated model-server fleet, real Envoy with the filter (one or more
// replicas), and the control plane (in this process) reading a YAML file written from the seed's
// manifests plus StaticEndpoints for the fleet's pods. Used by `make up`, the end-to-end tests and
// the benchmarks, so all three run the same thing.

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import YAML from "yaml";
import { type ControlPlane, type ControlPlaneOptions, startControlPlane } from "../../controlplane/control-plane.js";
import { createLogger, type Logger } from "../../controlplane/log.js";
import { type Fleet, type FleetSpec, startFleet } from "../../test/sim/fleet.js";
import { type EnvoyInstance, type EnvoyOptions, startEnvoy } from "./envoy-process.js";

export const SEED_MODEL = "/models/Qwen3-32B";
export const SEED_POOL = "qwen-inference-pool";
const WORKLOAD_LABEL = "alibabacloud.com/inference-workload";

export interface PoolSettings {
  /** InferencePool annotations (routing-strategy, queueing, ...), exactly as a user writes them. */
  annotations?: Record<string, string>;
  criticality?: "Critical" | "Standard" | "Sheddable";
  /** Extra InferenceModels on the same pool (name -> criticality). */
  extraModels?: Record<string, "Critical" | "Standard" | "Sheddable">;
  /** Pod names to leave out of the pool (as if their Pods were deleted) or mark unready. */
  removed?: string[];
  unready?: string[];
  /** SGLang P/D: the seed's InferencePool + InferenceTrafficPolicy (YAML, used verbatim instead of
   *  the generated pool); pods get the seed's selector label and the policy's role label from their
   *  fleet role, and prefill pods their bootstrap port as the sglang.ai/bootstrap-port annotation. */
  pd?: PdSettings;
}

export interface PdSettings {
  manifests: string;
  /** Pod name -> role label value to write instead of the pod's role (null: no role label). */
  roleLabels?: Record<string, string | null>;
}

/** The seed's P/D InferencePool selects every SGLang pod by this label; the policy tells roles apart by the RoleBasedGroup one. */
export const PD_SELECTOR_LABEL = "alibabacloud.com/inference_backend";
export const PD_ROLE_LABEL = "rolebasedgroup.workloads.x-k8s.io/role";
export const BOOTSTRAP_PORT_ANNOTATION = "sglang.ai/bootstrap-port";

export interface LocalGatewayOptions {
  fleet?: FleetSpec;
  /** Use an already running fleet instead of starting one. */
  existingFleet?: Fleet;
  pool?: PoolSettings;
  envoy?: EnvoyOptions;
  /** Envoy replicas fed by the one control plane (the gateway may run several). */
  replicas?: number;
  controlPlane?: Partial<ControlPlaneOptions>;
  logger?: Logger;
  /** Wait until a request through the gateway succeeds (default true). */
  waitReady?: boolean;
}

export interface LocalGateway {
  fleet: Fleet;
  envoys: EnvoyInstance[];
  /** The first replica's public URL. */
  url: string;
  controlPlane: ControlPlane | null;
  configPath: string;
  /** Rewrites the YAML the control plane watches (hot update, as editing a manifest would). */
  writeConfig(pool: PoolSettings): void;
  stopControlPlane(): Promise<void>;
  startControlPlane(): Promise<void>;
  stop(): Promise<void>;
}

/** The seed's single-machine InferencePool + InferenceModel, with given annotations, and our StaticEndpoints. */
export function renderConfig(fleet: Fleet, pool: PoolSettings = {}): string {
  const poolDoc: Record<string, unknown> = {
    apiVersion: "inference.networking.x-k8s.io/v1alpha2",
    kind: "InferencePool",
    metadata: {
      name: SEED_POOL,
      ...(pool.annotations && Object.keys(pool.annotations).length ? { annotations: pool.annotations } : {}),
    },
    spec: {
      targetPortNumber: 8000,
      selector: { [WORKLOAD_LABEL]: "vllm-inference" },
      extensionRef: { name: "inference-gateway-ext-proc" },
    },
  };
  const model = (name: string, modelName: string, criticality: string) => ({
    apiVersion: "inference.networking.x-k8s.io/v1alpha2",
    kind: "InferenceModel",
    metadata: { name },
    spec: {
      modelName,
      criticality,
      poolRef: { group: "inference.networking.x-k8s.io", kind: "InferencePool", name: SEED_POOL },
      targetModels: [{ name: modelName, weight: 100 }],
    },
  });
  if (pool.pd)
    return renderPdConfig(
      fleet,
      pool,
      pool.pd,
      model("qwen-inference-model", SEED_MODEL, pool.criticality ?? "Critical"),
    );
  const docs: unknown[] = [poolDoc, model("qwen-inference-model", SEED_MODEL, pool.criticality ?? "Critical")];
  // Extra models are served by the same pods: their targetModels rewrite the request's "model"
  // to the one the simulated servers know (the filter's weighted target-model path).
  for (const [name, crit] of Object.entries(pool.extraModels ?? {})) {
    const doc = model(`model-${docs.length}`, name, crit);
    doc.spec.targetModels = [{ name: SEED_MODEL, weight: 100 }];
    docs.push(doc);
  }
  docs.push({
    apiVersion: "infergate.dev/v1alpha1",
    kind: "StaticEndpoints",
    metadata: { name: "simulated-fleet" },
    endpoints: fleet.pods
      .filter((p) => !(pool.removed ?? []).includes(p.name))
      .map((p) => ({
        name: p.name,
        address: p.address,
        labels: { [WORKLOAD_LABEL]: "vllm-inference" },
        ready: !(pool.unready ?? []).includes(p.name),
      })),
  });
  return docs.map((d) => YAML.stringify(d)).join("---\n");
}

/** The P/D pool's manifests verbatim, the seed's InferenceModel, and the pods as RoleBasedGroup labels them. */
function renderPdConfig(fleet: Fleet, pool: PoolSettings, pd: PdSettings, inferenceModel: unknown): string {
  const endpoints = fleet.pods
    .filter((p) => !(pool.removed ?? []).includes(p.name))
    .map((p) => {
      const override = pd.roleLabels?.[p.name];
      const role = override === undefined ? p.role : override;
      return {
        name: p.name,
        address: p.address,
        labels: { [PD_SELECTOR_LABEL]: "sglang", ...(role === null ? {} : { [PD_ROLE_LABEL]: role }) },
        ...(p.bootstrapPort ? { annotations: { [BOOTSTRAP_PORT_ANNOTATION]: String(p.bootstrapPort) } } : {}),
        ready: !(pool.unready ?? []).includes(p.name),
      };
    });
  const staticEndpoints = {
    apiVersion: "infergate.dev/v1alpha1",
    kind: "StaticEndpoints",
    metadata: { name: "simulated-fleet" },
    endpoints,
  };
  return [pd.manifests.trimEnd(), YAML.stringify(inferenceModel), YAML.stringify(staticEndpoints)].join("\n---\n");
}

export async function startLocalGateway(opts: LocalGatewayOptions = {}): Promise<LocalGateway> {
  const logger = opts.logger ?? createLogger({ component: "controlplane", level: "warn" });
  const dir = mkdtempSync(join(tmpdir(), "infergate-gw-"));
  const configPath = join(dir, "inference.yaml");
  const ownsFleet = !opts.existingFleet;
  // The pods report cached tokens (vLLM --enable-prompt-tokens-details, SGLang --enable-cache-report),
  // as a deployment using PREFIX_CACHE's feedback mode is configured.
  const fleet =
    opts.existingFleet ?? (await startFleet({ model: SEED_MODEL, pods: 3, cacheReport: true, ...(opts.fleet ?? {}) }));
  const envoys: EnvoyInstance[] = [];
  let cp: ControlPlane | null = null;
  const token = opts.envoy?.token ?? randomBytes(24).toString("hex");
  const stopAll = async () => {
    if (cp) {
      await cp.stop();
      cp = null;
    }
    await Promise.all(envoys.map((e) => e.stop()));
    if (ownsFleet) await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    writeFileSync(configPath, renderConfig(fleet, opts.pool));
    // One endpoints directory for every replica, as one control plane feeds them all.
    const endpointsDir = opts.envoy?.endpointsDir ?? join(dir, "endpoints");
    for (let i = 0; i < (opts.replicas ?? 1); i++) {
      envoys.push(await startEnvoy({ ...(opts.envoy ?? {}), token, endpointsDir, ...(i > 0 ? { port: 0 } : {}) }));
    }
    const cpOptions: ControlPlaneOptions = {
      source: "file",
      file: configPath,
      envoyControl: envoys.map((e) => e.controlUrl),
      envoyEndpointsDir: endpointsDir,
      envoyAdmin: envoys.map((e) => e.adminUrl),
      token,
      logger,
      filePollIntervalMs: 200,
      ...(opts.controlPlane ?? {}),
    };
    cp = await startControlPlane(cpOptions);
    const gw: LocalGateway = {
      fleet,
      envoys,
      url: envoys[0].url,
      get controlPlane() {
        return cp;
      },
      configPath,
      writeConfig(pool: PoolSettings) {
        writeFileSync(configPath, renderConfig(fleet, pool));
      },
      async stopControlPlane() {
        if (cp) {
          await cp.stop();
          cp = null;
        }
      },
      async startControlPlane() {
        if (!cp) cp = await startControlPlane(cpOptions);
      },
      stop: stopAll,
    };
    if (opts.waitReady ?? true) await waitUntilServing(gw.url, 30000);
    return gw;
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Polls with a real tiny request until the gateway answers 200 (a table arrived, a pod answered). */
export async function waitUntilServing(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const r = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: SEED_MODEL, messages: [{ role: "user", content: "ping" }], max_tokens: 1 }),
      });
      last = `${r.status} ${await r.text()}`;
      if (r.status === 200) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`gateway at ${url} did not serve within ${timeoutMs} ms; last answer: ${last}`);
}
