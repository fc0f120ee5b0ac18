// Gateway API documents (and the gateway's Service, and Namespaces' labels) → normalised specs, with
// the defaults the CRDs would apply (a YAML file's documents never went through the API server):
// parentRef group/kind, rules (one match-all rule), match path (PathPrefix "/"), backendRef
// group/kind/weight, listener allowedRoutes (Same namespace, the protocol's route kinds).
//
// What we do not implement is not an error here: a rule using it is recorded with the reason
// (RuleSpec.unsupported) and dropped by the resolver, which says so in the route's status.

import type { FieldReader, Obj } from "../model/validate.js";
import { describe, isObj } from "../model/validate.js";
import {
  type BackendRefSpec,
  type GatewayClassSpec,
  type GatewaySpec,
  GROUP_GATEWAY,
  type HTTPRouteSpec,
  type LabelSelector,
  type ListenerSpec,
  type MatchSpec,
  type NamespaceSpec,
  type ParentRefSpec,
  type ReferenceGrantSpec,
  type RuleSpec,
  type ServiceSpec,
} from "./types.js";

type Id = { namespace: string; name: string };

const generationOf = (raw: Obj) => {
  const g = isObj(raw.metadata) ? raw.metadata.generation : undefined;
  return typeof g === "number" && Number.isInteger(g) && g >= 0 ? g : 0;
};

export function parseGatewayClass(raw: Obj, id: Id, r: FieldReader): GatewayClassSpec {
  const controllerName = r.string(raw, "spec.controllerName", { required: true, maxLength: 253 });
  const hasParametersRef = r.get(raw, "spec.parametersRef") != null;
  r.done();
  return {
    kind: "GatewayClass",
    namespace: "",
    name: id.name,
    generation: generationOf(raw),
    controllerName: controllerName!,
    hasParametersRef,
  };
}

export function parseGateway(raw: Obj, id: Id, r: FieldReader): GatewaySpec {
  const className = r.string(raw, "spec.gatewayClassName", { required: true });
  const listeners: ListenerSpec[] = [];
  const list = r.get(raw, "spec.listeners");
  if (!Array.isArray(list) || list.length === 0)
    r.fail("spec.listeners", list == null ? "is required" : `must be a non-empty list, got ${describe(list)}`);
  else
    list.forEach((l, i) => {
      const lr = r.at(`spec.listeners[${i}]`);
      const name = lr.string(l, "name", { required: true });
      const port = lr.integer(l, "port", { required: true, min: 1, max: 65535 });
      const protocol = lr.string(l, "protocol", { required: true });
      const hostname = lr.string(l, "hostname") ?? null;
      const from = lr.string(l, "allowedRoutes.namespaces.from") ?? "Same";
      if (from !== "Same" && from !== "All" && from !== "Selector")
        lr.fail("allowedRoutes.namespaces.from", `"${from}" must be Same, All or Selector`);
      const selector =
        from === "Selector"
          ? labelSelector(lr, lr.get(l, "allowedRoutes.namespaces.selector"), "allowedRoutes.namespaces.selector")
          : null;
      let kinds: { group: string; kind: string }[] | null = null;
      const k = lr.get(l, "allowedRoutes.kinds");
      if (Array.isArray(k)) {
        kinds = [];
        k.forEach((x, j) => {
          const kr = lr.at(`allowedRoutes.kinds[${j}]`);
          const kind = kr.string(x, "kind", { required: true });
          const group = kr.string(x, "group") ?? GROUP_GATEWAY;
          if (kind) kinds!.push({ group, kind });
        });
      } else if (k != null) lr.fail("allowedRoutes.kinds", `must be a list, got ${describe(k)}`);
      if (name && listeners.some((x) => x.name === name)) lr.fail("name", `"${name}" is used by another listener`);
      if (name && port && protocol)
        listeners.push({
          name,
          port,
          protocol,
          hostname: hostname ? hostname.toLowerCase() : null,
          from: from as ListenerSpec["from"],
          selector,
          kinds,
        });
    });
  const addresses: { type: string; value: string }[] = [];
  const a = r.get(raw, "spec.addresses");
  if (Array.isArray(a))
    a.forEach((x, i) => {
      const ar = r.at(`spec.addresses[${i}]`);
      const value = ar.string(x, "value", { required: true });
      if (value) addresses.push({ type: ar.string(x, "type") ?? "IPAddress", value });
    });
  const hasParametersRef = r.get(raw, "spec.infrastructure.parametersRef") != null;
  r.done();
  return {
    kind: "Gateway",
    ...id,
    generation: generationOf(raw),
    className: className!,
    listeners,
    addresses,
    hasParametersRef,
  };
}

function labelSelector(r: FieldReader, v: unknown, field: string): LabelSelector {
  const sel: LabelSelector = { matchLabels: {}, matchExpressions: [] };
  if (v == null) return sel; // an empty selector selects every namespace
  if (!isObj(v)) {
    r.fail(field, `must be a mapping, got ${describe(v)}`);
    return sel;
  }
  sel.matchLabels = r.stringMap(v, "matchLabels") ?? {};
  const exprs = v.matchExpressions;
  if (Array.isArray(exprs))
    exprs.forEach((e, i) => {
      const er = r.at(`${field}.matchExpressions[${i}]`);
      const key = er.string(e, "key", { required: true });
      const operator = er.string(e, "operator", { required: true });
      const values =
        isObj(e) && Array.isArray(e.values) ? e.values.filter((x): x is string => typeof x === "string") : [];
      if (operator && !["In", "NotIn", "Exists", "DoesNotExist"].includes(operator))
        er.fail("operator", `"${operator}" must be In, NotIn, Exists or DoesNotExist`);
      else if (key && operator)
        sel.matchExpressions.push({
          key,
          operator: operator as LabelSelector["matchExpressions"][0]["operator"],
          values,
        });
    });
  return sel;
}

export function selectorMatches(sel: LabelSelector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels)) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions) {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** Rule fields of the standard channel we do not implement: a rule using one is dropped, with this reason. */
const UNSUPPORTED_RULE_FIELDS: Record<string, string> = {
  filters: "filters are not supported (infergate's route rules forward to InferencePools as they are)",
  timeouts: "timeouts are not supported (Envoy's route timeout applies)",
  retry: "retry is not supported",
  sessionPersistence: "sessionPersistence is not supported (routing is by load and prefix affinity)",
};

export function parseHTTPRoute(raw: Obj, id: Id, r: FieldReader): HTTPRouteSpec {
  const parentRefs: ParentRefSpec[] = [];
  const prs = r.get(raw, "spec.parentRefs");
  if (Array.isArray(prs))
    prs.forEach((p, i) => {
      const pr = r.at(`spec.parentRefs[${i}]`);
      const name = pr.string(p, "name", { required: true });
      if (!isObj(p) || !name) return;
      parentRefs.push({
        raw: { ...p },
        group: pr.string(p, "group") ?? GROUP_GATEWAY,
        kind: pr.string(p, "kind") ?? "Gateway",
        namespace: pr.string(p, "namespace") || id.namespace,
        name,
        sectionName: pr.string(p, "sectionName") ?? null,
        port: pr.integer(p, "port", { min: 1, max: 65535 }) ?? null,
      });
    });
  else if (prs != null) r.fail("spec.parentRefs", `must be a list, got ${describe(prs)}`);
  const hostnames: string[] = [];
  const hs = r.get(raw, "spec.hostnames");
  if (Array.isArray(hs))
    hs.forEach((h, i) => {
      if (typeof h !== "string" || !h) r.fail(`spec.hostnames[${i}]`, `must be a hostname, got ${describe(h)}`);
      else hostnames.push(h.toLowerCase());
    });
  const rules: RuleSpec[] = [];
  const rs = r.get(raw, "spec.rules");
  if (rs == null) rules.push({ matches: [matchAll()], backendRefs: [], unsupported: [] });
  else if (!Array.isArray(rs)) r.fail("spec.rules", `must be a list, got ${describe(rs)}`);
  else rs.forEach((rule, i) => rules.push(parseRule(r.at(`spec.rules[${i}]`), rule)));
  const md = isObj(raw.metadata) ? raw.metadata : {};
  r.done();
  return {
    kind: "HTTPRoute",
    ...id,
    generation: generationOf(raw),
    createdAt: typeof md.creationTimestamp === "string" ? md.creationTimestamp : "",
    parentRefs,
    hostnames,
    rules,
  };
}

const matchAll = (): MatchSpec => ({ path: { type: "PathPrefix", value: "/" }, method: null, headers: [] });

function parseRule(r: FieldReader, rule: unknown): RuleSpec {
  const out: RuleSpec = { matches: [], backendRefs: [], unsupported: [] };
  if (!isObj(rule)) {
    r.fail("", `must be a mapping, got ${describe(rule)}`);
    return out;
  }
  for (const [field, why] of Object.entries(UNSUPPORTED_RULE_FIELDS)) {
    const v = rule[field];
    if (v != null && !(Array.isArray(v) && v.length === 0)) out.unsupported.push(`${field}: ${why}`);
  }
  const ms = rule.matches;
  if (ms == null) out.matches.push(matchAll());
  else if (!Array.isArray(ms)) r.fail("matches", `must be a list, got ${describe(ms)}`);
  else
    ms.forEach((m, j) => {
      const mr = r.at(`matches[${j}]`);
      if (!isObj(m)) {
        mr.fail("", `must be a mapping, got ${describe(m)}`);
        return;
      }
      const match = matchAll();
      const pathType = mr.string(m, "path.type") ?? "PathPrefix";
      const pathValue = mr.string(m, "path.value") ?? "/";
      if (pathType === "RegularExpression")
        out.unsupported.push(`matches[${j}].path: RegularExpression is not supported (PathPrefix and Exact are)`);
      else if (pathType !== "PathPrefix" && pathType !== "Exact")
        mr.fail("path.type", `"${pathType}" must be PathPrefix, Exact or RegularExpression`);
      else if (!pathValue.startsWith("/")) mr.fail("path.value", `"${pathValue}" must start with "/"`);
      else
        match.path = {
          type: pathType,
          // Element-wise prefix matching: "/v1/" and "/v1" match the same paths.
          value: pathType === "PathPrefix" && pathValue.length > 1 ? pathValue.replace(/\/+$/, "") || "/" : pathValue,
        };
      match.method = mr.string(m, "method")?.toUpperCase() ?? null;
      const hs = m.headers;
      if (Array.isArray(hs))
        hs.forEach((h, k) => {
          const hr = mr.at(`headers[${k}]`);
          const name = hr.string(h, "name", { required: true });
          const value = hr.string(h, "value", { required: true });
          const type = hr.string(h, "type") ?? "Exact";
          if (type !== "Exact")
            out.unsupported.push(`matches[${j}].headers[${k}]: ${type} is not supported (Exact is)`);
          else if (name && value !== undefined && !match.headers.some((x) => x.name === name.toLowerCase()))
            match.headers.push({ name: name.toLowerCase(), value });
        });
      else if (hs != null) mr.fail("headers", `must be a list, got ${describe(hs)}`);
      if (Array.isArray(m.queryParams) && m.queryParams.length > 0)
        out.unsupported.push(`matches[${j}].queryParams: query parameter matches are not supported`);
      out.matches.push(match);
    });
  const bs = rule.backendRefs;
  if (Array.isArray(bs))
    bs.forEach((b, k) => {
      const br = r.at(`backendRefs[${k}]`);
      const name = br.string(b, "name", { required: true });
      const weight = br.integer(b, "weight", { min: 0, max: 1000000 }) ?? 1;
      if (isObj(b) && Array.isArray(b.filters) && b.filters.length > 0)
        out.unsupported.push(`backendRefs[${k}].filters: backendRef filters are not supported`);
      if (name)
        out.backendRefs.push({
          group: br.string(b, "group") ?? "",
          kind: br.string(b, "kind") ?? "Service",
          namespace: br.string(b, "namespace") || null,
          name,
          weight,
        } satisfies BackendRefSpec);
    });
  else if (bs != null) r.fail("backendRefs", `must be a list, got ${describe(bs)}`);
  return out;
}

export function parseReferenceGrant(raw: Obj, id: Id, r: FieldReader): ReferenceGrantSpec {
  const from: ReferenceGrantSpec["from"] = [];
  const to: ReferenceGrantSpec["to"] = [];
  const f = r.get(raw, "spec.from");
  if (Array.isArray(f))
    f.forEach((x, i) => {
      const fr = r.at(`spec.from[${i}]`);
      const kind = fr.string(x, "kind", { required: true });
      const namespace = fr.string(x, "namespace", { required: true });
      if (kind && namespace) from.push({ group: fr.string(x, "group") ?? "", kind, namespace });
    });
  const t = r.get(raw, "spec.to");
  if (Array.isArray(t))
    t.forEach((x, i) => {
      const tr = r.at(`spec.to[${i}]`);
      const kind = tr.string(x, "kind", { required: true });
      if (kind) to.push({ group: tr.string(x, "group") ?? "", kind, name: tr.string(x, "name") || null });
    });
  r.done();
  return { kind: "ReferenceGrant", ...id, from, to };
}

export function parseService(raw: Obj, id: Id, r: FieldReader): ServiceSpec {
  const ports: number[] = [];
  const ps = r.get(raw, "spec.ports");
  if (Array.isArray(ps))
    for (const p of ps) if (isObj(p) && typeof p.port === "number" && !ports.includes(p.port)) ports.push(p.port);
  const ips: string[] = [];
  const cips = r.get(raw, "spec.clusterIPs");
  const cip = r.get(raw, "spec.clusterIP");
  for (const ip of Array.isArray(cips) ? cips : [cip])
    if (typeof ip === "string" && ip && ip !== "None" && !ips.includes(ip)) ips.push(ip);
  const ingress: ServiceSpec["ingress"] = [];
  const ing = r.get(raw, "status.loadBalancer.ingress");
  if (Array.isArray(ing))
    for (const x of ing)
      if (isObj(x) && (typeof x.ip === "string" || typeof x.hostname === "string"))
        ingress.push({
          ip: typeof x.ip === "string" && x.ip ? x.ip : null,
          hostname: typeof x.hostname === "string" && x.hostname ? x.hostname : null,
        });
  r.done();
  return { kind: "Service", ...id, ports, clusterIPs: ips, ingress };
}

export function parseNamespace(raw: Obj, id: Id, r: FieldReader): NamespaceSpec {
  const labels = r.stringMap(raw, "metadata.labels") ?? {};
  r.done();
  return { kind: "Namespace", namespace: "", name: id.name, labels };
}
