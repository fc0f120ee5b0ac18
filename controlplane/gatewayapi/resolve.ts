// The Gateway API controller's logic, pure: GatewayClasses / Gateways / HTTPRoutes (+ ReferenceGrants,
// the gateway's Service, Namespace labels, the pools that exist) → the route entries the filter matches
// (TableRoute, in precedence order) and the status every object should show, the way conformant
// controllers write it (Gateway API v1.3: condition types and reasons of apis/v1, observedGeneration).
//
// One data plane: the chart's Envoy Deployment behind one Service implements every Gateway of a
// claimed GatewayClass. A listener is served when its protocol is HTTP and its port is one the Service
// exposes (no Service configured, e.g. the file source: any port); every such Gateway gets the
// Service's address. Routes of all of them are merged into one ordered list.

import { GROUP_V1, GROUP_X, type Problem } from "../model/types.js";
import type { TableRoute, TableRouteBackend } from "../table/schema.js";
import { selectorMatches } from "./documents.js";
import {
  type Condition,
  type GatewayApiStatus,
  type GatewayClassSpec,
  type GatewaySpec,
  type GatewayStatus,
  GROUP_GATEWAY,
  type HTTPRouteSpec,
  type ListenerSpec,
  type ListenerStatus,
  type ReferenceGrantSpec,
  type RouteParentStatus,
  type RuleSpec,
  type ServiceSpec,
} from "./types.js";

export interface GatewayResolveInput {
  controllerNames: readonly string[];
  /** The gateway's Service; null when none is configured (file source): any listener port is served,
   *  no addresses are reported. spec null: configured but not found (yet). */
  service: { namespace: string; name: string; spec: ServiceSpec | null } | null;
  classes: GatewayClassSpec[];
  gateways: GatewaySpec[];
  routes: HTTPRouteSpec[];
  grants: ReferenceGrantSpec[];
  /** Namespace name → labels (for allowedRoutes.namespaces.from: Selector). */
  namespaces: ReadonlyMap<string, Record<string, string>>;
  /** Pool id ("namespace/name") → its API group. */
  pools: ReadonlyMap<string, string>;
}

export interface GatewayResolution {
  /** A Gateway of a claimed GatewayClass exists: requests are routed by `routes` alone. */
  routed: boolean;
  routes: TableRoute[];
  status: GatewayApiStatus;
  problems: Problem[];
}

const HTTP_ROUTE_KIND = { group: GROUP_GATEWAY, kind: "HTTPRoute" };

const cond = (
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  generation: number,
  status?: Condition["status"],
): Condition => ({ type, status: status ?? (ok ? "True" : "False"), reason, message, observedGeneration: generation });

interface ListenerState {
  spec: ListenerSpec;
  gateway: GatewaySpec;
  /** Accepted and not conflicted: it takes traffic. */
  programmed: boolean;
  supportedKinds: { group: string; kind: string }[];
  attached: number;
  conditions: Condition[];
}

export function resolveGateways(input: GatewayResolveInput): GatewayResolution {
  const problems: Problem[] = [];
  const claimed = new Set(input.controllerNames);
  const classes = new Map<string, { spec: GatewayClassSpec; accepted: boolean }>();
  const status: GatewayApiStatus = {
    classes: [],
    gateways: [],
    routes: [],
    controllerNames: [...input.controllerNames],
  };

  for (const c of sortByKey(input.classes)) {
    if (!claimed.has(c.controllerName)) continue;
    const accepted = !c.hasParametersRef;
    classes.set(c.name, { spec: c, accepted });
    status.classes.push({
      name: c.name,
      conditions: [
        accepted
          ? cond("Accepted", true, "Accepted", `claimed by ${c.controllerName} (infergate)`, c.generation)
          : cond(
              "Accepted",
              false,
              "InvalidParameters",
              "spec.parametersRef is not supported: infergate's gateway takes its settings from the Helm chart values",
              c.generation,
            ),
      ],
    });
  }

  const svc = input.service;
  const addresses = serviceAddresses(svc?.spec ?? null);
  const listeners = new Map<string, ListenerState[]>();
  const ours = new Map<string, GatewaySpec>();
  const gatewayStatuses = new Map<string, GatewayStatus>();
  for (const g of sortByKey(input.gateways)) {
    const cls = classes.get(g.className);
    if (!cls) continue;
    const gk = `${g.namespace}/${g.name}`;
    ours.set(gk, g);
    if (!cls.accepted) {
      status.gateways.push({
        namespace: g.namespace,
        name: g.name,
        addresses: [],
        listeners: [],
        conditions: [
          cond("Accepted", false, "NotReconciled", `GatewayClass ${g.className} is not accepted`, g.generation),
          cond("Programmed", false, "Invalid", `GatewayClass ${g.className} is not accepted`, g.generation),
        ],
      });
      continue;
    }
    const states = g.listeners.map((l) => listenerState(l, g, svc));
    markConflicts(states);
    listeners.set(gk, states);
    const invalid = states.filter((s) => !s.programmed);
    let accepted: Condition;
    if (g.hasParametersRef)
      accepted = cond(
        "Accepted",
        false,
        "InvalidParameters",
        "spec.infrastructure.parametersRef is not supported: infergate's gateway takes its settings from the Helm chart values",
        g.generation,
      );
    else if (invalid.length === 0)
      accepted = cond("Accepted", true, "Accepted", "every listener is served", g.generation);
    else
      accepted = cond(
        "Accepted",
        invalid.length < states.length,
        "ListenersNotValid",
        `listener(s) not served: ${invalid.map((s) => `${s.spec.name} (${s.conditions.find((c) => c.status !== "True" && c.type !== "Conflicted")?.message ?? "conflicted"})`).join("; ")}`,
        g.generation,
      );
    let programmed: Condition;
    const wanted = g.addresses.filter((a) => !addresses.some((x) => x.value === a.value));
    if (accepted.status !== "True")
      programmed = cond("Programmed", false, "Invalid", "the Gateway is not accepted", g.generation);
    else if (svc && !svc.spec)
      programmed = cond(
        "Programmed",
        false,
        "AddressNotAssigned",
        `Service ${svc.namespace}/${svc.name} (the gateway's Service) does not exist`,
        g.generation,
      );
    else if (svc && addresses.length === 0)
      programmed = cond(
        "Programmed",
        false,
        "AddressNotAssigned",
        `Service ${svc.namespace}/${svc.name} has no address yet (no cluster IP or load-balancer ingress)`,
        g.generation,
      );
    else if (wanted.length > 0)
      programmed = cond(
        "Programmed",
        false,
        "AddressNotUsable",
        `spec.addresses ${wanted.map((a) => a.value).join(", ")} cannot be used: the gateway is reached at its Service's address${addresses.length ? ` (${addresses.map((a) => a.value).join(", ")})` : ""}; remove spec.addresses or set the Service's load-balancer IP through the chart values`,
        g.generation,
      );
    else
      programmed = cond(
        "Programmed",
        true,
        "Programmed",
        svc ? `served by the Deployment behind Service ${svc.namespace}/${svc.name}` : "served by this gateway",
        g.generation,
      );
    gatewayStatuses.set(gk, {
      namespace: g.namespace,
      name: g.name,
      addresses: programmed.status === "True" ? addresses : [],
      conditions: [accepted, programmed],
      listeners: [],
    });
  }

  // Routes: attachment, status per parent of ours, and the entries of the programmed listeners.
  interface Entry extends TableRoute {
    sortKey: (number | string)[];
  }
  const entries: Entry[] = [];
  const seen = new Set<string>();
  for (const route of sortByKey(input.routes)) {
    const parents: RouteParentStatus[] = [];
    const refs = resolveBackends(route, input);
    const kept = route.rules.map((r, i) => ({ rule: r, index: i })).filter((x) => x.rule.unsupported.length === 0);
    const dropped = route.rules
      .map((r, i) => ({ r, i }))
      .filter((x) => x.r.unsupported.length > 0)
      .map((x) => `rules[${x.i}]: ${x.r.unsupported.join("; ")}`);
    for (const pr of route.parentRefs) {
      if (pr.group !== GROUP_GATEWAY || pr.kind !== "Gateway") continue;
      const gk = `${pr.namespace}/${pr.name}`;
      const g = ours.get(gk);
      if (!g) continue;
      const controllerName = classes.get(g.className)!.spec.controllerName;
      const gen = route.generation;
      const states = listeners.get(gk);
      if (!states) {
        parents.push({
          parentRef: pr.raw,
          controllerName,
          conditions: [
            cond("Accepted", false, "NotAllowedByListeners", `GatewayClass ${g.className} is not accepted`, gen),
            refs.condition(gen),
          ],
        });
        continue;
      }
      const candidates = states.filter(
        (s) =>
          (pr.sectionName === null || s.spec.name === pr.sectionName) && (pr.port === null || s.spec.port === pr.port),
      );
      const allowed = candidates.filter((s) => allows(s, route.namespace, input.namespaces));
      for (const s of allowed) s.attached++;
      const hosts = allowed.flatMap((s) =>
        effectiveHosts(s.spec.hostname, route.hostnames).map((h) => ({ state: s, host: h })),
      );
      let accepted: Condition;
      if (candidates.length === 0)
        accepted = cond(
          "Accepted",
          false,
          "NoMatchingParent",
          `Gateway ${gk} has no listener${pr.sectionName !== null ? ` named ${pr.sectionName}` : ""}${pr.port !== null ? ` on port ${pr.port}` : ""}`,
          gen,
        );
      else if (allowed.length === 0)
        accepted = cond(
          "Accepted",
          false,
          "NotAllowedByListeners",
          `no listener of Gateway ${gk} allows HTTPRoutes from namespace ${route.namespace} (allowedRoutes)`,
          gen,
        );
      else if (hosts.length === 0)
        accepted = cond(
          "Accepted",
          false,
          "NoMatchingListenerHostname",
          `no hostname of the route (${route.hostnames.join(", ")}) matches a listener hostname of Gateway ${gk}`,
          gen,
        );
      else if (kept.length === 0 && route.rules.length > 0)
        accepted = cond("Accepted", false, "UnsupportedValue", `every rule is dropped: ${dropped.join(" | ")}`, gen);
      else accepted = cond("Accepted", true, "Accepted", `attached to Gateway ${gk}`, gen);
      const conditions = [accepted, refs.condition(gen)];
      if (accepted.status === "True" && dropped.length > 0)
        conditions.push(
          cond("PartiallyInvalid", true, "UnsupportedValue", `Dropped Rule(s): ${dropped.join(" | ")}`, gen),
        );
      parents.push({ parentRef: pr.raw, controllerName, conditions });
      if (accepted.status !== "True") continue;
      for (const { state, host } of hosts) {
        if (!state.programmed) continue;
        for (const { rule, index } of kept) {
          rule.matches.forEach((m, mi) => {
            const key = `${route.namespace}/${route.name}|${host ?? ""}|${index}|${mi}`;
            if (seen.has(key)) return;
            seen.add(key);
            const e: Entry = {
              route: `${route.namespace}/${route.name}`,
              rule: index,
              match: mi,
              ...(host !== null ? { host } : {}),
              path: { ...m.path },
              ...(m.method !== null ? { method: m.method } : {}),
              headers: m.headers.map((h) => ({ ...h })),
              backends: refs.backends[index],
              sortKey: [
                host === null || host.startsWith("*.") ? 0 : -host.length,
                host === null ? 0 : -host.length,
                m.path.type === "Exact" ? 0 : 1,
                -m.path.value.length,
                m.method !== null ? 0 : 1,
                -m.headers.length,
                route.createdAt,
                `${route.namespace}/${route.name}`,
                index,
                mi,
              ],
            };
            entries.push(e);
          });
        }
      }
    }
    if (parents.length > 0) status.routes.push({ namespace: route.namespace, name: route.name, parents });
    if (parents.some((p) => p.conditions[0].status === "True") && refs.problems.length > 0)
      problems.push({
        level: "warning",
        document: `HTTPRoute ${route.namespace}/${route.name}`,
        field: "spec.rules[].backendRefs",
        message: `${refs.problems.join("; ")}: requests sent there get 500`,
      });
    if (parents.length > 0 && dropped.length > 0)
      problems.push({
        level: "warning",
        document: `HTTPRoute ${route.namespace}/${route.name}`,
        message: `dropped: ${dropped.join(" | ")}`,
      });
  }

  for (const [gk, states] of listeners) {
    const gs = gatewayStatuses.get(gk)!;
    gs.listeners = states.map(
      (s): ListenerStatus => ({
        name: s.spec.name,
        supportedKinds: s.supportedKinds,
        attachedRoutes: s.attached,
        conditions: s.conditions,
      }),
    );
    status.gateways.push(gs);
    for (const s of states)
      if (!s.programmed)
        problems.push({
          level: "warning",
          document: `Gateway ${gk}`,
          field: `spec.listeners[${JSON.stringify(s.spec.name)}]`,
          message: `not served: ${s.conditions
            .filter((c) => (c.type === "Conflicted" ? c.status === "True" : c.status !== "True"))
            .map((c) => `${c.reason}: ${c.message}`)
            .join("; ")}`,
        });
  }
  status.gateways.sort((a, b) => cmp(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));

  entries.sort((a, b) => {
    for (let i = 0; i < a.sortKey.length; i++) {
      const c = cmp(a.sortKey[i], b.sortKey[i]);
      if (c !== 0) return c;
    }
    return 0;
  });
  return {
    routed: ours.size > 0,
    routes: entries.map(({ sortKey: _k, ...e }) => e),
    status,
    problems,
  };
}

function cmp(a: number | string, b: number | string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortByKey<T extends { namespace: string; name: string }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => cmp(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
}

/** Load-balancer ingress addresses when there are any, else the cluster IPs (Gateway API: status.addresses). */
function serviceAddresses(s: ServiceSpec | null): GatewayStatus["addresses"] {
  if (!s) return [];
  const lb: GatewayStatus["addresses"] = [];
  for (const i of s.ingress) {
    if (i.ip) lb.push({ type: "IPAddress", value: i.ip });
    else if (i.hostname) lb.push({ type: "Hostname", value: i.hostname });
  }
  if (lb.length > 0) return lb;
  return s.clusterIPs.map((ip) => ({ type: "IPAddress" as const, value: ip }));
}

function listenerState(l: ListenerSpec, g: GatewaySpec, svc: GatewayResolveInput["service"]): ListenerState {
  const gen = g.generation;
  const st: ListenerState = {
    spec: l,
    gateway: g,
    programmed: false,
    supportedKinds: [],
    attached: 0,
    conditions: [],
  };
  const httpProtocol = l.protocol === "HTTP";
  if (l.kinds === null) st.supportedKinds = httpProtocol ? [{ ...HTTP_ROUTE_KIND }] : [];
  else st.supportedKinds = l.kinds.filter((k) => k.group === GROUP_GATEWAY && k.kind === "HTTPRoute");
  const badKinds = (l.kinds ?? []).filter((k) => !(k.group === GROUP_GATEWAY && k.kind === "HTTPRoute"));
  let accepted: Condition;
  if (!httpProtocol)
    accepted = cond(
      "Accepted",
      false,
      "UnsupportedProtocol",
      `protocol ${l.protocol} is not supported: infergate's listener speaks HTTP (the OpenAI API)`,
      gen,
    );
  else if (svc?.spec && !svc.spec.ports.includes(l.port))
    accepted = cond(
      "Accepted",
      false,
      "PortUnavailable",
      `port ${l.port} is not exposed by Service ${svc.namespace}/${svc.name} (ports: ${svc.spec.ports.join(", ") || "none"}); set the chart's service.port to serve it`,
      gen,
    );
  else accepted = cond("Accepted", true, "Accepted", "served", gen);
  const resolved =
    badKinds.length > 0
      ? cond(
          "ResolvedRefs",
          false,
          "InvalidRouteKinds",
          `route kinds not supported: ${badKinds.map((k) => `${k.group}/${k.kind}`).join(", ")} (supported: ${GROUP_GATEWAY}/HTTPRoute)`,
          gen,
        )
      : cond("ResolvedRefs", true, "ResolvedRefs", "every reference is resolved", gen);
  st.programmed = accepted.status === "True" && st.supportedKinds.length > 0;
  st.conditions = [
    accepted,
    st.programmed
      ? cond("Programmed", true, "Programmed", "served", gen)
      : cond(
          "Programmed",
          false,
          "Invalid",
          accepted.status === "True" ? "no supported route kind" : accepted.message,
          gen,
        ),
    resolved,
    cond("Conflicted", false, "NoConflicts", "no conflicts", gen),
  ];
  return st;
}

/** Listeners of one Gateway on one port must agree on protocol and differ in hostname. A listener we
 *  do not accept (unsupported protocol, unexposed port) is never configured, so it conflicts with none. */
function markConflicts(states: ListenerState[]): void {
  const live = states.filter((s) => s.conditions[0].status === "True");
  for (const s of live) {
    const same = live.filter((o) => o !== s && o.spec.port === s.spec.port);
    let reason: string | null = null;
    let message = "";
    const proto = same.find((o) => o.spec.protocol !== s.spec.protocol);
    const host = same.find((o) => o.spec.protocol === s.spec.protocol && o.spec.hostname === s.spec.hostname);
    if (proto) {
      reason = "ProtocolConflict";
      message = `listener ${proto.spec.name} uses port ${s.spec.port} with protocol ${proto.spec.protocol}`;
    } else if (host) {
      reason = "HostnameConflict";
      message = `listener ${host.spec.name} uses port ${s.spec.port} with the same hostname (${s.spec.hostname ?? "any"})`;
    }
    if (reason === null) continue;
    const gen = s.gateway.generation;
    s.programmed = false;
    s.conditions = s.conditions.map((c) =>
      c.type === "Conflicted"
        ? cond("Conflicted", true, reason!, message, gen)
        : c.type === "Programmed"
          ? cond("Programmed", false, "Invalid", `conflicted: ${message}`, gen)
          : c,
    );
  }
}

function allows(s: ListenerState, routeNs: string, namespaces: ReadonlyMap<string, Record<string, string>>): boolean {
  if (s.supportedKinds.length === 0) return false;
  if (s.spec.from === "All") return true;
  if (s.spec.from === "Same") return routeNs === s.gateway.namespace;
  return s.spec.selector !== null && selectorMatches(s.spec.selector, namespaces.get(routeNs) ?? {});
}

/** "*.example.com" matches names with one or more labels before ".example.com". */
function wildcardCovers(wild: string, name: string): boolean {
  return name.endsWith(wild.slice(1)) && name.length > wild.length - 1;
}

/**
 * The hostnames a route serves through a listener (Gateway API hostname intersection): null = any.
 * Returns [] when they do not intersect.
 */
export function effectiveHosts(listener: string | null, route: string[]): (string | null)[] {
  if (route.length === 0) return [listener];
  if (listener === null) return [...route];
  const out: string[] = [];
  for (const h of route) {
    let r: string | null = null;
    if (h === listener) r = h;
    else if (listener.startsWith("*.") && !h.startsWith("*.")) r = wildcardCovers(listener, h) ? h : null;
    else if (h.startsWith("*.") && !listener.startsWith("*.")) r = wildcardCovers(h, listener) ? listener : null;
    else if (h.startsWith("*.") && listener.startsWith("*."))
      r = wildcardCovers(listener, h.slice(2)) ? h : wildcardCovers(h, listener.slice(2)) ? listener : null;
    if (r !== null && !out.includes(r)) out.push(r);
  }
  return out;
}

/** The backends of each rule on the wire, the route's ResolvedRefs condition, and what failed. */
function resolveBackends(
  route: HTTPRouteSpec,
  input: GatewayResolveInput,
): { backends: TableRouteBackend[][]; condition: (gen: number) => Condition; problems: string[] } {
  const failures: { reason: string; message: string }[] = [];
  const backends = route.rules.map((rule: RuleSpec, ri) =>
    rule.backendRefs.map((b, bi): TableRouteBackend => {
      const where = `rules[${ri}].backendRefs[${bi}]`;
      const ns = b.namespace ?? route.namespace;
      const fail = (reason: string, message: string): TableRouteBackend => {
        failures.push({ reason, message: `${where}: ${message}` });
        return { pool: null, weight: b.weight, error: message };
      };
      if (b.kind !== "InferencePool" || (b.group !== GROUP_X && b.group !== GROUP_V1))
        return fail(
          "InvalidKind",
          `${b.group || "core"}/${b.kind} ${b.name} is not supported: infergate routes to InferencePools (${GROUP_X} or ${GROUP_V1})`,
        );
      if (ns !== route.namespace && !granted(input.grants, route.namespace, ns, b.group, b.name))
        return fail(
          "RefNotPermitted",
          `InferencePool ${ns}/${b.name} is in another namespace and no ReferenceGrant in ${ns} allows HTTPRoutes from ${route.namespace}`,
        );
      const id = `${ns}/${b.name}`;
      const group = input.pools.get(id);
      if (group === undefined) return fail("BackendNotFound", `InferencePool ${id} not found`);
      if (group !== b.group)
        return fail(
          "BackendNotFound",
          `InferencePool ${id} of group ${b.group} not found (there is one of group ${group})`,
        );
      return { pool: id, weight: b.weight };
    }),
  );
  const order = ["RefNotPermitted", "InvalidKind", "BackendNotFound"];
  failures.sort((a, b) => order.indexOf(a.reason) - order.indexOf(b.reason));
  return {
    backends,
    problems: failures.map((f) => f.message),
    condition: (gen) =>
      failures.length === 0
        ? cond("ResolvedRefs", true, "ResolvedRefs", "every backendRef is resolved", gen)
        : cond("ResolvedRefs", false, failures[0].reason, failures.map((f) => f.message).join("; "), gen),
  };
}

function granted(grants: ReferenceGrantSpec[], fromNs: string, toNs: string, group: string, name: string): boolean {
  return grants.some(
    (g) =>
      g.namespace === toNs &&
      g.from.some((f) => f.group === GROUP_GATEWAY && f.kind === "HTTPRoute" && f.namespace === fromNs) &&
      g.to.some((t) => t.group === group && t.kind === "InferencePool" && (t.name === null || t.name === name)),
  );
}
