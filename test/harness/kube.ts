// A real Kubernetes API for tests: etcd + kube-apiserver on loopback, started per suite.
//
// The binaries come from scripts/get-kube.sh (kube-apiserver and kubectl built from the Go module
// proxy, etcd from Debian's etcd-server or the Go build); KUBE_BIN_DIR overrides where they are.
// Nothing else of a cluster runs: no controller-manager, no scheduler, no kubelet. Pods are created
// through the API and their status subresource is written by the test (createPod) so they point at
// simulator pods on loopback.
//
// Everything started here is killed by stop(), on process exit, and, if this process dies without
// running its exit handlers, by a small watchdog shell that outlives it.

import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig, type V1Pod, type V1PodCondition } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { killOnExit } from "../../scripts/lib/child-processes.js";
import { freePort } from "../../scripts/lib/ports.js";

/** The user the control plane runs as in the chart (charts/infergate/templates/rbac.yaml). */
export const CONTROL_PLANE_USER = "system:serviceaccount:infergate-system:infergate";

export interface PodOptions {
  /** Pod IP written into status (default 127.0.0.1: the simulators listen on loopback). */
  ip?: string;
  /** Ready condition (default true). */
  ready?: boolean;
  namespace?: string;
  annotations?: Record<string, string>;
  /** Declared container port, for documentation only (the pool's targetPortNumber is what routes). */
  port?: number;
  /** Status phase (default Running). */
  phase?: "Pending" | "Running" | "Succeeded" | "Failed" | "Unknown";
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Kube {
  /** A kubeconfig file for the admin user (system:masters). */
  kubeconfigPath: string;
  /** The same, loaded. */
  kubeConfig: KubeConfig;
  /** https://127.0.0.1:<port> */
  server: string;
  /** etcd's client URL, http://127.0.0.1:<port> (tests compact it to provoke 410 Gone). */
  etcdUrl: string;
  /** Admin bearer token (group system:masters). */
  token: string;
  /** Bearer token of CONTROL_PLANE_USER (only the rights that RBAC objects applied in a test give it). */
  controlPlaneToken: string;
  /** The temp directory holding etcd data, certificates, keys and logs. */
  dir: string;
  /** Where kube-apiserver, etcd (and kubectl, when built) live. */
  binDir: string;
  /** Milliseconds from spawning kube-apiserver to /readyz answering 200, for the last (re)start. */
  apiServerStartMs: number;
  /** A KubeConfig using the given bearer token against this server. */
  kubeConfigFor(token: string, user?: string): KubeConfig;
  /** Runs kubectl (admin kubeconfig) if it was built; throws otherwise. */
  kubectl(args: string[], input?: string): Promise<KubectlResult>;
  hasKubectl: boolean;
  /** Stops and starts kube-apiserver only (same etcd, same port, same data): an API server restart.
   *  Open watches end (their connections are closed); clients must relist. */
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** Creates a Pod through the API and writes its status (IP, phase, Ready) via the status subresource. */
  createPod(name: string, labels: Record<string, string>, opts?: PodOptions): Promise<V1Pod>;
  /** Rewrites a Pod's status: Ready condition and, optionally, IP / phase. */
  setPodStatus(name: string, opts: PodOptions): Promise<V1Pod>;
  deletePod(name: string, namespace?: string): Promise<void>;
  /** A raw JSON request as the admin (no client-node model serializer in the way: its typed
   *  models drop keys they do not know, e.g. `enum` / `default` in a CRD schema). */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  /** Creates (or replaces) the CustomResourceDefinitions in these YAML files and waits until each
   *  is Established. Default: charts/infergate/crds/. Returns the CRD names. */
  installCrds(paths?: string[]): Promise<string[]>;
}

/** charts/infergate/crds/*.yaml */
export function ourCrdFiles(): string[] {
  const dir = join(repoRoot(), "charts", "infergate", "crds");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join(dir, f));
}

const here = dirname(fileURLToPath(import.meta.url));

/** The repository root: the nearest parent holding package.json and scripts/get-kube.sh. */
function repoRoot(): string {
  let d = here;
  for (;;) {
    if (existsSync(join(d, "package.json")) && existsSync(join(d, "scripts", "get-kube.sh"))) return d;
    const up = dirname(d);
    if (up === d) throw new Error(`kube harness: no repository root above ${here}`);
    d = up;
  }
}

/** Directory with kube-apiserver and etcd: $KUBE_BIN_DIR, else what scripts/get-kube.sh prints
 *  (it builds what is missing; quick when everything is built). */
export function kubeBinDir(): string {
  const fromEnv = process.env.KUBE_BIN_DIR;
  if (fromEnv) return resolve(fromEnv);
  const script = join(repoRoot(), "scripts", "get-kube.sh");
  const out = execFileSync("bash", [script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 60 * 60_000,
  });
  const dir = out.trim().split("\n").pop() ?? "";
  if (!dir) throw new Error("scripts/get-kube.sh printed no directory");
  return dir;
}

/** Directory with the Gateway API standard CRDs fetched by scripts/get-kube.sh, if present. */
export function gatewayApiCrdDir(): string | undefined {
  const base = join(repoRoot(), ".tools", "gateway-api");
  if (!existsSync(base)) return undefined;
  const versions = readdirSync(base).sort();
  const v = versions.pop();
  return v ? join(base, v) : undefined;
}

// ---- process bookkeeping -------------------------------------------------------------------

const live = new Set<ChildProcess>();

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  logPath: string;
}

function startProc(bin: string, args: string[], logPath: string, pidFile: string): Proc {
  // The child writes its log to the file directly: nothing to pump, and the log outlives it.
  const out = openSync(logPath, "a");
  const child = spawn(bin, args, { stdio: ["ignore", out, out], env: { ...process.env } });
  closeSync(out);
  live.add(child);
  killOnExit(child);
  const exited = new Promise<number | null>((res) => {
    // Keep the watchdog's list to live processes only (a pid of ours that exited may be reused).
    child.on("exit", (code) => {
      live.delete(child);
      writePids(pidFile);
      res(code);
    });
    child.on("error", () => {
      live.delete(child);
      writePids(pidFile);
      res(-1);
    });
  });
  writePids(pidFile);
  return { child, exited, logPath };
}

function writePids(pidFile: string): void {
  const pids = [...live].map((c) => c.pid).filter((p): p is number => typeof p === "number");
  try {
    writeFileSync(pidFile, `${pids.join(" ")}\n`);
  } catch {
    /* dir removed during stop */
  }
}

async function stopProc(p: Proc | undefined, graceMs = 10_000): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill("SIGTERM");
  const t = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  await p.exited;
  clearTimeout(t);
}

function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

// ---- readiness -----------------------------------------------------------------------------

function httpCall(
  method: string,
  url: string,
  opts: { ca?: Buffer; token?: string; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const u = new URL(url);
    const fn = u.protocol === "https:" ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const req = fn(
      u,
      { method, timeout: 10_000, headers, ...(u.protocol === "https:" ? { ca: opts.ca } : {}) },
      (r) => {
        let body = "";
        r.setEncoding("utf8");
        r.on("data", (c: string) => (body += c));
        r.on("end", () => res({ status: r.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
    req.end(opts.body);
  });
}

const httpGet = (url: string, opts: { ca?: Buffer; token?: string } = {}) => httpCall("GET", url, opts);

async function waitFor(what: string, deadline: number, proc: Proc, check: () => Promise<boolean>): Promise<void> {
  let lastErr = "";
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(
        `${what} exited (${proc.child.exitCode ?? proc.child.signalCode}) before it was ready:\n${tail(proc.logPath)}`,
      );
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${what} not ready in time (${lastErr}):\n${tail(proc.logPath)}`);
}

// ---- the cluster ---------------------------------------------------------------------------

export interface StartKubeOptions {
  /** Bound on each component's start (default 60 s; a warm start takes a few seconds). */
  startTimeoutMs?: number;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
}

export async function startKube(options: StartKubeOptions = {}): Promise<Kube> {
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const binDir = kubeBinDir();
  for (const b of ["kube-apiserver", "etcd"]) {
    if (!existsSync(join(binDir, b)))
      throw new Error(`kube harness: ${b} missing in ${binDir} (run scripts/get-kube.sh)`);
  }
  const hasKubectl = existsSync(join(binDir, "kubectl"));

  // etcd's data on tmpfs when there is one: fsync-heavy, and nothing here must outlive the suite.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(base, "infergate-kube-"));
  const pidFile = join(dir, "pids");
  startWatchdog(dir, pidFile);

  const token = randomBytes(24).toString("hex");
  const controlPlaneToken = randomBytes(24).toString("hex");
  writeFileSync(
    join(dir, "tokens.csv"),
    `${token},infergate-test-admin,uid-admin,"system:masters"\n` +
      `${controlPlaneToken},${CONTROL_PLANE_USER},uid-infergate,"system:serviceaccounts,system:serviceaccounts:infergate-system"\n`,
    { mode: 0o600 },
  );
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  writeFileSync(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  mkdirSync(join(dir, "certs"));

  const [etcdClient, etcdPeer, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const etcd = startProc(
    join(binDir, "etcd"),
    [
      "--name=infergate-test",
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=infergate-test=http://127.0.0.1:${etcdPeer}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-level=warn",
    ],
    join(dir, "etcd.log"),
    pidFile,
  );
  const stopAll = async () => {
    await stopProc(api, 3_000);
    await stopProc(etcd);
  };
  let api: Proc | undefined;
  try {
    await waitFor("etcd", Date.now() + startTimeoutMs, etcd, async () => {
      const r = await httpGet(`http://127.0.0.1:${etcdClient}/health`);
      return r.status === 200 && r.body.includes('"true"');
    });
  } catch (e) {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const server = `https://127.0.0.1:${apiPort}`;
  const apiArgs = [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${apiPort}`,
    `--cert-dir=${join(dir, "certs")}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
    "--service-cluster-ip-range=10.96.0.0/24",
    // No controller-manager runs: the ServiceAccount admission plugin would wait for a "default"
    // service account that nobody creates, and the endpoint reconciler has no node address to write.
    "--disable-admission-plugins=ServiceAccount",
    "--endpoint-reconciler-type=none",
    "--profiling=false",
    "--v=1",
    ...(options.apiServerArgs ?? []),
  ];
  const caPath = join(dir, "certs", "apiserver.crt");
  let apiServerStartMs = 0;

  const startApi = async () => {
    const t0 = Date.now();
    api = startProc(join(binDir, "kube-apiserver"), apiArgs, join(dir, "kube-apiserver.log"), pidFile);
    const proc = api;
    try {
      await waitFor("kube-apiserver", t0 + startTimeoutMs, proc, async () => {
        if (!existsSync(caPath)) return false;
        const r = await httpGet(`${server}/readyz`, { ca: readFileSync(caPath), token });
        return r.status === 200;
      });
    } catch (e) {
      await stopProc(proc, 1_000);
      throw e;
    }
    apiServerStartMs = Date.now() - t0;
  };
  try {
    await startApi();
  } catch (e) {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  // The self-signed serving certificate (with its CA) that kube-apiserver wrote into --cert-dir.
  const caData = readFileSync(caPath).toString("base64");
  const kubeConfigFor = (tok: string, user = "infergate-test-admin"): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "infergate-test", server, caData, skipTLSVerify: false }],
      users: [{ name: user, token: tok }],
      contexts: [{ name: "infergate-test", cluster: "infergate-test", user, namespace: "default" }],
      currentContext: "infergate-test",
    });
    return kc;
  };
  const kubeConfig = kubeConfigFor(token);
  const kubeconfigPath = join(dir, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });

  const core = () => kubeConfig.makeApiClient(CoreV1Api);
  await ensureNamespace(core(), "default");

  const kubectl = (args: string[], input?: string): Promise<KubectlResult> => {
    if (!hasKubectl) return Promise.reject(new Error(`kubectl was not built in ${binDir}`));
    return new Promise((res) => {
      const child = execFile(
        join(binDir, "kubectl"),
        [`--kubeconfig=${kubeconfigPath}`, ...args],
        { timeout: 60_000, maxBuffer: 16 << 20, env: { ...process.env, KUBECONFIG: kubeconfigPath } },
        (err, stdout, stderr) => {
          const c = (err as { code?: unknown } | null)?.code;
          const code = err ? (typeof c === "number" ? c : 1) : 0;
          res({ code, stdout, stderr });
        },
      );
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  };

  const podStatus = (pod: V1Pod, opts: PodOptions): V1Pod => {
    const now = new Date();
    const ip = opts.ip ?? "127.0.0.1";
    const ready = opts.ready ?? true;
    const phase = opts.phase ?? "Running";
    const cond = (type: string, status: boolean): V1PodCondition => ({
      type,
      status: status ? "True" : "False",
      lastTransitionTime: now,
    });
    const container = pod.spec?.containers[0];
    return {
      ...pod,
      status: {
        phase,
        hostIP: "127.0.0.1",
        hostIPs: [{ ip: "127.0.0.1" }],
        podIP: ip,
        podIPs: [{ ip }],
        startTime: pod.status?.startTime ?? now,
        conditions: [
          cond("PodScheduled", true),
          cond("Initialized", true),
          cond("ContainersReady", ready),
          cond("Ready", ready),
        ],
        containerStatuses: container
          ? [
              {
                name: container.name,
                image: container.image ?? "",
                imageID: "",
                ready,
                started: phase === "Running",
                restartCount: 0,
                state:
                  phase === "Running" ? { running: { startedAt: now } } : { waiting: { reason: "ContainerCreating" } },
              },
            ]
          : [],
      },
    };
  };

  const setPodStatus = async (name: string, opts: PodOptions): Promise<V1Pod> => {
    const api = core();
    const namespace = opts.namespace ?? "default";
    const pod = await api.readNamespacedPod({ name, namespace });
    return api.replaceNamespacedPodStatus({ name, namespace, body: podStatus(pod, opts) });
  };

  const createPod = async (name: string, labels: Record<string, string>, opts: PodOptions = {}): Promise<V1Pod> => {
    const namespace = opts.namespace ?? "default";
    const created = await core().createNamespacedPod({
      namespace,
      body: {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace, labels, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: {
          // No kubelet runs: the image is never pulled; the status below points at a simulator.
          nodeName: "infergate-test-node",
          containers: [
            {
              name: "model-server",
              image: "infergate.test/simulator:latest",
              ...(opts.port ? { ports: [{ containerPort: opts.port, name: "http" }] } : {}),
            },
          ],
        },
      },
    });
    return core().replaceNamespacedPodStatus({ name, namespace, body: podStatus(created, opts) });
  };

  const deletePod = async (name: string, namespace = "default"): Promise<void> => {
    await core().deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
  };

  const ca = readFileSync(caPath);
  const request = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const r = await httpCall(method, server + path, {
      ca,
      token,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let parsed: unknown = r.body;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      /* not JSON */
    }
    return { status: r.status, body: parsed };
  };

  const installCrds = async (paths: string[] = ourCrdFiles()): Promise<string[]> => {
    const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
    const names: string[] = [];
    for (const p of paths) {
      for (const doc of parseAllDocuments(readFileSync(p, "utf8"))) {
        const crd = doc.toJS() as { kind?: string; metadata: { name: string; resourceVersion?: string } } | null;
        if (crd?.kind !== "CustomResourceDefinition") continue;
        let r = await request("POST", base, crd);
        if (r.status === 409) {
          const cur = await request("GET", `${base}/${crd.metadata.name}`);
          crd.metadata.resourceVersion = cur.body?.metadata?.resourceVersion;
          r = await request("PUT", `${base}/${crd.metadata.name}`, crd);
        }
        if (r.status >= 300)
          throw new Error(`CRD ${crd.metadata.name} from ${p}: ${r.status} ${JSON.stringify(r.body)}`);
        names.push(crd.metadata.name);
      }
    }
    const deadline = Date.now() + 30_000;
    for (const name of names) {
      for (;;) {
        const r = await request("GET", `${base}/${name}`);
        const conds: Array<{ type: string; status: string }> = r.body?.status?.conditions ?? [];
        if (conds.some((c) => c.type === "Established" && c.status === "True")) break;
        if (Date.now() > deadline) throw new Error(`CRD ${name} not Established: ${JSON.stringify(r.body?.status)}`);
        await sleep(100);
      }
    }
    return names;
  };

  let stopped = false;
  const kube: Kube = {
    kubeconfigPath,
    kubeConfig,
    server,
    etcdUrl: `http://127.0.0.1:${etcdClient}`,
    token,
    controlPlaneToken,
    dir,
    binDir,
    get apiServerStartMs() {
      return apiServerStartMs;
    },
    kubeConfigFor,
    kubectl,
    hasKubectl,
    async restart() {
      // SIGTERM, then SIGKILL after 3 s: kube-apiserver's graceful shutdown waits for open
      // HTTP/1.1 watch connections (up to its own long timeout) and would otherwise hold a test.
      await stopProc(api, 3_000);
      await startApi();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    },
    createPod,
    setPodStatus,
    deletePod,
    request,
    installCrds,
  };
  return kube;
}

async function ensureNamespace(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.readNamespace({ name });
  } catch (e) {
    if ((e as { code?: number }).code !== 404) throw e;
    try {
      await core.createNamespace({ body: { apiVersion: "v1", kind: "Namespace", metadata: { name } } });
    } catch (e2) {
      if ((e2 as { code?: number }).code !== 409) throw e2;
    }
  }
}

/** A shell that outlives this process: when it is gone (or `dir` is), kill what is listed in
 *  pidFile and remove `dir`. Covers a test runner killed with SIGKILL, where no exit hook runs. */
function startWatchdog(dir: string, pidFile: string): void {
  const script =
    `while kill -0 ${process.pid} 2>/dev/null && [ -d "$0" ]; do sleep 1; done; ` +
    `[ -f "$1" ] && kill -9 $(cat "$1") 2>/dev/null; rm -rf "$0"`;
  const w = spawn("sh", ["-c", script, dir, pidFile], { detached: true, stdio: "ignore" });
  w.unref();
}
