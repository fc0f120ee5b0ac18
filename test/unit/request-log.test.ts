// The "Request Handled" line: written as UTF-8 bytes into a reused buffer (json-line-writer.ts), it
// must stay byte for byte the line the filter built by string concatenation before (operators and
// the e2e tests parse it). Compared over varied records: escapes, non-ASCII, lone surrogates,
// numbers of every sign and size, every optional part, every prefix score k/1000.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pure } from "./pure.js";

test("the Request Handled line's bytes equal the string-built reference's", () => {
  for (const seed of [1, 2, 3]) assert.equal(pure.requestLogMatchesReference(seed, 3000), "");
});
