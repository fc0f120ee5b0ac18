// Joins the documents into what routing needs: each pool with its settings (annotations, then the
// InferenceTrafficPolicy that names it), its member endpoints (same namespace, selector match, has an
// IP) with their address and P/D role, and the models each pool serves (resolve-models.ts).
// Pure: same documents and same previous settings give the same result, in a deterministic order.

import type { EndpointRole, PrefixCacheMode } from "../table/schema.js";
import { formatAddress } from "./address.js";
import { ANNOTATION, type PoolSettings, parsePoolAnnotations } from "./annotations.js";
import { BOOTSTRAP_PORT_ANNOTATION } from "./documents.js";
import { resolveModels } from "./resolve-models.js";
import { matchesSelector } from "./selector.js";
import {
  type ConfigMapSpec,
  docLabel,
  type EndpointSpec,
  type ModelSpec,
  type ObjectiveSpec,
  type ObjectRef,
  type PoolSpec,
  type Problem,
  type ResolvedEndpoint,
  type ResolvedModel,
  type ResolvedPool,
  type RewriteSpec,
  type TrafficPolicySpec,
} from "./types.js";

export interface ResolveInput {
  pools: PoolSpec[];
  models: ModelSpec[];
  objectives?: ObjectiveSpec[];
  rewrites?: RewriteSpec[];
  /** A claimed Gateway exists (see resolve-models.ts, rule 5). */
  routed?: boolean;
  policies: TrafficPolicySpec[];
  endpoints: EndpointSpec[];
  /** ConfigMaps that pools may name in their epp-overlay annotation. */
  configMaps?: ConfigMapSpec[];
}

/**
 * What the keys of an epp-overlay ConfigMap mean here. The managed gateway's overlay patches the
 * extension's Deployment / Service / PodDisruptionBudget; infergate has no extension pod (the picker
 * runs inside Envoy), so those keys are deployment-level: reported, never applied at run time. The
 * routing-level key `routing` holds the pool annotations' own names and values and is applied to
 * the pool exactly like its annotations (an annotation on the pool itself wins over the overlay).
 */
export const OVERLAY_DEPLOYMENT_KEYS = ["deployment", "service", "podDisruptionBudget"] as const;
export const OVERLAY_ROUTING_KEY = "routing";
/** Annotations an overlay's `routing` key may set: every routing setting except epp-overlay itself. */
export const OVERLAY_ROUTING_ANNOTATIONS: readonly string[] = Object.values(ANNOTATION).filter(
  (a) => a !== ANNOTATION.eppOverlay,
);

const byKey = <T extends { namespace: string; name: string }>(a: T, b: T) =>
  a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;

/**
 * @param lastSettings settings in force per pool id before this resolve; annotations that are invalid now
 *   keep those values. The map is not modified: the caller stores `settings` from the result.
 */
export function resolveModel(
  input: ResolveInput,
  lastSettings: ReadonlyMap<string, PoolSettings>,
): Omit<ResolvedModel, "routes" | "gatewayStatus"> & { settings: Map<string, PoolSettings> } {
  const problems: Problem[] = [];
  const settingsOut = new Map<string, PoolSettings>();

  const policiesByPool = new Map<string, TrafficPolicySpec>();
  for (const p of [...input.policies].sort(byKey)) {
    const poolId = `${p.namespace}/${p.poolName}`;
    const prior = policiesByPool.get(poolId);
    if (prior) {
      problems.push({
        level: "warning",
        document: docLabel(p),
        field: "spec.poolRef.name",
        message: `pool ${poolId} already has InferenceTrafficPolicy ${prior.name}; this one is ignored`,
      });
      continue;
    }
    policiesByPool.set(poolId, p);
  }

  const configMaps = new Map<string, ConfigMapSpec>();
  for (const c of input.configMaps ?? []) configMaps.set(`${c.namespace}/${c.name}`, c);

  const pools: ResolvedPool[] = [];
  for (const spec of [...input.pools].sort(byKey)) {
    const id = `${spec.namespace}/${spec.name}`;
    const ref: ObjectRef = {
      apiVersion: spec.apiVersion,
      kind: "InferencePool",
      namespace: spec.namespace,
      name: spec.name,
    };
    let parsed = parsePoolAnnotations(spec.annotations, lastSettings.get(id));
    // The overlay: its name comes from the annotations (last good name when the annotation is invalid).
    const overlayName = parsed.settings.eppOverlay;
    let overlay: ConfigMapSpec | undefined;
    if (overlayName !== null) {
      overlay = configMaps.get(`${spec.namespace}/${overlayName}`);
      const cmLabel = `ConfigMap ${spec.namespace}/${overlayName}`;
      if (!overlay) {
        problems.push({
          level: "warning",
          ref,
          reason: "OverlayNotFound",
          document: docLabel(spec),
          field: `metadata.annotations[${JSON.stringify(ANNOTATION.eppOverlay)}]`,
          message: `${cmLabel} does not exist (yet); nothing from it applies`,
        });
      } else {
        for (const k of overlay.keys) {
          if ((OVERLAY_DEPLOYMENT_KEYS as readonly string[]).includes(k)) {
            const what = k === "deployment" ? "Deployment" : k === "service" ? "Service" : "PodDisruptionBudget";
            const values =
              k === "deployment"
                ? "replicas, affinity, nodeSelector, tolerations, envoy.resources, controlPlane.resources"
                : k === "service"
                  ? "service"
                  : "podDisruptionBudget";
            problems.push({
              level: "warning",
              ref,
              reason: "OverlayDeploymentLevel",
              document: cmLabel,
              field: `data.${k}`,
              message: `deployment-level override of the managed extension's ${what}: not applied at run time (infergate has no extension pod, routing runs inside Envoy); set the gateway's ${values} in the Helm chart values (charts/infergate/values.yaml) instead`,
            });
          } else if (k !== OVERLAY_ROUTING_KEY) {
            problems.push({
              level: "warning",
              ref,
              reason: "OverlayUnknownKey",
              document: cmLabel,
              field: `data.${k}`,
              message: `unknown overlay key, ignored (routing-level: ${OVERLAY_ROUTING_KEY}; deployment-level: ${OVERLAY_DEPLOYMENT_KEYS.join(", ")})`,
            });
          }
        }
        const routing: Record<string, string> = {};
        for (const [k, v] of Object.entries(overlay.routing ?? {})) {
          if (!OVERLAY_ROUTING_ANNOTATIONS.includes(k)) {
            problems.push({
              level: "warning",
              ref,
              reason: "OverlayUnknownKey",
              document: cmLabel,
              field: `data.routing[${JSON.stringify(k)}]`,
              message: `not a routing annotation, ignored (known: ${OVERLAY_ROUTING_ANNOTATIONS.join(", ")})`,
            });
            continue;
          }
          if (spec.annotations[k] !== undefined) {
            if (spec.annotations[k] !== v)
              problems.push({
                level: "warning",
                ref,
                reason: "OverlayShadowed",
                document: cmLabel,
                field: `data.routing[${JSON.stringify(k)}]`,
                message: `${JSON.stringify(v)} is shadowed by the pool's own annotation ${JSON.stringify(spec.annotations[k])}`,
              });
            continue;
          }
          routing[k] = v;
        }
        if (Object.keys(routing).length > 0)
          parsed = parsePoolAnnotations({ ...routing, ...spec.annotations }, lastSettings.get(id));
      }
    }
    for (const a of parsed.problems) {
      const own = spec.annotations[a.annotation] !== undefined;
      problems.push({
        level: "error",
        ref,
        reason: own ? "InvalidAnnotation" : "InvalidOverlay",
        document: own ? docLabel(spec) : `ConfigMap ${spec.namespace}/${overlayName}`,
        field: own
          ? `metadata.annotations[${JSON.stringify(a.annotation)}]`
          : `data.routing[${JSON.stringify(a.annotation)}]`,
        message: `${JSON.stringify(a.value)}: ${a.message}; ${a.kept} stays in force`,
      });
    }
    settingsOut.set(id, parsed.settings);
    const policy = policiesByPool.get(id) ?? null;
    let runtime = parsed.settings.runtime;
    if (policy?.runtime) {
      if (
        spec.annotations["inference.networking.x-k8s.io/model-server-runtime"] !== undefined &&
        policy.runtime !== runtime
      ) {
        problems.push({
          level: "warning",
          ref: { kind: "InferenceTrafficPolicy", namespace: policy.namespace, name: policy.name },
          reason: "RuntimeOverridden",
          document: docLabel(policy),
          field: "spec.modelServerRuntime",
          message: `overrides the pool's model-server-runtime annotation (${runtime}) with ${policy.runtime}`,
        });
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
          problems.push({
            level: "warning",
            document: `endpoint ${e.namespace}/${e.name}`,
            field: `labels[${JSON.stringify(pd.roleLabel)}]`,
            message: `${e.labels[pd.roleLabel] === undefined ? "missing" : JSON.stringify(e.labels[pd.roleLabel])}: pool ${id} is P/D-disaggregated and needs "prefill" or "decode"; endpoint left out of the pool`,
          });
          continue;
        }
      }
      const dup = seen.get(address);
      if (dup !== undefined) {
        problems.push({
          level: "warning",
          document: `endpoint ${e.namespace}/${e.name}`,
          message: `address ${address} is already endpoint ${dup} of pool ${id}; left out`,
        });
        continue;
      }
      seen.set(address, e.name);
      const bootstrapPort = role === "prefill" ? podBootstrapPort(e, problems) : undefined;
      endpoints.push({
        namespace: e.namespace,
        name: e.name,
        address,
        role,
        ...(bootstrapPort !== undefined ? { bootstrapPort } : {}),
        ready: e.ready,
      });
    }
    endpoints.sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : a.address < b.address ? -1 : a.address > b.address ? 1 : 0,
    );
    pools.push({
      id,
      spec,
      strategy: parsed.settings.strategy,
      runtime,
      // A P/D pool's prefix cache is declared in its InferenceTrafficPolicy (the seed's
      // trafficPolicy.prefixCache.mode: estimate), which wins over the pool's annotation.
      prefix: {
        ...parsed.settings.prefix,
        ...(pd?.prefixCacheMode ? { mode: pd.prefixCacheMode as PrefixCacheMode } : {}),
      },
      queue: { ...parsed.settings.queue },
      firstByteTimeoutMs: parsed.settings.firstByteTimeoutMs,
      eppOverlay: parsed.settings.eppOverlay,
      pd,
      endpoints,
      anyModel: null,
    });
  }
  const poolIds = new Set(pools.map((p) => p.id));
  for (const [poolId, policy] of policiesByPool) {
    if (!poolIds.has(poolId))
      problems.push({
        level: "warning",
        document: docLabel(policy),
        field: "spec.poolRef.name",
        message: `no InferencePool ${poolId}; the policy has no effect until it exists`,
      });
  }

  const m = resolveModels({
    models: input.models,
    objectives: input.objectives ?? [],
    rewrites: input.rewrites ?? [],
    poolIds,
    routed: input.routed ?? false,
  });
  problems.push(...m.problems);
  for (const p of pools) p.anyModel = m.anyModel.get(p.id) ?? null;
  return { pools, models: m.models, objectives: m.objectives, problems, settings: settingsOut };
}

/** A prefill pod's sglang.ai/bootstrap-port annotation, if it has a valid one (else the policy's port). */
function podBootstrapPort(e: EndpointSpec, problems: Problem[]): number | undefined {
  const v = e.annotations?.[BOOTSTRAP_PORT_ANNOTATION];
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  if (/^\s*\d+\s*$/.test(v) && n >= 1 && n <= 65535) return n;
  problems.push({
    level: "warning",
    document: `endpoint ${e.namespace}/${e.name}`,
    field: `annotations[${JSON.stringify(BOOTSTRAP_PORT_ANNOTATION)}]`,
    message: `${JSON.stringify(v)} is not a port (1..65535); the policy's kvTransfer.bootstrapPort applies`,
  });
  return undefined;
}
