// The model store: the documents each source currently holds, and the resolved picture built from
// them. A source either replaces its whole set (the file source, on every good read) or upserts and
// removes single objects (the Kubernetes source). A document that fails validation never replaces a
// good one: the last good version of that object stays in force and the problem is reported.

import { type GatewayResolution, resolveGateways } from "../gatewayapi/resolve.js";
import type {
  GatewayClassSpec,
  GatewaySpec,
  HTTPRouteSpec,
  ReferenceGrantSpec,
  ServiceSpec,
} from "../gatewayapi/types.js";
import type { PoolSettings } from "./annotations.js";
import { type ParseContext, parseDocument } from "./documents.js";
import { resolveModel } from "./resolve.js";
import {
  type ConfigMapSpec,
  docKey,
  docLabel,
  type EndpointSpec,
  type ModelDocument,
  type ModelSpec,
  type ObjectiveSpec,
  type PoolSpec,
  type Problem,
  type ResolvedModel,
  type RewriteSpec,
  type TrafficPolicySpec,
} from "./types.js";
import { DocumentInvalid, isObj } from "./validate.js";

export interface SourceDocument {
  raw: unknown;
  /** For messages: "fleet.yaml document #2". */
  origin?: string;
}

export interface ModelStoreOptions {
  /** Namespace of documents that name none. */
  defaultNamespace: string;
  /**
   * The Gateway API controller (standalone mode): which GatewayClass controllerNames are ours and the
   * Service the gateway is reached through (null: none, e.g. the file source). Absent or null: Gateway
   * API documents are ignored and requests are routed by model name alone.
   */
  gateway?: { controllerNames: readonly string[]; service: { namespace: string; name: string } | null } | null;
}

export class ModelStore {
  private readonly sources = new Map<string, Map<string, ModelDocument>>();
  private readonly sourceProblems = new Map<string, Problem[]>();
  /** Problems of single objects (upsert), per source and key; replaced on every upsert of that object. */
  private readonly objectProblems = new Map<string, Map<string, Problem[]>>();
  private batchDepth = 0;
  private batchDirty = false;
  private lastSettings = new Map<string, PoolSettings>();
  private cached: ResolvedModel | null = null;
  private listeners = new Set<() => void>();
  /** Bumped on every change; lets consumers skip work when nothing moved. */
  version = 0;

  constructor(private readonly opts: ModelStoreOptions) {}

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * Replaces everything `source` holds with `docs`. Invalid documents keep their last good version from
   * this source when there is one (matched by kind/namespace/name), else they are left out.
   */
  replaceSource(source: string, docs: SourceDocument[]): { problems: Problem[] } {
    const old = this.sources.get(source) ?? new Map<string, ModelDocument>();
    const next = new Map<string, ModelDocument>();
    const problems: Problem[] = [];
    const ctx = (origin?: string): ParseContext => ({ defaultNamespace: this.opts.defaultNamespace, origin });
    for (const d of docs) {
      try {
        const doc = parseDocument(d.raw, ctx(d.origin));
        if ("ignored" in doc) continue;
        const key = docKey(doc);
        if (next.has(key)) {
          problems.push({
            level: "warning",
            document: `${docLabel(doc)}${d.origin ? ` (${d.origin})` : ""}`,
            message: "defined more than once; the first definition is used",
          });
          continue;
        }
        next.set(key, doc);
      } catch (e) {
        if (!(e instanceof DocumentInvalid)) throw e;
        const key = looseKey(d.raw, this.opts.defaultNamespace);
        const kept = key ? old.get(key) : undefined;
        if (kept && key && !next.has(key)) next.set(key, kept);
        for (const i of e.issues) {
          problems.push({
            level: "error",
            document: e.document,
            field: i.field,
            message: `${i.message}${kept ? " (the last good version stays in force)" : " (document not applied)"}`,
          });
        }
      }
    }
    this.sources.set(source, next);
    this.sourceProblems.set(source, problems);
    this.changed();
    return { problems };
  }

  /**
   * Adds or updates one object (Kubernetes watch events). Returns the problems, which are also kept
   * (and reported by resolved()) until the object is upserted again or removed; on error the old
   * version stays in force.
   */
  upsert(source: string, raw: unknown, origin?: string): Problem[] {
    const map = this.sources.get(source) ?? new Map<string, ModelDocument>();
    this.sources.set(source, map);
    const probs = this.objectProblems.get(source) ?? new Map<string, Problem[]>();
    this.objectProblems.set(source, probs);
    const key = looseKey(raw, this.opts.defaultNamespace);
    try {
      const doc = parseDocument(raw, { defaultNamespace: this.opts.defaultNamespace, origin });
      if ("ignored" in doc) return [];
      const k = docKey(doc);
      const hadProblems = probs.delete(k);
      const prev = map.get(k);
      map.set(k, doc);
      if (hadProblems || !prev || JSON.stringify(prev) !== JSON.stringify(doc)) this.changed();
      return [];
    } catch (e) {
      if (!(e instanceof DocumentInvalid)) throw e;
      const kept = key !== null && map.has(key);
      const ref = looseRef(raw, this.opts.defaultNamespace);
      const out = e.issues.map(
        (i): Problem => ({
          level: "error",
          ...(ref ? { ref } : {}),
          reason: "InvalidSpec",
          document: e.document,
          field: i.field,
          message: `${i.message}${kept ? " (the last good version stays in force)" : " (document not applied)"}`,
        }),
      );
      if (key !== null) {
        const before = JSON.stringify(probs.get(key) ?? []);
        probs.set(key, out);
        if (before !== JSON.stringify(out)) this.changed();
      }
      return out;
    }
  }

  remove(source: string, kind: string, namespace: string, name: string): void {
    const key = `${kind}/${namespace}/${name}`;
    const a = this.sources.get(source)?.delete(key) ?? false;
    const b = this.objectProblems.get(source)?.delete(key) ?? false;
    if (a || b) this.changed();
  }

  /** Whether `source` holds this object (a good version of it). */
  has(source: string, kind: string, namespace: string, name: string): boolean {
    return this.sources.get(source)?.has(`${kind}/${namespace}/${name}`) ?? false;
  }

  /** Runs fn with change notifications held back; one notification at the end if anything changed. */
  batch<T>(fn: () => T): T {
    this.batchDepth++;
    try {
      return fn();
    } finally {
      this.batchDepth--;
      if (this.batchDepth === 0 && this.batchDirty) {
        this.batchDirty = false;
        this.changed();
      }
    }
  }

  /** The resolved model, recomputed lazily after a change. */
  resolved(): ResolvedModel {
    if (this.cached) return this.cached;
    const pools: PoolSpec[] = [];
    const models: ModelSpec[] = [];
    const objectives: ObjectiveSpec[] = [];
    const rewrites: RewriteSpec[] = [];
    const policies: TrafficPolicySpec[] = [];
    const endpoints: EndpointSpec[] = [];
    const configMaps: ConfigMapSpec[] = [];
    const gw = {
      classes: [] as GatewayClassSpec[],
      gateways: [] as GatewaySpec[],
      routes: [] as HTTPRouteSpec[],
      grants: [] as ReferenceGrantSpec[],
      services: [] as ServiceSpec[],
      namespaces: new Map<string, Record<string, string>>(),
    };
    const seen = new Set<string>();
    const problems: Problem[] = [];
    for (const [source, docs] of this.sources) {
      problems.push(...(this.sourceProblems.get(source) ?? []));
      for (const ps of this.objectProblems.get(source)?.values() ?? []) problems.push(...ps);
      for (const [key, d] of docs) {
        if (seen.has(key)) {
          problems.push({
            level: "warning",
            document: docLabel(d),
            message: `also defined by another source; source "${source}" is ignored for it`,
          });
          continue;
        }
        seen.add(key);
        switch (d.kind) {
          case "InferencePool":
            pools.push(d);
            break;
          case "InferenceModel":
            models.push(d);
            break;
          case "InferenceObjective":
            objectives.push(d);
            break;
          case "InferenceModelRewrite":
            rewrites.push(d);
            break;
          case "InferenceTrafficPolicy":
            policies.push(d);
            break;
          case "StaticEndpoints":
            endpoints.push(...d.endpoints);
            break;
          case "ConfigMap":
            configMaps.push(d);
            break;
          case "Pod":
            if (d.endpoint) endpoints.push(d.endpoint);
            break;
          case "GatewayClass":
            gw.classes.push(d);
            break;
          case "Gateway":
            gw.gateways.push(d);
            break;
          case "HTTPRoute":
            gw.routes.push(d);
            break;
          case "ReferenceGrant":
            gw.grants.push(d);
            break;
          case "Service":
            gw.services.push(d);
            break;
          case "Namespace":
            gw.namespaces.set(d.name, d.labels);
            break;
        }
      }
    }
    // The Gateway API first: whether a claimed Gateway exists decides how models are keyed.
    let gateway: GatewayResolution | null = null;
    const g = this.opts.gateway;
    if (g) {
      const svc = g.service;
      gateway = resolveGateways({
        controllerNames: g.controllerNames,
        service: svc
          ? { ...svc, spec: gw.services.find((x) => x.namespace === svc.namespace && x.name === svc.name) ?? null }
          : null,
        classes: gw.classes,
        gateways: gw.gateways,
        routes: gw.routes,
        grants: gw.grants,
        namespaces: gw.namespaces,
        pools: new Map(pools.map((p) => [`${p.namespace}/${p.name}`, p.apiVersion.split("/")[0]])),
      });
    }
    const r = resolveModel(
      { pools, models, objectives, rewrites, routed: gateway?.routed ?? false, policies, endpoints, configMaps },
      this.lastSettings,
    );
    this.lastSettings = r.settings;
    this.cached = {
      pools: r.pools,
      models: r.models,
      objectives: r.objectives,
      routes: gateway?.routed ? gateway.routes : null,
      gatewayStatus: gateway?.status ?? null,
      problems: [...problems, ...r.problems, ...(gateway?.problems ?? [])],
    };
    return this.cached;
  }

  private changed(): void {
    if (this.batchDepth > 0) {
      this.batchDirty = true;
      this.cached = null;
      return;
    }
    this.version++;
    this.cached = null;
    // Resolve now so that annotation "last good" values advance with every change, not only when read.
    this.resolved();
    for (const fn of this.listeners) fn();
  }
}

/** kind/namespace/name of a document that failed validation, when those three are readable. */
function looseKey(raw: unknown, defaultNamespace: string): string | null {
  if (!isObj(raw) || typeof raw.kind !== "string" || !isObj(raw.metadata) || typeof raw.metadata.name !== "string")
    return null;
  const ns =
    typeof raw.metadata.namespace === "string" && raw.metadata.namespace ? raw.metadata.namespace : defaultNamespace;
  return `${raw.kind}/${ns}/${raw.metadata.name}`;
}

function looseRef(raw: unknown, defaultNamespace: string): Problem["ref"] | null {
  if (!isObj(raw) || typeof raw.kind !== "string" || !isObj(raw.metadata) || typeof raw.metadata.name !== "string")
    return null;
  const ns =
    typeof raw.metadata.namespace === "string" && raw.metadata.namespace ? raw.metadata.namespace : defaultNamespace;
  return {
    ...(typeof raw.apiVersion === "string" ? { apiVersion: raw.apiVersion } : {}),
    kind: raw.kind,
    namespace: ns,
    name: raw.metadata.name,
  };
}
