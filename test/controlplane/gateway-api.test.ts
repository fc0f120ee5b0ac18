// The Gateway API controller's logic (controlplane/gatewayapi/resolve.ts), pure: the seed's
// gateway_networking.yaml verbatim, statuses the way conformant controllers write them, route entries
// in precedence order, and what we refuse. The same code runs against the real API server in
// test/kube/gateway-controller.test.ts.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { effectiveHosts } from "../../controlplane/gatewayapi/resolve.js";
import { type Condition, SEED_CONTROLLER_NAME } from "../../controlplane/gatewayapi/types.js";
import { ModelStore } from "../../controlplane/model/store.js";
import { parseYamlDocuments } from "../../controlplane/sources/file.js";
import { TableBuilder } from "../../controlplane/table/builder.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";

const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/kube/fixtures", name), "utf8");
/** Seed 000_*, Step 2: gateway_networking.yaml (GatewayClass, Gateway, HTTPRoute), verbatim. */
const SEED_GATEWAY = fixture("seed-000-gateway-httproute.yaml");
/** Seed 000_*, Step 1: single-machine vLLM (InferencePool qwen-inference-pool + InferenceModel). */
const SEED_POOL = fixture("seed-000-default-single-vllm.yaml");
const GW = "gateway.networking.k8s.io/v1";

const SERVICE = (extra = "") => `
apiVersion: v1
kind: Service
metadata: {name: infergate, namespace: infergate-system}
spec: {clusterIP: 10.96.0.10, clusterIPs: [10.96.0.10], ports: [{name: http, port: 8080}]}
${extra}`;

/** The seed's Steps 1 (the pool) and 2 (the gateway), and the gateway's Service. */
const SEED_STEPS = `${SEED_GATEWAY}\n---\n${SEED_POOL}\n---\n${SERVICE()}`;

/** The gateway's Service and a GatewayClass "c" of the seed's controllerName. */
const CLAIMED_CLASS = `${SERVICE()}
---
apiVersion: ${GW}
kind: GatewayClass
metadata: {name: c}
spec: {controllerName: ${SEED_CONTROLLER_NAME}}`;

function resolve(yaml: string, opts: { service?: boolean; controllerNames?: string[] } = {}) {
  const store = new ModelStore({
    defaultNamespace: "default",
    gateway: {
      controllerNames: opts.controllerNames ?? [SEED_CONTROLLER_NAME],
      service: opts.service === false ? null : { namespace: "infergate-system", name: "infergate" },
    },
  });
  const { problems } = store.replaceSource("t", parseYamlDocuments(yaml, "t.yaml"));
  assert.deepEqual(problems, [], "every document parses");
  return store.resolved();
}

const conds = (cs: Condition[]) => Object.fromEntries(cs.map((c) => [c.type, `${c.status}/${c.reason}`]));

test("the seed's Step 2 verbatim: GatewayClass, Gateway and HTTPRoute accepted; address from the Service; /v1 to the pool", () => {
  const m = resolve(SEED_STEPS);
  const st = m.gatewayStatus!;
  assert.deepEqual(st.classes, [
    {
      name: "inference-gateway-class",
      conditions: [
        {
          type: "Accepted",
          status: "True",
          reason: "Accepted",
          message: `claimed by ${SEED_CONTROLLER_NAME} (infergate)`,
          observedGeneration: 0,
        },
      ],
    },
  ]);
  const g = st.gateways[0];
  assert.equal(`${g.namespace}/${g.name}`, "default/inference-gateway");
  assert.deepEqual(g.addresses, [{ type: "IPAddress", value: "10.96.0.10" }]);
  assert.deepEqual(conds(g.conditions), { Accepted: "True/Accepted", Programmed: "True/Programmed" });
  assert.deepEqual(g.listeners.length, 1);
  assert.deepEqual(g.listeners[0].supportedKinds, [{ group: "gateway.networking.k8s.io", kind: "HTTPRoute" }]);
  assert.equal(g.listeners[0].attachedRoutes, 1);
  assert.deepEqual(conds(g.listeners[0].conditions), {
    Accepted: "True/Accepted",
    Programmed: "True/Programmed",
    ResolvedRefs: "True/ResolvedRefs",
    Conflicted: "False/NoConflicts",
  });
  assert.deepEqual(st.routes.length, 1);
  assert.deepEqual(st.routes[0].parents[0].parentRef, { name: "inference-gateway" }, "echoes the spec's parentRef");
  assert.equal(st.routes[0].parents[0].controllerName, SEED_CONTROLLER_NAME);
  assert.deepEqual(conds(st.routes[0].parents[0].conditions), {
    Accepted: "True/Accepted",
    ResolvedRefs: "True/ResolvedRefs",
  });
  assert.deepEqual(m.routes, [
    {
      route: "default/inference-route",
      rule: 0,
      match: 0,
      path: { type: "PathPrefix", value: "/v1" },
      headers: [],
      backends: [{ pool: "default/qwen-inference-pool", weight: 1 }],
    },
  ]);
  assert.deepEqual(m.problems, []);
  const t = new TableBuilder({ stalenessMs: 3000 }).build(m, () => undefined).table;
  assert.equal(t.version, 2);
  assert.deepEqual(t.routes, m.routes);
  assert.equal(t.pools[0].anyModel, undefined, "the seed's pool is named by an InferenceModel: unknown models get 404");
});

test("the gateway's address: load-balancer ingress when the Service has one; no Service → not programmed", () => {
  const lb = resolve(
    `${SEED_GATEWAY}\n---\n${SERVICE("status: {loadBalancer: {ingress: [{ip: 203.0.113.7}, {hostname: gw.example.com}]}}")}`,
  );
  assert.deepEqual(lb.gatewayStatus!.gateways[0].addresses, [
    { type: "IPAddress", value: "203.0.113.7" },
    { type: "Hostname", value: "gw.example.com" },
  ]);
  const none = resolve(SEED_GATEWAY);
  const g = none.gatewayStatus!.gateways[0];
  assert.deepEqual(conds(g.conditions), { Accepted: "True/Accepted", Programmed: "False/AddressNotAssigned" });
  assert.match(g.conditions[1].message, /Service infergate-system\/infergate \(the gateway's Service\) does not exist/);
  assert.deepEqual(g.addresses, []);
});

test("a listener on a port the Service does not expose is not programmed; its routes are not served", () => {
  const m = resolve(`${CLAIMED_CLASS}
---
apiVersion: ${GW}
kind: Gateway
metadata: {name: g, generation: 3}
spec:
  gatewayClassName: c
  listeners:
  - {name: http-llm, protocol: HTTP, port: 8080}
  - {name: other, protocol: HTTP, port: 9000}
  - {name: tls, protocol: HTTPS, port: 8080, hostname: secure.example.com}
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: via-other}
spec:
  parentRefs: [{name: g, sectionName: other}]
  rules: [{backendRefs: [{group: inference.networking.x-k8s.io, kind: InferencePool, name: p}]}]
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: via-missing}
spec:
  parentRefs: [{name: g, sectionName: nope}]
`);
  const g = m.gatewayStatus!.gateways[0];
  assert.deepEqual(conds(g.conditions), { Accepted: "True/ListenersNotValid", Programmed: "True/Programmed" });
  const l = Object.fromEntries(g.listeners.map((x) => [x.name, x]));
  assert.deepEqual(conds(l.other.conditions), {
    Accepted: "False/PortUnavailable",
    Programmed: "False/Invalid",
    ResolvedRefs: "True/ResolvedRefs",
    Conflicted: "False/NoConflicts",
  });
  assert.match(
    l.other.conditions[0].message,
    /port 9000 is not exposed by Service infergate-system\/infergate \(ports: 8080\)/,
  );
  assert.equal(l.other.conditions[0].observedGeneration, 3);
  assert.equal(l.other.attachedRoutes, 1, "attachment counts regardless of the listener's state");
  assert.deepEqual(conds(l.tls.conditions).Accepted, "False/UnsupportedProtocol");
  assert.deepEqual(l.tls.supportedKinds, []);
  const routes = Object.fromEntries(m.gatewayStatus!.routes.map((r) => [r.name, r.parents[0]]));
  assert.deepEqual(conds(routes["via-other"].conditions), {
    Accepted: "True/Accepted",
    ResolvedRefs: "False/BackendNotFound",
  });
  assert.deepEqual(conds(routes["via-missing"].conditions).Accepted, "False/NoMatchingParent");
  assert.deepEqual(m.routes, [], "a claimed Gateway exists, but nothing is served: every request gets 404");
  assert.ok(m.problems.some((p) => p.document === "Gateway default/g" && /other/.test(p.field ?? "")));
});

test("backendRefs: a missing InferencePool is BackendNotFound and takes its share as 500; other kinds, other namespaces", () => {
  const m = resolve(`${SEED_STEPS}
---
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: split}
spec:
  parentRefs: [{name: inference-gateway}]
  rules:
  - matches: [{path: {type: Exact, value: /v1/completions}}]
    backendRefs:
    - {group: inference.networking.x-k8s.io, kind: InferencePool, name: qwen-inference-pool, weight: 3}
    - {group: inference.networking.x-k8s.io, kind: InferencePool, name: missing-pool, weight: 1}
  - matches: [{path: {type: Exact, value: /v1/models}}]
    backendRefs: [{name: some-service, port: 80}]
  - matches: [{path: {type: Exact, value: /v1/embeddings}}]
    backendRefs: [{group: inference.networking.x-k8s.io, kind: InferencePool, name: pool-b, namespace: team-b}]
`);
  const parent = m.gatewayStatus!.routes.find((r) => r.name === "split")!.parents[0];
  assert.deepEqual(conds(parent.conditions), { Accepted: "True/Accepted", ResolvedRefs: "False/RefNotPermitted" });
  assert.match(
    parent.conditions[1].message,
    /rules\[0\]\.backendRefs\[1\]: InferencePool default\/missing-pool not found/,
  );
  assert.match(
    parent.conditions[1].message,
    /rules\[1\]\.backendRefs\[0\]: core\/Service some-service is not supported/,
  );
  const entry = (path: string) => m.routes!.find((r) => r.path.value === path)!;
  assert.deepEqual(entry("/v1/completions").backends, [
    { pool: "default/qwen-inference-pool", weight: 3 },
    { pool: null, weight: 1, error: "InferencePool default/missing-pool not found" },
  ]);
  assert.equal(entry("/v1/models").backends[0].pool, null);
  assert.match(entry("/v1/embeddings").backends[0].error!, /no ReferenceGrant in team-b/);

  // The seed's HTTPRoute alone, pointing at a pool that does not exist: ResolvedRefs=False, BackendNotFound.
  const lonely = resolve(`${SEED_GATEWAY}\n---\n${SERVICE()}`);
  const p = lonely.gatewayStatus!.routes[0].parents[0];
  assert.deepEqual(conds(p.conditions), { Accepted: "True/Accepted", ResolvedRefs: "False/BackendNotFound" });
  assert.equal(p.conditions[1].message, "rules[0].backendRefs[0]: InferencePool default/qwen-inference-pool not found");
});

test("a ReferenceGrant in the pool's namespace allows a cross-namespace backendRef", () => {
  const m = resolve(`${CLAIMED_CLASS}
---
apiVersion: ${GW}
kind: Gateway
metadata: {name: g}
spec: {gatewayClassName: c, listeners: [{name: h, protocol: HTTP, port: 8080}]}
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: {name: pool-b, namespace: team-b}
spec: {targetPorts: [{number: 8000}], selector: {matchLabels: {app: b}}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: allow, namespace: team-b}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: inference.networking.k8s.io, kind: InferencePool}]
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: g}]
  rules: [{backendRefs: [{group: inference.networking.k8s.io, kind: InferencePool, name: pool-b, namespace: team-b}]}]
`);
  assert.deepEqual(conds(m.gatewayStatus!.routes[0].parents[0].conditions).ResolvedRefs, "True/ResolvedRefs");
  assert.deepEqual(m.routes![0].backends, [{ pool: "team-b/pool-b", weight: 1 }]);
  assert.deepEqual(m.routes![0].path, { type: "PathPrefix", value: "/" }, "the CRD's default rule: match everything");
  assert.deepEqual(m.pools[0].anyModel, { targets: [] }, "a pool no InferenceModel names serves any model");
});

test("route entries come in the Gateway API's precedence order; the filter takes the first match", () => {
  const route = (name: string, created: string, spec: string) => `---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: ${name}, creationTimestamp: "${created}"}
spec:
  parentRefs: [{name: inference-gateway}]
${spec}`;
  const backends =
    "    backendRefs: [{group: inference.networking.x-k8s.io, kind: InferencePool, name: qwen-inference-pool}]";
  const m = resolve(`${SEED_STEPS}
${route(
  "b-newer",
  "2026-02-01T00:00:00Z",
  `  rules:
  - matches: [{path: {type: PathPrefix, value: /v1/}}]
${backends}`,
)}
${route(
  "a-mixed",
  "2026-01-01T00:00:00Z",
  `  rules:
  - matches:
    - {path: {value: /v1}, headers: [{name: X-Tier, value: gold}]}
    - {path: {value: /v1}, method: post, headers: [{name: x-a, value: "1"}, {name: x-b, value: "2"}]}
    - {path: {type: Exact, value: /v1/chat/completions}}
    - {path: {value: /v1/chat}}
${backends}`,
)}
${route(
  "c-hosts",
  "2026-03-01T00:00:00Z",
  `  hostnames: [api.example.com, "*.example.com"]
  rules:
  - matches: [{path: {value: /}}]
${backends}`,
)}`);
  const key = (r: NonNullable<typeof m.routes>[number]) =>
    `${r.host ?? "*"} ${r.method ?? "-"} ${r.path.type} ${r.path.value} h${r.headers.length} ${r.route}#${r.rule}.${r.match}`;
  assert.deepEqual(m.routes!.map(key), [
    "api.example.com - PathPrefix / h0 default/c-hosts#0.0",
    "*.example.com - PathPrefix / h0 default/c-hosts#0.0",
    "* - Exact /v1/chat/completions h0 default/a-mixed#0.2",
    "* - PathPrefix /v1/chat h0 default/a-mixed#0.3",
    "* POST PathPrefix /v1 h2 default/a-mixed#0.1",
    "* - PathPrefix /v1 h1 default/a-mixed#0.0",
    "* - PathPrefix /v1 h0 default/inference-route#0.0", // the seed's route: created "" sorts as the oldest
    "* - PathPrefix /v1 h0 default/b-newer#0.0", // "/v1/" is "/v1" element-wise; newer than a-mixed
  ]);
  const tier = m.routes!.find((r) => r.headers.length === 1)!;
  assert.deepEqual(tier.headers, [{ name: "x-tier", value: "gold" }], "header names lowercase");
});

test("what we do not implement drops the rule, says so (PartiallyInvalid / UnsupportedValue), never half-applies it", () => {
  const m = resolve(`${SEED_STEPS}
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: partly}
spec:
  parentRefs: [{name: inference-gateway}]
  rules:
  - matches: [{path: {value: /v2}, headers: [{type: RegularExpression, name: x-user, value: "a.*"}]}]
    backendRefs: [{group: inference.networking.x-k8s.io, kind: InferencePool, name: qwen-inference-pool}]
  - matches: [{path: {value: /v3}}]
    backendRefs: [{group: inference.networking.x-k8s.io, kind: InferencePool, name: qwen-inference-pool}]
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: none}
spec:
  parentRefs: [{name: inference-gateway}]
  rules:
  - matches: [{path: {type: RegularExpression, value: "/v[0-9]+"}}]
    filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: a, value: b}]}}]
    backendRefs: [{group: inference.networking.x-k8s.io, kind: InferencePool, name: qwen-inference-pool}]
`);
  const parent = (n: string) => m.gatewayStatus!.routes.find((r) => r.name === n)!.parents[0];
  assert.deepEqual(conds(parent("partly").conditions), {
    Accepted: "True/Accepted",
    ResolvedRefs: "True/ResolvedRefs",
    PartiallyInvalid: "True/UnsupportedValue",
  });
  assert.match(
    parent("partly").conditions[2].message,
    /^Dropped Rule\(s\): rules\[0\]: matches\[0\]\.headers\[0\]: RegularExpression is not supported/,
  );
  assert.deepEqual(conds(parent("none").conditions).Accepted, "False/UnsupportedValue");
  assert.match(parent("none").conditions[0].message, /filters are not supported.*RegularExpression is not supported/);
  assert.deepEqual(
    m.routes!.filter((r) => r.route !== "default/inference-route").map((r) => `${r.route}#${r.rule} ${r.path.value}`),
    ["default/partly#1 /v3"],
  );
});

test("hostnames: listener ∩ route (exact, wildcard); none in common → NoMatchingListenerHostname", () => {
  assert.deepEqual(effectiveHosts(null, []), [null]);
  assert.deepEqual(effectiveHosts("a.example.com", []), ["a.example.com"]);
  assert.deepEqual(effectiveHosts(null, ["x.io"]), ["x.io"]);
  assert.deepEqual(effectiveHosts("*.example.com", ["a.example.com", "example.com", "a.b.example.com"]), [
    "a.example.com",
    "a.b.example.com",
  ]);
  assert.deepEqual(effectiveHosts("a.example.com", ["*.example.com"]), ["a.example.com"]);
  assert.deepEqual(effectiveHosts("*.example.com", ["*.a.example.com"]), ["*.a.example.com"]);
  assert.deepEqual(effectiveHosts("*.a.example.com", ["*.example.com"]), ["*.a.example.com"]);
  assert.deepEqual(effectiveHosts("a.example.com", ["b.example.com"]), []);

  const m = resolve(`${CLAIMED_CLASS}
---
apiVersion: ${GW}
kind: Gateway
metadata: {name: g}
spec: {gatewayClassName: c, listeners: [{name: h, protocol: HTTP, port: 8080, hostname: "*.example.com"}]}
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: r}
spec: {parentRefs: [{name: g}], hostnames: [other.io]}
`);
  assert.deepEqual(
    conds(m.gatewayStatus!.routes[0].parents[0].conditions).Accepted,
    "False/NoMatchingListenerHostname",
  );
});

test("allowedRoutes: Same (default), All, Selector on namespace labels; conflicting listeners are not served", () => {
  const gw = (from: string) => `${CLAIMED_CLASS}
---
apiVersion: ${GW}
kind: Gateway
metadata: {name: g, namespace: gw}
spec:
  gatewayClassName: c
  listeners: [{name: h, protocol: HTTP, port: 8080, allowedRoutes: {namespaces: ${from}}}]
---
apiVersion: v1
kind: Namespace
metadata: {name: team-a, labels: {expose: "yes"}}
---
apiVersion: ${GW}
kind: HTTPRoute
metadata: {name: r, namespace: team-a}
spec: {parentRefs: [{name: g, namespace: gw}]}
`;
  const accepted = (from: string) => conds(resolve(gw(from)).gatewayStatus!.routes[0].parents[0].conditions).Accepted;
  assert.equal(accepted("{}"), "False/NotAllowedByListeners");
  assert.equal(accepted("{from: All}"), "True/Accepted");
  assert.equal(accepted("{from: Selector, selector: {matchLabels: {expose: 'yes'}}}"), "True/Accepted");
  assert.equal(
    accepted("{from: Selector, selector: {matchExpressions: [{key: expose, operator: NotIn, values: ['yes']}]}}"),
    "False/NotAllowedByListeners",
  );

  const conflict = resolve(`${CLAIMED_CLASS}
---
apiVersion: ${GW}
kind: Gateway
metadata: {name: g}
spec:
  gatewayClassName: c
  listeners:
  - {name: a, protocol: HTTP, port: 8080, hostname: x.io}
  - {name: b, protocol: HTTP, port: 8080, hostname: x.io}
  - {name: c, protocol: HTTP, port: 8080}
`);
  const ls = Object.fromEntries(
    conflict.gatewayStatus!.gateways[0].listeners.map((l) => [l.name, conds(l.conditions)]),
  );
  assert.equal(ls.a.Conflicted, "True/HostnameConflict");
  assert.equal(ls.a.Programmed, "False/Invalid");
  assert.equal(ls.c.Conflicted, "False/NoConflicts");
  assert.equal(ls.c.Programmed, "True/Programmed");
});

test("classes of other controllers are left alone; a configured controllerName is claimed too; no claimed Gateway → no routes", () => {
  const other = resolve(SEED_GATEWAY.replace(SEED_CONTROLLER_NAME, "example.net/other"));
  assert.deepEqual(other.gatewayStatus, {
    classes: [],
    gateways: [],
    routes: [],
    controllerNames: [SEED_CONTROLLER_NAME],
  });
  assert.equal(other.routes, null);
  const mine = resolve(SEED_GATEWAY.replace(SEED_CONTROLLER_NAME, "example.net/mine"), {
    controllerNames: [SEED_CONTROLLER_NAME, "example.net/mine"],
  });
  assert.equal(mine.gatewayStatus!.classes.length, 1);
  assert.equal(mine.gatewayStatus!.routes[0].parents[0].controllerName, "example.net/mine");
  assert.notEqual(mine.routes, null);

  // The Gateway controller off (kubernetes mode without --gateway-service): documents are ignored.
  const off = new ModelStore({ defaultNamespace: "default" });
  off.replaceSource("t", parseYamlDocuments(`${SEED_GATEWAY}\n---\n${SEED_POOL}`, "t.yaml"));
  assert.equal(off.resolved().routes, null);
  assert.equal(off.resolved().gatewayStatus, null);
});
