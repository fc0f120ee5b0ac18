// ASCII-only case for hostnames, header names and methods (all ASCII on the wire: IDNs travel as
// punycode). String#toLowerCase/toUpperCase would do too, but they bring AssemblyScript's Unicode
// case tables into the module, tens of kilobytes the filter's size budget has no room for (the
// chart ships the wasm in a ConfigMap).

/** `s` with A-Z lowered; `s` itself when it has none. */
export function asciiLower(s: string): string {
  if (!hasAsciiUpper(s)) return s;
  const b = String.UTF8.encode(s);
  const p = changetype<usize>(b);
  for (let i = 0; i < b.byteLength; i++) {
    const c = <i32>load<u8>(p + <usize>i);
    if (isUpper(c)) store<u8>(p + <usize>i, <u8>(c + 32));
  }
  return String.UTF8.decode(b);
}

/** Some A-Z in `s`. */
export function hasAsciiUpper(s: string): bool {
  for (let i = 0; i < s.length; i++) if (isUpper(s.charCodeAt(i))) return true;
  return false;
}

/** Some a-z in `s`. */
export function hasAsciiLower(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return true;
  }
  return false;
}

function isUpper(c: i32): bool {
  return c >= 0x41 && c <= 0x5a;
}
