// Writes the Gateway API statuses the resolver computed (resolve.ts) through the status subresource:
// GatewayClass and Gateway status wholly (this controller owns the classes it claims), and in each
// HTTPRoute only the status.parents entries whose controllerName is ours; other controllers' entries
// are kept as they are.
//
// Each write is a JSON merge patch carrying metadata.resourceVersion, so it applies only to the version
// it was computed from (a 409 means someone wrote in between: the next observe() recomputes from the
// newer version). A write happens only when what the object shows differs from what it should show,
// lastTransitionTime aside; a condition keeps its lastTransitionTime while its status stays the same.
// Several gateway replicas (one control plane each) compute the same status from the same cluster
// state, so they converge without leader election: after the first write the others find nothing to do.

import type { Logger } from "../log.js";
import type { KubeClient, Obj } from "../sources/kube-client.js";
import {
  type Condition,
  type GatewayApiStatus,
  type GatewayStatus,
  GROUP_GATEWAY,
  type RouteParentStatus,
} from "./types.js";

export type GatewayKind = "GatewayClass" | "Gateway" | "HTTPRoute";

export interface GatewayStatusWriterOptions {
  client: KubeClient;
  logger: Logger;
  /** The cached objects of a kind, keyed "namespace/name" ("/name" for GatewayClasses), status included. */
  objects(kind: GatewayKind): ReadonlyMap<string, Obj>;
  /** Runs a write after the ones queued before it (the source's one write chain). */
  queue(fn: () => Promise<void>): void;
}

const PLURAL: Record<GatewayKind, string> = {
  GatewayClass: "gatewayclasses",
  Gateway: "gateways",
  HTTPRoute: "httproutes",
};
const nowRfc3339 = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

/** Conditions with lastTransitionTime taken from `current` where the status did not change. */
function timed(desired: Condition[], current: unknown): Obj[] {
  const cur = Array.isArray(current) ? (current as Obj[]) : [];
  return desired.map((c) => {
    const prev = cur.find((x) => x.type === c.type);
    return {
      ...c,
      lastTransitionTime:
        prev && prev.status === c.status && prev.lastTransitionTime ? prev.lastTransitionTime : nowRfc3339(),
    };
  });
}

/**
 * A status as a canonical string (keys sorted at every level: the API server returns a custom
 * resource's keys in its own order) without lastTransitionTime, to compare what is shown with what
 * should be.
 */
function comparable(v: unknown): string {
  return JSON.stringify(v, (k, x) => {
    if (k === "lastTransitionTime") return undefined;
    if (x === null || typeof x !== "object" || Array.isArray(x)) return x;
    return Object.fromEntries(Object.entries(x as Obj).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

const sameRef = (a: unknown, b: unknown) => comparable(a) === comparable(b);

export class GatewayStatusWriter {
  /** Object key → the status last written, until the watch shows it (avoids rewriting the same thing). */
  private readonly pending = new Map<string, string>();
  private readonly retryAfter = new Map<string, number>();
  readonly counters = { writes: 0, conflicts: 0, failures: 0, lastError: null as string | null };

  constructor(private readonly o: GatewayStatusWriterOptions) {}

  observe(status: GatewayApiStatus): void {
    const ours = new Set(status.controllerNames);
    for (const c of status.classes) {
      const obj = this.o.objects("GatewayClass").get(`/${c.name}`);
      if (!obj) continue;
      this.sync("GatewayClass", obj, { conditions: timed(c.conditions, obj.status?.conditions) }, (s) => ({
        conditions: s?.conditions ?? [],
      }));
    }
    for (const g of status.gateways) {
      const obj = this.o.objects("Gateway").get(`${g.namespace}/${g.name}`);
      if (!obj) continue;
      this.sync("Gateway", obj, gatewayStatus(g, obj.status), (s) => ({
        addresses: s?.addresses ?? [],
        conditions: s?.conditions ?? [],
        listeners: s?.listeners ?? [],
      }));
    }
    // Every cached route: ours are rewritten, and a route that no longer has a parent of ours loses
    // the entries we wrote before.
    const desired = new Map(status.routes.map((r) => [`${r.namespace}/${r.name}`, r.parents]));
    for (const [key, obj] of this.o.objects("HTTPRoute")) {
      const parents = desired.get(key) ?? [];
      const current = Array.isArray(obj.status?.parents) ? (obj.status.parents as Obj[]) : [];
      if (parents.length === 0 && !current.some((p) => ours.has(p.controllerName))) continue;
      const others = current.filter((p) => !ours.has(p.controllerName));
      const mine = parents.map((p: RouteParentStatus) => {
        const prev = current.find((x) => x.controllerName === p.controllerName && sameRef(x.parentRef, p.parentRef));
        return {
          parentRef: p.parentRef,
          controllerName: p.controllerName,
          conditions: timed(p.conditions, prev?.conditions),
        };
      });
      this.sync("HTTPRoute", obj, { parents: [...others, ...mine] }, (s) => ({ parents: s?.parents ?? [] }));
    }
  }

  /** Writes `want` as the object's status unless the object already shows it. */
  private sync(kind: GatewayKind, obj: Obj, want: Obj, shown: (status: Obj | undefined) => Obj): void {
    const ns = obj.metadata?.namespace ?? "";
    const name = obj.metadata?.name ?? "";
    const key = `${kind}/${ns}/${name}`;
    const wantC = comparable(want);
    if (comparable(shown(obj.status)) === wantC) {
      this.pending.delete(key);
      return;
    }
    const rv = String(obj.metadata?.resourceVersion ?? "");
    if (this.pending.get(key) === `${rv}|${wantC}`) return; // written; the watch has not shown it yet
    if ((this.retryAfter.get(key) ?? 0) > Date.now()) return;
    this.pending.set(key, `${rv}|${wantC}`);
    const base = `/apis/${GROUP_GATEWAY}/v1${ns ? `/namespaces/${encodeURIComponent(ns)}` : ""}/${PLURAL[kind]}`;
    const path = `${base}/${encodeURIComponent(name)}/status`;
    this.o.queue(async () => {
      try {
        await this.o.client.request(
          "PATCH",
          path,
          { metadata: { resourceVersion: rv }, status: want },
          "application/merge-patch+json",
        );
        this.counters.writes++;
        this.retryAfter.delete(key);
      } catch (e) {
        this.pending.delete(key);
        const status = (e as { status?: number }).status;
        if (status === 409) {
          // Written by someone else since: recomputed from the newer version at the next observe().
          this.counters.conflicts++;
          return;
        }
        this.retryAfter.set(key, Date.now() + 5000);
        this.counters.failures++;
        if (this.counters.lastError !== (e as Error).message)
          this.o.logger.warn("gateway api: cannot write status", {
            object: `${kind} ${ns ? `${ns}/` : ""}${name}`,
            error: (e as Error).message,
          });
        this.counters.lastError = (e as Error).message;
      }
    });
  }
}

function gatewayStatus(g: GatewayStatus, current: Obj | undefined): Obj {
  const curListeners = Array.isArray(current?.listeners) ? (current.listeners as Obj[]) : [];
  return {
    addresses: g.addresses,
    conditions: timed(g.conditions, current?.conditions),
    listeners: g.listeners.map((l) => ({
      name: l.name,
      supportedKinds: l.supportedKinds,
      attachedRoutes: l.attachedRoutes,
      conditions: timed(l.conditions, curListeners.find((x) => x.name === l.name)?.conditions),
    })),
  };
}
