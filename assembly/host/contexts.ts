// Context bookkeeping and the proxy-wasm 0.2.1 entry points Envoy calls. Each Envoy worker has its
// own VM; in it, one root context per plugin configuration (the public gateway and the control
// listener each have one) and one stream context per HTTP request.
import { Buffer, bufferLength, getPluginConfiguration, LogLevel, log, nowNanos } from "./abi";
import { collectIfDue, noteStream } from "./collector";

export enum HeadersStatus {
  Continue = 0,
  StopIteration = 1,
  StopAllIterationAndBuffer = 3,
}
export enum DataStatus {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationNoBuffer = 3,
}
export enum TrailersStatus {
  Continue = 0,
  StopIteration = 1,
}

export abstract class Stream {
  constructor(public id: u32) {}
  onRequestHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    return HeadersStatus.Continue;
  }
  onRequestBody(bodySize: u32, endOfStream: bool): DataStatus {
    return DataStatus.Continue;
  }
  onResponseHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    return HeadersStatus.Continue;
  }
  onResponseBody(bodySize: u32, endOfStream: bool): DataStatus {
    return DataStatus.Continue;
  }
  /** The stream is over, however it ended (complete, reset, client abort). Called once. */
  onDone(): void {}
}

export abstract class Root {
  constructor(public id: u32) {}
  /** Validates the plugin configuration once at load; false makes Envoy reject the plugin. */
  abstract configure(config: string): bool;
  abstract newStream(id: u32): Stream;
  onTick(): void {}
  /** The answer to a proxy_http_call this root made (headers 0: it failed, no response). */
  onHttpCallResponse(token: u32, headers: u32, bodySize: u32): void {}
}

type RootFactory = (id: u32) => Root;
let rootFactory: RootFactory | null = null;
export function setRootFactory(f: RootFactory): void {
  rootFactory = f;
}

const roots = new Map<u32, Root>();
const streams = new Map<u32, Stream>();

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_context_create(contextId: u32, parentId: u32): void {
  if (parentId == 0) {
    roots.set(contextId, rootFactory!(contextId));
    return;
  }
  if (!roots.has(parentId)) {
    log(LogLevel.Error, `infergate: stream context for unknown root ${parentId.toString()}`);
    return;
  }
  streams.set(contextId, roots.get(parentId).newStream(contextId));
  noteStream();
}

export function proxy_on_vm_start(rootId: u32, vmConfigSize: u32): bool {
  return true;
}

export function proxy_validate_configuration(rootId: u32, size: u32): bool {
  return roots.has(rootId) ? roots.get(rootId).configure(getPluginConfiguration(size)) : false;
}

export function proxy_on_configure(rootId: u32, size: u32): bool {
  if (!roots.has(rootId)) return false;
  return roots.get(rootId).configure(getPluginConfiguration(size));
}

export function proxy_on_tick(rootId: u32): void {
  collectIfDue(nowNanos()); // first: no managed value may live in a local while it runs
  if (roots.has(rootId)) roots.get(rootId).onTick();
}

export function proxy_on_request_headers(id: u32, headers: u32, endOfStream: u32): i32 {
  if (!streams.has(id)) return HeadersStatus.Continue;
  return streams.get(id).onRequestHeaders(headers, endOfStream != 0);
}

export function proxy_on_request_body(id: u32, size: u32, endOfStream: u32): i32 {
  if (!streams.has(id)) return DataStatus.Continue;
  return streams.get(id).onRequestBody(size, endOfStream != 0);
}

/**
 * A request body that ends with trailers (HTTP/2, HTTP/1.1 chunked) never reaches the body hook
 * with end of stream: the trailers end it. The stream sees them as a last, empty body chunk, so the
 * request is decided (and its destination written) as any other; Continue here without that would
 * send it on undecided, to whatever destination the client named.
 */
export function proxy_on_request_trailers(id: u32, trailers: u32): i32 {
  if (!streams.has(id)) return TrailersStatus.Continue;
  const status = streams.get(id).onRequestBody(bufferLength(Buffer.HttpRequestBody), true);
  return status == DataStatus.Continue ? TrailersStatus.Continue : TrailersStatus.StopIteration;
}
export function proxy_on_request_metadata(id: u32, n: u32): i32 {
  return 0;
}

export function proxy_on_response_headers(id: u32, headers: u32, endOfStream: u32): i32 {
  if (!streams.has(id)) return HeadersStatus.Continue;
  return streams.get(id).onResponseHeaders(headers, endOfStream != 0);
}

export function proxy_on_response_body(id: u32, size: u32, endOfStream: u32): i32 {
  if (!streams.has(id)) return DataStatus.Continue;
  return streams.get(id).onResponseBody(size, endOfStream != 0);
}
export function proxy_on_response_trailers(id: u32, trailers: u32): i32 {
  return 0;
}
export function proxy_on_response_metadata(id: u32, n: u32): i32 {
  return 0;
}

/**
 * Stream over: Envoy calls done (then log, then delete) exactly once per context, and nothing of
 * the stream after done. The stream is forgotten here, so the module exports no proxy_on_delete:
 * Envoy skips a hook the module does not export, and that is one call into the VM less per request.
 * A root's done comes when its plugin configuration is replaced or the VM shuts down.
 */
export function proxy_on_done(id: u32): bool {
  if (streams.has(id)) {
    streams.get(id).onDone();
    streams.delete(id);
  } else if (roots.has(id)) roots.delete(id);
  return true;
}

export function proxy_on_log(id: u32): void {}

export function proxy_on_queue_ready(rootId: u32, token: u32): void {}
export function proxy_on_foreign_function(rootId: u32, functionId: u32, size: u32): void {}
export function proxy_on_http_call_response(rootId: u32, token: u32, headers: u32, bodySize: u32, trailers: u32): void {
  if (roots.has(rootId)) roots.get(rootId).onHttpCallResponse(token, headers, bodySize);
}
export function proxy_on_new_connection(id: u32): i32 {
  return 0;
}
export function proxy_on_downstream_data(id: u32, size: u32, end: u32): i32 {
  return 0;
}
export function proxy_on_upstream_data(id: u32, size: u32, end: u32): i32 {
  return 0;
}
export function proxy_on_downstream_connection_close(id: u32, peer: u32): void {}
export function proxy_on_upstream_connection_close(id: u32, peer: u32): void {}

/** A live stream by context id (the queue resumes paused streams from the root's tick). */
export function streamById(id: u32): Stream | null {
  return streams.has(id) ? streams.get(id) : null;
}
