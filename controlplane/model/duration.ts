// Go's time.ParseDuration, reproduced exactly, because the seed documents queue-ttl as a Go duration
// ("300ms, 1.5h, 2h45m; valid units ns, us (or µs), ms, s, m, h") and users copy values between the
// managed gateway and this one. Port of src/time/format.go (ParseDuration, leadingInt,
// leadingFraction): same grammar `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, same special case "0", same
// int64-nanosecond overflow rules, same float64 rounding for fractions. Arithmetic is on BigInt so the
// uint64 checks are exact.

const MAX_U63 = 1n << 63n; // 1<<63 as Go's uint64
const MAX_I64 = MAX_U63 - 1n;

const UNIT_NS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  "\u00b5s": 1_000n, // U+00B5 MICRO SIGN
  "\u03bcs": 1_000n, // U+03BC GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};

export class DurationError extends Error {
  override name = "DurationError";
}

const isDigit = (c: string) => c >= "0" && c <= "9";

/** Go's time.quote: like strconv.Quote for ASCII, but every byte of a non-ASCII or control character
 *  is written as \xhh (so messages match Go's byte for byte). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0x80 || cp < 0x20) {
      for (const b of new TextEncoder().encode(ch)) out += `\\x${b.toString(16).padStart(2, "0")}`;
    } else {
      if (ch === '"' || ch === "\\") out += "\\";
      out += ch;
    }
  }
  return `${out}"`;
}

/** Parses like Go's time.ParseDuration; returns nanoseconds (int64 range) or throws DurationError
 *  with Go's message ("time: invalid duration \"x\"", "time: missing unit ...", "time: unknown unit ..."). */
export function parseGoDuration(input: string): bigint {
  const orig = input;
  const invalid = () => new DurationError(`time: invalid duration ${goQuote(orig)}`);
  let s = input;
  let d = 0n;
  let neg = false;
  if (s !== "") {
    const c = s[0];
    if (c === "-" || c === "+") {
      neg = c === "-";
      s = s.slice(1);
    }
  }
  if (s === "0") return 0n; // special case: a bare zero needs no unit
  if (s === "") throw invalid();
  while (s !== "") {
    let v = 0n;
    let f = 0n;
    let scale = 1; // float64, as in Go: value = v + f/scale
    if (!(s[0] === "." || isDigit(s[0]))) throw invalid();
    // leadingInt: consume [0-9]*, error on uint64 overflow past 1<<63
    let i = 0;
    for (; i < s.length && isDigit(s[i]); i++) {
      if (v > MAX_U63 / 10n) throw invalid();
      v = v * 10n + BigInt(s.charCodeAt(i) - 48);
      if (v > MAX_U63) throw invalid();
    }
    const pre = i > 0;
    s = s.slice(i);
    let post = false;
    if (s !== "" && s[0] === ".") {
      s = s.slice(1);
      // leadingFraction: consume [0-9]*, silently stop accumulating precision on overflow
      let j = 0;
      let overflow = false;
      for (; j < s.length && isDigit(s[j]); j++) {
        if (overflow) continue;
        if (f > MAX_I64 / 10n) {
          overflow = true;
          continue;
        }
        const y = f * 10n + BigInt(s.charCodeAt(j) - 48);
        if (y > MAX_U63) {
          overflow = true;
          continue;
        }
        f = y;
        scale *= 10;
      }
      post = j > 0;
      s = s.slice(j);
    }
    if (!pre && !post) throw invalid(); // no digits, e.g. ".s" or "-.s"
    // The unit is everything up to the next '.' or digit (so "1 s" has unit " s": unknown).
    let k = 0;
    for (; k < s.length; k++) if (s[k] === "." || isDigit(s[k])) break;
    if (k === 0) throw new DurationError(`time: missing unit in duration ${goQuote(orig)}`);
    const u = s.slice(0, k);
    s = s.slice(k);
    const unit = UNIT_NS[u];
    if (unit === undefined) throw new DurationError(`time: unknown unit ${goQuote(u)} in duration ${goQuote(orig)}`);
    if (v > MAX_U63 / unit) throw invalid();
    v *= unit;
    if (f > 0n) {
      // Go: v += uint64(float64(f) * (float64(unit) / scale)); float64 keeps fractions of hours ns-accurate.
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)));
      if (v > MAX_U63) throw invalid();
    }
    d += v;
    if (d > MAX_U63) throw invalid();
  }
  if (neg) return -d;
  if (d > MAX_I64) throw invalid();
  return d;
}

/** Whole milliseconds for the table, rounding a positive sub-millisecond remainder up so a tiny
 *  positive duration never becomes 0 (which would mean "expire immediately"). */
export function nanosToMillisCeil(ns: bigint): number {
  const ms = ns / 1_000_000n;
  const rem = ns % 1_000_000n;
  return Number(rem > 0n ? ms + 1n : ms);
}

/** Convenience for CLI flags: a Go duration in (fractional) milliseconds. */
export function parseDurationMs(input: string): number {
  return Number(parseGoDuration(input)) / 1e6;
}
