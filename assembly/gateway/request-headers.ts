// A request's headers read with one host call and looked up in the VM. Every routed request needs
// :method, :path, content-length and x-request-id, and a route may match more: one
// proxy_get_header_map_pairs (one call into Envoy, one allocation callback) instead of a
// proxy_get_header_map_value per name (each a call and a callback, ~0.8 us in Envoy).
import { HeaderSource } from "../core/route-match";
import { getHeaderPairs, HeaderMap, RawBytes } from "../host/abi";

export class RequestHeaders extends HeaderSource {
  private raw: RawBytes = new RawBytes(0, 0);
  private count: i32 = 0;

  /** Reads the stream's request headers (valid from the headers phase on), dropping any held. */
  load(): void {
    this.free();
    this.raw = getHeaderPairs(HeaderMap.RequestHeaders);
    // A layout the host did not keep (too short for its own count) reads as no headers.
    const n = this.raw.len >= 4 ? <i32>load<u32>(this.raw.ptr) : 0;
    this.count = n >= 0 && <i64>n * 8 + 4 <= <i64>this.raw.len ? n : 0;
  }

  /** The first value of a header (lowercase name, as Envoy keeps them), or null. */
  read(name: string): string | null {
    const base = this.raw.ptr;
    const end = base + <usize>this.raw.len;
    let at = base + 4 + <usize>this.count * 8; // the first name
    for (let i = 0; i < this.count; i++) {
      const nameLen = <usize>load<u32>(base + 4 + <usize>i * 8);
      const valueLen = <usize>load<u32>(base + 8 + <usize>i * 8);
      const value = at + nameLen + 1;
      if (value + valueLen > end) return null;
      if (sameName(at, nameLen, name)) return String.UTF8.decodeUnsafe(value, valueLen);
      at = value + valueLen + 1;
    }
    return null;
  }

  free(): void {
    this.raw.free();
    this.count = 0;
  }
}

/** Whether the bytes at p (n of them) spell `name` (header names are ASCII). */
function sameName(p: usize, n: usize, name: string): bool {
  if (n != <usize>name.length) return false;
  for (let k: usize = 0; k < n; k++) if (<i32>load<u8>(p + k) != name.charCodeAt(<i32>k)) return false;
  return true;
}
