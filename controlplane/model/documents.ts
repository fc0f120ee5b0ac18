// Turns one raw document (a parsed YAML/JSON object, or a Kubernetes API object) into a validated
// spec. Shapes follow the seed manifests exactly, plus the upstream v1 InferencePool
// (gateway-api-inference-extension api/v1/inferencepool_types.go: spec.targetPorts[].number,
// spec.selector.matchLabels, spec.endpointPickerRef) and our StaticEndpoints stand-in for Pods.
// Every problem is reported with the document, the field and the reason.

import { isIP } from "node:net";
import { parse as parseYaml } from "yaml";
import {
  parseGateway,
  parseGatewayClass,
  parseHTTPRoute,
  parseNamespace,
  parseReferenceGrant,
  parseService,
} from "../gatewayapi/documents.js";
import { GROUP_GATEWAY } from "../gatewayapi/types.js";
import { type Criticality, MAX_PRIORITY, MIN_PRIORITY, type RoutingStrategy } from "../table/schema.js";
import { parseAddress } from "./address.js";
import { parseRuntime } from "./annotations.js";
import {
  type ConfigMapSpec,
  type EndpointSpec,
  GROUP_ALIBABA,
  GROUP_INFERGATE,
  GROUP_V1,
  GROUP_X,
  type ModelDocument,
  type ModelSpec,
  type ObjectiveSpec,
  type PdProfile,
  type PodSpec,
  type PoolSpec,
  type RewriteRule,
  type RewriteSpec,
  type StaticEndpointsSpec,
  type TrafficPolicySpec,
} from "./types.js";
import { DocumentInvalid, describe, FieldReader, isObj, type Obj } from "./validate.js";

export interface ParseContext {
  /** Namespace for documents that name none (kubectl's default namespace). */
  defaultNamespace: string;
  /** Where the document came from, for messages: "local-fleet.yaml document #3". */
  origin?: string;
}

/** A document of a kind the control plane does not use (Deployment, ...). */
export interface IgnoredDocument {
  ignored: true;
  kind: string;
  reason: string;
}

const SUPPORTED: Record<string, string[]> = {
  InferencePool: [`${GROUP_X}/v1alpha2`, `${GROUP_V1}/v1`],
  InferenceModel: [`${GROUP_X}/v1alpha2`],
  InferenceObjective: [`${GROUP_X}/v1alpha2`],
  InferenceModelRewrite: [`${GROUP_X}/v1alpha2`],
  InferenceTrafficPolicy: [`${GROUP_ALIBABA}/v1alpha1`],
  StaticEndpoints: [`${GROUP_INFERGATE}/v1alpha1`],
  Pod: ["v1"],
  ConfigMap: ["v1"],
  GatewayClass: [`${GROUP_GATEWAY}/v1`, `${GROUP_GATEWAY}/v1beta1`],
  Gateway: [`${GROUP_GATEWAY}/v1`, `${GROUP_GATEWAY}/v1beta1`],
  HTTPRoute: [`${GROUP_GATEWAY}/v1`, `${GROUP_GATEWAY}/v1beta1`],
  ReferenceGrant: [`${GROUP_GATEWAY}/v1beta1`],
  Service: ["v1"],
  Namespace: ["v1"],
};
/** Kinds without a namespace. */
const CLUSTER_SCOPED = new Set(["GatewayClass", "Namespace"]);

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/**
 * A Pod annotation giving an SGLang prefill server's own --disaggregation-bootstrap-port (over the
 * policy's kvTransfer.bootstrapPort): the key sglang-router's Kubernetes service discovery reads
 * (its --bootstrap-port-annotation default). Needed where prefill pods share an IP.
 */
export const BOOTSTRAP_PORT_ANNOTATION = "sglang.ai/bootstrap-port";

/** SGLang's default --disaggregation-bootstrap-port, used when kvTransfer.bootstrapPort is omitted. */
export const SGLANG_DEFAULT_BOOTSTRAP_PORT = 8998;

export function parseDocument(raw: unknown, ctx: ParseContext): ModelDocument | IgnoredDocument {
  const where = ctx.origin ? ` (${ctx.origin})` : "";
  if (!isObj(raw))
    throw new DocumentInvalid(`document${where}`, [
      { field: "(root)", message: `must be a mapping, got ${describe(raw)}` },
    ]);
  const kind = typeof raw.kind === "string" ? raw.kind : undefined;
  const apiVersion = typeof raw.apiVersion === "string" ? raw.apiVersion : undefined;
  const name = isObj(raw.metadata) && typeof raw.metadata.name === "string" ? raw.metadata.name : undefined;
  const namespace = CLUSTER_SCOPED.has(kind ?? "")
    ? ""
    : isObj(raw.metadata) && typeof raw.metadata.namespace === "string" && raw.metadata.namespace
      ? raw.metadata.namespace
      : ctx.defaultNamespace;
  const label = `${kind ?? "document"} ${namespace}/${name ?? "?"}${where}`;
  const r = new FieldReader(label);
  if (!kind) r.fail("kind", "is required");
  if (!apiVersion) r.fail("apiVersion", "is required");
  if (!kind || !apiVersion) r.done();
  const versions = SUPPORTED[kind!];
  if (!versions) return { ignored: true, kind: kind!, reason: `kind ${kind} is not used by the control plane` };
  if (!versions.includes(apiVersion!)) {
    r.fail("apiVersion", `${apiVersion} is not supported for ${kind}; use ${versions.join(" or ")}`);
    r.done();
  }
  r.string(raw, "metadata.name", { required: true, maxLength: 253 });
  if (name && !NAME_RE.test(name))
    r.fail("metadata.name", `"${name}" is not a valid name (lowercase letters, digits, '-', '.')`);
  if (r.issues.length) r.done();
  const id = { namespace, name: name! };
  switch (kind) {
    case "InferencePool":
      return parsePool(raw, apiVersion!, id, r);
    case "InferenceModel":
      return parseModel(raw, id, r);
    case "InferenceObjective":
      return parseObjective(raw, id, r);
    case "InferenceModelRewrite":
      return parseRewrite(raw, id, r);
    case "InferenceTrafficPolicy":
      return parseTrafficPolicy(raw, id, r);
    case "StaticEndpoints":
      return parseStaticEndpoints(raw, id, r);
    case "ConfigMap":
      return parseConfigMap(raw, id, r);
    case "GatewayClass":
      return parseGatewayClass(raw, id, r);
    case "Gateway":
      return parseGateway(raw, id, r);
    case "HTTPRoute":
      return parseHTTPRoute(raw, id, r);
    case "ReferenceGrant":
      return parseReferenceGrant(raw, id, r);
    case "Service":
      return parseService(raw, id, r);
    case "Namespace":
      return parseNamespace(raw, id, r);
    default:
      return parsePod(raw, id, r);
  }
}

function parsePool(raw: Obj, apiVersion: string, id: { namespace: string; name: string }, r: FieldReader): PoolSpec {
  const annotations = r.stringMap(raw, "metadata.annotations", { hint: "quote annotation values in YAML" }) ?? {};
  let targetPort: number | undefined;
  let selector: Record<string, string> | undefined;
  let extensionRef: string | null = null;
  if (apiVersion.startsWith(`${GROUP_X}/`)) {
    targetPort = r.integer(raw, "spec.targetPortNumber", { required: true, min: 1, max: 65535 });
    const sel = r.get(raw, "spec.selector");
    if (isObj(sel) && isObj(sel.matchLabels)) {
      r.fail(
        "spec.selector",
        `v1alpha2 selector is a plain label map; "matchLabels" is the v1 shape (apiVersion ${GROUP_V1}/v1)`,
      );
    } else {
      selector = r.stringMap(raw, "spec.selector", { required: true, hint: "label values are strings" });
    }
    extensionRef = r.string(raw, "spec.extensionRef.name") ?? null;
  } else {
    const ports = r.get(raw, "spec.targetPorts");
    if (ports === undefined || ports === null) r.fail("spec.targetPorts", "is required (exactly one {number: <port>})");
    else if (!Array.isArray(ports)) r.fail("spec.targetPorts", `must be a list, got ${describe(ports)}`);
    else if (ports.length !== 1) r.fail("spec.targetPorts", `must hold exactly one port, got ${ports.length}`);
    else targetPort = r.at("spec.targetPorts[0]").integer(ports[0], "number", { required: true, min: 1, max: 65535 });
    const sel = r.object(raw, "spec.selector", true);
    if (sel) {
      if (sel.matchExpressions !== undefined)
        r.fail("spec.selector.matchExpressions", "is not supported: the v1 InferencePool selector is matchLabels only");
      selector = r.stringMap(raw, "spec.selector.matchLabels", { required: true, hint: "label values are strings" });
    }
    extensionRef = r.string(raw, "spec.endpointPickerRef.name") ?? null;
  }
  const rawSelector = r.get(raw, apiVersion.startsWith(GROUP_X) ? "spec.selector" : "spec.selector.matchLabels");
  if (selector && isObj(rawSelector) && Object.keys(rawSelector).length === 0) {
    r.fail(
      apiVersion.startsWith(GROUP_X) ? "spec.selector" : "spec.selector.matchLabels",
      "must name at least one label (an empty selector would take every pod of the namespace)",
    );
  }
  r.done();
  return {
    kind: "InferencePool",
    apiVersion,
    ...id,
    targetPort: targetPort!,
    selector: selector!,
    extensionRef,
    annotations,
  };
}

const CRITICALITIES: Criticality[] = ["Critical", "Standard", "Sheddable"];

function parseModel(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): ModelSpec {
  const modelName = r.string(raw, "spec.modelName", { required: true, maxLength: 256 });
  const critRaw = r.string(raw, "spec.criticality");
  let criticality: Criticality = "Standard"; // upstream: an unset criticality is treated as Standard
  if (critRaw !== undefined) {
    if ((CRITICALITIES as string[]).includes(critRaw)) criticality = critRaw as Criticality;
    else r.fail("spec.criticality", `"${critRaw}" must be one of ${CRITICALITIES.join(", ")}`);
  }
  const poolName = poolRefName(raw, r);
  const targets = weightedTargets(r, r.get(raw, "spec.targetModels"), "spec.targetModels", "name", 0);
  r.done();
  return { kind: "InferenceModel", ...id, modelName: modelName!, criticality, poolName: poolName!, targets };
}

/** spec.poolRef of an InferenceModel / InferenceObjective / InferenceModelRewrite: a pool in the same namespace. */
function poolRefName(raw: Obj, r: FieldReader): string | undefined {
  const poolName = r.string(raw, "spec.poolRef.name", { required: true });
  const group = r.string(raw, "spec.poolRef.group");
  if (group !== undefined && group !== GROUP_X && group !== GROUP_V1)
    r.fail("spec.poolRef.group", `"${group}" must be ${GROUP_X} or ${GROUP_V1}`);
  const kind = r.string(raw, "spec.poolRef.kind");
  if (kind !== undefined && kind !== "InferencePool") r.fail("spec.poolRef.kind", `"${kind}" must be InferencePool`);
  return poolName;
}

/**
 * A weighted list of model names: InferenceModel spec.targetModels ({name, weight}, weight 0..1000000)
 * or an InferenceModelRewrite rule's targets ({modelRewrite, weight}, weight 1..1000000). Upstream's
 * rule for both: weights are set on every entry or on none (none: an even split).
 */
function weightedTargets(
  r: FieldReader,
  list: unknown,
  field: string,
  nameKey: "name" | "modelRewrite",
  minWeight: 0 | 1,
): { name: string; weight: number }[] {
  const targets: { name: string; weight: number }[] = [];
  if (list === undefined || list === null) return targets;
  if (!Array.isArray(list)) {
    r.fail(field, `must be a list, got ${describe(list)}`);
    return targets;
  }
  let withWeight = 0;
  list.forEach((t, i) => {
    const f = `${field}[${i}]`;
    if (!isObj(t)) {
      r.fail(f, `must be a mapping, got ${describe(t)}`);
      return;
    }
    const n = t[nameKey];
    if (typeof n !== "string" || n === "")
      r.fail(`${f}.${nameKey}`, n === undefined ? "is required" : `must be a non-empty string, got ${describe(n)}`);
    let w = 1; // upstream: when no weights are given, traffic is split evenly
    if (t.weight !== undefined && t.weight !== null) {
      withWeight++;
      if (typeof t.weight !== "number" || !Number.isInteger(t.weight) || t.weight < minWeight || t.weight > 1000000) {
        r.fail(`${f}.weight`, `must be an integer in ${minWeight}..1000000, got ${describe(t.weight)}`);
      } else w = t.weight;
    }
    if (typeof n === "string" && n !== "") {
      if (targets.some((x) => x.name === n)) r.fail(`${f}.${nameKey}`, `"${n}" is listed twice`);
      targets.push({ name: n, weight: w });
    }
  });
  if (withWeight > 0 && withWeight < list.length) r.fail(field, "weight must be set on every target model or on none");
  if (targets.length > 0 && targets.every((t) => t.weight === 0)) r.fail(field, "at least one weight must be positive");
  return targets;
}

// GIE v1.5.0 config/crd/bases/inference.networking.x-k8s.io_inferenceobjectives.yaml: spec.poolRef
// (required), spec.priority (integer, optional; unset means 0).
function parseObjective(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): ObjectiveSpec {
  const poolName = poolRefName(raw, r);
  const priority = r.integer(raw, "spec.priority", { min: MIN_PRIORITY, max: MAX_PRIORITY }) ?? null;
  r.done();
  return { kind: "InferenceObjective", ...id, priority, poolName: poolName! };
}

// GIE v1.5.0 config/crd/bases/inference.networking.x-k8s.io_inferencemodelrewrites.yaml: spec.poolRef
// and spec.rules (both required); a rule has matches[].model {type: Exact (the only type), value} and
// targets[] {modelRewrite, weight 1..1000000} (minItems 1 when present).
function parseRewrite(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): RewriteSpec {
  const poolName = poolRefName(raw, r);
  const rules: RewriteRule[] = [];
  const list = r.get(raw, "spec.rules");
  if (list === undefined || list === null) r.fail("spec.rules", "is required");
  else if (!Array.isArray(list)) r.fail("spec.rules", `must be a list, got ${describe(list)}`);
  else
    list.forEach((rule, i) => {
      const f = `spec.rules[${i}]`;
      if (!isObj(rule)) {
        r.fail(f, `must be a mapping, got ${describe(rule)}`);
        return;
      }
      const models: string[] = [];
      const matches = rule.matches;
      if (matches !== undefined && matches !== null) {
        if (!Array.isArray(matches)) r.fail(`${f}.matches`, `must be a list, got ${describe(matches)}`);
        else
          matches.forEach((m, j) => {
            const mr = r.at(`${f}.matches[${j}]`);
            const type = mr.string(m, "model.type");
            if (type !== undefined && type !== "Exact")
              mr.fail("model.type", `"${type}" is not supported (GIE v1.5 defines only Exact)`);
            const value = mr.string(m, "model.value", { required: true });
            if (value !== undefined && value !== "" && !models.includes(value)) models.push(value);
          });
      }
      if (Array.isArray(rule.targets) && rule.targets.length === 0)
        r.fail(`${f}.targets`, "must hold at least one target when present");
      const targets = weightedTargets(r, rule.targets, `${f}.targets`, "modelRewrite", 1);
      rules.push({ models, targets });
    });
  const md = isObj(raw.metadata) ? raw.metadata : {};
  const createdAt = typeof md.creationTimestamp === "string" ? md.creationTimestamp : "";
  r.done();
  return { kind: "InferenceModelRewrite", ...id, poolName: poolName!, createdAt, rules };
}

function parseTrafficPolicy(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): TrafficPolicySpec {
  const poolName = r.string(raw, "spec.poolRef.name", { required: true });
  const rt = r.string(raw, "spec.modelServerRuntime");
  let runtime: TrafficPolicySpec["runtime"] = null;
  if (rt !== undefined) {
    try {
      runtime = parseRuntime(rt);
    } catch (e) {
      r.fail("spec.modelServerRuntime", `"${rt}" ${(e as Error).message}`);
    }
  }
  let pd: PdProfile | null = null;
  const pdRaw = r.object(raw, "spec.profile.pd");
  if (pdRaw) {
    const roleLabel = r.string(raw, "spec.profile.pd.pdRoleLabelName", { required: true });
    const bootstrapPort =
      r.integer(raw, "spec.profile.pd.kvTransfer.bootstrapPort", { min: 1, max: 65535 }) ??
      SGLANG_DEFAULT_BOOTSTRAP_PORT;
    const policies = r.object(raw, "spec.profile.pd.trafficPolicy") ?? {};
    let prefixCacheMode: string | null = null;
    if (policies.prefixCache !== undefined) {
      const mode = r.string(raw, "spec.profile.pd.trafficPolicy.prefixCache.mode");
      if (mode !== undefined && mode !== "estimate")
        r.fail(
          "spec.profile.pd.trafficPolicy.prefixCache.mode",
          `"${mode}" is not supported; the gateway estimates prefix-cache contents from routed prompts ("estimate")`,
        );
      prefixCacheMode = mode ?? "estimate";
    }
    for (const k of Object.keys(policies)) {
      if (k !== "prefixCache")
        r.fail(`spec.profile.pd.trafficPolicy.${k}`, "unknown traffic policy (known: prefixCache)");
    }
    const ref = (field: "prefillPolicyRef" | "decodePolicyRef"): RoutingStrategy => {
      const v = r.string(raw, `spec.profile.pd.${field}`);
      if (v === undefined) return "DEFAULT";
      if (!(v in policies)) {
        r.fail(
          `spec.profile.pd.${field}`,
          `"${v}" names no entry of spec.profile.pd.trafficPolicy${Object.keys(policies).length ? ` (have: ${Object.keys(policies).join(", ")})` : ""}`,
        );
        return "DEFAULT";
      }
      return v === "prefixCache" ? "PREFIX_CACHE" : "DEFAULT";
    };
    const prefillPolicy = ref("prefillPolicyRef");
    const decodePolicy = ref("decodePolicyRef");
    pd = { roleLabel: roleLabel ?? "", bootstrapPort, prefillPolicy, decodePolicy, prefixCacheMode };
  }
  r.done();
  return { kind: "InferenceTrafficPolicy", ...id, poolName: poolName!, runtime, pd };
}

function parseStaticEndpoints(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): StaticEndpointsSpec {
  const list = raw.endpoints;
  const endpoints: EndpointSpec[] = [];
  if (!Array.isArray(list))
    r.fail(
      "endpoints",
      list === undefined
        ? "is required (a list of {name, address | ip [+ port], labels, ready})"
        : `must be a list, got ${describe(list)}`,
    );
  else {
    const names = new Set<string>();
    list.forEach((e, i) => {
      const er = r.at(`endpoints[${i}]`);
      if (!isObj(e)) {
        er.fail("", `must be a mapping, got ${describe(e)}`);
        return;
      }
      const name = er.string(e, "name", { required: true });
      if (name !== undefined && names.has(name)) er.fail("name", `"${name}" is listed twice`);
      if (name !== undefined) names.add(name);
      const labels = er.stringMap(e, "labels", { hint: "label values are strings" }) ?? {};
      const annotations = er.stringMap(e, "annotations", { hint: "quote annotation values in YAML" });
      const ready = er.boolean(e, "ready") ?? true;
      let ip: string | null = null;
      let port: number | null = null;
      if (e.address !== undefined) {
        if (e.ip !== undefined || e.port !== undefined)
          er.fail("", "give either address, or ip (+ optional port), not both");
        if (typeof e.address !== "string") er.fail("address", `must be a string "IP:port", got ${describe(e.address)}`);
        else {
          try {
            ({ ip, port } = parseAddress(e.address));
          } catch (err) {
            er.fail("address", (err as Error).message);
          }
        }
      } else if (e.ip !== undefined) {
        if (typeof e.ip !== "string" || isIP(e.ip) === 0) er.fail("ip", `must be an IP literal, got ${describe(e.ip)}`);
        else ip = e.ip;
        if (e.port !== undefined) port = er.integer(e, "port", { min: 1, max: 65535 }) ?? null;
      } else er.fail("", 'needs address ("127.0.0.1:8001") or ip');
      if (name !== undefined)
        endpoints.push({
          namespace: id.namespace,
          name,
          ip,
          port,
          labels,
          ...(annotations ? { annotations } : {}),
          ready,
        });
    });
  }
  r.done();
  return { kind: "StaticEndpoints", ...id, endpoints };
}

function parsePod(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): PodSpec {
  const labels = r.stringMap(raw, "metadata.labels") ?? {};
  const annotations = r.stringMap(raw, "metadata.annotations");
  let ip = r.string(raw, "status.podIP") ?? null;
  if (!ip) {
    const ips = r.get(raw, "status.podIPs");
    if (Array.isArray(ips) && isObj(ips[0]) && typeof ips[0].ip === "string") ip = ips[0].ip;
  }
  if (ip && isIP(ip) === 0) r.fail("status.podIP", `"${ip}" is not an IP literal`);
  const conditions = r.get(raw, "status.conditions");
  const readyCond = Array.isArray(conditions) ? conditions.find((c) => isObj(c) && c.type === "Ready") : undefined;
  const terminating = isObj(raw.metadata) && raw.metadata.deletionTimestamp != null;
  const ready = isObj(readyCond) && readyCond.status === "True" && !terminating;
  // A Failed or Succeeded pod (evicted, completed) stays listed until it is deleted, but its
  // containers are gone and its IP may already be a live pod's: like Kubernetes' EndpointSlice
  // controller, it is no endpoint (kept, it could hide the live pod behind its address).
  const phase = r.get(raw, "status.phase");
  const terminal = phase === "Failed" || phase === "Succeeded";
  r.done();
  return {
    kind: "Pod",
    ...id,
    endpoint: terminal
      ? null
      : { ...id, ip: ip || null, port: null, labels, ...(annotations ? { annotations } : {}), ready },
  };
}

/**
 * A ConfigMap, read as an epp-overlay (see resolve.ts for what each key means here). Only `routing` is
 * parsed: a YAML (or JSON) mapping from annotation name to value. A `routing` that is not such a
 * mapping makes the whole ConfigMap invalid, so the last good version of it stays in force.
 */
function parseConfigMap(raw: Obj, id: { namespace: string; name: string }, r: FieldReader): ConfigMapSpec {
  const data = r.object(raw, "data") ?? {};
  const keys = Object.keys(data).sort();
  let routing: Record<string, string> | null = null;
  if (data.routing !== undefined) {
    const text = data.routing;
    if (typeof text !== "string") r.fail("data.routing", `must be a string holding YAML, got ${describe(text)}`);
    else {
      let parsed: unknown;
      try {
        parsed = text.trim() === "" ? {} : parseYaml(text, { prettyErrors: true });
      } catch (e) {
        r.fail("data.routing", `is not valid YAML: ${String((e as Error).message).split("\n")[0]}`);
      }
      if (parsed !== undefined) {
        if (parsed === null) parsed = {};
        if (!isObj(parsed))
          r.fail("data.routing", `must be a YAML mapping of annotation name to value, got ${describe(parsed)}`);
        else {
          routing = {};
          for (const [k, v] of Object.entries(parsed)) {
            if (typeof v === "string") routing[k] = v;
            else if (typeof v === "number" || typeof v === "boolean") routing[k] = String(v);
            else r.fail(`data.routing[${JSON.stringify(k)}]`, `must be a scalar (string, number), got ${describe(v)}`);
          }
        }
      }
    }
  }
  r.done();
  return { kind: "ConfigMap", ...id, keys, routing };
}
