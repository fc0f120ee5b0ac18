// Shared by the control-plane tests: real HTTP servers on loopback, started and stopped by each test.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

export { setTimeout as sleep } from "node:timers/promises";

/** The source tree's test/controlplane (tests run from build/js/test/controlplane). */
export const SRC_DIR = join(dirname(fileURLToPath(import.meta.url)), "../../../../test/controlplane");

export interface LoopbackServer {
  server: Server;
  address: string; // "127.0.0.1:PORT"
  url: string;
  close(): Promise<void>;
}

export async function loopbackServer(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void,
): Promise<LoopbackServer> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    address: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A stand-in model server: serves whatever exposition text `page()` returns on /metrics. */
export async function metricsServer(
  page: () => string | { status: number; body: string } | "hang",
): Promise<LoopbackServer & { hits: number }> {
  const s = await loopbackServer((req, res) => {
    out.hits++;
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    const p = page();
    if (p === "hang") return; // never answers: exercises the scrape timeout
    if (typeof p === "string") res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(p);
    else res.writeHead(p.status, { "content-type": "text/plain" }).end(p.body);
  });
  const out = Object.assign(s, { hits: 0 });
  return out;
}

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | null | false,
  timeoutMs = 5000,
  stepMs = 10,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}
