// Gateway API objects (gateway.networking.k8s.io, standard channel v1.3) as the control plane reads
// them, normalised with the CRDs' defaults applied (a file document has not been through the API
// server, so its defaults are applied here), and the statuses the controller computes for them.

import type { DocumentId } from "../model/types.js";

export const GROUP_GATEWAY = "gateway.networking.k8s.io";
/** The seed's GatewayClass controllerName (000_*.txt, Step 2): always claimed in standalone mode. */
export const SEED_CONTROLLER_NAME = "inference.networking.x-k8s.io/gateway-controller";

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: { key: string; operator: "In" | "NotIn" | "Exists" | "DoesNotExist"; values: string[] }[];
}

export interface GatewayClassSpec extends DocumentId {
  kind: "GatewayClass";
  /** Cluster-scoped: always "". */
  namespace: "";
  generation: number;
  controllerName: string;
  /** spec.parametersRef is set (we take no parameters: the class is then not accepted). */
  hasParametersRef: boolean;
}

export interface ListenerSpec {
  name: string;
  port: number;
  protocol: string;
  /** Lowercase; exact or "*.suffix"; null = any host. */
  hostname: string | null;
  /** allowedRoutes.namespaces.from (default Same) and its selector. */
  from: "Same" | "All" | "Selector";
  selector: LabelSelector | null;
  /** allowedRoutes.kinds as given (group defaulted); null = the protocol's default (HTTPRoute for HTTP). */
  kinds: { group: string; kind: string }[] | null;
}

export interface GatewaySpec extends DocumentId {
  kind: "Gateway";
  generation: number;
  className: string;
  listeners: ListenerSpec[];
  /** spec.addresses (type defaulted to IPAddress). */
  addresses: { type: string; value: string }[];
  /** spec.infrastructure.parametersRef is set (not supported). */
  hasParametersRef: boolean;
}

export interface ParentRefSpec {
  /** The parentRef exactly as the route's spec has it: route status echoes it back. */
  raw: Record<string, unknown>;
  group: string;
  kind: string;
  namespace: string;
  name: string;
  sectionName: string | null;
  port: number | null;
}

export interface MatchSpec {
  path: { type: "PathPrefix" | "Exact"; value: string };
  method: string | null;
  /** Names lowercase, first of equivalent names kept (Gateway API). */
  headers: { name: string; value: string }[];
}

export interface BackendRefSpec {
  group: string;
  kind: string;
  /** null = the route's namespace. */
  namespace: string | null;
  name: string;
  weight: number;
}

export interface RuleSpec {
  matches: MatchSpec[];
  backendRefs: BackendRefSpec[];
  /** Why the rule cannot be served (fields we do not implement); non-empty = the rule is dropped. */
  unsupported: string[];
}

export interface HTTPRouteSpec extends DocumentId {
  kind: "HTTPRoute";
  generation: number;
  /** metadata.creationTimestamp (RFC 3339); "" when unknown (file documents): a precedence tie-break. */
  createdAt: string;
  parentRefs: ParentRefSpec[];
  /** Lowercase. */
  hostnames: string[];
  rules: RuleSpec[];
}

export interface ReferenceGrantSpec extends DocumentId {
  kind: "ReferenceGrant";
  from: { group: string; kind: string; namespace: string }[];
  to: { group: string; kind: string; name: string | null }[];
}

/** The gateway's own Service (the chart's): where clients reach it. */
export interface ServiceSpec extends DocumentId {
  kind: "Service";
  ports: number[];
  /** spec.clusterIPs (or clusterIP), without "None". */
  clusterIPs: string[];
  /** status.loadBalancer.ingress. */
  ingress: { ip: string | null; hostname: string | null }[];
}

/** A Namespace's labels (for listeners that allow routes by namespace selector). */
export interface NamespaceSpec extends DocumentId {
  kind: "Namespace";
  namespace: "";
  labels: Record<string, string>;
}

export type GatewayDocument =
  | GatewayClassSpec
  | GatewaySpec
  | HTTPRouteSpec
  | ReferenceGrantSpec
  | ServiceSpec
  | NamespaceSpec;

// ---- status ------------------------------------------------------------------------------------

/** A metav1.Condition without lastTransitionTime (the status writer keeps or sets it). */
export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration: number;
}

export interface GatewayClassStatus {
  name: string;
  conditions: Condition[];
}

export interface ListenerStatus {
  name: string;
  supportedKinds: { group: string; kind: string }[];
  attachedRoutes: number;
  conditions: Condition[];
}

export interface GatewayStatus {
  namespace: string;
  name: string;
  addresses: { type: "IPAddress" | "Hostname"; value: string }[];
  conditions: Condition[];
  listeners: ListenerStatus[];
}

export interface RouteParentStatus {
  parentRef: Record<string, unknown>;
  controllerName: string;
  conditions: Condition[];
}

export interface HTTPRouteStatus {
  namespace: string;
  name: string;
  /** Only the parents this controller is responsible for (other controllers' entries are kept by the writer). */
  parents: RouteParentStatus[];
}

/** What the controller wants the API server to show. */
export interface GatewayApiStatus {
  classes: GatewayClassStatus[];
  gateways: GatewayStatus[];
  routes: HTTPRouteStatus[];
  /** Every controllerName this controller answers for (route parents of others are left alone). */
  controllerNames: string[];
}
