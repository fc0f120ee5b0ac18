// Go's time.ParseDuration semantics, checked against answers Go itself gave (fixtures/go-parse-duration.json,
// produced by fixtures/go/parse_duration_golden.go) and, when `go` is on PATH, against Go live on
// random inputs.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  DurationError,
  goQuote,
  nanosToMillisCeil,
  parseDurationMs,
  parseGoDuration,
} from "../../controlplane/model/duration.js";

// Tests run from build/js/test/controlplane; fixtures stay in the source tree.
const repo = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const fixtures = join(repo, "test/controlplane/fixtures");

type GoResult = { in: string; ns?: string; err?: string };

function ours(input: string): GoResult {
  try {
    return { in: input, ns: parseGoDuration(input).toString() };
  } catch (e) {
    assert.ok(e instanceof DurationError, `unexpected error type for ${JSON.stringify(input)}: ${e}`);
    return { in: input, err: (e as Error).message };
  }
}

test("matches Go's ParseDuration on every golden input (values and error messages)", () => {
  const golden = JSON.parse(readFileSync(join(fixtures, "go-parse-duration.json"), "utf8")) as GoResult[];
  assert.ok(golden.length > 80);
  for (const g of golden) assert.deepEqual(ours(g.in), g, `input ${JSON.stringify(g.in)}`);
});

test("seed examples and units", () => {
  const ns = (s: string) => parseGoDuration(s);
  assert.equal(ns("300ms"), 300_000_000n);
  assert.equal(ns("1.5h"), 5_400_000_000_000n);
  assert.equal(ns("2h45m"), 9_900_000_000_000n);
  assert.equal(ns("30s"), 30_000_000_000n);
  assert.equal(ns("1us"), 1000n);
  assert.equal(ns("1\u00b5s"), 1000n); // micro sign
  assert.equal(ns("1\u03bcs"), 1000n); // greek mu
  assert.equal(ns("-1m"), -60_000_000_000n);
  assert.equal(ns("+1h"), 3_600_000_000_000n);
  assert.equal(ns("0"), 0n);
  assert.equal(ns("9223372036854775807ns"), 9223372036854775807n);
  assert.equal(ns("-9223372036854775808ns"), -9223372036854775808n);
  assert.throws(() => ns("9223372036854775808ns"), /invalid duration/);
  assert.throws(() => ns("1"), /missing unit/);
  assert.throws(() => ns("1d"), /unknown unit "d"/);
  assert.throws(() => ns(""), /invalid duration ""/);
  assert.throws(() => ns(" 1s"), /invalid duration/);
  assert.throws(() => ns("1S"), /unknown unit "S"/);
});

test("goQuote escapes like Go's time.quote", () => {
  assert.equal(goQuote("1µs"), '"1\\xc2\\xb5s"');
  assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
  assert.equal(goQuote("\n"), '"\\x0a"');
});

test("millisecond conversions round sub-millisecond remainders up", () => {
  assert.equal(nanosToMillisCeil(30_000_000_000n), 30000);
  assert.equal(nanosToMillisCeil(1n), 1);
  assert.equal(nanosToMillisCeil(1_000_001n), 2);
  assert.equal(nanosToMillisCeil(0n), 0);
  assert.equal(parseDurationMs("100ms"), 100);
  assert.equal(parseDurationMs("1.5s"), 1500);
});

test("agrees with a live Go toolchain on random inputs (skipped without go)", { timeout: 60_000 }, (t) => {
  const probe = spawnSync("go", ["version"], { encoding: "utf8" });
  if (probe.status !== 0) return t.skip("go is not on PATH");
  // Deterministic pseudo-random generator so a failure can be reproduced.
  let seed = 0x9e3779b9;
  const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) >>> 0) % n;
  const pieces = [
    "0",
    "1",
    "9",
    "12",
    "007",
    ".",
    ".5",
    "5.",
    "999999999999",
    "9223372036854775807",
    "h",
    "m",
    "s",
    "ms",
    "us",
    "\u00b5s",
    "\u03bcs",
    "ns",
    "-",
    "+",
    "x",
    " ",
    "e",
  ];
  const inputs: string[] = [];
  for (let i = 0; i < 3000; i++) {
    let s = "";
    const len = 1 + rnd(6);
    for (let j = 0; j < len; j++) s += pieces[rnd(pieces.length)];
    inputs.push(s);
  }
  const run = spawnSync("go", ["run", join(fixtures, "go/parse_duration_golden.go")], {
    input: JSON.stringify(inputs),
    encoding: "utf8",
    timeout: 55_000,
  });
  if (run.status !== 0) return t.skip(`go run failed: ${run.stderr.slice(0, 300)}`);
  const theirs = JSON.parse(run.stdout) as GoResult[];
  assert.equal(theirs.length, inputs.length);
  let mismatches = 0;
  for (const g of theirs) {
    const o = ours(g.in);
    if (JSON.stringify(o) !== JSON.stringify(g)) {
      mismatches++;
      assert.deepEqual(o, g, `input ${JSON.stringify(g.in)}`);
    }
  }
  assert.equal(mismatches, 0);
});
