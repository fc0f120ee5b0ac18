// A small validating JSON (RFC 8259) parser producing a tree (value.ts), for the pushed table and
// the plugin configuration; request bodies go through the allocation-free tape (tape.ts). Errors
// carry the byte offset and a reason.

import { hex4, lowSurrogateAfter } from "./unicode-escape";
import { JsonKind, JsonValue } from "./value";

const MAX_DEPTH = 64;

export class JsonParser {
  error: string = "";
  errorAt: i32 = -1;
  private p: usize = 0; // base pointer of the input
  private n: i32 = 0; // input length
  private i: i32 = 0; // cursor

  /** Parses the whole buffer; returns null and sets error/errorAt on failure. */
  parse(data: ArrayBuffer): JsonValue | null {
    return this.parseRaw(changetype<usize>(data), data.byteLength);
  }

  parseRaw(ptr: usize, len: i32): JsonValue | null {
    this.p = ptr;
    this.n = len;
    this.i = 0;
    this.error = "";
    this.errorAt = -1;
    this.ws();
    const v = this.value(0);
    if (v === null) return null;
    this.ws();
    if (this.i < this.n) return this.fail("unexpected data after the JSON value");
    return v;
  }

  private fail(msg: string): JsonValue | null {
    if (this.errorAt < 0) {
      this.error = msg;
      this.errorAt = this.i;
    }
    return null;
  }

  @inline private peek(): i32 {
    return <i32>load<u8>(this.p + <usize>this.i);
  }

  private ws(): void {
    while (this.i < this.n) {
      const c = this.peek();
      if (c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09) this.i++;
      else break;
    }
  }

  private value(depth: i32): JsonValue | null {
    if (this.i >= this.n) return this.fail("unexpected end of input");
    if (depth > MAX_DEPTH) return this.fail(`nesting deeper than ${MAX_DEPTH.toString()}`);
    const c = this.peek();
    const start = this.i;
    let v: JsonValue | null;
    if (c == 0x7b) v = this.object(depth);
    else if (c == 0x5b) v = this.array(depth);
    else if (c == 0x22) {
      const s = this.string();
      if (s === null) return null;
      v = new JsonValue();
      v.kind = JsonKind.String;
      v.s = s;
    } else if (c == 0x2d || (c >= 0x30 && c <= 0x39)) v = this.number();
    else if (this.literal("true")) {
      v = new JsonValue();
      v.kind = JsonKind.Bool;
      v.b = true;
    } else if (this.literal("false")) {
      v = new JsonValue();
      v.kind = JsonKind.Bool;
    } else if (this.literal("null")) {
      v = new JsonValue();
    } else return this.fail(`unexpected character '${String.fromCharCode(c)}'`);
    if (v === null) return null;
    v.start = start;
    v.end = this.i;
    return v;
  }

  private literal(word: string): bool {
    const len = word.length;
    if (this.i + len > this.n) return false;
    for (let k = 0; k < len; k++) {
      if (<i32>load<u8>(this.p + <usize>(this.i + k)) != word.charCodeAt(k)) return false;
    }
    this.i += len;
    return true;
  }

  private object(depth: i32): JsonValue | null {
    this.i++; // {
    const v = new JsonValue();
    v.kind = JsonKind.Object;
    const keys = new Array<string>();
    const vals = new Array<JsonValue>();
    v.keys = keys;
    v.vals = vals;
    this.ws();
    if (this.i < this.n && this.peek() == 0x7d) {
      this.i++;
      return v;
    }
    while (true) {
      this.ws();
      if (this.i >= this.n) return this.fail("unexpected end of input in object");
      if (this.peek() != 0x22) return this.fail("expected a string key in object");
      const k = this.string();
      if (k === null) return null;
      this.ws();
      if (this.i >= this.n || this.peek() != 0x3a) return this.fail("expected ':' after object key");
      this.i++;
      this.ws();
      const m = this.value(depth + 1);
      if (m === null) return null;
      keys.push(k);
      vals.push(m);
      this.ws();
      if (this.i >= this.n) return this.fail("unexpected end of input in object");
      const c = this.peek();
      this.i++;
      if (c == 0x2c) continue;
      if (c == 0x7d) return v;
      this.i--;
      return this.fail("expected ',' or '}' in object");
    }
  }

  private array(depth: i32): JsonValue | null {
    this.i++; // [
    const v = new JsonValue();
    v.kind = JsonKind.Array;
    const items = new Array<JsonValue>();
    v.items = items;
    this.ws();
    if (this.i < this.n && this.peek() == 0x5d) {
      this.i++;
      return v;
    }
    while (true) {
      this.ws();
      const m = this.value(depth + 1);
      if (m === null) return null;
      items.push(m);
      this.ws();
      if (this.i >= this.n) return this.fail("unexpected end of input in array");
      const c = this.peek();
      this.i++;
      if (c == 0x2c) continue;
      if (c == 0x5d) return v;
      this.i--;
      return this.fail("expected ',' or ']' in array");
    }
  }

  private number(): JsonValue | null {
    const start = this.i;
    if (this.peek() == 0x2d) this.i++;
    if (this.i >= this.n) return this.fail("invalid number");
    let c = this.peek();
    let intPart: f64 = 0;
    let simple = true;
    if (c == 0x30) {
      this.i++;
    } else if (c >= 0x31 && c <= 0x39) {
      while (this.i < this.n) {
        c = this.peek();
        if (c < 0x30 || c > 0x39) break;
        intPart = intPart * 10 + <f64>(c - 0x30);
        this.i++;
      }
    } else return this.fail("invalid number");
    if (this.i < this.n && this.peek() == 0x2e) {
      simple = false;
      this.i++;
      let digits = 0;
      while (this.i < this.n) {
        c = this.peek();
        if (c < 0x30 || c > 0x39) break;
        this.i++;
        digits++;
      }
      if (digits == 0) return this.fail("invalid number: digit expected after '.'");
    }
    if (this.i < this.n && (this.peek() == 0x65 || this.peek() == 0x45)) {
      simple = false;
      this.i++;
      if (this.i < this.n && (this.peek() == 0x2b || this.peek() == 0x2d)) this.i++;
      let digits = 0;
      while (this.i < this.n) {
        c = this.peek();
        if (c < 0x30 || c > 0x39) break;
        this.i++;
        digits++;
      }
      if (digits == 0) return this.fail("invalid number: digit expected in exponent");
    }
    const v = new JsonValue();
    v.kind = JsonKind.Number;
    if (simple && this.i - start <= 15) {
      v.n = load<u8>(this.p + <usize>start) == 0x2d ? -intPart : intPart;
    } else {
      v.n = parseFloat(String.UTF8.decodeUnsafe(this.p + <usize>start, <usize>(this.i - start)));
    }
    return v;
  }

  /** Reads a string at the cursor (which is on the opening quote); returns it decoded. */
  private string(): string | null {
    this.i++; // opening quote
    const start = this.i;
    let escaped = false;
    while (true) {
      if (this.i >= this.n) {
        this.fail("unterminated string");
        return null;
      }
      const c = this.peek();
      if (c == 0x22) break;
      if (c == 0x5c) {
        escaped = true;
        this.i += 2;
        continue;
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      this.i++;
    }
    if (this.i > this.n) {
      this.fail("unterminated string");
      return null;
    }
    const end = this.i;
    this.i++; // closing quote
    if (!escaped) return String.UTF8.decodeUnsafe(this.p + <usize>start, <usize>(end - start));
    return this.unescape(start, end);
  }

  private unescape(start: i32, end: i32): string | null {
    // Decode segment by segment: raw UTF-8 runs via the runtime decoder, escapes by hand.
    const parts = new Array<string>();
    let run = start;
    let k = start;
    while (k < end) {
      const c = <i32>load<u8>(this.p + <usize>k);
      if (c != 0x5c) {
        k++;
        continue;
      }
      if (k > run) parts.push(String.UTF8.decodeUnsafe(this.p + <usize>run, <usize>(k - run)));
      const e = <i32>load<u8>(this.p + <usize>(k + 1));
      k += 2;
      if (e == 0x22) parts.push('"');
      else if (e == 0x5c) parts.push("\\");
      else if (e == 0x2f) parts.push("/");
      else if (e == 0x62) parts.push("\b");
      else if (e == 0x66) parts.push("\f");
      else if (e == 0x6e) parts.push("\n");
      else if (e == 0x72) parts.push("\r");
      else if (e == 0x74) parts.push("\t");
      else if (e == 0x75) {
        const u = hex4(this.p, k, end);
        if (u < 0) {
          this.i = k;
          this.fail("invalid \\u escape");
          return null;
        }
        k += 4;
        const lo = lowSurrogateAfter(this.p, u, k, end);
        if (lo < 0) {
          this.i = k - 6;
          this.fail("lone surrogate in \\u escape (not a Unicode character)");
          return null;
        }
        if (lo > 0) {
          k += 6;
          parts.push(String.fromCharCodes([u, lo]));
        } else parts.push(String.fromCharCode(u));
      } else {
        this.i = k - 1;
        this.fail("invalid escape character");
        return null;
      }
      run = k;
    }
    if (end > run) parts.push(String.UTF8.decodeUnsafe(this.p + <usize>run, <usize>(end - run)));
    return parts.join("");
  }
}
