// Garbage collection paced by the filter. asconfig.json builds with AssemblyScript's "minimal"
// runtime, which never collects on its own; the incremental runtime it replaced did a slice of
// marking and sweeping inside every allocation, on the request path: ~14 us of the ~57 us a tiny
// request spent in the VM, measured in Envoy with each runtime on the same build.
//
// Here a full collection runs at the start of a root's tick (every 10 ms, gateway-root.ts): between
// callbacks, the one point where no managed reference can be held only in a wasm local, which the
// minimal collector does not see. It runs once enough work has left garbage behind, so memory stays
// bounded under load and an idle gateway does not pay for collections (~0.1 ms each on the
// gateway's heap): COLLECT_AFTER_STREAMS streams, or COLLECT_AFTER_BYTES of request bodies read (a
// parse leaves garbage in proportion to the body), or any work at all once IDLE_COLLECT_NS passed.
const COLLECT_AFTER_STREAMS: i32 = 256;
const COLLECT_AFTER_BYTES: i64 = 8 << 20;
const IDLE_COLLECT_NS: u64 = 1_000_000_000;

let streams: i32 = 0;
let bytes: i64 = 0;
let lastNs: u64 = 0;

/** A stream context was created (its objects become garbage when it is deleted). */
export function noteStream(): void {
  streams++;
}

/** A body of n bytes was read into the VM and parsed. */
export function noteBytes(n: i64): void {
  bytes += n;
}

/** Collects if due. Only call at the top of an exported callback, before any managed value exists. */
export function collectIfDue(nowNs: u64): void {
  const due =
    streams >= COLLECT_AFTER_STREAMS ||
    bytes >= COLLECT_AFTER_BYTES ||
    ((streams > 0 || bytes > 0) && nowNs - lastNs >= IDLE_COLLECT_NS);
  if (!due) return;
  __collect();
  streams = 0;
  bytes = 0;
  lastNs = nowNs;
}
