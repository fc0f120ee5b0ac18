// One list+watch loop over one collection (client-go's Reflector, in small):
//   list (paged) → diff against the cache → deliver adds/updates/deletes → watch from the list's
//   resourceVersion → deliver events → when the watch ends normally (server timeout), watch again
//   from the last resourceVersion seen (bookmarks included).
//   410 Gone (an ERROR event or status): relist at once.
//   Any other failure (API server down or restarting, connection reset, 5xx, 403): keep the cache as
//   it is — the last good state stays in force — back off (exponential with jitter, capped), relist.
//   Resync: every resyncMs the loop relists even when nothing failed, so a missed event cannot last.
//   A collection whose resource does not exist (404: its CRD is not installed) counts as synced and
//   empty, and is retried every missingRetryMs.
//
// Why not @kubernetes/client-node's makeInformer/ListWatch: it relists on 410, but on any other error
// (the API server restarting, a refused connection) it calls the error callback and stops for good,
// and it has no periodic resync. This loop never stops until stop().

import type { Logger } from "../log.js";
import { KubeApiError, type KubeClient, type Obj, type WatchEvent } from "./kube-client.js";

export interface ReflectorHandler {
  /** One batch of changes (a relist can produce many at once). `previous` is the cached version for updates and deletes. */
  apply(changes: { type: "add" | "update" | "delete"; obj: Obj; previous?: Obj }[]): void;
}

export interface ReflectorOptions {
  /** e.g. "inferencepools.inference.networking.x-k8s.io/v1alpha2" (logs, status). */
  name: string;
  /** Collection path: /apis/GROUP/VERSION[/namespaces/NS]/PLURAL or /api/v1[/namespaces/NS]/PLURAL. */
  path: string;
  client: KubeClient;
  handler: ReflectorHandler;
  logger: Logger;
  resyncMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  missingRetryMs: number;
  /** Server-side watch timeout (s); the watch is reopened from the last resourceVersion after it. */
  watchTimeoutSeconds: number;
  /** Keep only what matters of each object (memory). */
  transform?: (o: Obj) => Obj;
  /** Server-side field selector for list and watch (e.g. "metadata.name=infergate": one object). */
  fieldSelector?: string;
}

export interface ReflectorStatus {
  name: string;
  synced: boolean;
  /** The resource does not exist on the server (CRD not installed). */
  missing: boolean;
  objects: number;
  resourceVersion: string;
  lists: number;
  watches: number;
  /** Relists caused by 410 Gone. */
  gone: number;
  failures: number;
  lastError: string | null;
  lastListAtMs: number | null;
}

const key = (o: Obj) => `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });

export class Reflector {
  readonly objects = new Map<string, Obj>();
  private rv = "";
  private needList = true;
  private readonly stopCtl = new AbortController();
  private watchCtl: AbortController | null = null;
  private resyncTimer: NodeJS.Timeout | null = null;
  private loopDone: Promise<void> | null = null;
  private syncWaiters: (() => void)[] = [];
  private wake: (() => void) | null = null;
  readonly status: ReflectorStatus;

  constructor(private readonly o: ReflectorOptions) {
    this.status = {
      name: o.name,
      synced: false,
      missing: false,
      objects: 0,
      resourceVersion: "",
      lists: 0,
      watches: 0,
      gone: 0,
      failures: 0,
      lastError: null,
      lastListAtMs: null,
    };
  }

  start(): void {
    if (this.loopDone) return;
    this.loopDone = this.loop();
    this.resyncTimer = setInterval(() => this.resync(), this.o.resyncMs);
    this.resyncTimer.unref();
  }

  /** Resolves once the first list has been applied (or the resource is known to be missing). */
  synced(): Promise<void> {
    if (this.status.synced) return Promise.resolve();
    return new Promise((r) => this.syncWaiters.push(r));
  }

  /** Relist now (also: periodic resync). */
  resync(): void {
    this.needList = true;
    this.watchCtl?.abort();
    this.wake?.();
  }

  /** Test hook: drop the current watch as a broken connection would (no relist unless it fails). */
  dropWatch(): void {
    this.watchCtl?.abort();
  }

  /** Test hook: pretend the last resourceVersion seen is `rv` (an old one provokes 410 Gone). */
  setResourceVersion(rv: string): void {
    this.rv = rv;
  }

  async stop(): Promise<void> {
    this.stopCtl.abort();
    this.watchCtl?.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.loopDone;
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (this.needList) {
          this.needList = false;
          await this.list();
        }
        if (this.stopped) break;
        await this.watchOnce();
        failures = 0;
      } catch (e) {
        if (this.stopped) break;
        const err = e as Error;
        if (err instanceof KubeApiError && err.status === 410) {
          this.status.gone++;
          this.o.logger.info("kubernetes: resourceVersion too old (410 Gone); relisting", {
            resource: this.o.name,
            resourceVersion: this.rv,
          });
          this.needList = true;
          continue;
        }
        if (err instanceof KubeApiError && err.status === 404) {
          this.markMissing();
          this.needList = true;
          await this.pause(this.o.missingRetryMs);
          continue;
        }
        failures++;
        this.status.failures++;
        const msg = err.message;
        if (this.status.lastError !== msg) {
          this.o.logger.warn("kubernetes: list/watch failed; keeping the last good state and retrying", {
            resource: this.o.name,
            error: msg,
            retry: failures,
          });
        }
        this.status.lastError = msg;
        this.needList = true;
        const base = Math.min(this.o.backoffMaxMs, this.o.backoffMinMs * 2 ** Math.min(failures - 1, 16));
        await this.pause(base / 2 + Math.random() * (base / 2));
      }
    }
  }

  /** 404 on the collection: the resource does not exist. Synced-and-empty, retried slowly. */
  private markMissing(): void {
    if (!this.status.missing) {
      this.o.logger.warn(
        "kubernetes: resource not served (CRD not installed?); treating it as empty and checking again later",
        { resource: this.o.name, retryMs: this.o.missingRetryMs },
      );
    }
    this.status.missing = true;
    this.status.lastError = "not found on the server (CRD not installed?)";
    // Objects already known stay: an API server that is still starting answers 404 for custom
    // resources for a moment, and a deleted CRD deletes its objects through the watch first.
    this.markSynced();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const ctl = new AbortController();
      this.wake = () => ctl.abort();
      const onStop = () => ctl.abort();
      this.stopCtl.signal.addEventListener("abort", onStop, { once: true });
      void sleep(ms, ctl.signal).then(() => {
        this.wake = null;
        this.stopCtl.signal.removeEventListener("abort", onStop);
        resolve();
      });
    });
  }

  private async list(): Promise<void> {
    const res = await this.o.client.list(this.o.path, 500, this.o.fieldSelector);
    if (this.status.missing) this.o.logger.info("kubernetes: resource is served now", { resource: this.o.name });
    this.status.missing = false;
    const next = new Map<string, Obj>();
    for (const it of res.items) {
      // List items carry no kind/apiVersion; the collection's are implied.
      next.set(key(it), this.o.transform ? this.o.transform(it) : it);
    }
    this.apply(next, res.resourceVersion);
    this.status.lists++;
    this.status.lastListAtMs = Date.now();
    this.status.lastError = null;
    this.markSynced();
  }

  private apply(next: Map<string, Obj>, rv: string): void {
    const changes: Parameters<ReflectorHandler["apply"]>[0] = [];
    for (const [k, prev] of this.objects) if (!next.has(k)) changes.push({ type: "delete", obj: prev, previous: prev });
    for (const [k, obj] of next) {
      const prev = this.objects.get(k);
      if (!prev) changes.push({ type: "add", obj });
      else if (prev.metadata?.resourceVersion !== obj.metadata?.resourceVersion)
        changes.push({ type: "update", obj, previous: prev });
    }
    this.objects.clear();
    for (const [k, v] of next) this.objects.set(k, v);
    this.rv = rv;
    this.status.resourceVersion = rv;
    this.status.objects = this.objects.size;
    if (changes.length) this.o.handler.apply(changes);
  }

  private markSynced(): void {
    if (this.status.synced) return;
    this.status.synced = true;
    for (const w of this.syncWaiters.splice(0)) w();
  }

  private async watchOnce(): Promise<void> {
    const ctl = new AbortController();
    this.watchCtl = ctl;
    const onStop = () => ctl.abort();
    this.stopCtl.signal.addEventListener("abort", onStop, { once: true });
    this.status.watches++;
    // Jittered like client-go (timeout in [min, 2*min)), so many watches do not reopen together.
    const t = this.o.watchTimeoutSeconds;
    const timeout = Math.max(1, Math.floor(t + Math.random() * t));
    try {
      await this.o.client.watch(
        this.o.path,
        this.rv,
        timeout,
        (e) => this.onEvent(e),
        ctl.signal,
        this.o.fieldSelector,
      );
    } catch (e) {
      if (ctl.signal.aborted) return; // stop / resync / test drop: not a failure
      throw e;
    } finally {
      this.watchCtl = null;
      this.stopCtl.signal.removeEventListener("abort", onStop);
    }
  }

  private onEvent(e: WatchEvent): void {
    const obj = e.object;
    const rv = obj?.metadata?.resourceVersion;
    if (e.type === "BOOKMARK") {
      if (rv) this.rv = this.status.resourceVersion = rv;
      return;
    }
    const k = key(obj);
    const prev = this.objects.get(k);
    if (e.type === "DELETED") {
      this.objects.delete(k);
      this.o.handler.apply([{ type: "delete", obj: prev ?? obj, previous: prev }]);
    } else {
      const t = this.o.transform ? this.o.transform(obj) : obj;
      this.objects.set(k, t);
      this.o.handler.apply([{ type: prev ? "update" : "add", obj: t, previous: prev }]);
    }
    this.status.objects = this.objects.size;
    if (rv) this.rv = this.status.resourceVersion = rv;
  }
}
