// \u escapes, read the same way by both JSON readers (the request tape and the table/config parser).

/** The code unit of the 4 hex digits at i (bytes before `len`), or -1 when they are not 4 hex digits. */
export function hex4(ptr: usize, i: i32, len: i32): i32 {
  if (i + 4 > len) return -1;
  let u = 0;
  for (let k = 0; k < 4; k++) {
    const h = <i32>load<u8>(ptr + <usize>(i + k));
    let d: i32;
    if (h >= 0x30 && h <= 0x39) d = h - 0x30;
    else if (h >= 0x61 && h <= 0x66) d = h - 0x61 + 10;
    else if (h >= 0x41 && h <= 0x46) d = h - 0x41 + 10;
    else return -1;
    u = (u << 4) | d;
  }
  return u;
}

/**
 * For a \u escape of code unit `u` whose hex digits end at `after`: 0 when u is no surrogate; the low
 * surrogate when u is a high one followed right away by a \u escape of a low one; -1 otherwise. A \u
 * escape must stand for a Unicode scalar value (RFC 8259 8.2, I-JSON): a lone surrogate has no UTF-8
 * form, so a model server's tokenizer fails on it (vLLM answers 400 or 500).
 */
export function lowSurrogateAfter(ptr: usize, u: i32, after: i32, len: i32): i32 {
  if (u < 0xd800 || u > 0xdfff) return 0;
  if (u >= 0xdc00 || after + 1 >= len) return -1;
  if (<i32>load<u8>(ptr + <usize>after) != 0x5c || <i32>load<u8>(ptr + <usize>(after + 1)) != 0x75) return -1;
  const lo = hex4(ptr, after + 2, len);
  return lo >= 0xdc00 && lo <= 0xdfff ? lo : -1;
}
