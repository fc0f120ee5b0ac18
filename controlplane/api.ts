// The control plane's HTTP API: probes, Prometheus metrics, and read-only debug views.
//   GET /healthz       200 while the process runs
//   GET /readyz        200 once at least one Envoy accepted a table, else 503 (with the targets' state)
//   GET /metrics       prom-client exposition
//   GET /debug/table   the last built table, exactly as pushed
//   GET /debug/model   problems in the documents, file-source status, scrape and push state
//   GET /status        the status view as an HTML page that reloads itself (GET / redirects here)
//   GET /status.json   the same snapshot as JSON (what `infergate status` prints)
//   GET /metrics/envoy the first Envoy admin's /stats/prometheus, relayed: the admin listens on
//                      loopback only, so this is how Prometheus reaches the filter's metrics in a Pod

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "./log.js";
import { renderStatusHtml } from "./status/status-html.js";
import type { StatusSnapshot } from "./status/status-view.js";

export interface ApiHandlers {
  ready(): { ready: boolean; detail: unknown };
  metrics(): Promise<{ contentType: string; body: string }>;
  table(): unknown;
  model(): unknown;
  status(): StatusSnapshot;
  /** Envoy's admin /stats/prometheus, or null when the control plane has no --envoy-admin. */
  envoyStats(): Promise<{ status: number; contentType: string; body: string } | null>;
}

const ROUTES = [
  "/healthz",
  "/readyz",
  "/metrics",
  "/metrics/envoy",
  "/debug/table",
  "/debug/model",
  "/status",
  "/status.json",
];

export interface ApiServer {
  server: Server;
  /** "127.0.0.1:PORT" (IPv6 bracketed) as bound. */
  address: string;
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  type = "application/json",
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...extra });
  res.end(body);
}

export async function startApi(
  listen: { host: string; port: number },
  h: ApiHandlers,
  logger: Logger,
): Promise<ApiServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, JSON.stringify({ error: "only GET" }));
    void (async () => {
      switch (path) {
        case "/healthz":
          return send(res, 200, "ok\n", "text/plain");
        case "/readyz": {
          const r = h.ready();
          return send(res, r.ready ? 200 : 503, JSON.stringify({ ready: r.ready, ...(r.detail as object) }, null, 2));
        }
        case "/metrics": {
          const m = await h.metrics();
          return send(res, 200, m.body, m.contentType);
        }
        case "/metrics/envoy": {
          const m = await h.envoyStats();
          if (!m) return send(res, 404, JSON.stringify({ error: "no --envoy-admin given: no Envoy stats to relay" }));
          return send(res, m.status, m.body, m.contentType);
        }
        case "/debug/table": {
          const t = h.table();
          return t
            ? send(res, 200, JSON.stringify(t, null, 2))
            : send(res, 404, JSON.stringify({ error: "no table built yet" }));
        }
        case "/debug/model":
          return send(res, 200, JSON.stringify(h.model(), null, 2));
        case "/":
          return send(res, 302, "", "text/plain", { location: "/status" });
        case "/status":
          return send(res, 200, renderStatusHtml(h.status()), "text/html; charset=utf-8");
        case "/status.json":
          return send(res, 200, JSON.stringify(h.status(), null, 2));
        default:
          return send(res, 404, JSON.stringify({ error: `no route ${path}`, routes: ROUTES }));
      }
    })().catch((e) => {
      logger.error("api handler failed", { path, error: e });
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: String(e) }));
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listen.port, listen.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const a = server.address() as AddressInfo;
  const address = a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  return {
    server,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
