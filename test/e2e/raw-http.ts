// HTTP/1.1 at the byte level, for what fetch cannot send: lying or oversized Content-Length,
// malformed request lines and headers, hand-made chunked bodies, bodies sent slowly or never
// finished, raw bytes that are not UTF-8. Requests are built as Buffers and written to a fresh
// loopback connection; the answer is read back until the first final response is complete (or the
// server closes, or the time is up).

import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface RawResponse {
  status: number;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RawExchange {
  /** The first final (non-1xx) response, or null when none arrived. */
  response: RawResponse | null;
  /** Interim 1xx responses seen before it (e.g. 100 Continue). */
  interim: number[];
  /** Every byte the server sent. */
  bytes: Buffer;
  /** The server closed the connection (before our timer). */
  closedByServer: boolean;
  /** Milliseconds from the first byte written to the response being complete (or the end). */
  ms: number;
}

export interface RequestSpec {
  method?: string;
  path?: string;
  /** Written in order, as given (a name may repeat). Content-Length is added unless `chunks` or
   *  `noLength` is given or the headers already carry one. */
  headers?: [string, string][];
  body?: Buffer | string;
  /** Send the body as these chunks with Transfer-Encoding: chunked. */
  chunks?: (Buffer | string)[];
  noLength?: boolean;
  version?: string;
}

/** The bytes of one HTTP/1.1 request. */
export function buildRequest(spec: RequestSpec): Buffer {
  const method = spec.method ?? "POST";
  const path = spec.path ?? "/v1/chat/completions";
  const headers: [string, string][] = [["host", "127.0.0.1"], ...(spec.headers ?? [])];
  const has = (n: string) => headers.some(([k]) => k.toLowerCase() === n);
  const body = spec.body === undefined ? Buffer.alloc(0) : Buffer.from(spec.body);
  let payload = body;
  if (spec.chunks) {
    if (!has("transfer-encoding")) headers.push(["transfer-encoding", "chunked"]);
    const parts: Buffer[] = [];
    for (const c of spec.chunks) {
      const b = Buffer.from(c);
      if (b.length === 0) continue;
      parts.push(Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n"));
    }
    parts.push(Buffer.from("0\r\n\r\n"));
    payload = Buffer.concat(parts);
  } else if (!spec.noLength && !has("content-length") && !has("transfer-encoding")) {
    headers.push(["content-length", String(body.length)]);
  }
  const head = `${method} ${path} ${spec.version ?? "HTTP/1.1"}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), payload]);
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Bytes this response took from the buffer. */
  used: number;
}

/** One response at the start of `buf`, or null when it is not complete yet (or its length is only
 *  known at close and `atClose` is false). */
function parseResponse(buf: Buffer, headRequest: boolean, atClose: boolean): Parsed | null {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(lines[0]!.split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    const k = l.slice(0, i).trim().toLowerCase();
    const v = l.slice(i + 1).trim();
    headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
  }
  const start = end + 4;
  if (status < 200 || status === 204 || status === 304 || headRequest)
    return { status, headers, body: Buffer.alloc(0), used: start };
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const parts: Buffer[] = [];
    let i = start;
    for (;;) {
      const nl = buf.indexOf("\r\n", i);
      if (nl < 0) return null;
      const n = Number.parseInt(buf.subarray(i, nl).toString("latin1"), 16);
      if (n === 0) {
        const t = buf.indexOf("\r\n\r\n", nl);
        if (t < 0) return null;
        return { status, headers, body: Buffer.concat(parts), used: t + 4 };
      }
      if (buf.length < nl + 2 + n + 2) return null;
      parts.push(buf.subarray(nl + 2, nl + 2 + n));
      i = nl + 2 + n + 2;
    }
  }
  if (headers["content-length"] !== undefined) {
    const n = Number(headers["content-length"]);
    if (buf.length < start + n) return null;
    return { status, headers, body: buf.subarray(start, start + n), used: start + n };
  }
  return atClose ? { status, headers, body: buf.subarray(start), used: buf.length } : null;
}

export interface ExchangeOptions {
  /** Give up (and close) after this long; default 5 s. */
  timeoutMs?: number;
  /** Write `bytes` in these pieces with `delayMs` between them (a slow client). */
  pieces?: number;
  delayMs?: number;
  /** Half-close our side after the last byte (the client sent everything it ever will). */
  endAfterWrite?: boolean;
  /** Keep reading until the server closes or the timer ends, instead of stopping at the first
   *  complete response. */
  untilClose?: boolean;
}

/** Writes `bytes` to a fresh connection to 127.0.0.1:`port` and reads the answer. */
export function exchange(
  port: number,
  bytes: Buffer | (Buffer | string)[],
  o: ExchangeOptions = {},
): Promise<RawExchange> {
  const timeoutMs = o.timeoutMs ?? 5000;
  const pieces = Array.isArray(bytes) ? bytes.map((b) => Buffer.from(b)) : split(bytes, o.pieces ?? 1);
  const head = pieces[0]?.subarray(0, 16).toString("latin1") ?? "";
  const headRequest = head.startsWith("HEAD ");
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    let t0 = Date.now();
    let done = false;
    let closedByServer = false;
    const finish = (atClose: boolean) => {
      if (done) return;
      const all = Buffer.concat(got);
      const interim: number[] = [];
      let rest = all;
      let response: RawResponse | null = null;
      for (;;) {
        const p = parseResponse(rest, headRequest, atClose);
        if (!p) break;
        if (p.status >= 200) {
          response = { status: p.status, headers: p.headers, body: p.body };
          break;
        }
        interim.push(p.status);
        rest = rest.subarray(p.used);
      }
      if (!response && !atClose) return;
      if (response && !atClose && o.untilClose) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ response, interim, bytes: all, closedByServer, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    s.on("data", (d: Buffer) => {
      got.push(d);
      finish(false);
    });
    s.on("error", () => {
      closedByServer = true;
      finish(true);
    });
    s.on("end", () => {
      closedByServer = true;
      finish(true);
    });
    s.on("connect", async () => {
      t0 = Date.now();
      for (let i = 0; i < pieces.length && !done && !s.destroyed; i++) {
        if (i > 0 && o.delayMs) await sleep(o.delayMs);
        if (!done && !s.destroyed) s.write(pieces[i]!);
      }
      if (o.endAfterWrite && !done && !s.destroyed) s.end();
    });
  });
}

function split(b: Buffer, n: number): Buffer[] {
  if (n <= 1) return [b];
  const size = Math.ceil(b.length / n);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}
