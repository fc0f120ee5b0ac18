// Joins the documents into what routing needs: each pool with its settings (annotations, then the
// InferenceTrafficPolicy that names it), its member endpoints (same namespace, selector match, has an
// IP) with their address and P/D role, and each InferenceModel bound to an existing pool.
// Pure: same documents and same previous settings give the same result, in a deterministic order.

import type { EndpointRole } from "../table/schema.js";
import { formatAddress } from "./address.js";
import { parsePoolAnnotations, type PoolSettings } from "./annotations.js";
import { matchesSelector } from "./selector.js";
import {
  docLabel,
  type EndpointSpec,
  type ModelSpec,
  type PoolSpec,
  type Problem,
  type ResolvedEndpoint,
  type ResolvedInferenceModel,
  type ResolvedModel,
  type ResolvedPool,
  type TrafficPolicySpec,
} from "./types.js";

export interface ResolveInput {
  pools: PoolSpec[];
  models: ModelSpec[];
  policies: TrafficPolicySpec[];
  endpoints: EndpointSpec[];
}

const byKey = <T extends { namespace: string; name: string }>(a: T, b: T) =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * @param lastSettings settings in force per pool id before this resolve; annotations that are invalid now
 *   keep those values. The map is not modified: the caller stores `settings` from the result.
 */
export function resolveModel(input: ResolveInput, lastSettings: ReadonlyMap<string, PoolSettings>): ResolvedModel & { settings: Map<string, PoolSettings> } {
  const problems: Problem[] = [];
  const settingsOut = new Map<string, PoolSettings>();

  const policiesByPool = new Map<string, TrafficPolicySpec>();
  for (const p of [...input.policies].sort(byKey)) {
    const poolId = `${p.namespace}/${p.poolName}`;
    const prior = policiesByPool.get(poolId);
    if (prior) {
      problems.push({ level: "warning", document: docLabel(p), field: "spec.poolRef.name", message: `pool ${poolId} already has InferenceTrafficPolicy ${prior.name}; this one is ignored` });
      continue;
    }
    policiesByPool.set(poolId, p);
  }

  const pools: ResolvedPool[] = [];
  for (const spec of [...input.pools].sort(byKey)) {
    const id = `${spec.namespace}/${spec.name}`;
    const parsed = parsePoolAnnotations(spec.annotations, lastSettings.get(id));
    for (const a of parsed.problems) {
      problems.push({ level: "error", document: docLabel(spec), field: `metadata.annotations[${JSON.stringify(a.annotation)}]`, message: `${JSON.stringify(a.value)}: ${a.message}; ${a.kept} stays in force` });
    }
    settingsOut.set(id, parsed.settings);
    const policy = policiesByPool.get(id) ?? null;
    let runtime = parsed.settings.runtime;
    if (policy?.runtime) {
      if (spec.annotations["inference.networking.x-k8s.io/model-server-runtime"] !== undefined && policy.runtime !== runtime) {
        problems.push({ level: "warning", document: docLabel(policy), field: "spec.modelServerRuntime", message: `overrides the pool's model-server-runtime annotation (${runtime}) with ${policy.runtime}` });
      }
      runtime = policy.runtime;
    }
    const pd = policy?.pd ?? null;
    const endpoints: ResolvedEndpoint[] = [];
    const seen = new Map<string, string>();
    for (const e of input.endpoints) {
      if (e.namespace !== spec.namespace || !e.ip || !matchesSelector(spec.selector, e.labels)) continue;
      const address = formatAddress(e.ip, e.port ?? spec.targetPort);
      let role: EndpointRole = "both";
      if (pd) {
        const v = (e.labels[pd.roleLabel] ?? "").toLowerCase();
        if (v === "prefill" || v === "decode") role = v;
        else {
          problems.push({ level: "warning", document: `endpoint ${e.namespace}/${e.name}`, field: `labels[${JSON.stringify(pd.roleLabel)}]`, message: `${e.labels[pd.roleLabel] === undefined ? "missing" : JSON.stringify(e.labels[pd.roleLabel])}: pool ${id} is P/D-disaggregated and needs "prefill" or "decode"; endpoint left out of the pool` });
          continue;
        }
      }
      const dup = seen.get(address);
      if (dup !== undefined) {
        problems.push({ level: "warning", document: `endpoint ${e.namespace}/${e.name}`, message: `address ${address} is already endpoint ${dup} of pool ${id}; left out` });
        continue;
      }
      seen.set(address, e.name);
      endpoints.push({ namespace: e.namespace, name: e.name, address, role, ready: e.ready });
    }
    endpoints.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    pools.push({
      id,
      spec,
      strategy: parsed.settings.strategy,
      runtime,
      prefix: { ...parsed.settings.prefix },
      queue: { ...parsed.settings.queue },
      eppOverlay: parsed.settings.eppOverlay,
      pd,
      endpoints,
    });
  }
  const poolIds = new Set(pools.map((p) => p.id));
  for (const [poolId, policy] of policiesByPool) {
    if (!poolIds.has(poolId)) problems.push({ level: "warning", document: docLabel(policy), field: "spec.poolRef.name", message: `no InferencePool ${poolId}; the policy has no effect until it exists` });
  }

  const models: ResolvedInferenceModel[] = [];
  const byName = new Map<string, ResolvedInferenceModel>();
  for (const m of [...input.models].sort(byKey)) {
    const pool = `${m.namespace}/${m.poolName}`;
    if (!poolIds.has(pool)) {
      problems.push({ level: "error", document: docLabel(m), field: "spec.poolRef.name", message: `no InferencePool ${pool}; model "${m.modelName}" is not routable until it exists` });
      continue;
    }
    const prior = byName.get(m.modelName);
    if (prior) {
      problems.push({ level: "warning", document: docLabel(m), field: "spec.modelName", message: `"${m.modelName}" is already served by InferenceModel ${prior.from}; this one is ignored` });
      continue;
    }
    const rm: ResolvedInferenceModel = { name: m.modelName, pool, criticality: m.criticality, targets: m.targets.map((t) => ({ ...t })), from: `${m.namespace}/${m.name}` };
    byName.set(m.modelName, rm);
    models.push(rm);
  }
  models.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { pools, models, problems, settings: settingsOut };
}
