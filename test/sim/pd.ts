// SGLang prefill/decode (P/D) disaggregation, as far as a router can observe it.
//
// In SGLang's P/D mode (python/sglang/srt/disaggregation/) the router sends the same request to a
// prefill server and a decode server, both carrying bootstrap_host / bootstrap_port (the prefill
// server's address and its --disaggregation-bootstrap-port) and a bootstrap_room id. The prefill
// server prefills, then transfers the KV of that room to the decode server; the decode server
// connects to the bootstrap server named in the request, waits for that room's KV, and only then
// decodes. Without the hand-over the decode side fails the request (bootstrap/transfer failure).
//
// Here the "KV transfer" is a long-poll on a small HTTP bootstrap server that every prefill pod
// runs on its --bootstrap-port:  GET /rooms/<room>?timeout_ms=N  answers
//   200 {"room", "prefillPod", "promptTokens", "blockHashes"}  once that pod prefilled the room
//       (after --kv-transfer-ms), and forgets the room (a room is handed over once);
//   404 if the room did not complete within timeout_ms;
//   410 if the prefill of that room failed (client went away, fault).
// The decode pod inserts the handed-over blocks into its own KV cache and skips prefill.

import http from "node:http";
import type { AddressInfo } from "node:net";

export interface Handover {
  room: string;
  prefillPod: string;
  promptTokens: number;
  blockHashes: number[];
}

interface Room {
  state: "prefilling" | "done" | "failed";
  handover?: Handover;
  waiters: Array<() => void>;
  createdAt: number;
}

const ROOM_TTL_MS = 60_000;

/** The prefill pod's side: rooms it prefilled, served to decode pods. */
export class BootstrapServer {
  private readonly rooms = new Map<string, Room>();
  private server: http.Server | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  readonly podName: string;

  constructor(podName: string) {
    this.podName = podName;
  }

  /** Rooms prefilled here and not yet taken by a decode pod (sglang:num_prefill_inflight_queue_reqs). */
  get inflight(): number {
    let n = 0;
    for (const r of this.rooms.values()) if (r.state === "done") n++;
    return n;
  }

  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.sweeper = setInterval(() => this.sweep(), 5_000);
    this.sweeper.unref();
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    for (const r of this.rooms.values()) for (const w of r.waiters.splice(0)) w();
    const s = this.server;
    this.server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  /** A request with this room started prefilling here. */
  begin(room: string): void {
    const r = this.rooms.get(room);
    if (r && r.state !== "failed") return;
    this.rooms.set(room, { state: "prefilling", waiters: r?.waiters ?? [], createdAt: Date.now() });
  }

  /** Prefill of the room finished: its KV can be handed over. */
  complete(h: Handover): void {
    const r = this.rooms.get(h.room) ?? { state: "prefilling" as const, waiters: [], createdAt: Date.now() };
    r.state = "done";
    r.handover = h;
    this.rooms.set(h.room, r);
    for (const w of r.waiters.splice(0)) w();
  }

  fail(room: string): void {
    const r = this.rooms.get(room);
    if (!r || r.state === "done") return;
    r.state = "failed";
    for (const w of r.waiters.splice(0)) w();
  }

  clear(): void {
    for (const r of this.rooms.values()) for (const w of r.waiters.splice(0)) w();
    this.rooms.clear();
  }

  private sweep(): void {
    const old = Date.now() - ROOM_TTL_MS;
    for (const [k, r] of this.rooms) if (r.createdAt < old && r.waiters.length === 0) this.rooms.delete(k);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const m = /^\/rooms\/([^/]+)$/.exec(url.pathname);
    if (req.method !== "GET" || !m) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
      return;
    }
    const room = decodeURIComponent(m[1]);
    const timeoutMs = Math.max(0, Math.min(600_000, Number(url.searchParams.get("timeout_ms") ?? "0") || 0));
    const answer = (): boolean => {
      const r = this.rooms.get(room);
      if (r?.state === "done" && r.handover) {
        this.rooms.delete(room);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(r.handover));
        return true;
      }
      if (r?.state === "failed") {
        this.rooms.delete(room);
        res
          .writeHead(410, { "content-type": "application/json" })
          .end(JSON.stringify({ error: `prefill of room ${room} failed` }));
        return true;
      }
      return false;
    };
    if (answer()) return;
    // Wait for the room (it may not even have reached this pod yet: the router sends both halves
    // at once).
    let r = this.rooms.get(room);
    if (!r) {
      r = { state: "prefilling", waiters: [], createdAt: Date.now() };
      this.rooms.set(room, r);
    }
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!answer() && !res.headersSent) {
        res
          .writeHead(404, { "content-type": "application/json" })
          .end(JSON.stringify({ error: `room ${room} not handed over within ${timeoutMs} ms` }));
      }
    };
    const timer = setTimeout(finish, timeoutMs);
    r.waiters.push(finish);
    req.on("close", () => {
      if (!done) {
        done = true;
        clearTimeout(timer);
      }
    });
  }
}

export class HandoverError extends Error {
  /** "bootstrap": could not reach the bootstrap server; "transfer": the room never came or failed */
  readonly kind: "bootstrap" | "transfer";
  constructor(kind: "bootstrap" | "transfer", message: string) {
    super(message);
    this.kind = kind;
  }
}

/** The decode pod's side: waits until `room` was prefilled at host:port, or the deadline passes. */
export async function awaitHandover(
  host: string,
  port: number,
  room: string,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<Handover> {
  const deadline = Date.now() + timeoutMs;
  let reached = false;
  let lastError = "";
  const h = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  while (!signal.aborted) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const res = await fetch(`http://${h}:${port}/rooms/${encodeURIComponent(room)}?timeout_ms=${Math.ceil(left)}`, {
        signal: AbortSignal.any([signal, AbortSignal.timeout(left + 1_000)]),
      });
      reached = true;
      if (res.status === 200) return (await res.json()) as Handover;
      const body = await res.text();
      if (res.status === 410)
        throw new HandoverError("transfer", `KV transfer for bootstrap_room ${room} failed: ${body}`);
      lastError = `bootstrap server answered ${res.status}`;
      if (res.status !== 404) break;
    } catch (e) {
      if (e instanceof HandoverError) throw e;
      if (signal.aborted) break;
      lastError = (e as Error).message;
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, deadline - Date.now()))));
    }
  }
  if (!reached)
    throw new HandoverError(
      "bootstrap",
      `could not reach bootstrap server ${host}:${port} for bootstrap_room ${room}: ${lastError}`,
    );
  throw new HandoverError(
    "transfer",
    `KV for bootstrap_room ${room} was not handed over by ${host}:${port} within ${timeoutMs} ms`,
  );
}
