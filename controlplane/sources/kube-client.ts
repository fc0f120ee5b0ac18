// A small raw-JSON client for the Kubernetes API on top of @kubernetes/client-node's KubeConfig
// (which does the kubeconfig / in-cluster loading, TLS and authentication, including exec plugins and
// token refresh). The typed API classes are not used on purpose: they drop fields they do not know
// (our CRDs' fields), and their watch/informer helpers stop for good on the first connection error.
//
// list() pages through a collection (limit/continue); watch() streams one watch request and resolves
// when it ends; both throw KubeApiError with the HTTP status (410 Gone included) so the reflector can
// tell "relist now" from "back off and retry".

import { request as httpRequest, type IncomingMessage, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export type Obj = Record<string, any>;

export class KubeApiError extends Error {
  override name = "KubeApiError";
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: Obj;
}

export class KubeClient {
  readonly server: string;

  constructor(private readonly kc: KubeConfig) {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig: no current cluster (set a current-context, or run in a cluster)");
    this.server = cluster.server.replace(/\/+$/, "");
  }

  private async options(method: string, headers: Record<string, string>): Promise<RequestOptions> {
    const o: Record<string, any> = { headers: {} };
    await this.kc.applyToHTTPSOptions(o as any); // auth headers, CA, client certs, agent
    return {
      ...o,
      method,
      headers: { ...(o.headers ?? {}), accept: "application/json", ...headers },
    } as RequestOptions;
  }

  private send(
    url: URL,
    opts: RequestOptions,
    body?: string,
    timeoutMs = 30_000,
    signal?: AbortSignal,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const fn = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = fn(url, { ...opts, signal }, resolve);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url.host} within ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** One JSON request; throws KubeApiError on a non-2xx answer. */
  async request(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
    timeoutMs = 30_000,
  ): Promise<Obj> {
    const headers: Record<string, string> = {};
    let text: string | undefined;
    if (body !== undefined) {
      text = JSON.stringify(body);
      headers["content-type"] = contentType;
    }
    const res = await this.send(new URL(this.server + path), await this.options(method, headers), text, timeoutMs);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let parsed: Obj = {};
    try {
      parsed = raw ? (JSON.parse(raw) as Obj) : {};
    } catch {
      parsed = { message: raw.slice(0, 500) };
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300)
      throw new KubeApiError(
        status,
        `${method} ${path}: ${status} ${parsed.message ?? raw.slice(0, 200)}`,
        parsed.reason,
      );
    return parsed;
  }

  /** Lists a whole collection, page by page; `fieldSelector` narrows it (e.g. "metadata.name=x"). */
  async list(path: string, pageSize = 500, fieldSelector?: string): Promise<{ items: Obj[]; resourceVersion: string }> {
    const items: Obj[] = [];
    let cont = "";
    for (;;) {
      const q = new URLSearchParams({ limit: String(pageSize) });
      if (fieldSelector) q.set("fieldSelector", fieldSelector);
      if (cont) q.set("continue", cont);
      const page = await this.request("GET", `${path}?${q}`);
      for (const it of (page.items ?? []) as Obj[]) items.push(it);
      cont = page.metadata?.continue ?? "";
      if (!cont) return { items, resourceVersion: String(page.metadata?.resourceVersion ?? "") };
    }
  }

  /**
   * Streams one watch from resourceVersion. Resolves when the server ends it (timeoutSeconds, API
   * server shutdown) or `signal` aborts; rejects on connection errors, non-200 answers and on an
   * ERROR event (KubeApiError with its code, 410 for "too old resource version").
   */
  async watch(
    path: string,
    resourceVersion: string,
    timeoutSeconds: number,
    onEvent: (e: WatchEvent) => void,
    signal: AbortSignal,
    fieldSelector?: string,
  ): Promise<void> {
    const q = new URLSearchParams({
      watch: "true",
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
    });
    if (fieldSelector) q.set("fieldSelector", fieldSelector);
    if (resourceVersion) q.set("resourceVersion", resourceVersion);
    // The client-side bound: the server's own timeout plus a margin (a silently dead connection).
    const res = await this.send(
      new URL(`${this.server}${path}?${q}`),
      await this.options("GET", {}),
      undefined,
      (timeoutSeconds + 30) * 1000,
      signal,
    );
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      let text = "";
      for await (const c of res) text += (c as Buffer).toString("utf8");
      let msg = text.slice(0, 300);
      try {
        msg = (JSON.parse(text) as Obj).message ?? msg;
      } catch {
        /* not JSON */
      }
      throw new KubeApiError(status, `watch ${path}: ${status} ${msg}`);
    }
    await new Promise<void>((resolve, reject) => {
      let buf = "";
      let failed = false;
      const fail = (e: Error) => {
        if (failed) return;
        failed = true;
        res.destroy();
        reject(e);
      };
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          let ev: WatchEvent;
          try {
            ev = JSON.parse(line) as WatchEvent;
          } catch {
            fail(new Error(`watch ${path}: unparseable event: ${line.slice(0, 200)}`));
            return;
          }
          if (ev.type === "ERROR") {
            const st = ev.object ?? {};
            fail(new KubeApiError(Number(st.code) || 500, `watch ${path}: ${st.message ?? "error event"}`, st.reason));
            return;
          }
          try {
            onEvent(ev);
          } catch (e) {
            fail(e as Error);
            return;
          }
        }
      });
      res.on("end", () => {
        if (!failed) resolve();
      });
      res.on("aborted", () => {
        if (!failed) resolve();
      });
      res.on("error", (e) => (signal.aborted ? resolve() : fail(e)));
      res.on("close", () => {
        if (!failed) resolve();
      });
    });
  }
}
