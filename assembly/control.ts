// The loopback-only control listener: the control plane pushes the table here.
//   POST /infergate/v1/table   Authorization: Bearer <token>   -> 204 | 400 | 401 | 409
//   GET  /infergate/v1/table   Authorization: Bearer <token>   -> 200 {"generation":…,"queues":{pool:{bytes,critical,standard,sheddable}},
//                                                                      "inflight":{"IP:port":n}}

import { PluginConfig } from "./config";
import { errorBody } from "./errors";
import { Buffer, getBufferBytes, getHeader, HeaderMap, LogLevel, log, sendLocalResponse } from "./host/abi";
import { noteBytes } from "./host/collector";
import { DataStatus, HeadersStatus, Root, Stream } from "./host/contexts";
import { sendError } from "./host/local-reply";
import { jsonQuote } from "./json/quote";
import { PublishStatus } from "./state/table-store";
import { Table } from "./table/table";
import { inflight, ledger, tables } from "./vm";

const TABLE_PATH = "/infergate/v1/table";
/** Tables for 4096 endpoints stay well under this. */
const MAX_TABLE_BYTES: u32 = 16 * 1024 * 1024;

export class ControlRoot extends Root {
  config: PluginConfig = new PluginConfig();
  configure(text: string): bool {
    return true;
  }
  newStream(id: u32): Stream {
    return new ControlStream(id, this);
  }
}

/** Requests in flight (all workers) per endpoint address of the table, as JSON members. */
function inflightByAddress(t: Table): string {
  const counts = inflight.snapshot();
  const seen = new Set<string>();
  const parts = new Array<string>();
  for (let i = 0; i < t.pools.length; i++) {
    const eps = t.pools[i].endpoints;
    for (let j = 0; j < eps.length; j++) {
      const e = eps[j];
      if (seen.has(e.address)) continue;
      seen.add(e.address);
      parts.push(jsonQuote(e.address) + ":" + (e.slot < counts.length ? counts[e.slot] : 0).toString());
    }
  }
  return parts.join(",");
}

/** Compares without an early exit, so response timing does not reveal a token prefix. */
function sameToken(a: string, b: string): bool {
  let diff = a.length ^ b.length;
  const n = min(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff == 0;
}

class ControlStream extends Stream {
  root: ControlRoot;
  accepting: bool = false;
  constructor(id: u32, root: ControlRoot) {
    super(id);
    this.root = root;
  }

  onRequestHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    const method = getHeader(HeaderMap.RequestHeaders, ":method");
    const path = getHeader(HeaderMap.RequestHeaders, ":path");
    if (path === null || path! != TABLE_PATH) {
      sendError(404, "unknown control path", "not_found", "");
      return HeadersStatus.StopIteration;
    }
    const auth = getHeader(HeaderMap.RequestHeaders, "authorization");
    if (auth === null || !sameToken(auth!, `Bearer ${this.root.config.token}`)) {
      sendError(401, "missing or wrong bearer token", "unauthorized", "", ["www-authenticate"], ["Bearer"]);
      return HeadersStatus.StopIteration;
    }
    if (method !== null && method! == "GET") {
      const t = tables.current();
      let body = '{"generation":0}';
      if (t !== null) {
        // Per pool: what all workers' queues hold (bytes, and requests per criticality class).
        const queues = new Array<string>();
        for (let i = 0; i < t.pools.length; i++) {
          const st = ledger.read(t.pools[i].id);
          queues.push(
            jsonQuote(t.pools[i].id) +
              ':{"bytes":' +
              (<i64>st.bytes).toString() +
              ',"critical":' +
              (<i64>st.waiting[0]).toString() +
              ',"standard":' +
              (<i64>st.waiting[1]).toString() +
              ',"sheddable":' +
              (<i64>st.waiting[2]).toString() +
              "}",
          );
        }
        body =
          '{"generation":' +
          (<i64>t.generation).toString() +
          ',"builtAtMs":' +
          (<i64>t.builtAtMs).toString() +
          ',"pools":' +
          t.pools.length.toString() +
          ',"models":' +
          t.models.length.toString() +
          ',"queues":{' +
          queues.join(",") +
          '},"inflight":{' +
          inflightByAddress(t) +
          "}}";
      }
      sendLocalResponse(200, "infergate_table", body, ["content-type"], ["application/json"]);
      return HeadersStatus.StopIteration;
    }
    if (method === null || method! != "POST") {
      sendError(405, "use POST to push a table", "method_not_allowed", "", ["allow"], ["GET, POST"]);
      return HeadersStatus.StopIteration;
    }
    if (endOfStream) {
      sendError(400, "empty table", "invalid_table", "");
      return HeadersStatus.StopIteration;
    }
    this.accepting = true;
    return HeadersStatus.StopIteration;
  }

  onRequestBody(bodySize: u32, endOfStream: bool): DataStatus {
    if (!this.accepting) return DataStatus.StopIterationNoBuffer;
    if (bodySize > MAX_TABLE_BYTES) {
      this.accepting = false;
      sendError(413, `table larger than ${MAX_TABLE_BYTES.toString()} bytes`, "table_too_large", "");
      return DataStatus.StopIterationNoBuffer;
    }
    if (!endOfStream) return DataStatus.StopIterationAndBuffer;
    this.accepting = false;
    noteBytes(bodySize);
    const r = tables.publish(getBufferBytes(Buffer.HttpRequestBody, 0, bodySize));
    if (r.status == PublishStatus.Ok) {
      sendLocalResponse(204, "infergate_table_accepted", "", [], []);
    } else if (r.status == PublishStatus.Invalid) {
      log(LogLevel.Warn, `infergate: table push refused: ${r.message}`);
      sendError(400, `invalid table: ${r.message}`, "invalid_table", "");
    } else if (r.status == PublishStatus.Stale) {
      // currentGeneration lets the control plane move its clock past ours in one step.
      const body = errorBody(409, r.message, "stale_generation", "");
      sendLocalResponse(
        409,
        "infergate_stale_generation",
        `${body.substring(0, body.length - 1)},"currentGeneration":${(<i64>r.current).toString()}}`,
        ["content-type", "x-infergate-generation"],
        ["application/json", (<i64>r.current).toString()],
      );
    } else {
      sendError(503, r.message, "store_failed", "");
    }
    return DataStatus.StopIterationNoBuffer;
  }
}
