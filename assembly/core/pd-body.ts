// The body a P/D request is sent with, to the prefill pod and to the decode pod alike: the client's
// bytes (the "model" value replaced when a weighted target model was picked) plus SGLang's
// bootstrap_host / bootstrap_port / bootstrap_room, written last in the object so that they win over
// any the client sent (JSON parsers keep the last of duplicate keys: Python's json, which SGLang's
// OpenAI server reads bodies with, does). A client must never choose the bootstrap server, just as
// it must never choose the pod. Pure: no host calls.
import { jsonQuote } from "../json/quote";

/** The host part of "IP:port" or "[v6]:port", without brackets: SGLang's bootstrap_host. */
export function bootstrapHost(address: string): string {
  const colon = address.lastIndexOf(":");
  const host = colon > 0 ? address.substring(0, colon) : address;
  return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length - 1) : host;
}

/** `,"bootstrap_host":"…","bootstrap_port":N,"bootstrap_room":R` */
export function bootstrapFields(host: string, port: i32, room: u64): string {
  return (
    ',"bootstrap_host":' +
    jsonQuote(host) +
    ',"bootstrap_port":' +
    port.toString() +
    ',"bootstrap_room":' +
    room.toString()
  );
}

/**
 * The body at [ptr, ptr+len) with, if `target` is not null, bytes [modelStart, modelEnd) (the
 * "model" string, quotes included) replaced by the quoted target, and `fields` inserted just before
 * the root object's closing brace at `closeAt`.
 */
export function pdBody(
  ptr: usize,
  len: i32,
  closeAt: i32,
  modelStart: i32,
  modelEnd: i32,
  target: string | null,
  fields: string,
): ArrayBuffer {
  const f = String.UTF8.encode(fields);
  const q = target === null ? new ArrayBuffer(0) : String.UTF8.encode(jsonQuote(target!));
  const cut = target === null ? 0 : modelEnd - modelStart;
  const out = new ArrayBuffer(len - cut + q.byteLength + f.byteLength);
  const o = changetype<usize>(out);
  let w: usize = 0;
  let r: i32 = 0;
  if (target !== null) {
    memory.copy(o, ptr, <usize>modelStart);
    memory.copy(o + <usize>modelStart, changetype<usize>(q), <usize>q.byteLength);
    w = <usize>(modelStart + q.byteLength);
    r = modelEnd;
  }
  memory.copy(o + w, ptr + <usize>r, <usize>(closeAt - r));
  w += <usize>(closeAt - r);
  memory.copy(o + w, changetype<usize>(f), <usize>f.byteLength);
  w += <usize>f.byteLength;
  memory.copy(o + w, ptr + <usize>closeAt, <usize>(len - closeAt));
  return out;
}
