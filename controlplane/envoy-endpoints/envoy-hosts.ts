// What each Envoy replica thinks of the pods: polls its admin interface (GET /clusters?format=json,
// loopback) and reads, for every host of the pods cluster, whether Envoy has it at all (file-based
// EDS is asynchronous), whether outlier detection ejected it, and whether it fails (or has not yet
// passed) its active health check. The table builder folds this into each endpoint's readiness:
// Envoy's override_host policy connects to a listed host whatever its health, so the filter must
// stop listing a pod Envoy has found broken, and must not list one Envoy does not know yet.
//
// Reading /clusters is not cheap for Envoy at scale: its main thread writes every host's stats (at 512
// pods ~360 KB of JSON, 6-10 ms of Envoy CPU a read; at 10 reads a second, more than its active health
// checks of those pods cost). So for a cluster of probeFromHosts pods or more each poll first reads a
// handful of the cluster's own stats (membership, health-check and outlier-detection gauges and change
// counters: a filtered /stats), and reads /clusters only when they moved since the last full read, or
// that read is fullReadEveryMs old. Every change /clusters shows moves one of them: a host added or
// removed (membership_change), one failing, passing or pending its health check (health_check.healthy,
// membership_healthy), one ejected or returned (ejections_enforced_total, ejections_active). The
// filtered /stats costs Envoy about the same at any fleet size (0.26-0.66 ms: it matches every stat's
// name), /clusters ~0.17 ms at 2 pods, 0.56 at 32, 1.7 at 128: below 32 pods reading /clusters every
// time is the cheaper way.
//
// Replicas are combined conservatively: a pod is routable only if every replica that answered has it
// and none finds it broken. A replica whose admin does not answer is left out (its last answer
// expires after `staleAfterMs`), so one restarting Envoy never takes pods out of the others' tables.

import type { Logger } from "../log.js";
import { PODS_CLUSTER } from "./load-assignment.js";

/** "ok": routable; "absent": Envoy does not have it yet; "ejected": outlier detection; "unhealthy": active health check failing or pending. */
export type EnvoyHostState = "ok" | "absent" | "ejected" | "unhealthy";

interface HostView {
  ejected: boolean;
  unhealthy: boolean;
}

interface AdminTarget {
  url: string;
  hosts: Map<string, HostView> | null;
  /** When the admin last answered (a full read, or a probe showing nothing moved since one). */
  atMs: number;
  lastError: string | null;
  failures: number;
  /** The probe taken just before the last full read, and when that read was. */
  probeAtRead: string | null;
  fullReadAtMs: number;
  probes: number;
  fullReads: number;
}

export interface EnvoyHostsOptions {
  /** Admin base URLs, e.g. http://127.0.0.1:9901 (loopback). */
  admins: string[];
  clusterName?: string;
  intervalMs?: number;
  /** /clusters is read at least this often even when the probe shows nothing moved (default 5 s). */
  fullReadEveryMs?: number;
  /** Probe first only when the last /clusters listed at least this many hosts (default 32). */
  probeFromHosts?: number;
  timeoutMs?: number;
  /** An answer older than this no longer counts (the replica is left out). */
  staleAfterMs?: number;
  logger: Logger;
  /** Called when any host's combined state changed. */
  onChange: () => void;
  now?: () => number;
}

interface AdminClusters {
  cluster_statuses?: {
    name: string;
    host_statuses?: {
      address?: { socket_address?: { address: string; port_value: number } };
      health_status?: {
        failed_outlier_check?: boolean;
        failed_active_health_check?: boolean;
        pending_active_hc?: boolean;
        eds_health_status?: string;
      };
    }[];
  }[];
}

function formatHost(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The admin /stats query of the probe: the cluster's stats that move with any host's state. */
export function probeQuery(clusterName: string): string {
  const name = clusterName.replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`);
  const stats =
    "(membership_(change|healthy|degraded|total)|health_check\\.(healthy|degraded)|outlier_detection\\.ejections_(active|enforced_total))";
  return `/stats?format=json&filter=${encodeURIComponent(`^cluster\\.${name}\\.${stats}$`)}`;
}

/** Parses admin /clusters?format=json into address -> view for one cluster; null if the cluster is missing. */
export function parseAdminClusters(body: AdminClusters, clusterName: string): Map<string, HostView> | null {
  const c = body.cluster_statuses?.find((x) => x.name === clusterName);
  if (!c) return null;
  const out = new Map<string, HostView>();
  for (const h of c.host_statuses ?? []) {
    const sa = h.address?.socket_address;
    if (!sa) continue;
    const hs = h.health_status ?? {};
    out.set(formatHost(sa.address, sa.port_value), {
      ejected: hs.failed_outlier_check === true,
      unhealthy: hs.failed_active_health_check === true || hs.pending_active_hc === true,
    });
  }
  return out;
}

export class EnvoyHosts {
  private readonly targets: AdminTarget[];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastKey = "";
  private readonly now: () => number;
  private readonly clusterName: string;

  constructor(private readonly opts: EnvoyHostsOptions) {
    this.now = opts.now ?? Date.now;
    this.clusterName = opts.clusterName ?? PODS_CLUSTER;
    this.targets = opts.admins.map((url) => ({
      url: url.replace(/\/+$/, ""),
      hosts: null,
      atMs: 0,
      lastError: null,
      failures: 0,
      probeAtRead: null,
      fullReadAtMs: 0,
      probes: 0,
      fullReads: 0,
    }));
  }

  /** Combined state of one address; "ok" when no replica has answered (nothing to go by). */
  state(address: string): EnvoyHostState {
    let answered = 0;
    let result: EnvoyHostState = "ok";
    const fresh = this.now() - (this.opts.staleAfterMs ?? 3000);
    for (const t of this.targets) {
      if (!t.hosts || t.atMs < fresh) continue;
      answered++;
      const h = t.hosts.get(address);
      if (!h) return "absent";
      if (h.unhealthy) result = "unhealthy";
      else if (h.ejected && result === "ok") result = "ejected";
    }
    return answered === 0 ? "ok" : result;
  }

  status(): {
    url: string;
    hosts: number | null;
    ageMs: number | null;
    lastError: string | null;
    probes: number;
    fullReads: number;
  }[] {
    return this.targets.map((t) => ({
      url: t.url,
      hosts: t.hosts?.size ?? null,
      ageMs: t.hosts ? this.now() - t.atMs : null,
      lastError: t.lastError,
      probes: t.probes,
      fullReads: t.fullReads,
    }));
  }

  /** Polls every admin once (awaitable: tests, and before the first table). */
  async pollAll(): Promise<void> {
    await Promise.all(this.targets.map((t) => this.poll(t)));
    this.changed();
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = async () => {
      if (this.stopped) return;
      await this.pollAll();
      if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 100);
    };
    this.timer = setTimeout(tick, this.opts.intervalMs ?? 100);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private changed(): void {
    const parts: string[] = [];
    for (const t of this.targets) {
      if (!t.hosts) {
        parts.push(`${t.url}:-`);
        continue;
      }
      const hosts = [...t.hosts.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      parts.push(`${t.url}:${hosts.map(([a, h]) => `${a}${h.ejected ? "E" : ""}${h.unhealthy ? "U" : ""}`).join(",")}`);
    }
    const key = parts.join("|");
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.opts.onChange();
    }
  }

  /** The probe's answer as one string (any change of any value changes it); null if it has none. */
  private async probe(t: AdminTarget): Promise<string | null> {
    const r = await fetch(`${t.url}${probeQuery(this.clusterName)}`, {
      signal: AbortSignal.timeout(this.opts.timeoutMs ?? 1000),
    });
    if (r.status !== 200) throw new Error(`HTTP ${r.status} from /stats`);
    t.probes++;
    const body = (await r.json()) as { stats?: { name: string; value?: number }[] };
    const stats = (body.stats ?? []).filter((s) => typeof s.value === "number");
    // No such stats (another cluster name, stats left out of Envoy's build): every poll reads /clusters.
    return stats.length === 0 ? null : stats.map((s) => `${s.name}=${s.value}`).join(",");
  }

  private answered(t: AdminTarget): void {
    if (t.failures > 0) this.opts.logger.info("envoy admin answers again", { admin: t.url });
    t.lastError = null;
    t.failures = 0;
  }

  private async poll(t: AdminTarget): Promise<void> {
    try {
      const small = t.hosts !== null && t.hosts.size < (this.opts.probeFromHosts ?? 32);
      const probe = small ? null : await this.probe(t);
      const now = this.now();
      if (
        t.hosts !== null &&
        probe !== null &&
        probe === t.probeAtRead &&
        now - t.fullReadAtMs < (this.opts.fullReadEveryMs ?? 5000)
      ) {
        t.atMs = now; // nothing moved since the last full read: its view holds
        this.answered(t);
        return;
      }
      const r = await fetch(`${t.url}/clusters?format=json`, {
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 1000),
      });
      if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      const hosts = parseAdminClusters((await r.json()) as AdminClusters, this.clusterName);
      if (!hosts) throw new Error(`no cluster ${this.clusterName} in Envoy's admin /clusters`);
      t.fullReads++;
      t.hosts = hosts;
      // The probe from before this read: a change that lands between the two shows in the next probe.
      t.probeAtRead = probe;
      t.fullReadAtMs = now;
      t.atMs = this.now();
      this.answered(t);
    } catch (e) {
      t.lastError = (e as Error).message;
      if (t.failures++ === 0)
        this.opts.logger.warn("envoy admin does not answer; its view of pod health is left out until it does", {
          admin: t.url,
          error: t.lastError,
        });
      // Past staleAfterMs the old answer stops counting (state() checks atMs).
    }
  }
}
