// Thin, allocation-aware wrappers over the proxy-wasm ABI 0.2.1 host functions. The raw
// declarations come from the AssemblyScript proxy-wasm SDK (@gcoredev/proxy-wasm-sdk-as);
// its higher-level runtime is not used because it supports one root context per VM (we run a
// gateway and a control root in one VM), logs through WASI instead of proxy_log, and builds
// debug strings on every callback of the hot path.
import * as imports from "@gcoredev/proxy-wasm-sdk-as/assembly/imports";
import { SharedValue } from "../state/shared-store";

/**
 * The host allocates every buffer it hands us (header values, bodies, shared data) by calling this
 * export. Raw TLSF memory, not a garbage-collected object: a request body is then parsed in place
 * and freed, instead of becoming GC work on every request (the incremental collector's effort
 * grows with the bytes allocated).
 */
export function malloc(size: usize): usize {
  if (managedNext) {
    // sharedGet(): the host writes the value straight into a garbage-collected ArrayBuffer, which
    // the state modules keep (no zeroed copy, no free).
    managedNext = false;
    return __new(size, idof<ArrayBuffer>());
  }
  if (placeAt != 0) {
    // GrowingBytes.appendUpTo(): the bytes go straight to the end of its buffer (one copy, not two).
    const at = placeAt;
    placeAt = 0;
    if (size <= placeRoom) return at;
  }
  return heap.alloc(size);
}

/** Set by GrowingBytes.appendUpTo() for the one allocation its host call makes: where, and its room. */
let placeAt: usize = 0;
let placeRoom: usize = 0;
/** Set by sharedGet() for the one allocation its host call makes: an ArrayBuffer, not raw memory. */
let managedNext = false;

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  Empty = 7,
  CasMismatch = 8,
  InternalFailure = 10,
  Unimplemented = 12,
}
export enum HeaderMap {
  RequestHeaders = 0,
  RequestTrailers = 1,
  ResponseHeaders = 2,
  ResponseTrailers = 3,
  HttpCallResponseHeaders = 6,
}
export enum Buffer {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  HttpCallResponseBody = 4,
  PluginConfiguration = 7,
  VmConfiguration = 6,
}
export enum StreamType {
  Request = 0,
  Response = 1,
}

// Out-parameters the host writes into: one static slot each, the VM is single-threaded.
const outPtr = memory.data(8);
const outSize = memory.data(8);
const outU32 = memory.data(8);

/** Copies a host-allocated buffer (outPtr/outSize) into a GC-managed ArrayBuffer and frees it. */
function takeBuffer(): ArrayBuffer {
  const size = load<usize>(outSize);
  const ptr = load<usize>(outPtr);
  if (ptr == 0) return new ArrayBuffer(0);
  const buf = new ArrayBuffer(<i32>size);
  memory.copy(changetype<usize>(buf), ptr, size);
  heap.free(ptr);
  return buf;
}

/** Bytes the host wrote into raw memory; the holder must free() them. */
export class RawBytes {
  constructor(
    public ptr: usize,
    public len: i32,
  ) {}
  free(): void {
    if (this.ptr != 0) {
      heap.free(this.ptr);
      this.ptr = 0;
      this.len = 0;
    }
  }
  toArrayBuffer(): ArrayBuffer {
    const b = new ArrayBuffer(this.len);
    if (this.len > 0) memory.copy(changetype<usize>(b), this.ptr, <usize>this.len);
    return b;
  }
}

/**
 * A body read as it arrives: each callback appends the bytes Envoy buffered since the last one,
 * so at the body's end only its last chunk is left to copy (the decision starts sooner; a 220 KB
 * prompt's copy no longer sits between its last byte and its routing). The room follows the bytes
 * received, not the declared length: 4x what arrived (at least 64 KiB), never past the declared
 * Content-Length (`expect`, 0 when none), exactly the body at its last chunk. So a client that
 * declares 8 MiB and sends little makes the VM hold little (as before, when the body was read only
 * at its end), and a body is copied again a few times at most.
 */
export class GrowingBytes extends RawBytes {
  cap: i32 = 0;

  /** Brings the copy up to the buffer's first `total` bytes; false if the host refused. */
  appendUpTo(which: Buffer, total: i32, expect: i32, last: bool): bool {
    if (total <= this.len) return true;
    if (total > this.cap) {
      // In i64: maxBodyBytes may be up to 1 GiB, and 4x that overflows an i32. Growth past the
      // body is bounded (at most 64 MiB more) so a large body does not reserve 4x itself.
      let room = last ? <i64>total : min(max(<i64>total * 4, 65536), <i64>total + (64 << 20));
      if (expect >= total) room = min(room, <i64>expect);
      const cap = <i32>room;
      const p = heap.alloc(<usize>cap);
      if (this.len > 0) memory.copy(p, this.ptr, <usize>this.len);
      if (this.ptr != 0) heap.free(this.ptr);
      this.ptr = p;
      this.cap = cap;
    }
    const want = total - this.len;
    const dst = this.ptr + <usize>this.len;
    store<usize>(outPtr, 0);
    store<usize>(outSize, 0);
    placeAt = dst;
    placeRoom = <usize>want;
    const r = imports.proxy_get_buffer_bytes(<i32>which, this.len, want, outPtr, outSize);
    placeAt = 0;
    if (r != WasmResult.Ok) return false;
    const p = load<usize>(outPtr);
    const n = min(<i32>load<usize>(outSize), want);
    if (p != dst && p != 0) {
      // The host allocated elsewhere (it asked for more than the room): copied here, then freed.
      memory.copy(dst, p, <usize>n);
      heap.free(p);
    }
    this.len += n;
    return n == want;
  }

  free(): void {
    super.free();
    this.cap = 0;
  }
}

/** How many bytes a buffer holds (0 when Envoy has none): a request body at its trailers. */
export function bufferLength(which: Buffer): u32 {
  store<usize>(outPtr, 0);
  store<u32>(outSize, 0);
  const r = imports.proxy_get_buffer_status(<i32>which, outPtr, outSize);
  return r == WasmResult.Ok ? <u32>load<usize>(outPtr) : 0;
}

/** A buffer's bytes without a GC copy (request bodies). */
export function getBufferRaw(which: Buffer, start: u32, length: u32): RawBytes {
  store<usize>(outPtr, 0);
  store<usize>(outSize, 0);
  const r = imports.proxy_get_buffer_bytes(<i32>which, start, length, outPtr, outSize);
  if (r != WasmResult.Ok) return new RawBytes(0, 0);
  return new RawBytes(load<usize>(outPtr), <i32>load<usize>(outSize));
}

// abort()'s message goes to Envoy's log without allocating: an abort may come from the allocator
// itself (a corrupt heap, memory exhausted) or from a shadow-stack overflow, where building a
// string would abort again and recurse until V8's stack overflows, hiding the first reason.
const abortBuf = memory.data(1024);
let aborting = false;

function abortAppend(at: i32, s: string | null): i32 {
  if (s === null) return at;
  for (let i = 0; i < s.length && at < 1023; i++) {
    const c = s.charCodeAt(i);
    store<u8>(abortBuf + <usize>at, c < 0x80 ? <u8>c : 0x3f);
    at++; // ASCII, '?' for the rest
  }
  return at;
}

function abortAppendNumber(at: i32, n: u32): i32 {
  let div: u32 = 1000000000;
  let started = false;
  while (div > 0 && at < 1023) {
    const d = (n / div) % 10;
    if (d != 0 || started || div == 1) {
      store<u8>(abortBuf + <usize>at, <u8>(0x30 + d));
      at++;
      started = true;
    }
    div /= 10;
  }
  return at;
}

export function abortToLog(message: string | null, fileName: string | null, line: u32, column: u32): void {
  if (!aborting) {
    aborting = true;
    let n = abortAppend(0, "infergate abort: ");
    n = abortAppend(n, message);
    if (fileName !== null) {
      n = abortAppend(n, " at ");
      n = abortAppend(n, fileName);
      n = abortAppend(n, ":");
      n = abortAppendNumber(n, line);
      n = abortAppend(n, ":");
      n = abortAppendNumber(n, column);
    }
    imports.proxy_log(<usize>LogLevel.Critical, abortBuf, n);
    aborting = false;
  }
  unreachable();
}

export function log(level: LogLevel, message: string): void {
  const buf = String.UTF8.encode(message);
  imports.proxy_log(<usize>level, changetype<usize>(buf), buf.byteLength);
}

/** A message already in UTF-8 bytes (the host copies them): no string, no transcoding. */
export function logBytes(level: LogLevel, ptr: usize, len: i32): void {
  imports.proxy_log(<usize>level, ptr, <usize>len);
}

/**
 * Sets this stream's filter state "wasm.<name>" (UTF-8 name; the value's bytes are copied) for
 * Envoy's access log to read; false when there is no stream to hold it (a root context).
 */
export function setFilterStateBytes(name: ArrayBuffer, ptr: usize, len: i32): bool {
  const r = imports.proxy_set_property(changetype<usize>(name), name.byteLength, ptr, <usize>len);
  return r == WasmResult.Ok;
}

export function nowNanos(): u64 {
  imports.proxy_get_current_time_nanoseconds(outU32);
  return load<u64>(outU32);
}

export function setTickPeriodMs(ms: u32): void {
  imports.proxy_set_tick_period_milliseconds(ms);
}

export function getBufferBytes(which: Buffer, start: u32, length: u32): ArrayBuffer {
  store<usize>(outPtr, 0);
  store<usize>(outSize, 0);
  const r = imports.proxy_get_buffer_bytes(<i32>which, start, length, outPtr, outSize);
  if (r != WasmResult.Ok) return new ArrayBuffer(0);
  return takeBuffer();
}

export function setBufferBytes(which: Buffer, start: u32, length: u32, value: ArrayBuffer): WasmResult {
  return <WasmResult>(
    imports.proxy_set_buffer_bytes(<i32>which, start, length, changetype<usize>(value), value.byteLength)
  );
}

/** Header value, or null when absent. */
export function getHeader(map: HeaderMap, name: string): string | null {
  const key = utf8Of(name);
  store<usize>(outPtr, 0);
  store<usize>(outSize, 0);
  const r = imports.proxy_get_header_map_value(<i32>map, changetype<usize>(key), key.byteLength, outPtr, outSize);
  if (r != WasmResult.Ok) return null;
  return String.UTF8.decode(takeBuffer());
}

/**
 * The whole header map with one host call (proxy_get_header_map_pairs), in the ABI's layout: the
 * pair count, each pair's name and value lengths (u32 each), then each name and value with a NUL
 * after it. Empty when the host has no such map; the holder must free() it.
 */
export function getHeaderPairs(map: HeaderMap): RawBytes {
  store<usize>(outPtr, 0);
  store<usize>(outSize, 0);
  const r = imports.proxy_get_header_map_pairs(<i32>map, outPtr, outSize);
  if (r != WasmResult.Ok) return new RawBytes(0, 0);
  return new RawBytes(load<usize>(outPtr), <i32>load<usize>(outSize));
}

/** Sets a header; the name's UTF-8 bytes are encoded once by the caller (a module constant). */
export function replaceHeader(map: HeaderMap, name: ArrayBuffer, value: string): void {
  const v = String.UTF8.encode(value);
  imports.proxy_replace_header_map_value(
    <i32>map,
    changetype<usize>(name),
    name.byteLength,
    changetype<usize>(v),
    v.byteLength,
  );
}

/** Sets a header to the bytes at [ptr, ptr+len) (no string, no encoding on the request path). */
export function replaceHeaderBytes(map: HeaderMap, name: ArrayBuffer, ptr: usize, len: i32): void {
  imports.proxy_replace_header_map_value(<i32>map, changetype<usize>(name), name.byteLength, ptr, len);
}

export function removeHeader(map: HeaderMap, name: ArrayBuffer): void {
  imports.proxy_remove_header_map_value(<i32>map, changetype<usize>(name), name.byteLength);
}

export function continueStream(stream: StreamType): WasmResult {
  return <WasmResult>imports.proxy_continue_stream(<i32>stream);
}

/** Resets the (effective) stream: its upstream request too, so the pod sees the connection go. */
export function closeStream(stream: StreamType): WasmResult {
  return <WasmResult>imports.proxy_close_stream(<i32>stream);
}

export function setEffectiveContext(contextId: u32): WasmResult {
  return <WasmResult>imports.proxy_set_effective_context(contextId);
}

/** Serialises header pairs in the proxy-wasm map format: count, (klen, vlen)*, (k\0 v\0)*. */
function serializeHeaders(names: string[], values: string[]): ArrayBuffer {
  const n = names.length;
  const ks = new Array<ArrayBuffer>(n);
  const vs = new Array<ArrayBuffer>(n);
  let size = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    ks[i] = String.UTF8.encode(names[i]);
    vs[i] = String.UTF8.encode(values[i]);
    size += ks[i].byteLength + vs[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, n);
  let off: usize = 4;
  for (let i = 0; i < n; i++) {
    store<u32>(base + off, ks[i].byteLength);
    off += 4;
    store<u32>(base + off, vs[i].byteLength);
    off += 4;
  }
  for (let i = 0; i < n; i++) {
    memory.copy(base + off, changetype<usize>(ks[i]), ks[i].byteLength);
    off += ks[i].byteLength;
    store<u8>(base + off, 0);
    off += 1;
    memory.copy(base + off, changetype<usize>(vs[i]), vs[i].byteLength);
    off += vs[i].byteLength;
    store<u8>(base + off, 0);
    off += 1;
  }
  return out;
}

/**
 * proxy_http_call: an HTTP request of the filter's own to `cluster`. The call belongs to the
 * plugin's root context (proxy-wasm hosts attach it there, whatever context makes it), which gets
 * proxy_on_http_call_response with the returned token; there is no way to cancel it. Returns the
 * token, or 0 when the host refused the call (unknown cluster, a required pseudo-header missing).
 */
export function httpCall(
  cluster: string,
  headerNames: string[],
  headerValues: string[],
  body: ArrayBuffer,
  timeoutMs: u32,
): u32 {
  const c = String.UTF8.encode(cluster);
  const h = serializeHeaders(headerNames, headerValues);
  const t = serializeHeaders([], []);
  store<u32>(outU32, 0);
  const r = imports.proxy_http_call(
    changetype<usize>(c),
    c.byteLength,
    changetype<usize>(h),
    h.byteLength,
    changetype<usize>(body),
    body.byteLength,
    changetype<usize>(t),
    t.byteLength,
    timeoutMs,
    outU32,
  );
  return r == WasmResult.Ok ? load<u32>(outU32) : 0;
}

export function sendLocalResponse(
  status: u32,
  details: string,
  body: string,
  headerNames: string[],
  headerValues: string[],
): WasmResult {
  const d = String.UTF8.encode(details);
  const b = String.UTF8.encode(body);
  const h = serializeHeaders(headerNames, headerValues);
  return <WasmResult>(
    imports.proxy_send_local_response(
      status,
      changetype<usize>(d),
      d.byteLength,
      changetype<usize>(b),
      b.byteLength,
      changetype<usize>(h),
      h.byteLength,
      -1,
    )
  );
}

/**
 * Shared-data keys and header names in UTF-8 by string object, direct-mapped: callers pass the same
 * objects on every request (module constants and literals, PrefixIndex's bucket keys), so each is
 * encoded once, not on every host call (a request makes several). An entry holds its string, so that
 * string's address cannot be reused by another while it is cached: the same address is the same key.
 */
const KEY_CACHE: i32 = 256;
const keyStrings = new StaticArray<string | null>(KEY_CACHE);
const keyBytes = new StaticArray<ArrayBuffer | null>(KEY_CACHE);

function utf8Of(key: string): ArrayBuffer {
  const at = changetype<usize>(key);
  const slot = <i32>((at >> 4) & <usize>(KEY_CACHE - 1));
  const cached = unchecked(keyStrings[slot]);
  if (cached !== null && changetype<usize>(cached) == at) return unchecked(keyBytes[slot])!;
  const bytes = String.UTF8.encode(key);
  unchecked((keyStrings[slot] = key));
  unchecked((keyBytes[slot] = bytes));
  return bytes;
}

/** Reads a shared-data key of this plugin's vm_id (visible to every Envoy worker). */
export function sharedGet(key: string): SharedValue {
  const k = utf8Of(key);
  store<usize>(outPtr, 0);
  store<usize>(outSize, 0);
  store<u32>(outU32, 0);
  managedNext = true;
  const r = imports.proxy_get_shared_data(changetype<usize>(k), k.byteLength, outPtr, outSize, outU32);
  managedNext = false;
  if (r != WasmResult.Ok) return new SharedValue(null, 0);
  const cas = load<u32>(outU32);
  const ptr = load<usize>(outPtr);
  // An empty value may come without an allocation.
  return new SharedValue(ptr == 0 ? new ArrayBuffer(0) : changetype<ArrayBuffer>(ptr), cas);
}

/** Writes a shared-data key; with cas != 0 it fails with CasMismatch if another writer got there first. */
export function sharedSet(key: string, value: ArrayBuffer, cas: u32): WasmResult {
  const k = utf8Of(key);
  return <WasmResult>(
    imports.proxy_set_shared_data(changetype<usize>(k), k.byteLength, changetype<usize>(value), value.byteLength, cas)
  );
}

/** Encodes a property path ("upstream", "address") as the host takes it, once per path. */
export function propertyPath(path: string[]): ArrayBuffer {
  return String.UTF8.encode(path.join("\0"));
}

/** A stream property (a path from propertyPath()) as a string, or null. */
export function getProperty(path: ArrayBuffer): string | null {
  store<usize>(outPtr, 0);
  store<usize>(outSize, 0);
  const r = imports.proxy_get_property(changetype<usize>(path), path.byteLength, outPtr, outSize);
  if (r != WasmResult.Ok) return null;
  return String.UTF8.decode(takeBuffer());
}

export function getPluginConfiguration(size: u32): string {
  if (size == 0) return "";
  return String.UTF8.decode(getBufferBytes(Buffer.PluginConfiguration, 0, size));
}
