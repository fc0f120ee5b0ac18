// The Kubernetes source: list+watch (reflector.ts) of
//   InferencePool   inference.networking.x-k8s.io/v1alpha2  (the seed's) and inference.networking.k8s.io/v1
//   InferenceModel, InferenceObjective, InferenceModelRewrite  inference.networking.x-k8s.io/v1alpha2
//   InferenceTrafficPolicy  inferenceextension.alibabacloud.com/v1alpha1
//   Pods (every pod of the namespace; the pools' selectors pick members in resolve.ts)
//   ConfigMaps (only those a pool names in its epp-overlay annotation reach the model)
// and, with the Gateway API controller on (standalone mode, `gateway` option):
//   GatewayClasses (cluster), Gateways, HTTPRoutes, ReferenceGrants  gateway.networking.k8s.io
//   the gateway's own Service (one object, by field selector), Namespaces (labels, for route selectors)
// in one namespace (default) or all of them, feeding the same ModelStore the file source feeds.
// Each object goes through the same parser as a file document; an invalid new version never replaces
// the last good one.
//
// It also writes back what the user must see: a v1 Event on the object a problem is about (deduplicated:
// one Event per distinct problem, its count bumped when the problem comes back), and on v1alpha2
// InferencePools a status condition `infergate.dev/AnnotationsValid` (server-side apply on the status
// subresource, so conditions other controllers own are left alone). The v1 InferencePool's status has
// per-parent conditions only; it gets the Events but no condition.

import { createHash } from "node:crypto";
import { hostname } from "node:os";
import type { KubeConfig } from "@kubernetes/client-node";
import { GatewayStatusWriter } from "../gatewayapi/status-writer.js";
import { type GatewayApiStatus, GROUP_GATEWAY } from "../gatewayapi/types.js";
import type { Logger } from "../log.js";
import { ANNOTATION } from "../model/annotations.js";
import { BOOTSTRAP_PORT_ANNOTATION } from "../model/documents.js";
import type { ModelStore } from "../model/store.js";
import { GROUP_ALIBABA, GROUP_V1, GROUP_X, type ObjectRef, type Problem } from "../model/types.js";
import { KubeApiError, KubeClient, type Obj } from "./kube-client.js";
import { Reflector, type ReflectorHandler, type ReflectorStatus } from "./reflector.js";

export const CONDITION_TYPE = "infergate.dev/AnnotationsValid";
export const FIELD_MANAGER = "infergate-controlplane";
export const EVENT_COMPONENT = "infergate-controlplane";

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  store: ModelStore;
  logger: Logger;
  /** Namespace to watch; null = all namespaces. */
  namespace: string | null;
  /** Periodic relist (default 5 min). */
  resyncMs?: number;
  /** Reconnect backoff bounds after a failure (default 200 ms .. 10 s). */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** How often a resource that is not served (CRD not installed) is looked for again (default 30 s). */
  missingRetryMs?: number;
  /** Server-side watch timeout (default 300 s; jittered up to twice that). */
  watchTimeoutSeconds?: number;
  /** Write Events and status conditions (default true). */
  recordEvents?: boolean;
  /**
   * The Gateway API controller (standalone mode): the Service clients reach the gateway through,
   * whose address Gateways get. Absent: Gateway API objects are not watched (with Envoy Gateway,
   * Envoy Gateway is their controller).
   */
  gatewayService?: { namespace: string; name: string } | null;
}

interface ResourceDef {
  id: string;
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** ModelStore source name. */
  source: string;
  /** Listed across the cluster whatever namespace is watched. */
  clusterScoped?: boolean;
  /** Listed in this namespace whatever namespace is watched (the gateway's Service). */
  namespace?: string;
  fieldSelector?: string;
  /** Only with the Gateway API controller on. */
  gatewayApi?: boolean;
}

const RESOURCES: ResourceDef[] = [
  {
    id: "poolsX",
    group: GROUP_X,
    version: "v1alpha2",
    plural: "inferencepools",
    kind: "InferencePool",
    source: "kubernetes:inferencepools.v1alpha2",
  },
  {
    id: "poolsV1",
    group: GROUP_V1,
    version: "v1",
    plural: "inferencepools",
    kind: "InferencePool",
    source: "kubernetes:inferencepools.v1",
  },
  {
    id: "models",
    group: GROUP_X,
    version: "v1alpha2",
    plural: "inferencemodels",
    kind: "InferenceModel",
    source: "kubernetes:inferencemodels",
  },
  {
    id: "objectives",
    group: GROUP_X,
    version: "v1alpha2",
    plural: "inferenceobjectives",
    kind: "InferenceObjective",
    source: "kubernetes:inferenceobjectives",
  },
  {
    id: "rewrites",
    group: GROUP_X,
    version: "v1alpha2",
    plural: "inferencemodelrewrites",
    kind: "InferenceModelRewrite",
    source: "kubernetes:inferencemodelrewrites",
  },
  {
    id: "policies",
    group: GROUP_ALIBABA,
    version: "v1alpha1",
    plural: "inferencetrafficpolicies",
    kind: "InferenceTrafficPolicy",
    source: "kubernetes:inferencetrafficpolicies",
  },
  { id: "pods", group: "", version: "v1", plural: "pods", kind: "Pod", source: "kubernetes:pods" },
  {
    id: "configmaps",
    group: "",
    version: "v1",
    plural: "configmaps",
    kind: "ConfigMap",
    source: "kubernetes:configmaps",
  },
  {
    id: "gatewayclasses",
    group: GROUP_GATEWAY,
    version: "v1",
    plural: "gatewayclasses",
    kind: "GatewayClass",
    source: "kubernetes:gatewayclasses",
    clusterScoped: true,
    gatewayApi: true,
  },
  {
    id: "gateways",
    group: GROUP_GATEWAY,
    version: "v1",
    plural: "gateways",
    kind: "Gateway",
    source: "kubernetes:gateways",
    gatewayApi: true,
  },
  {
    id: "httproutes",
    group: GROUP_GATEWAY,
    version: "v1",
    plural: "httproutes",
    kind: "HTTPRoute",
    source: "kubernetes:httproutes",
    gatewayApi: true,
  },
  {
    id: "referencegrants",
    group: GROUP_GATEWAY,
    version: "v1beta1",
    plural: "referencegrants",
    kind: "ReferenceGrant",
    source: "kubernetes:referencegrants",
    gatewayApi: true,
  },
  {
    id: "namespaces",
    group: "",
    version: "v1",
    plural: "namespaces",
    kind: "Namespace",
    source: "kubernetes:namespaces",
    clusterScoped: true,
    gatewayApi: true,
  },
];

/** The gateway's Service: one object, watched by name in its own namespace. */
const serviceDef = (svc: { namespace: string; name: string }): ResourceDef => ({
  id: "gatewayservice",
  group: "",
  version: "v1",
  plural: "services",
  kind: "Service",
  source: "kubernetes:gatewayservice",
  namespace: svc.namespace,
  fieldSelector: `metadata.name=${svc.name}`,
  gatewayApi: true,
});

const apiVersionOf = (r: ResourceDef) => (r.group ? `${r.group}/${r.version}` : r.version);

function collectionPath(r: ResourceDef, namespace: string | null): string {
  const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const ns = r.clusterScoped ? null : (r.namespace ?? namespace);
  return ns ? `${base}/namespaces/${encodeURIComponent(ns)}/${r.plural}` : `${base}/${r.plural}`;
}

/** A Namespace's name and labels: all route selectors need. */
function slimNamespace(n: Obj): Obj {
  const m = n.metadata ?? {};
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: m.name, uid: m.uid, resourceVersion: m.resourceVersion, labels: m.labels ?? {} },
  };
}

/** What the model needs of a Pod; the rest (spec, container statuses, managed fields) is dropped. */
function slimPod(p: Obj): Obj {
  const m = p.metadata ?? {};
  const s = p.status ?? {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels ?? {},
      // The one annotation the model reads of a Pod: an SGLang prefill server's bootstrap port.
      ...(m.annotations?.[BOOTSTRAP_PORT_ANNOTATION] !== undefined
        ? { annotations: { [BOOTSTRAP_PORT_ANNOTATION]: m.annotations[BOOTSTRAP_PORT_ANNOTATION] } }
        : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    status: {
      ...(s.podIP ? { podIP: s.podIP } : {}),
      ...(Array.isArray(s.podIPs) ? { podIPs: s.podIPs.map((x: Obj) => ({ ip: x.ip })) } : {}),
      phase: s.phase,
      conditions: Array.isArray(s.conditions) ? s.conditions.map((c: Obj) => ({ type: c.type, status: c.status })) : [],
    },
  };
}

function stripManaged(o: Obj): Obj {
  if (o.metadata?.managedFields) {
    const { managedFields: _drop, ...metadata } = o.metadata;
    return { ...o, metadata };
  }
  return o;
}

const nowRfc3339 = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const objKey = (ns: string, name: string) => `${ns}/${name}`;

interface EventRecord {
  name: string;
  namespace: string;
  count: number;
}

export interface KubernetesSourceStatus {
  namespace: string | null;
  server: string;
  resources: ReflectorStatus[];
  events: { recorded: number; failures: number; lastError: string | null };
  statusWrites: { done: number; failures: number; lastError: string | null };
  /** Gateway API status writes (null: the controller is off). */
  gatewayStatusWrites: GatewayStatusWriter["counters"] | null;
}

export class KubernetesSource {
  private readonly client: KubeClient;
  private readonly reflectors = new Map<string, Reflector>();
  private readonly defs = new Map<string, ResourceDef>();
  private readonly instance = hostname();
  /** Problem key → its Event; keys of the problems active at the last observe(). */
  private readonly events = new Map<string, EventRecord>();
  private activeProblems = new Set<string>();
  /** Pool key → the condition we last wrote (status|reason|message|generation), and retry-after for failures. */
  private readonly written = new Map<string, string>();
  private readonly retryAfter = new Map<string, number>();
  private writeChain: Promise<void> = Promise.resolve();
  private pendingWrites = 0;
  private readonly counters = {
    events: 0,
    eventFailures: 0,
    eventError: null as string | null,
    status: 0,
    statusFailures: 0,
    statusError: null as string | null,
  };
  private stopped = false;
  private eventsBlockedUntil = 0;
  private readonly gatewayWriter: GatewayStatusWriter | null = null;

  constructor(private readonly o: KubernetesSourceOptions) {
    this.client = new KubeClient(o.kubeConfig);
    const defs = o.gatewayService
      ? [...RESOURCES, serviceDef(o.gatewayService)]
      : RESOURCES.filter((d) => !d.gatewayApi);
    if (o.gatewayService)
      this.gatewayWriter = new GatewayStatusWriter({
        client: this.client,
        logger: o.logger,
        objects: (kind) =>
          this.reflectors.get(
            kind === "GatewayClass" ? "gatewayclasses" : kind === "Gateway" ? "gateways" : "httproutes",
          )!.objects,
        queue: (fn) => this.queueWrite(fn),
      });
    for (const def of defs) {
      this.defs.set(def.id, def);
      const transform = def.kind === "Pod" ? slimPod : def.kind === "Namespace" ? slimNamespace : stripManaged;
      const withKind = (x: Obj): Obj =>
        transform({ ...x, apiVersion: x.apiVersion ?? apiVersionOf(def), kind: x.kind ?? def.kind });
      this.reflectors.set(
        def.id,
        new Reflector({
          name: `${def.plural}${def.group ? `.${def.group}` : ""}/${def.version}`,
          path: collectionPath(def, o.namespace),
          client: this.client,
          handler: this.handlerFor(def),
          logger: o.logger,
          resyncMs: o.resyncMs ?? 300_000,
          backoffMinMs: o.backoffMinMs ?? 200,
          backoffMaxMs: o.backoffMaxMs ?? 10_000,
          missingRetryMs: o.missingRetryMs ?? 30_000,
          watchTimeoutSeconds: o.watchTimeoutSeconds ?? 300,
          transform: withKind,
          fieldSelector: def.fieldSelector,
        }),
      );
    }
  }

  get server(): string {
    return this.client.server;
  }

  /** Starts every list+watch and waits for the first list of each (bounded by timeoutMs). */
  async start(timeoutMs = 30_000): Promise<void> {
    for (const r of this.reflectors.values()) r.start();
    let timer: NodeJS.Timeout | undefined;
    const all = Promise.all([...this.reflectors.values()].map((r) => r.synced()));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const missing = [...this.reflectors.values()]
          .filter((r) => !r.status.synced)
          .map((r) => `${r.status.name}: ${r.status.lastError ?? "no answer yet"}`);
        reject(
          new Error(
            `kubernetes source: no initial list within ${timeoutMs} ms from ${this.client.server} (${missing.join("; ")})`,
          ),
        );
      }, timeoutMs);
    });
    try {
      await Promise.race([all, timeout]);
    } catch (e) {
      await this.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    this.o.logger.info("kubernetes source: synced", {
      server: this.client.server,
      namespace: this.o.namespace ?? "(all)",
      objects: Object.fromEntries([...this.reflectors].map(([k, r]) => [k, r.status.objects])),
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.reflectors.values()].map((r) => r.stop()));
    await this.writeChain;
  }

  status(): KubernetesSourceStatus {
    return {
      namespace: this.o.namespace,
      server: this.client.server,
      resources: [...this.reflectors.values()].map((r) => ({ ...r.status })),
      events: {
        recorded: this.counters.events,
        failures: this.counters.eventFailures,
        lastError: this.counters.eventError,
      },
      statusWrites: {
        done: this.counters.status,
        failures: this.counters.statusFailures,
        lastError: this.counters.statusError,
      },
      gatewayStatusWrites: this.gatewayWriter ? { ...this.gatewayWriter.counters } : null,
    };
  }

  /** For tests: the reflector of one resource id (poolsX, poolsV1, models, objectives, rewrites, policies, pods,
   *  configmaps; with the Gateway API controller: gatewayclasses, gateways, httproutes, referencegrants,
   *  namespaces, gatewayservice). */
  reflector(id: string): Reflector {
    const r = this.reflectors.get(id);
    if (!r) throw new Error(`no reflector ${id}`);
    return r;
  }

  /** Relist everything now. */
  resync(): void {
    for (const r of this.reflectors.values()) r.resync();
  }

  /** Resolves when every Event / status write queued so far is done (tests). */
  async flushWrites(): Promise<void> {
    while (this.pendingWrites > 0) await this.writeChain;
  }

  // ---- model feeding ----------------------------------------------------------------------

  private handlerFor(def: ResourceDef): ReflectorHandler {
    const origin = `kubernetes ${apiVersionOf(def)}`;
    return {
      apply: (changes) => {
        this.o.store.batch(() => {
          for (const c of changes) {
            const md = c.obj.metadata ?? {};
            if (def.kind === "ConfigMap") {
              this.syncConfigMap(c.type === "delete" ? null : c.obj, md.namespace ?? "", md.name ?? "");
              continue;
            }
            if (c.type === "delete") this.o.store.remove(def.source, def.kind, md.namespace ?? "", md.name ?? "");
            else this.o.store.upsert(def.source, c.obj, origin);
          }
          if (def.kind === "InferencePool") this.syncAllConfigMaps();
        });
      },
    };
  }

  /** ns/name of every ConfigMap some pool names in its epp-overlay annotation. */
  private overlayRefs(): Set<string> {
    const out = new Set<string>();
    for (const id of ["poolsX", "poolsV1"]) {
      for (const p of this.reflectors.get(id)!.objects.values()) {
        const v = p.metadata?.annotations?.[ANNOTATION.eppOverlay];
        if (typeof v === "string" && v.trim()) out.add(objKey(p.metadata.namespace ?? "", v.trim()));
      }
    }
    return out;
  }

  private syncConfigMap(obj: Obj | null, ns: string, name: string, refs = this.overlayRefs()): void {
    const def = this.defs.get("configmaps")!;
    if (obj && refs.has(objKey(ns, name))) this.o.store.upsert(def.source, obj, `kubernetes v1 (epp-overlay)`);
    else this.o.store.remove(def.source, "ConfigMap", ns, name);
  }

  private syncAllConfigMaps(): void {
    const refs = this.overlayRefs();
    for (const cm of this.reflectors.get("configmaps")!.objects.values())
      this.syncConfigMap(cm, cm.metadata?.namespace ?? "", cm.metadata?.name ?? "", refs);
  }

  // ---- Events and status --------------------------------------------------------------------

  /** The watched object a ref names (for uid / resourceVersion / generation / current status). */
  private lookup(ref: ObjectRef): Obj | undefined {
    const ids =
      ref.kind === "InferencePool"
        ? ref.apiVersion === `${GROUP_V1}/v1`
          ? ["poolsV1"]
          : ref.apiVersion
            ? ["poolsX"]
            : ["poolsX", "poolsV1"]
        : ref.kind === "InferenceModel"
          ? ["models"]
          : ref.kind === "InferenceObjective"
            ? ["objectives"]
            : ref.kind === "InferenceModelRewrite"
              ? ["rewrites"]
              : ref.kind === "InferenceTrafficPolicy"
                ? ["policies"]
                : ref.kind === "Pod"
                  ? ["pods"]
                  : ref.kind === "ConfigMap"
                    ? ["configmaps"]
                    : [];
    for (const id of ids) {
      const o = this.reflectors.get(id)!.objects.get(objKey(ref.namespace, ref.name));
      if (o) return o;
    }
    return undefined;
  }

  /**
   * Called with every problem of the current model (after each rebuild). Records an Event for each
   * problem that just appeared, and brings each v1alpha2 pool's condition up to date. Cheap when
   * nothing changed; all API writes are queued and never block routing.
   */
  observe(problems: Problem[]): void {
    if (this.stopped || this.o.recordEvents === false) return;
    const active = new Set<string>();
    const byPool = new Map<string, Problem[]>();
    for (const p of problems) {
      if (!p.ref) continue;
      const k = `${p.ref.kind}|${p.ref.namespace}|${p.ref.name}|${p.reason ?? ""}|${p.field ?? ""}|${p.message}`;
      if (p.ref.kind === "InferencePool") {
        const pk = objKey(p.ref.namespace, p.ref.name);
        byPool.set(pk, [...(byPool.get(pk) ?? []), p]);
      }
      const obj = this.lookup(p.ref);
      if (!obj) continue; // not (yet) in our caches: recorded once it is
      if (this.activeProblems.has(k)) {
        active.add(k);
        continue;
      }
      if (Date.now() < this.eventsBlockedUntil) continue; // the last write failed: try again shortly
      active.add(k);
      this.queueEvent(k, p, obj);
    }
    this.activeProblems = active;

    for (const pool of this.reflectors.get("poolsX")!.objects.values()) {
      const ns = pool.metadata?.namespace ?? "";
      const pk = objKey(ns, pool.metadata?.name ?? "");
      const invalid = (byPool.get(pk) ?? []).filter(
        (p) => p.level === "error" && p.ref?.apiVersion !== `${GROUP_V1}/v1`,
      );
      const cond = invalid.length
        ? {
            status: "False",
            reason: invalid.some((p) => p.reason === "InvalidAnnotation")
              ? "InvalidAnnotation"
              : (invalid[0].reason ?? "Invalid"),
            message: invalid
              .map((p) => `${p.field ? `${p.field}: ` : ""}${p.message}`)
              .join("\n")
              .slice(0, 32000),
          }
        : {
            status: "True",
            reason: "Valid",
            message: "every annotation (and epp-overlay routing value) of this pool is in force",
          };
      const generation = Number(pool.metadata?.generation ?? 0);
      const want = `${cond.status}|${cond.reason}|${cond.message}|${generation}`;
      const cur = (pool.status?.conditions as Obj[] | undefined)?.find((c) => c.type === CONDITION_TYPE);
      const have = cur ? `${cur.status}|${cur.reason}|${cur.message}|${Number(cur.observedGeneration ?? 0)}` : "";
      if (have === want) {
        this.written.delete(pk);
        continue;
      }
      if (this.written.get(pk) === want) continue; // written; the watch has not shown it yet
      if ((this.retryAfter.get(pk) ?? 0) > Date.now()) continue;
      this.written.set(pk, want);
      const lastTransitionTime =
        cur && cur.status === cond.status && cur.lastTransitionTime ? cur.lastTransitionTime : nowRfc3339();
      this.queueWrite(async () => {
        const body = {
          apiVersion: `${GROUP_X}/v1alpha2`,
          kind: "InferencePool",
          metadata: { name: pool.metadata.name, namespace: ns },
          status: {
            conditions: [{ type: CONDITION_TYPE, ...cond, observedGeneration: generation, lastTransitionTime }],
          },
        };
        const path = `${collectionPath(this.defs.get("poolsX")!, ns)}/${encodeURIComponent(pool.metadata.name)}/status?fieldManager=${FIELD_MANAGER}&force=true`;
        try {
          await this.client.request("PATCH", path, body, "application/apply-patch+yaml");
          this.counters.status++;
          this.retryAfter.delete(pk);
        } catch (e) {
          this.written.delete(pk);
          this.retryAfter.set(pk, Date.now() + 5000);
          this.counters.statusFailures++;
          if (this.counters.statusError !== (e as Error).message)
            this.o.logger.warn("kubernetes: cannot write the pool's status condition", {
              pool: pk,
              error: (e as Error).message,
            });
          this.counters.statusError = (e as Error).message;
        }
      });
    }
  }

  /**
   * Brings the Gateway API objects' status (GatewayClass, Gateway, HTTPRoute parents of ours) up to
   * what the resolver computed (status-writer.ts). Called after each rebuild; cheap when nothing changed.
   */
  observeGateways(status: GatewayApiStatus | null): void {
    if (this.stopped || !this.gatewayWriter || !status) return;
    this.gatewayWriter.observe(status);
  }

  private queueWrite(fn: () => Promise<void>): void {
    this.pendingWrites++;
    this.writeChain = this.writeChain.then(fn).finally(() => {
      this.pendingWrites--;
    });
  }

  private queueEvent(key: string, p: Problem, obj: Obj): void {
    const ref = p.ref!;
    const md = obj.metadata ?? {};
    const reason = p.reason ?? (p.level === "error" ? "Invalid" : "Warning");
    const message = `${p.field ? `${p.field}: ` : ""}${p.message}`.slice(0, 1024);
    const prior = this.events.get(key);
    this.queueWrite(async () => {
      const now = nowRfc3339();
      try {
        // The API server expires Events (after an hour by default): a problem that comes back after
        // that gets a new Event instead of patching a missing one forever.
        const bumped = prior !== undefined && (await this.bumpEvent(prior, now));
        if (prior && !bumped) this.events.delete(key);
        if (!bumped) {
          const name = `${ref.name}.${createHash("sha256").update(key).digest("hex").slice(0, 16)}`;
          const body = {
            apiVersion: "v1",
            kind: "Event",
            metadata: { name, namespace: ref.namespace },
            involvedObject: {
              apiVersion: obj.apiVersion,
              kind: ref.kind,
              name: ref.name,
              namespace: ref.namespace,
              uid: md.uid,
              resourceVersion: md.resourceVersion,
            },
            reason,
            message,
            type: "Warning",
            source: { component: EVENT_COMPONENT },
            reportingComponent: "infergate.dev/controlplane",
            reportingInstance: this.instance,
            firstTimestamp: now,
            lastTimestamp: now,
            count: 1,
          };
          const rec: EventRecord = { name, namespace: ref.namespace, count: 1 };
          try {
            await this.client.request("POST", `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/events`, body);
          } catch (e) {
            if (!(e instanceof KubeApiError && e.status === 409)) throw e;
            // Recorded before (by an earlier run of the control plane): bump it.
            const cur = await this.client.request(
              "GET",
              `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/events/${encodeURIComponent(name)}`,
            );
            rec.count = Number(cur.count ?? 1);
            await this.bumpEvent(rec, now);
          }
          this.events.set(key, rec);
          if (this.events.size > 2000) this.events.delete(this.events.keys().next().value as string);
        }
        this.counters.events++;
      } catch (e) {
        this.counters.eventFailures++;
        if (this.counters.eventError !== (e as Error).message)
          this.o.logger.warn("kubernetes: cannot record an Event", {
            object: `${ref.kind} ${ref.namespace}/${ref.name}`,
            reason,
            error: (e as Error).message,
          });
        this.counters.eventError = (e as Error).message;
        this.activeProblems.delete(key); // try again at a later observe()
        this.eventsBlockedUntil = Date.now() + 5000;
      }
    });
  }

  /** Counts one more occurrence on a recorded Event; false when the API server no longer has it. */
  private async bumpEvent(rec: EventRecord, now: string): Promise<boolean> {
    try {
      await this.client.request(
        "PATCH",
        `/api/v1/namespaces/${encodeURIComponent(rec.namespace)}/events/${encodeURIComponent(rec.name)}`,
        { count: rec.count + 1, lastTimestamp: now },
        "application/merge-patch+json",
      );
    } catch (e) {
      if (e instanceof KubeApiError && e.status === 404) return false;
      throw e;
    }
    rec.count++;
    return true;
  }
}
