// Unit tests of the filter's pure AssemblyScript modules (JSON, request parsing, table validation,
// the routing pipeline), compiled to wasm from test/assembly/entry.ts and called through the
// ESM bindings asc generates. as-pect is not used: see README "Testing".

import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const pure = (await import(pathToFileURL(join(here, "../../../test/pure.js")).href)) as Record<
  string,
  (...a: unknown[]) => any
>;

test("JSON parser accepts RFC 8259 values and reports spans", () => {
  const obj = `{"a":[1,2,{"b":null}],"c":true}`;
  assert.equal(pure.jsonParse(obj), `ok object 0-${obj.length}`);
  assert.equal(pure.jsonParse(`  [ ]  `), "ok array 2-5");
  assert.equal(pure.jsonParse(`-12.5e2`), "ok number:-1250.0");
  assert.equal(pure.jsonParse(`0`), "ok number:0.0");
  assert.equal(pure.jsonParse(`"a\\n\\u00e9\\ud83d\\ude00\\"\\\\\\/"`), 'ok string:a\né😀"\\/');
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

test("the request path's tape scanner agrees with the tree parser", () => {
  const good = [
    `{"a":[1,2,{"b":null}],"c":true}`,
    `  [ ]  `,
    `-12.5e2`,
    `0`,
    `"a\\n\\u00e9\\ud83d\\ude00\\"\\\\\\/"`,
    `"héllo ✓"`,
    `{"k":{"k":{"k":[false,null,"x"]}}}`,
    `[{},[],""]`,
  ];
  for (const g of good) {
    const tape = pure.tapeParse(g);
    const tree = pure.jsonParse(g);
    assert.ok(tape.startsWith("ok"), `${g}: ${tape}`);
    if (tree.startsWith("ok string") || tree.startsWith("ok number")) assert.equal(tape, tree);
    else assert.equal(tape.replace(/ entries=\d+$/, ""), tree, g);
  }
  assert.match(pure.tapeParse(`{"a":[1,2,{"b":null}],"c":true}`), /entries=10$/);
  const bad: [string, RegExp][] = [
    [`{bad`, /^error@1 expected a string key/],
    [`{"a":1,}`, /^error@7 expected a string key/],
    [`[1 2]`, /^error@3 expected ',' or '\]'/],
    [`"abc`, /unterminated string/],
    [`01`, /unexpected data after/],
    [`1.`, /digit expected after '.'/],
    [`1e`, /digit expected in exponent/],
    [`"\\x"`, /invalid escape/],
    [`"\\u12g4"`, /invalid \\u escape/],
    [`"a\u0001"`, /control character/],
    [`nul`, /unexpected character/],
    [`tru`, /unexpected character/],
    [`fals`, /unexpected character/],
    [``, /unexpected end of input/],
    [`{"a":1} x`, /unexpected data after/],
    [`{"a"}`, /expected ':'/],
    [`{"a":1`, /end of input in object/],
    [`[1,`, /unexpected end of input/],
    [`[1`, /end of input in array/],
    ["[".repeat(100) + "]".repeat(100), /nesting deeper than 64/],
  ];
  for (const [input, re] of bad) assert.match(pure.tapeParse(input), re, input);
});

test("jsonQuote escapes what JSON requires", () => {
  assert.equal(pure.quote(`a"b\\c\nd\u0001`), `"a\\"b\\\\c\\nd\\u0001"`);
  assert.equal(JSON.parse(pure.quote(`line\tbreak "q" é`)), `line\tbreak "q" é`);
});

test("chat and completions requests: fields routing needs", () => {
  const ok = JSON.parse(
    pure.request(`{"model":"/models/Qwen3-32B","messages":[{"role":"user","content":"hi"}],"stream":true}`, false),
  );
  assert.deepEqual(ok, { status: 0, model: "/models/Qwen3-32B", stream: true, modelStart: 9, modelEnd: 28 });
  const parts = JSON.parse(
    pure.request(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`, false),
  );
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
    [
      `{"model":"m","messages":[{"role":"user","content":5}]}`,
      false,
      "messages[0].content",
      /content' must be a string/,
    ],
    [
      `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`,
      false,
      "stream",
      /'stream' must be a boolean/,
    ],
    [
      `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":-1}`,
      false,
      "max_tokens",
      /non-negative integer/,
    ],
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
  assert.deepEqual(e, {
    error: {
      message: "The model `x` does not exist",
      type: "invalid_request_error",
      param: "model",
      code: "model_not_found",
    },
  });
  assert.equal(JSON.parse(pure.error(503, "no table", "no_table", "")).error.param, null);
  assert.equal(JSON.parse(pure.error(429, "full", "queue_full", "")).error.type, "rate_limit_exceeded");
});

test("plugin configuration is validated at load", () => {
  assert.equal(pure.config(""), "ok mode=0 maxBody=1048576 weights=2.0,2.0,2.0");
  assert.equal(
    pure.config(`{"mode":"control","token":"0123456789abcdef"}`),
    "ok mode=1 maxBody=1048576 weights=2.0,2.0,2.0",
  );
  assert.match(pure.config(`{"mode":"control","token":"short"}`), /token of at least 16/);
  assert.match(pure.config(`{"mode":"edge"}`), /mode must be/);
  assert.match(pure.config(`{"maxBodyBytes":10}`), /maxBodyBytes must be in/);
  assert.match(pure.config(`{"weights":{"bogus":1}}`), /unknown weight "bogus"/);
  assert.match(pure.config(`{"balanceBound":0.5}`), /balanceBound must be 0 \(off\) or at least 1/);
  assert.match(pure.config(`{"saturation":{"kvUsage":2}}`), /saturation.kvUsage must be in \[0, 1\]/);
  assert.match(pure.config(`{"colour":"red"}`), /unknown configuration key "colour"/);
  assert.equal(pure.config(`{"weights":{"queue":0,"inFlight":5}}`), "ok mode=0 maxBody=1048576 weights=0.0,2.0,5.0");
});

test("endpoint addresses", () => {
  for (const a of ["127.0.0.1:8000", "10.0.0.255:1", "[::1]:8000", "[fd00::1]:65535"])
    assert.equal(pure.address(a), true, a);
  for (const a of [
    "127.0.0.1",
    "127.0.0.1:0",
    "127.0.0.1:70000",
    "256.0.0.1:80",
    "host:80",
    "1.2.3:80",
    ":80",
    "[]:80",
    "1.2.3.4:8a",
  ])
    assert.equal(pure.address(a), false, a);
});

function ep(slot: number, name: string, extra: Record<string, unknown> = {}) {
  return {
    slot,
    name,
    address: `127.0.0.1:${8000 + slot}`,
    ready: true,
    role: "both",
    waiting: 0,
    running: 0,
    kvUsage: 0,
    loras: [],
    scrapeAgeMs: 5,
    ...extra,
  };
}
function tableJson(endpoints: unknown[], extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    version: 1,
    generation: 10,
    builtAtMs: 1000,
    stalenessMs: 2000,
    pools: [
      {
        id: "default/pool",
        strategy: "DEFAULT",
        runtime: "vllm",
        prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000 },
        queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000 },
        endpoints,
      },
    ],
    models: [{ name: "m", pool: "default/pool", criticality: "Critical", targets: [{ name: "m", weight: 100 }] }],
    ...extra,
  });
}

test("table validation names the bad field", () => {
  assert.equal(pure.table(tableJson([ep(0, "a"), ep(1, "b")])), "ok pools=1 models=1 endpoints=2");
  const bad: [string, RegExp][] = [
    [`{`, /invalid JSON/],
    [
      JSON.stringify({ version: 2, generation: 1, builtAtMs: 0, stalenessMs: 0, pools: [], models: [] }),
      /unsupported version 2/,
    ],
    [
      tableJson([ep(0, "a"), { ...ep(0, "b"), address: "127.0.0.1:9999" }]),
      /endpoints\[1\]\.slot: slot 0 used by 127.0.0.1:8000 and 127.0.0.1:9999/,
    ],
    [tableJson([ep(0, "a", { address: "nowhere" })]), /endpoints\[0\]\.address: must be IP:port/],
    [tableJson([ep(0, "a", { kvUsage: 1.5 })]), /kvUsage: must be in \[0, 1\]/],
    [tableJson([ep(0, "a", { ready: "yes" })]), /ready: must be a boolean, got string/],
    [tableJson([ep(5000, "a")]), /slot: must be in \[0, 4095\]/],
    [tableJson([ep(0, "a", { role: "leader" })]), /role: must be both, prefill or decode/],
    [
      tableJson([], { models: [{ name: "m", pool: "nope", criticality: "Critical", targets: [] }] }),
      /models\[0\]\.pool: unknown pool "nope"/,
    ],
    [
      tableJson([], { models: [{ name: "m", pool: "default/pool", criticality: "Urgent", targets: [] }] }),
      /criticality: must be Critical, Standard or Sheddable/,
    ],
    [tableJson([], { generation: 0 }), /generation: must be in/],
  ];
  for (const [body, re] of bad) assert.match(pure.table(body), re, body);
});

function counts(n: number, f: () => string): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const k = f();
    m.set(k, (m.get(k) ?? 0) + 1);
  }
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
  pure.loadTable(
    tableJson([
      ep(0, "a", { waiting: 9, kvUsage: 0.9 }),
      ep(1, "b", { waiting: 0, kvUsage: 0.1 }),
      ep(2, "c", { waiting: 4, kvUsage: 0.5 }),
    ]),
  );
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
  pure.loadTable(
    tableJson([ep(0, "a", { ready: false }), ep(1, "b", { role: "prefill" }), ep(2, "c", { waiting: 50, kvUsage: 1 })]),
  );
  const picks = counts(200, () => pure.route("m", "9,9,9", true, 2, 2, 2));
  assert.deepEqual([...picks], [["c", 200]]);
  pure.loadTable(tableJson([ep(0, "a", { ready: false })]));
  assert.equal(pure.route("m", "", true, 2, 2, 2), "");
});

test("XXH64 matches the reference vectors", () => {
  // Reference values of the xxHash specification's test vectors.
  assert.equal(pure.xxh64Hex("", 0n), "ef46db3751d8e999");
  assert.equal(pure.xxh64Hex("a", 0n), "d24ec4f1a98c6e5b");
  assert.equal(pure.xxh64Hex("abc", 0n), "44bc2cf5ad770999");
  assert.equal(pure.xxh64Hex("Nobody inspects the spammish repetition", 0n), "fbcea83c8a378bf1");
});

const sys = "You are a helpful assistant. ".repeat(12);
function chat(messages: { role: string; content: unknown }[], model = "m") {
  return JSON.stringify({ model, messages });
}

test("prompt blocks: a later turn's blocks begin with the earlier turn's", () => {
  const t1 = [
    { role: "system", content: sys },
    { role: "user", content: "Tell me about zork." },
  ];
  const t2 = [
    ...t1,
    { role: "assistant", content: "Zork is a text adventure. ".repeat(4) },
    { role: "user", content: "Open the mailbox." },
  ];
  const b1 = pure.blocks(chat(t1), true, 64, 128, "m").split(",");
  const b2 = pure.blocks(chat(t2), true, 64, 128, "m").split(",");
  assert.ok(b1.length >= 5 && b2.length > b1.length, `${b1.length} ${b2.length}`);
  // Only full blocks count, so every block of turn 1 is a prefix of turn 2's chain.
  assert.deepEqual(b2.slice(0, b1.length), b1);
  // Chained: the same 64 characters at a different position hash differently.
  const rep = pure.blocks(JSON.stringify({ model: "m", prompt: "x".repeat(64 * 3) }), false, 64, 128, "m").split(",");
  assert.equal(new Set(rep).size, 3);
});

test("prompt blocks: model and block size seed the chain; max blocks caps it; parts count", () => {
  const body = chat([{ role: "user", content: sys }]);
  assert.notEqual(
    pure.blocks(body, true, 64, 128, "a").split(",")[0],
    pure.blocks(body, true, 64, 128, "b").split(",")[0],
  );
  assert.notEqual(
    pure.blocks(body, true, 64, 128, "m").split(",")[0],
    pure.blocks(body, true, 32, 128, "m").split(",")[0],
  );
  assert.equal(pure.blocks(body, true, 16, 3, "m").split(",").length, 3);
  assert.equal(pure.blocks(chat([{ role: "user", content: "short" }]), true, 64, 128, "m"), "");
  // Content as parts hashes like the same text as a string.
  const asParts = chat([{ role: "user", content: [{ type: "text", text: sys }] }]);
  assert.equal(pure.blocks(asParts, true, 64, 128, "m"), pure.blocks(body, true, 64, 128, "m"));
  // A non-text part contributes its JSON, so different images differ.
  const img = (u: string) =>
    chat([{ role: "user", content: [{ type: "image_url", image_url: { url: u + "/".repeat(200) } }] }]);
  assert.notEqual(pure.blocks(img("http://a"), true, 64, 128, "m"), pure.blocks(img("http://b"), true, 64, 128, "m"));
  // Role matters.
  assert.notEqual(
    pure.blocks(chat([{ role: "system", content: sys }]), true, 64, 128, "m"),
    pure.blocks(body, true, 64, 128, "m"),
  );
});

function hexBlocks(n: number, salt: string): string {
  return pure.blocks(
    JSON.stringify({ model: "m", prompt: `${salt} `.repeat(Math.ceil((n * 64) / (salt.length + 1)) + 1) }),
    false,
    64,
    n,
    "m",
  );
}

test("PrefixIndex: longest chained match per endpoint in a logarithmic number of reads", () => {
  pure.indexReset(50000);
  const a = hexBlocks(40, "alpha");
  const aHashes = a.split(",");
  pure.indexRecord(aHashes.slice(0, 40).join(","), 0, 111, 1);
  pure.indexRecord(aHashes.slice(0, 10).join(","), 1, 222, 1);
  const reads0 = pure.indexReads();
  assert.equal(pure.indexMatch(a, "0:111,1:222,2:333"), "40,10,0");
  const reads = pure.indexReads() - reads0;
  assert.ok(reads <= 14, `two match levels over 40 blocks took ${reads} reads`);
  // Wrong tag (slot reused by another pod): no match.
  assert.equal(pure.indexMatch(a, "0:999"), "0");
  // A prompt nobody holds costs one read.
  const r1 = pure.indexReads();
  assert.equal(pure.indexMatch(hexBlocks(40, "beta"), "0:111,1:222"), "0,0");
  assert.equal(pure.indexReads() - r1, 1);
});

test("PrefixIndex: continuations of one shared prefix do not crowd each other out", () => {
  pure.indexReset(50000);
  // 40 conversations that share their first 8 blocks (a system prompt) and then diverge.
  const shared = "S".repeat(64 * 8);
  const conv = (i: number) =>
    pure.blocks(JSON.stringify({ model: "m", prompt: shared + `conversation ${i} `.repeat(40) }), false, 64, 20, "m");
  for (let i = 0; i < 40; i++) pure.indexRecord(conv(i), i % 4, 7, i + 1);
  for (let i = 0; i < 40; i++)
    assert.equal(pure.indexMatch(conv(i), `${i % 4}:7`), String(conv(i).split(",").length), `conversation ${i}`);
  // A new user of the same system prompt matches its 8 blocks on every pod that served it.
  const fresh = pure.blocks(
    JSON.stringify({ model: "m", prompt: shared + "a new user ".repeat(40) }),
    false,
    64,
    20,
    "m",
  );
  assert.equal(pure.indexMatch(fresh, "0:7,1:7,2:7,3:7"), "8,8,8,8");
});

test("PrefixIndex: bounded by capacity with least-recently-used replacement", () => {
  pure.indexReset(128); // 2 buckets x 64 entries
  for (let i = 0; i < 200; i++) pure.indexRecord(hexBlocks(16, `conv${i}`), i % 4, 7, i + 1);
  assert.ok(pure.indexEntries() <= 128, `entries ${pure.indexEntries()}`);
  // The newest conversation survives, the oldest was evicted.
  assert.equal(pure.indexMatch(hexBlocks(16, "conv199"), `${199 % 4}:7`), "16");
  assert.equal(pure.indexMatch(hexBlocks(16, "conv0"), "0:7"), "0");
  // Refreshing stamps writes each block once; re-recording at the same stamp writes nothing.
  const w = pure.indexWrites();
  pure.indexRecord(hexBlocks(16, "conv199"), 199 % 4, 7, 201);
  assert.equal(pure.indexWrites() - w, 16);
  pure.indexRecord(hexBlocks(16, "conv199"), 199 % 4, 7, 201);
  assert.equal(pure.indexWrites() - w, 16);
});

test("PREFIX_CACHE pipeline: affinity, saturation and balance guards, rendezvous for new prefixes", () => {
  const eps = [ep(0, "a"), ep(1, "b"), ep(2, "c"), ep(3, "d")];
  pure.loadTable(tableJson(eps));
  pure.indexReset(50000);
  const conv = hexBlocks(20, "conversation-one");
  const first = pure.routePrefix("m", conv, "", 1.25, 0.5);
  const [pod, matched] = first.split("/");
  assert.equal(matched, "0");
  // The same new prefix always picks the same pod by rendezvous, even with a fresh index
  // (another gateway replica).
  pure.indexReset(50000);
  assert.equal(pure.routePrefix("m", conv, "", 1.25, 0.5), first);
  // Later turn: affinity wins over a small load difference.
  const slotOf = (name: string) => ["a", "b", "c", "d"].indexOf(name);
  const load = [0, 0, 0, 0];
  load[slotOf(pod)] = 1;
  assert.equal(pure.routePrefix("m", conv, load.join(","), 1.25, 0.5), `${pod}/20`);
  // 6 in flight of 7 total across 4 pods (capacity ceil(1.25*8/4)+3 = 6): with the bound off,
  // affinity holds...
  const heavy = [0, 0, 0, 0];
  heavy[slotOf(pod)] = 6;
  heavy[(slotOf(pod) + 1) % 4] = 1;
  assert.equal(pure.routePrefix("m", conv, heavy.join(","), 0, 0.5).split("/")[0], pod);
  // ...over its balance bound of 1.25, affinity yields.
  assert.notEqual(pure.routePrefix("m", conv, heavy.join(","), 1.25, 0.5).split("/")[0], pod);
  // Saturated by its own queue: affinity yields.
  const sat = eps.map((e) => (e.name === pod ? { ...e, waiting: 6 } : e));
  pure.loadTable(tableJson(sat));
  assert.notEqual(pure.routePrefix("m", conv, "", 1.25, 0.5).split("/")[0], pod);
  // Different new conversations spread over the pods.
  pure.loadTable(tableJson(eps));
  pure.indexReset(50000);
  const seen = new Set<string>();
  for (let i = 0; i < 40; i++)
    seen.add(pure.routePrefix("m", hexBlocks(4, `new-conv-${i}`), "", 1.25, 0.5).split("/")[0]);
  assert.equal(seen.size, 4);
});
