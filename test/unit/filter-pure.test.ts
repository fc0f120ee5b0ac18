// Unit tests of the filter's pure AssemblyScript modules (JSON, request parsing, table validation,
// the routing pipeline), compiled to wasm from test/assembly/entry.ts and called through the
// ESM bindings asc generates. as-pect is not used: see README "Testing".
import { test } from "node:test";
import assert from "node:assert/strict";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pure = (await import(pathToFileURL(join(here, "../../../test/pure.js")).href)) as Record<string, (...a: unknown[]) => any>;

test("JSON parser accepts RFC 8259 values and reports spans", () => {
  const obj = `{"a":[1,2,{"b":null}],"c":true}`;
  assert.equal(pure.jsonParse(obj), `ok object 0-${obj.length}`);
  assert.equal(pure.jsonParse(`  [ ]  `), "ok array 2-5");
  assert.equal(pure.jsonParse(`-12.5e2`), "ok number:-1250.0");
  assert.equal(pure.jsonParse(`0`), "ok number:0.0");
  assert.equal(pure.jsonParse(`"a\\n\\u00e9\\ud83d\\ude00\\"\\\\\\/"`), "ok string:a\né😀\"\\/");
  assert.equal(pure.jsonParse(`"héllo ✓"`), "ok string:héllo ✓");
});

test("JSON parser rejects malformed input with position and reason", () => {
  const cases: [string, RegExp][] = [
    [`{bad`, /^error@1 expected a string key/],
    [`{"a":1,}`, /^error@7 expected a string key/],
    [`[1 2]`, /^error@3 expected ',' or '\]'/],
    [`"abc`, /unterminated string/],
    [`01`, /unexpected data after/],
    [`1.`, /digit expected after '.'/],
    [`"\\x"`, /invalid escape/],
    [`"\\u12g4"`, /invalid \\u escape/],
    [`"a\u0001"`, /control character/],
    [`nul`, /unexpected character/],
    [``, /unexpected end of input/],
    [`{"a":1} x`, /unexpected data after/],
    ["[".repeat(100) + "]".repeat(100), /nesting deeper than 64/],
  ];
  for (const [input, re] of cases) assert.match(pure.jsonParse(input), re, input);
});

test("jsonQuote escapes what JSON requires", () => {
  assert.equal(pure.quote(`a"b\\c\nd\u0001`), `"a\\"b\\\\c\\nd\\u0001"`);
  assert.equal(JSON.parse(pure.quote(`line\tbreak "q" é`)), `line\tbreak "q" é`);
});

test("chat and completions requests: fields routing needs", () => {
  const ok = JSON.parse(pure.request(`{"model":"/models/Qwen3-32B","messages":[{"role":"user","content":"hi"}],"stream":true}`, false));
  assert.deepEqual(ok, { status: 0, model: "/models/Qwen3-32B", stream: true, modelStart: 9, modelEnd: 28 });
  const parts = JSON.parse(pure.request(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`, false));
  assert.equal(parts.status, 0);
  const comp = JSON.parse(pure.request(`{"model":"m","prompt":["a","b"],"max_tokens":3}`, true));
  assert.equal(comp.status, 0);
});

test("bad requests get 400 with the offending parameter", () => {
  const bad: [string, boolean, string, RegExp][] = [
    [`{bad`, false, "", /invalid JSON body at byte 1/],
    [`[]`, false, "", /must be a JSON object, got array/],
    [`{"messages":[]}`, false, "model", /missing required parameter: 'model'/],
    [`{"model":5,"messages":[{"role":"user","content":"x"}]}`, false, "model", /'model' must be a string, got number/],
    [`{"model":"","messages":[{"role":"user","content":"x"}]}`, false, "model", /must not be empty/],
    [`{"model":"m"}`, false, "messages", /missing required parameter: 'messages'/],
    [`{"model":"m","messages":"hi"}`, false, "messages", /must be an array/],
    [`{"model":"m","messages":[]}`, false, "messages", /at least one message/],
    [`{"model":"m","messages":[{"content":"x"}]}`, false, "messages[0].role", /role' must be a string/],
    [`{"model":"m","messages":[{"role":"user","content":5}]}`, false, "messages[0].content", /content' must be a string/],
    [`{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`, false, "stream", /'stream' must be a boolean/],
    [`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`, false, "max_tokens", /non-negative integer/],
    [`{"model":"m"}`, true, "prompt", /missing required parameter: 'prompt'/],
    [`{"model":"m","prompt":{}}`, true, "prompt", /must be a string or an array/],
  ];
  for (const [body, completions, param, re] of bad) {
    const r = JSON.parse(pure.request(body, completions));
    assert.equal(r.status, 400, body);
    assert.equal(r.param, param, body);
    assert.match(r.message, re, body);
  }
});

test("OpenAI-shaped error bodies", () => {
  const e = JSON.parse(pure.error(404, "The model `x` does not exist", "model_not_found", "model"));
  assert.deepEqual(e, { error: { message: "The model `x` does not exist", type: "invalid_request_error", param: "model", code: "model_not_found" } });
  assert.equal(JSON.parse(pure.error(503, "no table", "no_table", "")).error.param, null);
  assert.equal(JSON.parse(pure.error(429, "full", "queue_full", "")).error.type, "rate_limit_exceeded");
});

test("plugin configuration is validated at load", () => {
  assert.equal(pure.config(""), "ok mode=0 maxBody=1048576 weights=2.0,2.0,2.0");
  assert.equal(pure.config(`{"mode":"control","token":"0123456789abcdef"}`), "ok mode=1 maxBody=1048576 weights=2.0,2.0,2.0");
  assert.match(pure.config(`{"mode":"control","token":"short"}`), /token of at least 16/);
  assert.match(pure.config(`{"mode":"edge"}`), /mode must be/);
  assert.match(pure.config(`{"maxBodyBytes":10}`), /maxBodyBytes must be in/);
  assert.match(pure.config(`{"weights":{"prefix":1}}`), /unknown weight "prefix"/);
  assert.match(pure.config(`{"colour":"red"}`), /unknown configuration key "colour"/);
  assert.equal(pure.config(`{"weights":{"queue":0,"inFlight":5}}`), "ok mode=0 maxBody=1048576 weights=0.0,2.0,5.0");
});

test("endpoint addresses", () => {
  for (const a of ["127.0.0.1:8000", "10.0.0.255:1", "[::1]:8000", "[fd00::1]:65535"]) assert.equal(pure.address(a), true, a);
  for (const a of ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "256.0.0.1:80", "host:80", "1.2.3:80", ":80", "[]:80", "1.2.3.4:8a"]) assert.equal(pure.address(a), false, a);
});

function ep(slot: number, name: string, extra: Record<string, unknown> = {}) {
  return { slot, name, address: `127.0.0.1:${8000 + slot}`, ready: true, role: "both", waiting: 0, running: 0, kvUsage: 0, loras: [], scrapeAgeMs: 5, ...extra };
}
function tableJson(endpoints: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    version: 1, generation: 10, builtAtMs: 1000, stalenessMs: 2000,
    pools: [{ id: "default/pool", strategy: "DEFAULT", runtime: "vllm", prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000 },
      queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000 }, endpoints }],
    models: [{ name: "m", pool: "default/pool", criticality: "Critical", targets: [{ name: "m", weight: 100 }] }],
    ...extra,
  });
}

test("table validation names the bad field", () => {
  assert.equal(pure.table(tableJson([ep(0, "a"), ep(1, "b")])), "ok pools=1 models=1 endpoints=2");
  const bad: [string, RegExp][] = [
    [`{`, /invalid JSON/],
    [JSON.stringify({ version: 2, generation: 1, builtAtMs: 0, stalenessMs: 0, pools: [], models: [] }), /unsupported version 2/],
    [tableJson([ep(0, "a"), ep(0, "b")]), /endpoints\[1\]\.slot: slot 0 used twice/],
    [tableJson([ep(0, "a", { address: "nowhere" })]), /endpoints\[0\]\.address: must be IP:port/],
    [tableJson([ep(0, "a", { kvUsage: 1.5 })]), /kvUsage: must be in \[0, 1\]/],
    [tableJson([ep(0, "a", { ready: "yes" })]), /ready: must be a boolean, got string/],
    [tableJson([ep(5000, "a")]), /slot: must be in \[0, 4095\]/],
    [tableJson([ep(0, "a", { role: "leader" })]), /role: must be both, prefill or decode/],
    [tableJson([], { models: [{ name: "m", pool: "nope", criticality: "Critical", targets: [] }] }), /models\[0\]\.pool: unknown pool "nope"/],
    [tableJson([], { models: [{ name: "m", pool: "default/pool", criticality: "Urgent", targets: [] }] }), /criticality: must be Critical, Standard or Sheddable/],
    [tableJson([], { generation: 0 }), /generation: must be in/],
  ];
  for (const [body, re] of bad) assert.match(pure.table(body), re, body);
});

function counts(n: number, f: () => string): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) { const k = f(); m.set(k, (m.get(k) ?? 0) + 1); }
  return m;
}

test("DEFAULT: least in-flight wins, ties are broken at random", () => {
  assert.equal(pure.loadTable(tableJson([ep(0, "a"), ep(1, "b"), ep(2, "c")])), "");
  pure.seed(7n);
  assert.equal(pure.route("m", "3,1,2", true, 2, 2, 2), "b");
  assert.equal(pure.route("m", "0,5,5", true, 2, 2, 2), "a");
  const tie = counts(3000, () => pure.route("m", "1,1,4", true, 2, 2, 2));
  assert.deepEqual([...tie.keys()].sort(), ["a", "b"]);
  assert.ok(Math.abs(tie.get("a")! - 1500) < 150, `ties split evenly: ${[...tie]}`);
  assert.equal(pure.route("nope", "", true, 2, 2, 2), "!unknown-model");
});

test("DEFAULT: waiting queue and KV use count while fresh, not when stale", () => {
  pure.loadTable(tableJson([ep(0, "a", { waiting: 9, kvUsage: 0.9 }), ep(1, "b", { waiting: 0, kvUsage: 0.1 }), ep(2, "c", { waiting: 4, kvUsage: 0.5 })]));
  assert.equal(pure.route("m", "", true, 2, 2, 2), "b");
  // Gateway in-flight outweighs one scraped signal, not both.
  assert.equal(pure.route("m", "0,3,3", true, 2, 2, 2), "b");
  // Stale table: scraped load ignored, only in-flight counts.
  assert.equal(pure.route("m", "0,3,3", false, 2, 2, 2), "a");
  // Weights are honoured: queue only.
  pure.loadTable(tableJson([ep(0, "a", { waiting: 1, kvUsage: 0.9 }), ep(1, "b", { waiting: 5, kvUsage: 0 })]));
  assert.equal(pure.route("m", "", true, 1, 0, 0), "a");
  assert.equal(pure.route("m", "", true, 0, 1, 0), "b");
});

test("not-ready and role-bound endpoints are never picked", () => {
  pure.loadTable(tableJson([ep(0, "a", { ready: false }), ep(1, "b", { role: "prefill" }), ep(2, "c", { waiting: 50, kvUsage: 1 })]));
  const picks = counts(200, () => pure.route("m", "9,9,9", true, 2, 2, 2));
  assert.deepEqual([...picks], [["c", 200]]);
  pure.loadTable(tableJson([ep(0, "a", { ready: false })]));
  assert.equal(pure.route("m", "", true, 2, 2, 2), "");
});
