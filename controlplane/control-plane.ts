// Wires the parts together: source → model store → scrape loop → table builder → pusher, plus the
// HTTP API. startControlPlane() is what main.ts runs and what tests and scripts/up.ts call in-process.

import { KubeConfig } from "@kubernetes/client-node";
import { type ApiServer, startApi } from "./api.js";
import { EndpointsFile } from "./envoy-endpoints/endpoints-file.js";
import { EnvoyHosts } from "./envoy-endpoints/envoy-hosts.js";
import { loadAssignment } from "./envoy-endpoints/load-assignment.js";
import { SEED_CONTROLLER_NAME } from "./gatewayapi/types.js";
import { createLogger, type Logger } from "./log.js";
import { ControlPlaneMetrics } from "./metrics.js";
import { ModelStore } from "./model/store.js";
import type { Problem } from "./model/types.js";
import { ScrapeLoop, type ScrapeTarget } from "./scrapers/scrape-loop.js";
import { FileSource } from "./sources/file.js";
import { KubernetesSource } from "./sources/kubernetes.js";
import { EnvoySampler } from "./status/envoy-sampler.js";
import { buildStatus, type StatusSnapshot } from "./status/status-view.js";
import { TableBuilder } from "./table/builder.js";
import { TablePusher } from "./table/pusher.js";
import { TABLE_MAX, type Table } from "./table/schema.js";

export interface ControlPlaneOptions {
  source: "file" | "kubernetes";
  /** The YAML file for source "file". */
  file?: string;
  /** Source "kubernetes": a loaded KubeConfig (tests); else kubeconfigPath; else in-cluster / $KUBECONFIG / ~/.kube/config. */
  kubeConfig?: KubeConfig;
  kubeconfigPath?: string;
  /** Source "kubernetes": watch every namespace instead of `namespace`. */
  allNamespaces?: boolean;
  /** Source "kubernetes": periodic relist. */
  resyncMs?: number;
  /** Source "kubernetes": bound on the first list of every resource at start. */
  syncTimeoutMs?: number;
  /** Source "kubernetes": reconnect backoff bounds. */
  kubeBackoffMinMs?: number;
  kubeBackoffMaxMs?: number;
  /** Source "kubernetes": how often a resource whose CRD is not installed is looked for again. */
  missingRetryMs?: number;
  /**
   * Source "kubernetes": "namespace/name" of the Service clients reach this gateway through. Turns the
   * Gateway API controller on (standalone mode): GatewayClasses of our controllerNames are claimed,
   * their Gateways get this Service's address, their HTTPRoutes route. (The file source always reads
   * Gateway API documents, without addresses.)
   */
  gatewayService?: string;
  /** GatewayClass controllerNames claimed besides the seed's inference.networking.x-k8s.io/gateway-controller. */
  gatewayControllerNames?: string[];
  /** Envoy control listeners, e.g. http://127.0.0.1:9901 (repeatable). */
  envoyControl: string[];
  token: string;
  /** Directory Envoy's file-based EDS watches (envoy/bootstrap.yaml ENDPOINTS_DIR): the pods of every
   *  pool are written there, before any table that routes to them. */
  envoyEndpointsDir?: string;
  /** Envoy admin URLs (loopback): each pod's health as Envoy sees it feeds the table's readiness. */
  envoyAdmin?: string[];
  envoyAdminIntervalMs?: number;
  /** From this many pods in Envoy's cluster, each admin poll probes a few cluster stats and reads
   *  /clusters only when they moved (envoy-endpoints/envoy-hosts.ts; default 32). */
  envoyAdminProbeFromHosts?: number;
  /** "127.0.0.1:0" picks a free port; the bound address is in ControlPlane.address. */
  listen?: string;
  namespace?: string;
  scrapeIntervalMs?: number;
  scrapeTimeoutMs?: number;
  scrapeConcurrency?: number;
  /** Consecutive failed scrapes that mark an endpoint not ready. */
  scrapeFailureThreshold?: number;
  /** Heartbeat: a fresh table is pushed at least this often. */
  pushIntervalMs?: number;
  pushTimeoutMs?: number;
  /** Table-level staleness bound for the filter. */
  stalenessMs?: number;
  filePollIntervalMs?: number;
  /** How often every Envoy replica's control listener and admin stats are read back for the status
   *  view and the pool metrics (in-flight, held requests, recent requests per pod). */
  statusIntervalMs?: number;
  /** The window the status view's shares and rates cover. */
  statusWindowMs?: number;
  logger?: Logger;
}

export interface ControlPlane {
  /** Bound API address, "127.0.0.1:PORT". */
  address: string;
  store: ModelStore;
  scrapes: ScrapeLoop;
  builder: TableBuilder;
  pusher: TablePusher;
  metrics: ControlPlaneMetrics;
  fileSource: FileSource | null;
  kubeSource: KubernetesSource | null;
  /** Reads the filter's own state back from every Envoy replica (null without Envoy targets). */
  envoySampler: EnvoySampler | null;
  /** The status view (GET /status, /status.json). */
  status(): StatusSnapshot;
  lastTable(): Table | null;
  ready(): boolean;
  /** Rebuilds now and publishes if something changed (or always with force). */
  refresh(force?: boolean): Table;
  stop(): Promise<void>;
}

export const DEFAULTS = {
  listen: "127.0.0.1:0",
  namespace: "default",
  scrapeIntervalMs: 100,
  scrapeTimeoutMs: 1000,
  scrapeConcurrency: 32,
  scrapeFailureThreshold: 3,
  pushIntervalMs: 1000,
  pushTimeoutMs: 2000,
  stalenessMs: 3000,
  filePollIntervalMs: 1000,
  envoyAdminIntervalMs: 100,
  statusIntervalMs: 2000,
  statusWindowMs: 60_000,
  resyncMs: 300_000,
  syncTimeoutMs: 30_000,
} as const;

/** KubeConfig for --source kubernetes: an explicit file, else the in-cluster service account, else $KUBECONFIG / ~/.kube/config. */
export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster())
    throw new Error(
      `kubeconfig${path ? ` ${path}` : ""}: no current cluster (give --kubeconfig, set KUBECONFIG, or run inside a cluster)`,
    );
  return kc;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(listen) ?? /^([^:]*):(\d+)$/.exec(listen);
  if (!m)
    throw new Error(
      `--listen ${JSON.stringify(listen)}: expected HOST:PORT, e.g. 127.0.0.1:9090 (port 0 picks a free one)`,
    );
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`--listen ${listen}: port must be 0..65535`);
  return { host: m[1] || "127.0.0.1", port };
}

/** "namespace/name" of --gateway-service. */
export function parseGatewayService(v: string): { namespace: string; name: string } {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.exec(v);
  if (!m) throw new Error(`--gateway-service ${JSON.stringify(v)}: expected NAMESPACE/NAME of the gateway's Service`);
  return { namespace: m[1], name: m[3] };
}

export async function startControlPlane(opts: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = opts.logger ?? createLogger({ component: "controlplane" });
  if (opts.source !== "file" && opts.source !== "kubernetes")
    throw new Error(`--source ${String(opts.source)}: must be "file" or "kubernetes"`);
  if (opts.source === "file" && !opts.file) throw new Error("--file is required with --source file");
  if (!opts.token)
    throw new Error("a bearer token is required (--token or --token-file): the filter refuses unauthenticated tables");
  const listen = parseListen(opts.listen ?? DEFAULTS.listen);
  const stalenessMs = opts.stalenessMs ?? DEFAULTS.stalenessMs;
  if (stalenessMs > TABLE_MAX.stalenessMs)
    throw new Error(
      `--staleness ${stalenessMs} ms: at most ${TABLE_MAX.stalenessMs / 3600000}h (the filter refuses longer)`,
    );
  if (opts.envoyControl.length === 0)
    logger.warn("no --envoy-control target: tables are built but not pushed; /readyz stays 503");

  const metrics = new ControlPlaneMetrics();
  const gatewayService = opts.gatewayService ? parseGatewayService(opts.gatewayService) : null;
  if (gatewayService && opts.source !== "kubernetes")
    throw new Error("--gateway-service applies to --source kubernetes only");
  const controllerNames = [
    SEED_CONTROLLER_NAME,
    ...(opts.gatewayControllerNames ?? []).filter((n) => n !== SEED_CONTROLLER_NAME),
  ];
  const store = new ModelStore({
    defaultNamespace: opts.namespace ?? DEFAULTS.namespace,
    gateway:
      opts.source === "file"
        ? { controllerNames, service: null }
        : gatewayService
          ? { controllerNames, service: gatewayService }
          : null,
  });
  const envoyHosts = opts.envoyAdmin?.length
    ? new EnvoyHosts({
        admins: opts.envoyAdmin,
        intervalMs: opts.envoyAdminIntervalMs ?? DEFAULTS.envoyAdminIntervalMs,
        probeFromHosts: opts.envoyAdminProbeFromHosts,
        logger,
        onChange: () => scheduleRefresh(),
      })
    : null;
  const endpointsFile = opts.envoyEndpointsDir ? new EndpointsFile(opts.envoyEndpointsDir) : null;
  const builder = new TableBuilder({
    stalenessMs,
    envoyHostState: envoyHosts ? (a) => envoyHosts.state(a) : undefined,
  });
  let pusher: TablePusher | null = null;
  let lastProblemsKey = "";

  const scrapes = new ScrapeLoop({
    intervalMs: opts.scrapeIntervalMs ?? DEFAULTS.scrapeIntervalMs,
    timeoutMs: opts.scrapeTimeoutMs ?? DEFAULTS.scrapeTimeoutMs,
    concurrency: opts.scrapeConcurrency ?? DEFAULTS.scrapeConcurrency,
    failureThreshold: opts.scrapeFailureThreshold ?? DEFAULTS.scrapeFailureThreshold,
    logger,
    observer: metrics,
    onUpdate: () => scheduleRefresh(),
  });

  const reportProblems = (problems: Problem[]) => {
    const key = problems.map((p) => `${p.level}|${p.document}|${p.field ?? ""}|${p.message}`).join("\n");
    if (key === lastProblemsKey) return;
    lastProblemsKey = key;
    let errors = 0;
    for (const p of problems) {
      if (p.level === "error") errors++;
      logger[p.level === "error" ? "error" : "warn"]("model problem", { ...p });
    }
    metrics.problems(errors, problems.length - errors);
  };

  const refresh = (force = false): Table => {
    const model = store.resolved();
    const r = builder.build(model, (a) => scrapes.state(a), force);
    const all = [...model.problems, ...r.problems];
    reportProblems(all);
    kubeSource?.observe(all);
    kubeSource?.observeGateways(model.gatewayStatus);
    // Envoy gets the endpoints before any table can route to them (a pod Envoy has not loaded yet is
    // "absent" and not ready in the table until the admin shows it).
    writeEndpoints(r.table);
    if (r.changed) {
      metrics.tableBuilt(r.table);
      pusher?.publish(r.table);
    }
    return r.table;
  };

  const writeEndpoints = (t: Table) => {
    if (!endpointsFile) return;
    try {
      if (endpointsFile.write(loadAssignment(t)))
        logger.debug("envoy endpoints written", { path: endpointsFile.path, generation: t.generation });
    } catch (e) {
      logger.error("cannot write envoy endpoints file; Envoy keeps the pods it has", {
        path: endpointsFile.path,
        error: (e as Error).message,
      });
    }
  };

  let refreshQueued = false;
  let started = false; // no table before the first scrape round: the first push must carry real load
  const scheduleRefresh = () => {
    if (refreshQueued || !started) return;
    refreshQueued = true;
    setImmediate(() => {
      refreshQueued = false;
      if (!stopped) refresh();
    });
  };

  const syncTargets = () => {
    const targets = new Map<string, ScrapeTarget>();
    for (const p of store.resolved().pools) {
      for (const e of p.endpoints)
        if (!targets.has(e.address)) targets.set(e.address, { address: e.address, runtime: p.runtime });
    }
    scrapes.setTargets([...targets.values()]);
  };

  let stopped = false;
  store.onChange(() => {
    syncTargets();
    scheduleRefresh();
  });

  let fileSource: FileSource | null = null;
  let kubeSource: KubernetesSource | null = null;
  if (opts.source === "file") {
    fileSource = new FileSource({
      path: opts.file!,
      store,
      logger,
      pollIntervalMs: opts.filePollIntervalMs ?? DEFAULTS.filePollIntervalMs,
    });
    await fileSource.start(); // throws on a missing or broken file: there is no last good model to keep
  } else {
    const kubeConfig = opts.kubeConfig ?? loadKubeConfig(opts.kubeconfigPath);
    kubeSource = new KubernetesSource({
      kubeConfig,
      store,
      logger,
      namespace: opts.allNamespaces ? null : (opts.namespace ?? DEFAULTS.namespace),
      resyncMs: opts.resyncMs ?? DEFAULTS.resyncMs,
      backoffMinMs: opts.kubeBackoffMinMs,
      backoffMaxMs: opts.kubeBackoffMaxMs,
      missingRetryMs: opts.missingRetryMs,
      gatewayService,
    });
    // Throws when the API cannot be listed in time: there is no last good model, and pushing an empty
    // table would take the routes Envoy still holds away.
    await kubeSource.start(opts.syncTimeoutMs ?? DEFAULTS.syncTimeoutMs);
  }
  const stopSources = async () => {
    fileSource?.stop();
    await kubeSource?.stop();
  };

  pusher = new TablePusher({
    targets: opts.envoyControl,
    token: opts.token,
    clock: builder.clock,
    rebuild: () => refresh(true),
    logger,
    observer: metrics,
    heartbeatMs: opts.pushIntervalMs ?? DEFAULTS.pushIntervalMs,
    timeoutMs: opts.pushTimeoutMs ?? DEFAULTS.pushTimeoutMs,
  });

  // Replica i is envoyControl[i] with envoyAdmin[i] (one Envoy per pair, as the chart and
  // startLocalGateway give them).
  const replicaCount = Math.max(opts.envoyControl.length, opts.envoyAdmin?.length ?? 0);
  const envoySampler =
    replicaCount > 0
      ? new EnvoySampler({
          replicas: Array.from({ length: replicaCount }, (_, k) => ({
            control: opts.envoyControl[k],
            admin: opts.envoyAdmin?.[k],
          })),
          token: opts.token,
          intervalMs: opts.statusIntervalMs ?? DEFAULTS.statusIntervalMs,
          windowMs: opts.statusWindowMs ?? DEFAULTS.statusWindowMs,
          logger,
        })
      : null;
  const status = (): StatusSnapshot =>
    buildStatus({
      nowMs: Date.now(),
      model: store.resolved(),
      table: builder.last(),
      scrapes: (a) => scrapes.state(a),
      pushes: pusher!.targets(),
      live: envoySampler?.live() ?? null,
      recent: envoySampler?.recent() ?? null,
    });
  metrics.observePools({
    table: () => builder.last(),
    held: () => {
      const live = envoySampler?.live();
      return live && live.answered > 0 ? live.queues : null;
    },
  });

  syncTargets();
  // One scrape round before the first table, so the first push carries real load (bounded by the scrape
  // timeout); the endpoints go to Envoy first, and one look at its admin says which it has loaded.
  await scrapes.scrapeAll();
  if (endpointsFile) {
    writeEndpoints(builder.build(store.resolved(), (a) => scrapes.state(a)).table);
    if (envoyHosts) await waitForEnvoyHosts(envoyHosts, store.resolved().pools, 2000);
  }
  let api: ApiServer;
  try {
    api = await startApi(
      listen,
      {
        ready: () => ({ ready: pusher!.anyAccepted(), detail: { targets: pusher!.targets() } }),
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
        table: () => builder.last(),
        model: () => ({
          problems: store.resolved().problems,
          file: fileSource?.status ?? null,
          kubernetes: kubeSource?.status() ?? null,
          gateway: store.resolved().gatewayStatus,
          routes: store.resolved().routes,
          pools: store.resolved().pools.map((p) => ({
            id: p.id,
            runtime: p.runtime,
            strategy: p.strategy,
            eppOverlay: p.eppOverlay,
            extensionRef: p.spec.extensionRef,
            endpoints: p.endpoints.length,
          })),
          scrapes: scrapes.states(),
          targets: pusher!.targets(),
          envoyAdmin: envoyHosts?.status() ?? null,
          envoyEndpointsFile: endpointsFile ? { path: endpointsFile.path, writes: endpointsFile.writes } : null,
        }),
        status,
        envoyStats: async () => {
          const admin = opts.envoyAdmin?.[0];
          if (!admin) return null;
          try {
            const r = await fetch(`${admin.replace(/\/+$/, "")}/stats/prometheus`, {
              signal: AbortSignal.timeout(5000),
            });
            return {
              status: r.ok ? 200 : 502,
              contentType: r.headers.get("content-type") ?? "text/plain; version=0.0.4",
              body: await r.text(),
            };
          } catch (e) {
            return {
              status: 502,
              contentType: "application/json",
              body: JSON.stringify({ error: `envoy admin ${admin}: ${(e as Error).message}` }),
            };
          }
        },
      },
      logger,
    );
  } catch (e) {
    await stopSources();
    scrapes.stop();
    throw new Error(`--listen ${opts.listen ?? DEFAULTS.listen}: ${(e as Error).message}`);
  }
  started = true;
  refresh(true);
  scrapes.start();
  pusher.start();
  envoyHosts?.start();
  envoySampler?.start();
  logger.info("control plane started", {
    api: api.address,
    targets: opts.envoyControl,
    ...(fileSource
      ? { file: fileSource.path }
      : {
          kubernetes: kubeSource!.server,
          namespace: opts.allNamespaces ? "(all)" : (opts.namespace ?? DEFAULTS.namespace),
        }),
  });

  return {
    address: api.address,
    store,
    scrapes,
    builder,
    pusher,
    metrics,
    fileSource,
    kubeSource,
    envoySampler,
    status,
    lastTable: () => builder.last(),
    ready: () => pusher!.anyAccepted(),
    refresh,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopSources();
      scrapes.stop();
      envoyHosts?.stop();
      envoySampler?.stop();
      pusher!.stop();
      await api.close();
      logger.info("control plane stopped");
    },
  };
}

/** Waits (bounded) until Envoy's admin lists every endpoint of the model, so the first table already
 *  routes to the pods Envoy has loaded from the file just written. */
async function waitForEnvoyHosts(
  hosts: EnvoyHosts,
  pools: { endpoints: { address: string }[] }[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await hosts.pollAll();
    const settled = (a: string) => hosts.state(a) === "ok" || hosts.state(a) === "ejected";
    if (pools.every((p) => p.endpoints.every((e) => settled(e.address)))) return;
    if (Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}
