// The model store: the documents each source currently holds, and the resolved picture built from
// them. A source either replaces its whole set (the file source, on every good read) or upserts and
// removes single objects (the Kubernetes source). A document that fails validation never replaces a
// good one: the last good version of that object stays in force and the problem is reported.

import type { PoolSettings } from "./annotations.js";
import { parseDocument, type ParseContext } from "./documents.js";
import { resolveModel } from "./resolve.js";
import { docKey, docLabel, type EndpointSpec, type ModelDocument, type ModelSpec, type PoolSpec, type Problem, type ResolvedModel, type TrafficPolicySpec } from "./types.js";
import { DocumentInvalid, isObj } from "./validate.js";

export interface SourceDocument {
  raw: unknown;
  /** For messages: "fleet.yaml document #2". */
  origin?: string;
}

export class ModelStore {
  private readonly sources = new Map<string, Map<string, ModelDocument>>();
  private readonly sourceProblems = new Map<string, Problem[]>();
  private lastSettings = new Map<string, PoolSettings>();
  private cached: ResolvedModel | null = null;
  private listeners = new Set<() => void>();
  /** Bumped on every change; lets consumers skip work when nothing moved. */
  version = 0;

  constructor(private readonly opts: { defaultNamespace: string }) {}

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
          problems.push({ level: "warning", document: `${docLabel(doc)}${d.origin ? ` (${d.origin})` : ""}`, message: "defined more than once; the first definition is used" });
          continue;
        }
        next.set(key, doc);
      } catch (e) {
        if (!(e instanceof DocumentInvalid)) throw e;
        const key = looseKey(d.raw, this.opts.defaultNamespace);
        const kept = key ? old.get(key) : undefined;
        if (kept && key && !next.has(key)) next.set(key, kept);
        for (const i of e.issues) {
          problems.push({ level: "error", document: e.document, field: i.field, message: `${i.message}${kept ? " (the last good version stays in force)" : " (document not applied)"}` });
        }
      }
    }
    this.sources.set(source, next);
    this.sourceProblems.set(source, problems);
    this.changed();
    return { problems };
  }

  /** Adds or updates one object (Kubernetes watch events). Returns the problems; on error the old version stays. */
  upsert(source: string, raw: unknown, origin?: string): Problem[] {
    const map = this.sources.get(source) ?? new Map<string, ModelDocument>();
    this.sources.set(source, map);
    try {
      const doc = parseDocument(raw, { defaultNamespace: this.opts.defaultNamespace, origin });
      if ("ignored" in doc) return [];
      map.set(docKey(doc), doc);
      this.changed();
      return [];
    } catch (e) {
      if (!(e instanceof DocumentInvalid)) throw e;
      const key = looseKey(raw, this.opts.defaultNamespace);
      const kept = key !== null && map.has(key);
      return e.issues.map((i) => ({ level: "error" as const, document: e.document, field: i.field, message: `${i.message}${kept ? " (the last good version stays in force)" : " (document not applied)"}` }));
    }
  }

  remove(source: string, kind: string, namespace: string, name: string): void {
    if (this.sources.get(source)?.delete(`${kind}/${namespace}/${name}`)) this.changed();
  }

  /** The resolved model, recomputed lazily after a change. */
  resolved(): ResolvedModel {
    if (this.cached) return this.cached;
    const pools: PoolSpec[] = [];
    const models: ModelSpec[] = [];
    const policies: TrafficPolicySpec[] = [];
    const endpoints: EndpointSpec[] = [];
    const seen = new Set<string>();
    const problems: Problem[] = [];
    for (const [source, docs] of this.sources) {
      problems.push(...(this.sourceProblems.get(source) ?? []));
      for (const [key, d] of docs) {
        if (seen.has(key)) {
          problems.push({ level: "warning", document: docLabel(d), message: `also defined by another source; source "${source}" is ignored for it` });
          continue;
        }
        seen.add(key);
        if (d.kind === "InferencePool") pools.push(d);
        else if (d.kind === "InferenceModel") models.push(d);
        else if (d.kind === "InferenceTrafficPolicy") policies.push(d);
        else if (d.kind === "StaticEndpoints") endpoints.push(...d.endpoints);
        else endpoints.push(d.endpoint);
      }
    }
    const r = resolveModel({ pools, models, policies, endpoints }, this.lastSettings);
    this.lastSettings = r.settings;
    this.cached = { pools: r.pools, models: r.models, problems: [...problems, ...r.problems] };
    return this.cached;
  }

  private changed(): void {
    this.version++;
    this.cached = null;
    // Resolve now so that annotation "last good" values advance with every change, not only when read.
    this.resolved();
    for (const fn of this.listeners) fn();
  }
}

/** kind/namespace/name of a document that failed validation, when those three are readable. */
function looseKey(raw: unknown, defaultNamespace: string): string | null {
  if (!isObj(raw) || typeof raw.kind !== "string" || !isObj(raw.metadata) || typeof raw.metadata.name !== "string") return null;
  const ns = typeof raw.metadata.namespace === "string" && raw.metadata.namespace ? raw.metadata.namespace : defaultNamespace;
  return `${raw.kind}/${ns}/${raw.metadata.name}`;
}
