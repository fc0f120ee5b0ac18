// The in-memory model both sources (the YAML file, later Kubernetes) feed: validated, typed copies of
// the user's documents. Nothing here knows where a document came from, which is what lets the file
// source stand in for the cluster in local runs and tests.

import type { GatewayApiStatus, GatewayDocument } from "../gatewayapi/types.js";
import type {
  Criticality,
  EndpointRole,
  PrefixCacheMode,
  RoutingStrategy,
  Runtime,
  TableRoute,
} from "../table/schema.js";

export const GROUP_X = "inference.networking.x-k8s.io"; // v1alpha2: InferencePool, InferenceModel
export const GROUP_V1 = "inference.networking.k8s.io"; // v1: InferencePool
export const GROUP_ALIBABA = "inferenceextension.alibabacloud.com"; // InferenceTrafficPolicy
export const GROUP_INFERGATE = "infergate.dev"; // StaticEndpoints, our stand-in for Pods

export interface DocumentId {
  kind: string;
  namespace: string;
  name: string;
}

/** InferencePool, from either API version, normalised to one shape. */
export interface PoolSpec extends DocumentId {
  kind: "InferencePool";
  apiVersion: string;
  /** v1alpha2 spec.targetPortNumber, or v1 spec.targetPorts[0].number. */
  targetPort: number;
  /** v1alpha2 spec.selector (a map), or v1 spec.selector.matchLabels. Never empty. */
  selector: Record<string, string>;
  /** v1alpha2 spec.extensionRef.name or v1 spec.endpointPickerRef.name; informational (our picker is in Envoy). */
  extensionRef: string | null;
  annotations: Record<string, string>;
}

export interface ModelSpec extends DocumentId {
  kind: "InferenceModel";
  modelName: string;
  criticality: Criticality;
  /** spec.poolRef.name, in the model's namespace. */
  poolName: string;
  targets: { name: string; weight: number }[];
}

/** InferenceObjective (GIE v1.x, inference.networking.x-k8s.io/v1alpha2): a named priority for a pool. */
export interface ObjectiveSpec extends DocumentId {
  kind: "InferenceObjective";
  /** spec.priority; null when unset (it then counts as 0, as GIE's endpoint picker treats it). */
  priority: number | null;
  /** spec.poolRef.name, in the objective's namespace. */
  poolName: string;
}

/** One rule of an InferenceModelRewrite. */
export interface RewriteRule {
  /** Exact model names the rule matches (matches[].model.value); empty = every request to the pool. */
  models: string[];
  /** Weighted model names the request's model is rewritten to; empty = left unchanged. */
  targets: { name: string; weight: number }[];
}

/** InferenceModelRewrite (GIE v1.x, inference.networking.x-k8s.io/v1alpha2): weighted model rewrites for a pool. */
export interface RewriteSpec extends DocumentId {
  kind: "InferenceModelRewrite";
  poolName: string;
  /** metadata.creationTimestamp (RFC 3339), "" when unknown (a file document): GIE's tie-break is the oldest. */
  createdAt: string;
  rules: RewriteRule[];
}

export interface PdProfile {
  roleLabel: string;
  bootstrapPort: number;
  prefillPolicy: RoutingStrategy;
  decodePolicy: RoutingStrategy;
  /** trafficPolicy.prefixCache.mode when declared ("estimate"). */
  prefixCacheMode: string | null;
}

export interface TrafficPolicySpec extends DocumentId {
  kind: "InferenceTrafficPolicy";
  poolName: string;
  runtime: Runtime | null;
  pd: PdProfile | null;
}

/** A Pod, or one entry of a StaticEndpoints document. */
export interface EndpointSpec {
  namespace: string;
  name: string;
  /** Pod IP; null while the pod has none (pending): such an endpoint is not in the table. */
  ip: string | null;
  /** Set only by static endpoints that give a full address: overrides the pool's target port. */
  port: number | null;
  labels: Record<string, string>;
  /** Annotations the model reads (sglang.ai/bootstrap-port); absent = none. */
  annotations?: Record<string, string>;
  /** Pod Ready condition (static endpoints: `ready`, default true). */
  ready: boolean;
}

export interface StaticEndpointsSpec extends DocumentId {
  kind: "StaticEndpoints";
  endpoints: EndpointSpec[];
}

export interface PodSpec extends DocumentId {
  kind: "Pod";
  /** Null for a pod in a terminal phase (Failed, Succeeded: e.g. evicted): not an endpoint. */
  endpoint: EndpointSpec | null;
}

/** A ConfigMap: only those named by a pool's epp-overlay annotation matter (see resolve.ts). */
export interface ConfigMapSpec extends DocumentId {
  kind: "ConfigMap";
  /** The keys of `data` (values are read only where they mean something to us). */
  keys: string[];
  /** data.routing parsed: annotation name → value (YAML scalars as strings); null when there is no routing key. */
  routing: Record<string, string> | null;
}

export type ModelDocument =
  | PoolSpec
  | ModelSpec
  | ObjectiveSpec
  | RewriteSpec
  | TrafficPolicySpec
  | StaticEndpointsSpec
  | PodSpec
  | ConfigMapSpec
  | GatewayDocument;

/** The object a problem is about, for Kubernetes Events and status conditions. */
export interface ObjectRef {
  apiVersion?: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface Problem {
  level: "error" | "warning";
  /** The object to attach an Event to, when there is one. */
  ref?: ObjectRef;
  /** Machine-readable, CamelCase (Kubernetes Event reason): InvalidAnnotation, InvalidOverlay, InvalidSpec, ... */
  reason?: string;
  /** Which document: "InferencePool default/qwen-inference-pool" plus where it came from. */
  document: string;
  /** Which field, as a path ("spec.targetPortNumber", "metadata.annotations[...]"). */
  field?: string;
  message: string;
}

export interface ResolvedEndpoint {
  namespace: string;
  name: string;
  /** "IP:port", IPv6 bracketed. */
  address: string;
  role: EndpointRole;
  /** P/D prefill pods: the pod's own bootstrap port (its sglang.ai/bootstrap-port annotation). */
  bootstrapPort?: number;
  /** Pod readiness only; scrape health is joined in by the table builder. */
  ready: boolean;
}

export interface ResolvedPool {
  /** "namespace/name" */
  id: string;
  spec: PoolSpec;
  strategy: RoutingStrategy;
  runtime: Runtime;
  prefix: { blockSize: number; maxBlocks: number; lruCapacity: number; mode: PrefixCacheMode };
  queue: { enabled: boolean; capacityBytes: number; ttlMs: number };
  firstByteTimeoutMs: number;
  eppOverlay: string | null;
  pd: PdProfile | null;
  /** Sorted by name, then address. */
  endpoints: ResolvedEndpoint[];
  /** Requests for models without an entry for this pool are served (see TablePool.anyModel); null = refused. */
  anyModel: { targets: { name: string; weight: number }[] } | null;
}

export interface ResolvedInferenceModel {
  name: string;
  pool: string;
  criticality: Criticality;
  /** InferenceObjective priority scale; criticality is derived from it (criticalityOfPriority). */
  priority: number;
  targets: { name: string; weight: number }[];
  /** The document ("Kind namespace/name") that defined this (name, pool): an InferenceModel, or the
   *  InferenceModelRewrite whose exact match created it. */
  from: string;
}

export interface ResolvedObjective {
  name: string;
  pool: string;
  priority: number;
}

/** What the table builder consumes: a consistent picture, plus every problem found on the way. */
export interface ResolvedModel {
  pools: ResolvedPool[];
  models: ResolvedInferenceModel[];
  objectives: ResolvedObjective[];
  /** null: no Gateway of a claimed GatewayClass exists, requests are routed by model name alone.
   *  Else the route entries in precedence order (see TableRoute), possibly none. */
  routes: TableRoute[] | null;
  /** The Gateway API statuses to write (Kubernetes source), null when the controller is off. */
  gatewayStatus: GatewayApiStatus | null;
  problems: Problem[];
}

export const docKey = (d: DocumentId) => `${d.kind}/${d.namespace}/${d.name}`;
export const docLabel = (d: DocumentId) => `${d.kind} ${d.namespace}/${d.name}`;
