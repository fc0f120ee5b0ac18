// The upstream endpoint picker (EPP) of the Gateway API Inference Extension, v1.5.0, as an Envoy
// user would deploy it: the same Envoy build with the ext_proc filter (bench/contenders/
// epp-envoy.yaml, after the module's own test/testdata/envoy.yaml) and the EPP binary
// (scripts/get-epp.sh: go build of sigs.k8s.io/gateway-api-inference-extension/cmd/epp from the Go
// module proxy), reading its InferencePool (inference.networking.k8s.io/v1) and Pods from a real
// kube-apiserver (test/harness/kube.ts, one per bench run, shared by every EPP start).
//
// Endpoints: no kubelet runs, so each simulated pod gets a Pod object whose status says Running,
// Ready, IP 127.0.0.1. The simulators all listen on 127.0.0.1 on different ports, so the pool lists
// every pod's port in spec.targetPorts (v1 allows up to 8; the EPP treats each podIP:port as its
// own endpoint, as for data-parallel ranks) and each Pod carries the EPP's
// `inference.networking.k8s.io/active-ports` annotation naming its own port: one endpoint per
// simulated pod, metrics scraped from that port's /metrics (vLLM names, the EPP's defaults).
//
// Configurations: "default" runs with no --config-file, i.e. the EPP's built-in default profile
// (queue-scorer 2, kv-cache-utilization-scorer 2, prefix-cache-scorer 3, max-score-picker, the
// approximate prefix-cache producer with autoTune on: block size and capacity read from the pods'
// vllm:cache_config_info). "prefix" is the prefix-cache scorer alone at weight 50, the "complete
// configuration" example of its EPP configuration guide (site-src/guides/epp-configuration).

import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../scripts/lib/ports.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { type Kube, startKube } from "../../test/harness/kube.js";
import type { Fleet } from "../../test/sim/fleet.js";
import { startStaticEnvoy } from "./plain-envoy.js";
import type { Contender } from "./types.js";
import { envoyVersion, sleep, spawnProc } from "./util.js";

export const EPP_MODULE = "sigs.k8s.io/gateway-api-inference-extension";
const ACTIVE_PORTS = "inference.networking.k8s.io/active-ports";
/** v1 InferencePool targetPorts maxItems */
export const EPP_MAX_PODS = 8;

export type EppProfile = "default" | "prefix";

const PREFIX_CONFIG = `apiVersion: inference.networking.x-k8s.io/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: prefix-cache-scorer
schedulingProfiles:
- name: default
  plugins:
  - pluginRef: prefix-cache-scorer
    weight: 50
`;

export const EPP_PLUGIN_CONFIG: Record<EppProfile, string> = {
  default:
    "built-in default (no --config-file): queue-scorer 2, kv-cache-utilization-scorer 2, prefix-cache-scorer 3, max-score-picker; approx-prefix-cache-producer autoTune (block size and capacity from vllm:cache_config_info)",
  prefix: `prefix-cache-scorer alone, weight 50 (the EPP configuration guide's example): ${PREFIX_CONFIG.replace(/\n/g, " ").trim()}`,
};

let binCache: { path: string | null; error: string | null } | null = null;
/** The EPP binary (building it on first use), or why not. */
export function eppBinary(): { path: string | null; error: string | null } {
  if (binCache) return binCache;
  try {
    const out = execFileSync(join(REPO_ROOT, "scripts/get-epp.sh"), [], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30 * 60_000,
    });
    binCache = { path: out.trim().split("\n").pop() ?? null, error: null };
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    binCache = { path: null, error: `scripts/get-epp.sh failed: ${(err.stderr ?? err.message).trim().slice(-1500)}` };
  }
  return binCache;
}

export function eppVersion(): string {
  try {
    const v = execFileSync("go", ["list", "-m", "-f", "{{.Version}}", EPP_MODULE], {
      cwd: join(REPO_ROOT, "scripts/epp"),
      encoding: "utf8",
      env: { ...process.env, GOFLAGS: "-mod=mod", GOTOOLCHAIN: "local" },
    }).trim();
    return `${EPP_MODULE}/cmd/epp ${v}`;
  } catch {
    return `${EPP_MODULE}/cmd/epp (version unknown)`;
  }
}

// One kube-apiserver for every EPP start in this bench run (starting one takes seconds and memory).
let kube: Promise<Kube> | null = null;
let namespaces = 0;
async function sharedKube(): Promise<Kube> {
  kube ??= (async () => {
    const k = await startKube();
    const crdDir = join(REPO_ROOT, ".tools/epp-crds");
    const version = readdirSync(crdDir).sort().pop();
    if (!version) throw new Error(`no CRDs in ${crdDir} (scripts/get-epp.sh copies them)`);
    await k.installCrds([join(crdDir, version, "inference.networking.k8s.io_inferencepools.yaml")]);
    return k;
  })();
  return kube;
}

/** Stops the shared kube-apiserver (end of the bench run). */
export async function stopEppKube(): Promise<void> {
  if (!kube) return;
  const k = await kube.catch(() => null);
  kube = null;
  await k?.stop();
}

async function publishPool(k: Kube, fleet: Fleet, eppPort: number): Promise<string> {
  const ns = `bench-epp-${++namespaces}-${randomBytes(3).toString("hex")}`;
  const r = await k.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: ns },
  });
  if (r.status >= 300) throw new Error(`namespace ${ns}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  const pool = await k.request("POST", `/apis/inference.networking.k8s.io/v1/namespaces/${ns}/inferencepools`, {
    apiVersion: "inference.networking.k8s.io/v1",
    kind: "InferencePool",
    metadata: { name: "bench-pool", namespace: ns },
    spec: {
      selector: { matchLabels: { app: "bench-sim" } },
      targetPorts: fleet.pods.map((p) => ({ number: p.port })),
      endpointPickerRef: { name: "bench-epp", port: { number: eppPort } },
    },
  });
  if (pool.status >= 300) throw new Error(`InferencePool: ${pool.status} ${JSON.stringify(pool.body).slice(0, 500)}`);
  for (const p of fleet.pods)
    await k.createPod(
      p.name,
      { app: "bench-sim" },
      {
        namespace: ns,
        ip: "127.0.0.1",
        port: p.port,
        annotations: { [ACTIVE_PORTS]: String(p.port) },
      },
    );
  return ns;
}

export function epp(profile: EppProfile): Contender {
  return {
    id: `epp-${profile}`,
    label: `upstream EPP ${profile === "default" ? "default profile" : "prefix-cache scorer"}`,
    kind: "peer",
    unavailable() {
      const b = eppBinary();
      return b.path ? null : (b.error ?? "scripts/get-epp.sh printed no path");
    },
    async start(fleet) {
      if (fleet.pods.length > EPP_MAX_PODS)
        throw new Error(`the EPP bench setup gives each pod its own targetPort: at most ${EPP_MAX_PODS} pods`);
      const bin = eppBinary().path!;
      const k = await sharedKube();
      const [grpc, health, metrics] = [await freePort(), await freePort(), await freePort()];
      const ns = await publishPool(k, fleet, grpc);
      const dir = mkdtempSync(join(tmpdir(), "bench-epp-"));
      const args = [
        "--pool-name",
        "bench-pool",
        "--pool-namespace",
        ns,
        "--grpc-port",
        String(grpc),
        "--grpc-health-port",
        String(health),
        "--metrics-port",
        String(metrics),
        "--metrics-endpoint-auth=false",
        "--enable-pprof=false",
        "--tracing=false",
        "--v=1",
      ];
      if (profile === "prefix") {
        writeFileSync(join(dir, "epp-config.yaml"), PREFIX_CONFIG);
        args.push("--config-file", join(dir, "epp-config.yaml"));
      }
      const proc = spawnProc(bin, args, { KUBECONFIG: k.kubeconfigPath, NAMESPACE: ns });
      const stopEpp = async () => {
        await proc.stop();
        rmSync(dir, { recursive: true, force: true });
        await k.request("DELETE", `/api/v1/namespaces/${ns}`).catch(() => null);
      };
      try {
        // Ready when a real request through Envoy is answered 200 (the EPP serves once it has synced
        // the pool and the pods and scraped their metrics): startStaticEnvoy waits for that.
        await sleep(200);
        if (proc.child.exitCode !== null)
          throw new Error(`epp exited ${proc.child.exitCode}: ${proc.log().slice(-2000)}`);
        const yaml = readFileSync(join(REPO_ROOT, "bench/contenders/epp-envoy.yaml"), "utf8")
          .replace("{{INSTANCE}}", randomBytes(4).toString("hex"))
          .replace("{{EPP_PORT}}", String(grpc));
        const envoy = await startStaticEnvoy(yaml, 2, "envoy for the EPP", 60_000).catch((e: Error) => {
          throw new Error(`${e.message}\n--- epp log ---\n${proc.log().slice(-2000)}`);
        });
        return {
          url: envoy.url,
          version: `${eppVersion()} + envoy ${envoyVersion()}`,
          flags: [
            "envoy --concurrency 2, ext_proc FULL_DUPLEX_STREAMED, ORIGINAL_DST on x-gateway-destination-endpoint",
            `epp ${args.filter((a) => !a.startsWith("/") && a !== ns && !/^\d+$/.test(a)).join(" ")}`,
            `plugins: ${EPP_PLUGIN_CONFIG[profile]}`,
          ],
          pids: [envoy.pid, proc.child.pid ?? 0],
          async stop() {
            await envoy.stop();
            await stopEpp();
          },
        };
      } catch (e) {
        await stopEpp();
        throw e;
      }
    },
  };
}
