// A validating JSON (RFC 8259) scanner for the request hot path. Instead of a tree of objects it
// writes a flat "tape" of fixed-size entries into one reusable buffer, so parsing a request body
// allocates nothing once the buffer has grown. Strings stay byte spans in the body: only what is
// needed (the model name) is ever decoded; prompt text is hashed straight from the bytes.
//
// Entry i (4 x i32): kind | start | end | next
//   start/end: byte span of the value (strings: inside the quotes; containers: brackets included)
//   next: the entry index just past this value and all its descendants (a container's children
//         follow it directly; an object's children alternate key, value).

import { hex4, lowSurrogateAfter } from "./unicode-escape";

export const T_NULL: i32 = 0, T_TRUE: i32 = 1, T_FALSE: i32 = 2, T_NUMBER: i32 = 3,
  T_STRING: i32 = 4, T_ESCAPED: i32 = 5, T_ARRAY: i32 = 6, T_OBJECT: i32 = 7;
/** Flag on a number entry's kind field: written as digits only (no sign, fraction or exponent), so
 *  a non-negative integer. Set while scanning, so token ids and max_tokens are checked without
 *  reading their bytes again; kind() masks it off. */
const DIGITS_ONLY: i32 = 0x100;
const KIND_MASK: i32 = 0xff;

const MAX_DEPTH: i32 = 64;

/** Index of the first non-whitespace byte at or after i (JSON whitespace: space, \n, \r, \t). */
// @ts-expect-error: decorator
@inline function skipSpace(ptr: usize, i: i32, len: i32): i32 {
  while (i < len) {
    const c = <i32>load<u8>(ptr + <usize>i);
    if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) i++; else break;
  }
  return i;
}

export function tapeKindName(k: i32): string {
  if (k == T_NULL) return "null";
  if (k == T_TRUE || k == T_FALSE) return "boolean";
  if (k == T_NUMBER) return "number";
  if (k == T_STRING || k == T_ESCAPED) return "string";
  if (k == T_ARRAY) return "array";
  return "object";
}

export class Tape {
  buf: StaticArray<i32> = new StaticArray<i32>(256);
  count: i32 = 0;            // entries
  base: usize = 0;           // the bytes parsed
  len: i32 = 0;
  error: string = "";
  errorAt: i32 = -1;
  private stack: StaticArray<i32> = new StaticArray<i32>(MAX_DEPTH + 1);

  @inline kind(e: i32): i32 { return unchecked(this.buf[e << 2]) & KIND_MASK; }
  /** Is number entry e written as digits only (a non-negative integer, no fraction or exponent)? */
  @inline digitsOnly(e: i32): bool { return unchecked(this.buf[e << 2]) == (T_NUMBER | DIGITS_ONLY); }
  @inline start(e: i32): i32 { return unchecked(this.buf[(e << 2) + 1]); }
  @inline end(e: i32): i32 { return unchecked(this.buf[(e << 2) + 2]); }
  @inline next(e: i32): i32 { return unchecked(this.buf[(e << 2) + 3]); }
  isString(e: i32): bool { const k = this.kind(e); return k == T_STRING || k == T_ESCAPED; }

  private push(kind: i32, start: i32): i32 {
    const e = this.count;
    if ((e + 1) << 2 > this.buf.length) {
      const grown = new StaticArray<i32>(this.buf.length << 1);
      memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>(this.buf.length << 2));
      this.buf = grown;
    }
    const o = e << 2;
    unchecked(this.buf[o] = kind);
    unchecked(this.buf[o + 1] = start);
    unchecked(this.buf[o + 2] = start);
    unchecked(this.buf[o + 3] = e + 1);
    this.count = e + 1;
    return e;
  }
  @inline private close(e: i32, end: i32): void {
    unchecked(this.buf[(e << 2) + 2] = end);
    unchecked(this.buf[(e << 2) + 3] = this.count);
  }

  private fail(at: i32, msg: string): bool { this.error = msg; this.errorAt = at; return false; }

  /** Scans [ptr, ptr+len) into the tape; false with error/errorAt on invalid JSON. */
  parse(ptr: usize, len: i32): bool {
    this.count = 0; this.base = ptr; this.len = len; this.error = ""; this.errorAt = -1;
    let i = 0;
    let depth = 0;
    const stack = this.stack;
    // state: 0 = expecting a value; after a value: decided by the enclosing container
    while (true) {
      // skip whitespace
      i = skipSpace(ptr, i, len);
      if (i >= len) return this.fail(i, "unexpected end of input");
      // a value
      const c = <i32>load<u8>(ptr + <usize>i);
      if (c == 0x7b || c == 0x5b) {
        if (depth >= MAX_DEPTH) return this.fail(i, `nesting deeper than ${MAX_DEPTH.toString()}`);
        const e = this.push(c == 0x7b ? T_OBJECT : T_ARRAY, i);
        unchecked(stack[depth++] = e);
        i++;
        i = skipSpace(ptr, i, len);
        if (i < len && <i32>load<u8>(ptr + <usize>i) == (c == 0x7b ? 0x7d : 0x5d)) {
          i++; depth--; this.close(e, i);
        } else if (c == 0x7b) {
          i = this.memberKey(i); // first key
          if (i < 0) return false;
          continue;
        } else continue;
      } else if (c == 0x22) {
        i = this.scanString(i);
        if (i < 0) return false;
      } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) {
        i = this.scanNumber(i);
        if (i < 0) return false;
      } else if (c == 0x74 && this.word(i, 0x65757274, 4)) { const e = this.push(T_TRUE, i); i += 4; this.close(e, i); }
      else if (c == 0x66 && this.word(i + 1, 0x65736c61, 4)) { const e = this.push(T_FALSE, i); i += 5; this.close(e, i); }
      else if (c == 0x6e && this.word(i, 0x6c6c756e, 4)) { const e = this.push(T_NULL, i); i += 4; this.close(e, i); }
      else return this.fail(i, `unexpected character '${String.fromCharCode(c)}'`);
      // after a value: close containers or move to the next member
      while (true) {
        if (depth == 0) {
          i = skipSpace(ptr, i, len);
          if (i < len) return this.fail(i, "unexpected data after the JSON value");
          return true;
        }
        i = skipSpace(ptr, i, len);
        const top = unchecked(stack[depth - 1]);
        const isObj = this.kind(top) == T_OBJECT;
        if (i >= len) return this.fail(i, isObj ? "unexpected end of input in object" : "unexpected end of input in array");
        const d = <i32>load<u8>(ptr + <usize>i);
        if (d == 0x2c) {
          i++;
          if (isObj) {
            i = this.memberKey(skipSpace(ptr, i, len));
            if (i < 0) return false;
          }
          break; // next value
        }
        if ((isObj && d == 0x7d) || (!isObj && d == 0x5d)) { i++; depth--; this.close(top, i); continue; }
        return this.fail(i, isObj ? "expected ',' or '}' in object" : "expected ',' or ']' in array");
      }
    }
    return false; // unreachable: every path above returns
  }

  /** Little-endian compare of n (<= 4) bytes at i with `w`. */
  private word(i: i32, w: u32, n: i32): bool {
    if (i + n > this.len) return false;
    return load<u32>(this.base + <usize>i) == w;
  }

  /** A member's key string and its colon, at i (whitespace skipped); the index after, or -1. */
  private memberKey(i: i32): i32 {
    if (i >= this.len) { this.fail(i, "unexpected end of input in object"); return -1; }
    if (<i32>load<u8>(this.base + <usize>i) != 0x22) { this.fail(i, "expected a string key in object"); return -1; }
    i = this.scanString(i);
    return i < 0 ? -1 : this.colon(i);
  }

  private colon(i: i32): i32 {
    const ptr = this.base, len = this.len;
    i = skipSpace(ptr, i, len);
    if (i >= len || <i32>load<u8>(ptr + <usize>i) != 0x3a) { this.fail(i, "expected ':' after object key"); return -1; }
    return i + 1;
  }

  /**
   * Scans a string starting at its quote; pushes it; returns the index after the closing quote or -1.
   * Validates what a JSON string may hold: escapes, no control characters, and well-formed UTF-8
   * (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF), so a model server never
   * receives bytes its decoder would reject or silently replace.
   */
  private scanString(q: i32): i32 {
    const ptr = this.base, len = this.len;
    const quotes = QUOTES, backslashes = BACKSLASHES, controls = CONTROLS;
    let i = q + 1;
    // A short string (a key, a role, a model name) ends in its first 16 bytes: one vector compare.
    if (i + 16 <= len) {
      const v = v128.load(ptr + <usize>i);
      const any = specialLanes(v, quotes, backslashes, controls);
      if (v128.any_true(any)) {
        const k = i + ctz(i8x16.bitmask(any));
        if (<i32>load<u8>(ptr + <usize>k) == 0x22) {
          const e = this.push(T_STRING, i);
          unchecked(this.buf[(e << 2) + 2] = k);
          return k + 1;
        }
      }
    }
    // Then 64-byte blocks. A block's special bytes (quote, backslash, control, non-ASCII) become one
    // 64-bit mask, computed once: each special byte is found with a count of trailing zeros, and
    // text dense with escapes (a newline every line of a document or of code) costs a few
    // instructions per escape instead of vector scans restarted after each one.
    let escaped = false;
    let blockStart = i, blockEnd = i; // [blockStart, blockEnd): the bytes `mask` covers
    let mask: u64 = 0;
    while (true) {
      if (i >= blockEnd) {
        mask = 0;
        while (i + 64 <= len) {
          mask = special64(ptr + <usize>i, quotes, backslashes, controls);
          if (mask != 0) {
            // Escape-dense text (JSON tool output, code in short lines): a block whose special bytes
            // are all backslashes and the bytes they escape has its escapes checked together, each
            // check independent of the last, instead of one at a time in the loop below, where each
            // waits on the one before. A 220 KB JSON tool output's decision in Envoy: 264-284 -> 161-163
            // us. A block with one special byte takes the loop, as before (no gain there; prose in
            // 80-byte lines has about one escape per block).
            if ((mask & (mask - 1)) != 0 && simpleBlock(ptr + <usize>i, mask, backslashes)) {
              escaped = true;
              mask = 0;
              i += 64;
              continue;
            }
            break;
          }
          i += 64; // prompt text: long plain runs
        }
        blockStart = i;
        if (mask != 0) blockEnd = i + 64;
        else {
          // The body's last bytes (fewer than 64 left).
          if (i >= len) { this.fail(i, "unterminated string"); return -1; }
          blockEnd = len;
          mask = specialTail(ptr + <usize>i, len - i);
        }
      } else {
        mask &= ~(<u64>0) << <u64>(i - blockStart); // what lies before i is handled
      }
      if (mask == 0) { i = blockEnd; continue; }
      i = blockStart + <i32>ctz(mask);
      const c = <i32>load<u8>(ptr + <usize>i);
      if (c == 0x22) break;
      if (c < 0x20) { this.fail(i, "control character in string"); return -1; }
      if (c >= 0x80) {
        // A run of non-ASCII characters (all of CJK text) is checked here, not one bit at a time.
        do {
          const n = utf8Next(ptr, i, len);
          if (n == 0) { this.fail(i, "invalid UTF-8 in string"); return -1; }
          i += n;
        } while (i < len && <i32>load<u8>(ptr + <usize>i) >= 0x80);
        continue;
      }
      // A backslash.
      escaped = true;
      if (i + 1 >= len) { this.fail(i, "unterminated string"); return -1; }
      const e = <i32>load<u8>(ptr + <usize>(i + 1));
      if (e == 0x75) {
        const u = hex4(ptr, i + 2, len);
        if (u < 0) { this.fail(i + 2, "invalid \\u escape"); return -1; }
        const lo = lowSurrogateAfter(ptr, u, i + 6, len);
        if (lo < 0) { this.fail(i, "lone surrogate in \\u escape (not a Unicode character)"); return -1; }
        i += lo > 0 ? 12 : 6;
        continue;
      }
      // One table lookup, not a chain of eight compares: text in lines has an escape per line.
      if (<i32>load<u8>(SIMPLE_ESCAPES + <usize>e) == 0) { this.fail(i + 1, "invalid escape character"); return -1; }
      i += 2;
    }
    const e = this.push(escaped ? T_ESCAPED : T_STRING, q + 1);
    unchecked(this.buf[(e << 2) + 2] = i);
    return i + 1;
  }

  private scanNumber(s: i32): i32 {
    const ptr = this.base, len = this.len;
    let i = s;
    let plain = true; // digits only so far
    if (<i32>load<u8>(ptr + <usize>i) == 0x2d) { i++; plain = false; }
    if (i >= len) { this.fail(i, "invalid number"); return -1; }
    let c = <i32>load<u8>(ptr + <usize>i);
    if (c == 0x30) i++;
    else if (c >= 0x31 && c <= 0x39) { while (i < len) { c = <i32>load<u8>(ptr + <usize>i); if (c < 0x30 || c > 0x39) break; i++; } }
    else { this.fail(i, "invalid number"); return -1; }
    if (i < len && <i32>load<u8>(ptr + <usize>i) == 0x2e) {
      i++;
      plain = false;
      const d0 = i;
      while (i < len) { c = <i32>load<u8>(ptr + <usize>i); if (c < 0x30 || c > 0x39) break; i++; }
      if (i == d0) { this.fail(i, "invalid number: digit expected after '.'"); return -1; }
    }
    if (i < len && (<i32>load<u8>(ptr + <usize>i) | 0x20) == 0x65) {
      i++;
      plain = false;
      if (i < len && (<i32>load<u8>(ptr + <usize>i) == 0x2b || <i32>load<u8>(ptr + <usize>i) == 0x2d)) i++;
      const d0 = i;
      while (i < len) { c = <i32>load<u8>(ptr + <usize>i); if (c < 0x30 || c > 0x39) break; i++; }
      if (i == d0) { this.fail(i, "invalid number: digit expected in exponent"); return -1; }
    }
    const e = this.push(plain ? T_NUMBER | DIGITS_ONLY : T_NUMBER, s);
    this.close(e, i);
    return i;
  }

  // ---- reading ----

  /** Does string entry e equal the ASCII key? (Escaped keys are decoded to compare.) */
  keyIs(e: i32, key: string): bool {
    const s = this.start(e), n = this.end(e) - s;
    if (this.kind(e) == T_ESCAPED) return this.str(e) == key;
    if (n != key.length) return false;
    const p = this.base + <usize>s;
    for (let k = 0; k < n; k++) if (<i32>load<u8>(p + <usize>k) != key.charCodeAt(k)) return false;
    return true;
  }

  /** Value entry of `key` in object entry o (last duplicate wins), or -1. */
  find(o: i32, key: string): i32 {
    let found = -1;
    const end = this.next(o);
    let k = o + 1;
    while (k < end) {
      const v = k + 1;
      if (this.keyIs(k, key)) found = v;
      k = this.next(v);
    }
    return found;
  }

  /** First child entry of a container (or its next when empty). */
  @inline first(c: i32): i32 { return c + 1; }
  /** Elements of an array. */
  length(a: i32): i32 {
    let n = 0;
    const end = this.next(a);
    for (let k = a + 1; k < end; k = this.next(k)) n++;
    return n;
  }

  /** Decoded string value (escapes resolved). */
  str(e: i32): string {
    const s = this.start(e), n = this.end(e) - s;
    if (this.kind(e) == T_STRING) return String.UTF8.decodeUnsafe(this.base + <usize>s, <usize>n);
    const out = new ArrayBuffer(n);
    const m = unescapeInto(this.base + <usize>s, n, changetype<usize>(out));
    return String.UTF8.decodeUnsafe(changetype<usize>(out), <usize>m);
  }

  /** Value of number entry e. Plain integers (digits only, up to 15: token ids, max_tokens) are read
   *  from the bytes without allocating; other forms go through parseFloat (1e400 is Infinity). */
  number(e: i32): f64 {
    const s = this.start(e), n = this.end(e) - s;
    const p = this.base + <usize>s;
    if (n <= 15) {
      let v: f64 = 0;
      let k = 0;
      for (; k < n; k++) {
        const c = <i32>load<u8>(p + <usize>k);
        if (c < 0x30 || c > 0x39) break;
        v = v * 10 + <f64>(c - 0x30);
      }
      if (k == n) return v;
    }
    return parseFloat(String.UTF8.decodeUnsafe(p, <usize>n));
  }
}

/**
 * utf8Sequence(), with the common well-formed 2- and 3-byte forms (accented Latin, Greek, Cyrillic,
 * CJK) checked by one 4-byte load and mask; the rest (E0, ED, 4-byte forms, errors) takes the
 * full check.
 */
// @ts-ignore: decorator
@inline function utf8Next(ptr: usize, i: i32, len: i32): i32 {
  if (i + 4 <= len) {
    const x = load<u32>(ptr + <usize>i);
    const c = x & 0xff;
    if ((x & 0xc0e0) == 0x80c0 && c >= 0xc2) return 2;
    if ((x & 0xc0c0f0) == 0x8080e0 && c != 0xe0 && c != 0xed) return 3;
  }
  return utf8Sequence(ptr, i, len);
}

/** Length (2-4) of the well-formed UTF-8 sequence at i whose lead byte is >= 0x80, or 0. */
function utf8Sequence(ptr: usize, i: i32, len: i32): i32 {
  const c = <i32>load<u8>(ptr + <usize>i);
  let n = 0, lo = 0x80, hi = 0xbf; // the second byte's range (narrower after E0, ED, F0, F4)
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) { n = 3; if (c == 0xe0) lo = 0xa0; else if (c == 0xed) hi = 0x9f; }
  else if (c >= 0xf0 && c <= 0xf4) { n = 4; if (c == 0xf0) lo = 0x90; else if (c == 0xf4) hi = 0x8f; }
  else return 0;
  if (i + n > len) return 0;
  const b1 = <i32>load<u8>(ptr + <usize>(i + 1));
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k < n; k++) {
    const b = <i32>load<u8>(ptr + <usize>(i + k));
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

/**
 * Writes the UTF-8 bytes an escaped JSON string stands for; returns how many. With `limit`, stops
 * once at least `limit` bytes are written (up to 15 more). A string's bytes never outnumber its
 * source's; dst must have room for min(n, limit + 16) bytes.
 */
export function unescapeInto(src: usize, n: i32, dst: usize, limit: i32 = i32.MAX_VALUE): i32 {
  let o = 0;
  let i = 0;
  const backslashes = BACKSLASHES;
  while (i < n && o < limit) {
    // Text between escapes (a document's lines) is copied 16 bytes at a time: the store may write
    // past the bytes it keeps (up to 16 past o, within the source's length since o <= i), and
    // the next write overwrites them. Sixteen bytes without a backslash advance by a constant, so
    // the next load need not wait for this one's compare (i advanced by min(ctz, 16) made every
    // load wait on the one before: ~13 cycles per 16 bytes, an 8 KB prompt in lines 2.8 us in Node).
    if (i + 16 <= n) {
      const v = v128.load(src + <usize>i);
      const bits = i8x16.bitmask(i8x16.eq(v, backslashes));
      v128.store(dst + <usize>o, v);
      if (bits == 0) {
        i += 16;
        o += 16;
        continue;
      }
      const k = <i32>ctz(bits);
      i += k;
      o += k; // at the backslash
      // The escape below writes up to 4 bytes: only while under the limit, or a 4-byte character
      // after 15 copied bytes would end past limit + 16, the room the caller gave.
      if (o >= limit) break;
    }
    const c = <i32>load<u8>(src + <usize>i);
    if (c != 0x5c) { store<u8>(dst + <usize>(o++), <u8>c); i++; continue; }
    const e = <i32>load<u8>(src + <usize>(i + 1));
    i += 2;
    let ch = e;
    if (e == 0x62) ch = 8; else if (e == 0x66) ch = 12; else if (e == 0x6e) ch = 10; else if (e == 0x72) ch = 13; else if (e == 0x74) ch = 9;
    else if (e == 0x75) {
      let u = 0;
      for (let k = 0; k < 4; k++) {
        const h = <i32>load<u8>(src + <usize>(i + k));
        u = (u << 4) | (h <= 0x39 ? h - 0x30 : (h | 0x20) - 0x61 + 10);
      }
      i += 4;
      // A surrogate pair becomes one 4-byte sequence (the scanner refuses lone surrogates; were one
      // here, it would be written as its 3 bytes).
      if (u >= 0xD800 && u < 0xDC00 && i + 6 <= n && <i32>load<u8>(src + <usize>i) == 0x5c && <i32>load<u8>(src + <usize>(i + 1)) == 0x75) {
        let lo = 0;
        for (let k = 2; k < 6; k++) {
          const h = <i32>load<u8>(src + <usize>(i + k));
          lo = (lo << 4) | (h <= 0x39 ? h - 0x30 : (h | 0x20) - 0x61 + 10);
        }
        if (lo >= 0xDC00 && lo < 0xE000) {
          i += 6;
          const cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          store<u8>(dst + <usize>(o++), <u8>(0xF0 | (cp >> 18)));
          store<u8>(dst + <usize>(o++), <u8>(0x80 | ((cp >> 12) & 0x3F)));
          store<u8>(dst + <usize>(o++), <u8>(0x80 | ((cp >> 6) & 0x3F)));
          store<u8>(dst + <usize>(o++), <u8>(0x80 | (cp & 0x3F)));
          continue;
        }
      }
      if (u < 0x80) store<u8>(dst + <usize>(o++), <u8>u);
      else if (u < 0x800) { store<u8>(dst + <usize>(o++), <u8>(0xC0 | (u >> 6))); store<u8>(dst + <usize>(o++), <u8>(0x80 | (u & 0x3F))); }
      else { store<u8>(dst + <usize>(o++), <u8>(0xE0 | (u >> 12))); store<u8>(dst + <usize>(o++), <u8>(0x80 | ((u >> 6) & 0x3F))); store<u8>(dst + <usize>(o++), <u8>(0x80 | (u & 0x3F))); }
      continue;
    }
    store<u8>(dst + <usize>(o++), <u8>ch);
  }
  return o;
}


// The compare operands of specialLanes(), as mutable globals read into locals by scanString: with
// v128.const operands Envoy's V8 rebuilt the three vectors on every pass of the 64-byte loop, and a
// plain 220 KB prompt took 21 us to scan in Envoy (7 us with the operands in registers; Node's V8
// 9.2 vs 6.8). Mutable, and set at start, so the optimizer cannot fold them back into constants.
let QUOTES: v128 = i8x16.splat(0x22);
let BACKSLASHES: v128 = i8x16.splat(0x5c);

/** 1 at the characters a backslash may escape besides u: " \ / b f n r t. */
const SIMPLE_ESCAPES: usize = simpleEscapes();
function simpleEscapes(): usize {
  const t = memory.data(256);
  const ok = "\"\\/bfnrt";
  for (let k = 0; k < ok.length; k++) store<u8>(t + <usize>ok.charCodeAt(k), 1);
  return t;
}
let CONTROLS: v128 = i8x16.splat(0x20);

/** Lanes holding a quote, a backslash, a control character or a non-ASCII byte (signed, a byte
 *  < 0x20 is a control character or, negative, one >= 0x80: one compare for both). */
// @ts-expect-error: decorator
@inline function specialLanes(v: v128, quotes: v128, backslashes: v128, controls: v128): v128 {
  return v128.or(v128.or(i8x16.eq(v, quotes), i8x16.eq(v, backslashes)), i8x16.lt_s(v, controls));
}

/**
 * Bit k set when byte p[k] (k < 64) can end or interrupt a string's plain run: a quote, a
 * backslash, a control character or a non-ASCII byte. 0 (the common case) costs one vector test.
 */
// @ts-expect-error: decorator
@inline function special64(p: usize, q: v128, b: v128, c: v128): u64 {
  const sa = specialLanes(v128.load(p), q, b, c), sb = specialLanes(v128.load(p, 16), q, b, c);
  const sc = specialLanes(v128.load(p, 32), q, b, c), sd = specialLanes(v128.load(p, 48), q, b, c);
  if (!v128.any_true(v128.or(v128.or(sa, sb), v128.or(sc, sd)))) return 0;
  return (
    <u64>i8x16.bitmask(sa) |
    (<u64>i8x16.bitmask(sb) << 16) |
    (<u64>i8x16.bitmask(sc) << 32) |
    (<u64>i8x16.bitmask(sd) << 48)
  );
}

/**
 * True when every special byte of the 64 at p (`special`: special64's mask) is a backslash that
 * escapes a byte of the same block with a one-character escape (" / b f n r t), or the byte one
 * escapes: no \u, no bare quote, control or non-ASCII byte, no backslash escaping a backslash, none
 * in the last byte. Anything else is left to the byte-at-a-time loop, which also says what is wrong.
 */
// @ts-expect-error: decorator
@inline function simpleBlock(p: usize, special: u64, b: v128): bool {
  const bs =
    <u64>i8x16.bitmask(i8x16.eq(v128.load(p), b)) |
    (<u64>i8x16.bitmask(i8x16.eq(v128.load(p, 16), b)) << 16) |
    (<u64>i8x16.bitmask(i8x16.eq(v128.load(p, 32), b)) << 32) |
    (<u64>i8x16.bitmask(i8x16.eq(v128.load(p, 48), b)) << 48);
  // Every other special byte must be one a backslash escapes (a quote, in code or JSON tool output):
  // a bare quote ends the string, a control or non-ASCII byte needs its own check. No backslash may
  // follow another (which one escapes which is then a question of the run's length).
  if ((bs >> 63) != 0 || (bs & (bs << 1)) != 0 || (special & ~(bs | (bs << 1))) != 0) return false;
  // The first escape outside the loop: a block of one (a backslash and the quote it escapes) needs no more.
  let bad = <u32>load<u8>(SIMPLE_ESCAPES + <usize>load<u8>(p + <usize>ctz(bs) + 1)) ^ 1;
  let m = bs & (bs - 1);
  while (m != 0) {
    const k = <usize>ctz(m);
    bad |= <u32>load<u8>(SIMPLE_ESCAPES + <usize>load<u8>(p + k + 1)) ^ 1;
    m &= m - 1;
  }
  return bad == 0;
}

/** special64() for the n < 64 bytes at p (the end of the body), one byte at a time. */
function specialTail(p: usize, n: i32): u64 {
  let m: u64 = 0;
  for (let k = 0; k < n; k++) {
    const c = <i32>load<u8>(p + <usize>k);
    if (c == 0x22 || c == 0x5c || c < 0x20 || c >= 0x80) m |= (<u64>1) << <u64>k;
  }
  return m;
}
