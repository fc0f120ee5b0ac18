// Which model names each pool serves, with what priority and which target-model rewrite: the seed's
// InferenceModel (v1alpha2: modelName, criticality, targetModels) beside its GIE v1.x successors,
// InferenceObjective (a named priority per pool, chosen per request by the x-gateway-inference-objective
// header) and InferenceModelRewrite (weighted rewrites of exact model names, or of every model).
//
// The rules, in order (also in the README's Configuration section):
//  1. InferenceModel: (spec.modelName, its pool) gets priority CRITICALITY_PRIORITY[criticality] and
//     spec.targetModels. Two InferenceModels for the same (modelName, pool): the first by
//     namespace/name wins, the other is reported.
//  2. InferenceModelRewrite, in GIE's precedence order (oldest creationTimestamp first, then
//     namespace/name; rules in list order): an exact match of model M on pool P sets the targets of
//     (M, P); the first rewrite to match (M, P) wins over later ones (reported). If an InferenceModel
//     also defines (M, P), the rewrite wins (the newer API; a user migrating states their intent in
//     it) and the InferenceModel's targetModels are ignored: warning TargetModelsOverridden on the
//     InferenceModel. An exact match without an InferenceModel creates (M, P) with priority 0.
//     A rule with no matches applies to every model of P without an entry (TablePool.anyModel).
//  3. InferenceObjective: listed per pool for the header. An InferenceObjective with the namespace and
//     name of an InferenceModel and the same pool is that model's objective (GIE's migration guide
//     renames each InferenceModel into an InferenceObjective of the same name): its priority wins over
//     the InferenceModel's criticality, with a warning PriorityOverridden when the two differ.
//  4. A pool that no InferenceModel names serves any model (GIE v1: the pool serves what its model
//     servers serve); so does a pool with a match-all rewrite rule. Only reachable through routes.
//  5. Without routes (no claimed Gateway), a model name reaches exactly one pool, as before: the first
//     entry for the name wins (InferenceModels by namespace/name, then rewrite-created entries in
//     precedence order); the others are reported. With routes, (name, pool) is the key.
// Pure and deterministic.

import { CRITICALITY_PRIORITY, criticalityOfPriority } from "../table/schema.js";
import {
  docLabel,
  GROUP_X,
  type ModelSpec,
  type ObjectiveSpec,
  type ObjectRef,
  type Problem,
  type ResolvedInferenceModel,
  type ResolvedObjective,
  type RewriteSpec,
} from "./types.js";

export interface ModelsInput {
  models: ModelSpec[];
  objectives: ObjectiveSpec[];
  rewrites: RewriteSpec[];
  poolIds: ReadonlySet<string>;
  /** A claimed Gateway exists: requests are routed by HTTPRoutes, models are keyed by (name, pool). */
  routed: boolean;
}

export interface ModelsResult {
  models: ResolvedInferenceModel[];
  objectives: ResolvedObjective[];
  /** Pools that serve models without an entry, with the match-all rewrite targets (possibly none). */
  anyModel: Map<string, { targets: { name: string; weight: number }[] }>;
  problems: Problem[];
}

const byKey = <T extends { namespace: string; name: string }>(a: T, b: T) =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/** GIE: "matching precedence MUST be determined by the oldest resource based on creation timestamp". */
const byAge = (a: RewriteSpec, b: RewriteSpec) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : byKey(a, b);

const refOf = (d: ModelSpec | ObjectiveSpec | RewriteSpec): ObjectRef => ({
  apiVersion: `${GROUP_X}/v1alpha2`,
  kind: d.kind,
  namespace: d.namespace,
  name: d.name,
});

interface Entry extends ResolvedInferenceModel {
  /** The InferenceModel behind it, if any (for conflict warnings and the objective link). */
  model: ModelSpec | null;
  /** The rewrite (and rule index) that set its targets, if any. */
  rewrite: { spec: RewriteSpec; rule: number } | null;
}

export function resolveModels(input: ModelsInput): ModelsResult {
  const problems: Problem[] = [];
  const entries = new Map<string, Entry>();
  const keyOf = (name: string, pool: string) => `${pool}\u0000${name}`;
  const namedPools = new Set<string>();

  for (const m of [...input.models].sort(byKey)) {
    const pool = `${m.namespace}/${m.poolName}`;
    if (!input.poolIds.has(pool)) {
      problems.push(
        poolNotFound(m, `no InferencePool ${pool}; model "${m.modelName}" is not routable until it exists`),
      );
      continue;
    }
    namedPools.add(pool);
    const prior = entries.get(keyOf(m.modelName, pool));
    if (prior) {
      problems.push({
        level: "warning",
        ref: refOf(m),
        reason: "DuplicateModel",
        document: docLabel(m),
        field: "spec.modelName",
        message: `"${m.modelName}" is already served by ${prior.from}; this one is ignored`,
      });
      continue;
    }
    const priority = CRITICALITY_PRIORITY[m.criticality];
    entries.set(keyOf(m.modelName, pool), {
      name: m.modelName,
      pool,
      criticality: m.criticality,
      priority,
      targets: m.targets.map((t) => ({ ...t })),
      from: docLabel(m),
      model: m,
      rewrite: null,
    });
  }

  const matchAll = new Map<string, { spec: RewriteSpec; rule: number; targets: { name: string; weight: number }[] }>();
  for (const rw of [...input.rewrites].sort(byAge)) {
    const pool = `${rw.namespace}/${rw.poolName}`;
    if (!input.poolIds.has(pool)) {
      problems.push(poolNotFound(rw, `no InferencePool ${pool}; its rewrites apply once it exists`));
      continue;
    }
    rw.rules.forEach((rule, i) => {
      const targets = rule.targets.map((t) => ({ ...t }));
      if (rule.models.length === 0) {
        const prior = matchAll.get(pool);
        if (!prior) matchAll.set(pool, { spec: rw, rule: i, targets });
        else if (prior.spec !== rw)
          problems.push(shadowed(rw, i, `every model of pool ${pool}`, `${docLabel(prior.spec)} rules[${prior.rule}]`));
        return;
      }
      for (const name of rule.models) {
        const key = keyOf(name, pool);
        const e = entries.get(key);
        if (e?.rewrite) {
          if (e.rewrite.spec !== rw)
            problems.push(
              shadowed(rw, i, `"${name}" on pool ${pool}`, `${docLabel(e.rewrite.spec)} rules[${e.rewrite.rule}]`),
            );
          continue;
        }
        if (e) {
          // An InferenceModel defines the same (name, pool): the rewrite wins.
          problems.push({
            level: "warning",
            ref: refOf(e.model!),
            reason: "TargetModelsOverridden",
            document: docLabel(e.model!),
            field: "spec.targetModels",
            message: `${docLabel(rw)} rules[${i}] also rewrites "${name}" on pool ${pool}; the InferenceModelRewrite wins over the InferenceModel, so these targetModels are not used (${describe(targets)} is)`,
          });
          e.targets = targets;
          e.rewrite = { spec: rw, rule: i };
          continue;
        }
        entries.set(key, {
          name,
          pool,
          criticality: criticalityOfPriority(0),
          priority: 0,
          targets,
          from: docLabel(rw),
          model: null,
          rewrite: { spec: rw, rule: i },
        });
      }
    });
  }

  const objectives: ResolvedObjective[] = [];
  const objectiveOf = new Map<string, ObjectiveSpec>();
  for (const o of [...input.objectives].sort(byKey)) {
    const pool = `${o.namespace}/${o.poolName}`;
    if (!input.poolIds.has(pool)) {
      problems.push(
        poolNotFound(
          o,
          `no InferencePool ${pool}; requests naming this objective get their model's priority until it exists`,
        ),
      );
      continue;
    }
    objectives.push({ name: o.name, pool, priority: o.priority ?? 0 });
    objectiveOf.set(`${o.namespace}/${o.name}`, o);
  }
  for (const e of entries.values()) {
    if (!e.model) continue;
    const o = objectiveOf.get(`${e.model.namespace}/${e.model.name}`);
    if (!o || `${o.namespace}/${o.poolName}` !== e.pool) continue;
    const priority = o.priority ?? 0;
    if (priority !== e.priority)
      problems.push({
        level: "warning",
        ref: refOf(e.model),
        reason: "PriorityOverridden",
        document: docLabel(e.model),
        field: "spec.criticality",
        message: `${docLabel(o)} (same name, same pool) sets priority ${priority}; the InferenceObjective wins over the InferenceModel's criticality ${e.model.criticality} (priority ${e.priority})`,
      });
    e.priority = priority;
    e.criticality = criticalityOfPriority(priority);
  }

  let kept = [...entries.values()];
  if (!input.routed) {
    const byName = new Map<string, Entry>();
    kept = kept.filter((e) => {
      const prior = byName.get(e.name);
      if (!prior) {
        byName.set(e.name, e);
        return true;
      }
      const doc = e.model ?? e.rewrite!.spec;
      problems.push({
        level: "warning",
        ref: refOf(doc),
        reason: "DuplicateModel",
        document: docLabel(doc),
        field: e.model ? "spec.modelName" : "spec.rules",
        message: `"${e.name}" is already served by ${prior.from} (pool ${prior.pool}); this one (pool ${e.pool}) is ignored: without an HTTPRoute a model name reaches one pool`,
      });
      return false;
    });
  }

  const anyModel = new Map<string, { targets: { name: string; weight: number }[] }>();
  for (const pool of input.poolIds) {
    const all = matchAll.get(pool);
    if (all) anyModel.set(pool, { targets: all.targets });
    else if (!namedPools.has(pool)) anyModel.set(pool, { targets: [] });
  }

  const models: ResolvedInferenceModel[] = kept
    .map(({ model: _m, rewrite: _r, ...rm }) => rm)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0));
  objectives.sort((a, b) =>
    a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  return { models, objectives, anyModel, problems };
}

function poolNotFound(d: ModelSpec | ObjectiveSpec | RewriteSpec, message: string): Problem {
  return {
    level: "error",
    ref: refOf(d),
    reason: "PoolNotFound",
    document: docLabel(d),
    field: "spec.poolRef.name",
    message,
  };
}

function shadowed(rw: RewriteSpec, rule: number, what: string, winner: string): Problem {
  return {
    level: "warning",
    ref: refOf(rw),
    reason: "RewriteShadowed",
    document: docLabel(rw),
    field: `spec.rules[${rule}]`,
    message: `${what} is already rewritten by ${winner} (older, or first by namespace/name); this rule does not apply to it`,
  };
}

function describe(targets: { name: string; weight: number }[]): string {
  return targets.length ? targets.map((t) => `${t.name}=${t.weight}`).join(", ") : "no rewrite";
}
