// A stand-in for the Envoy control listener (NOT Envoy: the real-Envoy push is tested end to end by
// the lead). It implements the filter's side of the contract in controlplane/table/schema.ts: bearer
// token → 401, malformed table → 400 with a reason, generation not newer → 409 naming the one it
// holds, otherwise store and 204.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { TABLE_VERSION, TABLE_VERSION_ROUTES, type Table } from "../../controlplane/table/schema.js";

export interface EnvoyStandIn {
  url: string;
  port: number;
  received: { auth: string | undefined; contentType: string | undefined; status: number; generation: number | null }[];
  /** The table it holds (what the filter would route on). */
  table: Table | null;
  /** Tests set these to provoke answers. */
  delayMs: number;
  forceStatus: number | null;
  close(): Promise<void>;
}

export async function startEnvoyStandIn(opts: {
  token: string;
  port?: number;
  initialGeneration?: number;
}): Promise<EnvoyStandIn> {
  const state: EnvoyStandIn = {
    url: "",
    port: 0,
    received: [],
    table: null,
    delayMs: 0,
    forceStatus: null,
    close: async () => {},
  };
  let held = opts.initialGeneration ?? 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const answer = () => {
        const rec = {
          auth: req.headers.authorization,
          contentType: req.headers["content-type"],
          status: 0,
          generation: null as number | null,
        };
        state.received.push(rec);
        const reply = (status: number, body = "") => {
          rec.status = status;
          res.writeHead(status, body ? { "content-type": "application/json" } : {}).end(body);
        };
        if (req.method !== "POST" || req.url !== "/infergate/v1/table") return reply(404);
        if (req.headers.authorization !== `Bearer ${opts.token}`)
          return reply(401, JSON.stringify({ error: "bad token" }));
        if (state.forceStatus)
          return reply(state.forceStatus, JSON.stringify({ error: { message: "forced by test" } }));
        let t: Table;
        try {
          t = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Table;
        } catch {
          return reply(400, JSON.stringify({ error: { message: "body is not JSON" } }));
        }
        rec.generation = typeof t.generation === "number" ? t.generation : null;
        if (t.version !== TABLE_VERSION && t.version !== TABLE_VERSION_ROUTES)
          return reply(
            400,
            JSON.stringify({ error: { message: `version must be ${TABLE_VERSION} or ${TABLE_VERSION_ROUTES}` } }),
          );
        if (!Array.isArray(t.pools) || !Array.isArray(t.models))
          return reply(400, JSON.stringify({ error: { message: "pools and models must be arrays" } }));
        if (!Number.isSafeInteger(t.generation))
          return reply(400, JSON.stringify({ error: { message: "generation must be an integer" } }));
        if (t.generation <= held)
          return reply(409, JSON.stringify({ error: { message: `stale generation ${t.generation}` }, current: held }));
        held = t.generation;
        state.table = t;
        reply(204);
      };
      if (state.delayMs > 0) setTimeout(answer, state.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://127.0.0.1:${state.port}`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}
