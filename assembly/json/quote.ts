// JSON string quoting for what the filter writes (errors, log lines, answers).
/** JSON string literal (with quotes) for a log line or an error body. */
export function jsonQuote(s: string): string {
  let needs = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c == 0x22 || c == 0x5c) {
      needs = true;
      break;
    }
  }
  if (!needs) return `"${s}"`;
  const parts = new Array<string>();
  parts.push('"');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) parts.push('\\"');
    else if (c == 0x5c) parts.push("\\\\");
    else if (c == 0x0a) parts.push("\\n");
    else if (c == 0x0d) parts.push("\\r");
    else if (c == 0x09) parts.push("\\t");
    else if (c < 0x20) {
      const h = c.toString(16);
      parts.push(`\\u${"0000".substring(h.length)}${h}`);
    } else parts.push(String.fromCharCode(c));
  }
  parts.push('"');
  return parts.join("");
}
