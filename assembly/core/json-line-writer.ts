// A log line written straight into UTF-8 bytes: one reused buffer per worker (raw memory, grown by
// doubling, never freed), numbers written as digits, strings JSON-escaped and UTF-8 encoded as they
// are copied in. Building the "Request Handled" line by string concatenation cost a string (and a
// number's toString) per field, then a UTF-16 -> UTF-8 copy of the whole line for the host: tens of
// µs per request. Output is byte for byte what jsonQuote + String.UTF8.encode (its default WTF-8
// mode: a lone surrogate is written as its 3-byte form) gave.

/** Digits of 0..99, two ASCII bytes each ("00" .. "99"). */
const PAIRS =
  "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

export class JsonLineWriter {
  /** Start of the bytes (raw memory, kept across lines). */
  ptr: usize = 0;
  /** Bytes written since reset(). */
  len: i32 = 0;
  private cap: i32 = 0;

  constructor(initial: i32 = 1024) {
    this.ptr = heap.alloc(<usize>initial);
    this.cap = initial;
  }

  reset(): void {
    this.len = 0;
  }

  /** Gives the memory back (a writer made for one line; the per-worker one is never freed). */
  free(): void {
    heap.free(this.ptr);
    this.ptr = 0;
    this.cap = 0;
    this.len = 0;
  }

  /** Room for `n` more bytes. */
  @inline private room(n: i32): usize {
    if (this.len + n > this.cap) this.grow(this.len + n);
    return this.ptr + <usize>this.len;
  }

  private grow(need: i32): void {
    let cap = this.cap << 1;
    while (cap < need) cap <<= 1;
    this.ptr = heap.realloc(this.ptr, <usize>cap);
    this.cap = cap;
  }

  /** ASCII text as is (literals, names the filter itself chose): one byte per character. */
  ascii(s: string): void {
    const n = s.length;
    const p = this.room(n);
    const src = changetype<usize>(s);
    for (let i = 0; i < n; i++) store<u8>(p + <usize>i, <u8>load<u16>(src + ((<usize>i) << 1)));
    this.len += n;
  }

  /** A string's UTF-8 bytes as is (no quoting): what the line carried verbatim before. */
  raw(s: string): void {
    this.utf8(s, false);
  }

  /** A JSON string literal, quotes included (the escapes jsonQuote writes). */
  quoted(s: string): void {
    this.byte(0x22);
    this.utf8(s, true);
    this.byte(0x22);
  }

  @inline byte(b: u8): void {
    store<u8>(this.room(1), b);
    this.len++;
  }

  bool(b: bool): void {
    this.ascii(b ? "true" : "false");
  }

  /** A signed integer's decimal digits (as i64.toString() writes them). */
  int(v: i64): void {
    if (v < 0) {
      this.byte(0x2d);
      this.uint(<u64>0 - <u64>v);
    } else this.uint(<u64>v);
  }

  uint(v: u64): void {
    let digits = 1;
    for (let x = v; x >= 10; x /= 10) digits++;
    const p = this.room(digits);
    let at = <usize>digits;
    const pairs = changetype<usize>(PAIRS);
    while (v >= 100) {
      const r = <usize>(v % 100);
      v /= 100;
      at -= 2;
      store<u8>(p + at, <u8>load<u16>(pairs + (r << 2)));
      store<u8>(p + at + 1, <u8>load<u16>(pairs + (r << 2) + 2));
    }
    if (v >= 10) {
      const r = <usize>v;
      store<u8>(p, <u8>load<u16>(pairs + (r << 2)));
      store<u8>(p + 1, <u8>load<u16>(pairs + (r << 2) + 2));
    } else store<u8>(p, <u8>(0x30 + <u32>v));
    this.len += digits;
  }

  /**
   * `Math.round(x * 1000) / 1000` as f64.toString() writes it, for x in [0, 1]: the integer part,
   * a point, the thousandths without trailing zeros ("0.0" for 0, "0.5", "0.125", "1.0"). Other
   * values go through toString().
   */
  thousandths(x: f64): void {
    const k = Math.round(x * 1000);
    if (!(k >= 0 && k <= 1000)) {
      this.ascii((k / 1000).toString());
      return;
    }
    const m = <u32>k;
    this.uint(<u64>(m / 1000));
    this.byte(0x2e);
    let frac = m % 1000;
    if (frac == 0) {
      this.byte(0x30);
      return;
    }
    let width = 3;
    while (frac % 10 == 0) {
      frac /= 10;
      width--;
    }
    // leading zeros of the fraction (0.05 -> "05")
    for (let lim: u32 = width == 3 ? 100 : width == 2 ? 10 : 1; lim > 1 && frac < lim; lim /= 10) this.byte(0x30);
    this.uint(<u64>frac);
  }

  /** UTF-16 -> UTF-8 (WTF-8 for lone surrogates, as String.UTF8.encode), JSON-escaped if `escaping`. */
  private utf8(s: string, escaping: bool): void {
    const n = s.length;
    const src = changetype<usize>(s);
    // At most 6 bytes per code unit (\u00XX); a pair of units is 4 bytes.
    let p = this.room(n * 6);
    for (let i = 0; i < n; i++) {
      let c = <u32>load<u16>(src + ((<usize>i) << 1));
      if (c < 0x80) {
        if (escaping && (c < 0x20 || c == 0x22 || c == 0x5c)) {
          store<u8>(p++, 0x5c);
          if (c == 0x22 || c == 0x5c) store<u8>(p++, <u8>c);
          else if (c == 0x0a) store<u8>(p++, 0x6e);
          else if (c == 0x0d) store<u8>(p++, 0x72);
          else if (c == 0x09) store<u8>(p++, 0x74);
          else {
            store<u8>(p, 0x75);
            store<u8>(p + 1, 0x30);
            store<u8>(p + 2, 0x30);
            store<u8>(p + 3, <u8>(0x30 + (c >> 4)));
            const lo = c & 15;
            store<u8>(p + 4, <u8>(lo < 10 ? 0x30 + lo : 0x57 + lo));
            p += 5;
          }
        } else store<u8>(p++, <u8>c);
      } else if (c < 0x800) {
        store<u8>(p, <u8>((c >> 6) | 0xc0));
        store<u8>(p + 1, <u8>((c & 63) | 0x80));
        p += 2;
      } else {
        if ((c & 0xf800) == 0xd800 && c < 0xdc00 && i + 1 < n) {
          const c2 = <u32>load<u16>(src + ((<usize>(i + 1)) << 1));
          if ((c2 & 0xfc00) == 0xdc00) {
            c = (0x10000 + ((c & 0x3ff) << 10)) | (c2 & 0x3ff);
            store<u8>(p, <u8>((c >> 18) | 0xf0));
            store<u8>(p + 1, <u8>(((c >> 12) & 63) | 0x80));
            store<u8>(p + 2, <u8>(((c >> 6) & 63) | 0x80));
            store<u8>(p + 3, <u8>((c & 63) | 0x80));
            p += 4;
            i++;
            continue;
          }
        }
        store<u8>(p, <u8>((c >> 12) | 0xe0));
        store<u8>(p + 1, <u8>(((c >> 6) & 63) | 0x80));
        store<u8>(p + 2, <u8>((c & 63) | 0x80));
        p += 3;
      }
    }
    this.len = <i32>(p - this.ptr);
  }

  /** The line as a string (tests, and callers that need one). */
  toString(): string {
    return String.UTF8.decodeUnsafe(this.ptr, <usize>this.len);
  }
}
