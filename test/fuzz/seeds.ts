// Starting bodies for the fuzzers: the hostile-input corpus's request bodies (test/e2e/), so the
// mutations begin from the cases a person thought of.

import { HOSTILE_CASES } from "../e2e/hostile-corpus.js";

export function corpusSeeds(maxBytes: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of HOSTILE_CASES) {
    const b = Array.isArray(c.bytes) ? Buffer.concat(c.bytes) : c.bytes;
    const i = b.indexOf("\r\n\r\n");
    const body = i >= 0 ? b.subarray(i + 4) : b;
    if (body.length > 0 && body.length <= maxBytes) out.push(body);
  }
  return out;
}
