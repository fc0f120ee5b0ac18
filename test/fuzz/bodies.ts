// Seeded generator of request bodies for fuzzing the filter's request parser: OpenAI-like requests
// whose every field may have the wrong type or an odd encoding (escapes, surrogates, huge numbers,
// deep nesting, duplicate keys), mutated at the byte level (bit flips, bytes that matter to a JSON
// or UTF-8 scanner, cuts, splices). The same seed gives the same bodies, in the same order.

import { makeRng } from "../sim/faults.js";

export interface FuzzBody {
  bytes: Buffer;
  /** Sent to /v1/completions (else /v1/chat/completions). */
  completions: boolean;
}

export interface BodyGeneratorOptions {
  seed: number;
  /** Bodies to mutate (e.g. the hostile corpus); generated ones join them as the run goes. */
  seeds?: Buffer[];
  /** Largest body produced (bytes); default 256 KiB. */
  maxBytes?: number;
}

/** Bytes that change the meaning of what a JSON or UTF-8 scanner reads. */
const INTERESTING_BYTES = [
  0x00, 0x09, 0x0a, 0x0d, 0x1f, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x39, 0x3a, 0x45, 0x5b, 0x5c, 0x5d, 0x65,
  0x66, 0x6e, 0x74, 0x75, 0x7b, 0x7d, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5,
  0xfe, 0xff,
];
const INTERESTING_TOKENS = [
  '"',
  "\\",
  "\\u",
  "\\ud800",
  "\\udfff",
  "\\ud83d\\ude00",
  "\\u0000",
  "\\/",
  '\\"',
  "1e999",
  "-0",
  "1e-999",
  "9007199254740993",
  "[[[[[[[[",
  "]]]]",
  "{{",
  "}}",
  "null",
  "true",
  "false",
  ":",
  ",",
  '":',
  '"model":',
  '"stream":true,',
  '"messages":[',
  '"prompt":',
  "\ufeff",
  "\u{10ffff}",
  "😀",
];
const KEYS = ["model", "messages", "prompt", "stream", "max_tokens", "stream_options", "temperature", "n", "user"];
const ROLES = ["user", "system", "assistant", "tool", "developer", ""];
const MODELS = [
  "/models/Qwen3-32B",
  "/models/Qwen3-32B",
  "/models/Qwen3-32B",
  "/models/unknown",
  "",
  "m",
  "/models/Qwen3-32B\u0000",
];

export function bodyGenerator(o: BodyGeneratorOptions): () => FuzzBody {
  const rng = makeRng(o.seed);
  const maxBytes = o.maxBytes ?? 256 * 1024;
  const pool: Buffer[] = [...(o.seeds ?? [])];
  const int = (n: number) => Math.floor(rng() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;
  const chance = (p: number) => rng() < p;

  function string(): string {
    const r = int(10);
    if (r === 0) return "";
    if (r === 1) return pick(INTERESTING_TOKENS);
    if (r === 2) return "x".repeat(int(4) === 0 ? int(70000) : int(40));
    if (r === 3) return String.fromCharCode(...Array.from({ length: int(12) }, () => int(0x10000)));
    if (r === 4) return String.fromCodePoint(...Array.from({ length: int(6) }, () => int(0x110000)));
    return pick(["Hello, this is a test", "Once upon a time", "漢字かな", "emoji 😀 here", "tab\tand\nnewline"]);
  }

  /** JSON text of a string, sometimes with needless escapes (the scanner must decode them). */
  function quote(s: string): string {
    if (!chance(0.2)) return JSON.stringify(s);
    let out = '"';
    for (const ch of s) {
      const c = ch.codePointAt(0)!;
      if (c > 0xffff || !chance(0.5)) out += JSON.stringify(ch).slice(1, -1);
      else {
        const hex = c.toString(16).padStart(4, "0");
        out += `\\u${chance(0.5) ? hex : hex.toUpperCase()}`;
      }
    }
    return `${out}"`;
  }

  function number(): string {
    return pick([
      "0",
      "2",
      "-1",
      "1.5",
      "2.0",
      "1e3",
      "1E400",
      "-0",
      "123456789012345678901234567890",
      "0.0000001",
      "4294967296",
      String(int(100000)),
    ]);
  }

  function value(depth: number): string {
    const r = int(depth > 6 ? 5 : 8);
    if (r === 0) return "null";
    if (r === 1) return chance(0.5) ? "true" : "false";
    if (r === 2) return number();
    if (r <= 4) return quote(string());
    if (r === 5) return `[${Array.from({ length: int(4) }, () => value(depth + 1)).join(",")}]`;
    if (r === 6) return object(Array.from({ length: int(4) }, () => [string(), value(depth + 1)]));
    const d = int(4) === 0 ? 40 + int(60) : int(8);
    return "[".repeat(d) + "]".repeat(d);
  }

  function object(members: [string, string][]): string {
    const ws = () => (chance(0.1) ? pick([" ", "\n", "\t", "\r\n  "]) : "");
    return `{${members.map(([k, v]) => `${ws()}${quote(k)}${ws()}:${ws()}${v}`).join(",")}${ws()}}`;
  }

  /** Mostly the right type, sometimes anything (how often: `rightType`, per body). */
  let rightType = 0.88;
  const typed = (right: () => string) => (chance(rightType) ? right() : value(2));

  function part(): string {
    if (chance(0.8))
      return object([
        ["type", typed(() => '"text"')],
        ["text", typed(() => quote(string()))],
      ]);
    return value(3);
  }

  function message(): string {
    const m: [string, string][] = [];
    if (chance(0.95)) m.push(["role", typed(() => quote(pick(ROLES)))]);
    if (chance(0.95))
      m.push([
        "content",
        typed(() => (chance(0.7) ? quote(string()) : `[${Array.from({ length: 1 + int(3) }, part).join(",")}]`)),
      ]);
    if (chance(0.05)) m.push(["name", value(3)]);
    return object(m);
  }

  function request(completions: boolean): string {
    const m: [string, string][] = [];
    if (chance(0.95)) m.push(["model", typed(() => quote(pick(MODELS)))]);
    if (completions) {
      if (chance(0.95))
        m.push([
          "prompt",
          typed(() =>
            chance(0.6)
              ? quote(string())
              : `[${Array.from({ length: int(4) }, () => (chance(0.5) ? number() : quote(string()))).join(",")}]`,
          ),
        ]);
    } else if (chance(0.95))
      m.push(["messages", typed(() => `[${Array.from({ length: int(5) }, message).join(",")}]`)]);
    if (chance(0.4)) m.push(["stream", typed(() => (chance(0.5) ? "true" : "false"))]);
    if (chance(0.6)) m.push(["max_tokens", typed(number)]);
    if (chance(0.2)) m.push(["stream_options", typed(() => object([["include_usage", typed(() => "true")]]))]);
    if (chance(0.2)) m.push([pick(KEYS), value(1)]);
    for (let i = int(3); i > 0; i--) if (chance(0.3)) m.push([string(), value(1)]);
    // Shuffle; sometimes a key twice.
    for (let i = m.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [m[i], m[j]] = [m[j]!, m[i]!];
    }
    if (m.length && chance(0.1)) m.push([m[int(m.length)]![0], value(1)]);
    return object(m);
  }

  function mutate(src: Buffer): Buffer {
    let b = Buffer.from(src);
    for (let n = 1 + int(6); n > 0; n--) {
      const at = b.length ? int(b.length) : 0;
      switch (int(9)) {
        case 0: // flip a bit
          if (b.length) b[at] = b[at]! ^ (1 << int(8));
          break;
        case 1: // a byte that matters
          if (b.length) b[at] = pick(INTERESTING_BYTES);
          break;
        case 2: // insert a token
          b = Buffer.concat([b.subarray(0, at), Buffer.from(pick(INTERESTING_TOKENS)), b.subarray(at)]);
          break;
        case 3: // delete a range
          b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(16)))]);
          break;
        case 4: // duplicate a range
          b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 1 + int(64)), b.subarray(at)]);
          break;
        case 5: // cut
          b = b.subarray(0, at);
          break;
        case 6: // splice with another body
          if (pool.length) {
            const other = pick(pool);
            b = Buffer.concat([b.subarray(0, at), other.subarray(int(other.length + 1))]);
          }
          break;
        case 7: // random bytes
          b = Buffer.concat([
            b.subarray(0, at),
            Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))),
            b.subarray(at),
          ]);
          break;
        default: // a high byte inside text (invalid or valid UTF-8)
          b = Buffer.concat([
            b.subarray(0, at),
            Buffer.from(pick(["\u00e9", "\u4e00", "😀"])).subarray(0, 1 + int(4)),
            b.subarray(at),
          ]);
      }
    }
    return b.length > maxBytes ? b.subarray(0, maxBytes) : b;
  }

  return () => {
    const completions = chance(0.3);
    const r = int(10);
    let bytes: Buffer;
    if (r < 4 || pool.length === 0) {
      // A quarter of the generated bodies are nearly valid, so the code past the type checks runs too.
      rightType = r === 0 ? 0.99 : 0.88;
      bytes = Buffer.from(request(completions));
      if (bytes.length > maxBytes) bytes = bytes.subarray(0, maxBytes);
      if (pool.length < 2000) pool.push(bytes);
      else if (chance(0.05)) pool[int(pool.length)] = bytes;
    } else if (r < 9) bytes = mutate(pick(pool));
    else bytes = Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    return { bytes, completions };
  };
}
