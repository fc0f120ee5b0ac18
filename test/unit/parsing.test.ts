// The filter's request and table parsing, error shapes and plugin configuration, compiled to wasm.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ep, pure, tableJson } from "./pure.js";

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

test("a \\u escape must stand for a character: lone surrogates are refused by the tape and the tree parser", () => {
  const good: [string, string][] = [
    [`"\\ud83d\\ude00"`, "😀"],
    [`"a\\uD83D\\uDE00b"`, "a😀b"],
    [`"\\udbff\\udfff"`, "\u{10ffff}"],
    [`"\\ud7ff\\ue000"`, "\ud7ff\ue000"],
  ];
  for (const [input, text] of good) {
    assert.equal(pure.tapeParse(input), `ok string:${text}`, input);
    assert.equal(pure.jsonParse(input), `ok string:${text}`, input);
  }
  // [input, byte offset of the lone surrogate's backslash]
  const lone: [string, number][] = [
    [`"\\ud800"`, 1],
    [`"x\\udc00y"`, 2],
    [`"\\ud800x"`, 1],
    [`"\\ud800\\n"`, 1],
    [`"\\ud800\\ud800"`, 1],
    [`"\\ude00\\ud83d"`, 1],
    [`"\\ud83d\\ude00\\ud83d"`, 13],
    [`"\\ud800\\u12"`, 1],
    [`{"k\\udfff":1}`, 3],
  ];
  for (const [input, at] of lone) {
    const want = new RegExp(`^error@${at} lone surrogate in \\\\u escape`);
    assert.match(pure.tapeParse(input), want, input);
    assert.match(pure.jsonParse(input), want, input);
  }
});

test('a backslash escapes exactly what JSON allows: " \\ / b f n r t (and u with four hex digits)', () => {
  for (let c = 0x20; c < 0x7f; c++) {
    const ch = String.fromCharCode(c);
    if (ch === "u") continue; // \u needs its digits: above
    const input = `"x\\${ch}y"`;
    let valid = true;
    let text = "";
    try {
      text = JSON.parse(input);
    } catch {
      valid = false;
    }
    if (valid) assert.equal(pure.tapeParse(input), `ok string:${text}`, input);
    else assert.match(pure.tapeParse(input), /^error@3 invalid escape character/, input);
  }
});

test("a string's escapes, quotes and non-ASCII characters are found wherever they fall in the scanner's 64-byte blocks", () => {
  // [JSON text of the piece, what it decodes to]
  const pieces: [string, string][] = [
    ["\\n", "\n"],
    ['\\"', '"'],
    ["\\\\", "\\"],
    ["\\u00e9", "é"],
    ["\\ud83d\\ude00", "😀"],
    ["é", "é"],
    ["✓", "✓"],
    ["😀", "😀"],
    ['\\n\\"\\n', '\n"\n'],
  ];
  for (const [json, text] of pieces) {
    for (let k = 0; k < 140; k++) {
      const a = "a".repeat(k);
      const b = "b".repeat(140 - k);
      const input = `"${a}${json}${b}${json}${json}"`;
      const want = `ok string:${a}${text}${b}${text}${text}`;
      assert.equal(pure.tapeParse(input), want, `${json} at ${k}`);
      // Not at the body's end: the 64-byte blocks, not the tail, find the closing quote.
      assert.equal(pure.tapeParse(`${input}${" ".repeat(70)}`), want, `${json} at ${k}, then spaces`);
    }
  }
  for (let k = 0; k < 140; k++) {
    const pad = " ".repeat(70);
    assert.match(
      pure.tapeParse(`"${"a".repeat(k)}\t"${pad}`),
      new RegExp(`^error@${k + 1} control character`),
      `tab at ${k}`,
    );
    assert.match(
      pure.tapeParse(`"${"a".repeat(k)}\\x"${pad}`),
      new RegExp(`^error@${k + 2} invalid escape character`),
      `\\x at ${k}`,
    );
    assert.match(
      pure.tapeParse(`"${"a".repeat(k)}\\n${pad}`),
      /^error@\d+ unterminated string/,
      `unterminated at ${k}`,
    );
  }
});

test("blocks dense with escapes (code, JSON tool output) decode as before, and any bad escape among them is found where it is", () => {
  // Several escapes per 64-byte block, quotes among them: the scanner checks such a block's escapes
  // together; a block it cannot (\u, \\, a bare control byte, an escape at its last byte) goes
  // byte by byte. Every offset puts the escapes at every place in a block.
  const unit = 'x = \\"a\\"\\n\\tif b:\\n';
  const decoded = JSON.parse(`"${unit}"`) as string;
  for (let k = 0; k < 70; k++) {
    const a = "a".repeat(k);
    const ok = `"${a}${unit.repeat(12)}"`;
    assert.equal(pure.tapeParse(ok), `ok string:${a}${decoded.repeat(12)}`, `dense at ${k}`);
    assert.equal(
      pure.tapeParse(`${ok}${" ".repeat(70)}`),
      `ok string:${a}${decoded.repeat(12)}`,
      `dense at ${k}, spaces`,
    );
    for (const [bad, at, what] of [
      ["\\x", 1, "invalid escape character"],
      ["\\\u0001", 1, "invalid escape character"],
      ["\u0001", 0, "control character"],
      ["\\u12G4", 2, "invalid \\\\u escape"],
    ] as const) {
      // The bad piece in the middle of the dense text, after valid escapes in its own block.
      const head = `"${a}${unit.repeat(3)}`;
      const input = `${head}${bad}${unit.repeat(3)}"${" ".repeat(70)}`;
      const pos = Buffer.byteLength(head) + at;
      assert.match(pure.tapeParse(input), new RegExp(`^error@${pos} ${what}`), `${JSON.stringify(bad)} at ${k}`);
    }
  }
});

test("a limited decode (the prefix hasher's) writes within the room it was given, at every offset and limit", () => {
  // unescapeInto copies plain text 16 bytes at a time and may write up to 15 bytes past its limit; an
  // escape right after such a copy must not add its character (up to 4 bytes: a surrogate pair) past
  // min(n, limit + 16), the scratch buffer's size. A first version of the constant-stride copy did.
  const pieces = ["\\ud83d\\ude00", "\\u20ac", "\\n", "\\u00e9"];
  for (const piece of pieces) {
    const decodedPiece = JSON.parse(`"${piece}"`) as string;
    for (let k = 0; k < 40; k++) {
      const text = `${"a".repeat(k)}${piece}${"b".repeat(40)}${piece}`;
      const whole = Buffer.from(JSON.parse(`"${text}"`) as string);
      for (let limit = 1; limit < 40; limit++) {
        const [written, decoded, spoiled] = pure.unescapeLimited(text, limit).split(" ");
        const m = Number(written);
        assert.equal(spoiled, "0", `${JSON.stringify(piece)} after ${k} bytes, limit ${limit}: wrote past its room`);
        assert.ok(m >= Math.min(limit, whole.length), `${m} bytes for limit ${limit}`);
        assert.ok(m <= limit + 16, `${m} bytes for limit ${limit}`);
        assert.equal(
          decoded,
          whole.subarray(0, Math.min(m, limit + 16)).toString(),
          `${decodedPiece} k ${k} limit ${limit}`,
        );
      }
    }
  }
});

test("numbers: plain integers read without allocating agree with parseFloat", () => {
  for (const [input, value] of [
    ["0", "0.0"],
    ["7", "7.0"],
    ["2147483647", "2147483647.0"],
    ["999999999999999", "999999999999999.0"],
    ["1234567890123456", "1234567890123456.0"],
    ["-12", "-12.0"],
    ["2.0", "2.0"],
    ["2E0", "2.0"],
    ["1e400", "Infinity"],
  ])
    assert.equal(pure.tapeParse(input), `ok number:${value}`, input);
});

test("strings must be well-formed UTF-8 (RFC 3629), in the SIMD run and in the tail alike", () => {
  const str = (bytes: string) => `22${bytes}22`; // "…"
  const pad = "61".repeat(20); // 20 x 'a': the bad byte lands past the first 16-byte block
  const good = ["c3a9", "e282ac", "f09f9880", "efbfbf", "f48fbfbf", "ed9fbf"]; // é € 😀 U+FFFF U+10FFFF U+D7FF
  for (const g of good) {
    assert.equal(pure.tapeParseHex(str(g)), "ok", g);
    assert.equal(pure.tapeParseHex(str(pad + g + pad)), "ok", `padded ${g}`);
  }
  const bad: [string, string][] = [
    ["80", "lone continuation byte"],
    ["c0af", "overlong '/'"],
    ["c1bf", "overlong"],
    ["e080af", "overlong 3-byte"],
    ["eda080", "UTF-16 surrogate D800"],
    ["f08080af", "overlong 4-byte"],
    ["f4908080", "past U+10FFFF"],
    ["f5808080", "lead byte F5"],
    ["ff", "byte FF"],
    ["c3", "truncated 2-byte (then the quote)"],
    ["e282", "truncated 3-byte"],
    ["c341", "continuation expected"],
  ];
  for (const [b, why] of bad) {
    assert.match(pure.tapeParseHex(str(b)), /^error@1 invalid UTF-8 in string$/, why);
    assert.match(pure.tapeParseHex(str(pad + b)), /^error@21 invalid UTF-8 in string$/, `padded: ${why}`);
  }
  // A request with invalid UTF-8 in its prompt is a 400, never sent on.
  const body = Buffer.concat([Buffer.from('{"model":"m","prompt":"hi '), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]);
  assert.match(pure.tapeParseHex(body.toString("hex")), /invalid UTF-8 in string/);
});

test("jsonQuote escapes what JSON requires", () => {
  assert.equal(pure.quote(`a"b\\c\nd\u0001`), `"a\\"b\\\\c\\nd\\u0001"`);
  assert.equal(JSON.parse(pure.quote(`line\tbreak "q" é`)), `line\tbreak "q" é`);
});

test("chat and completions requests: fields routing needs", () => {
  const ok = JSON.parse(
    pure.request(`{"model":"/models/Qwen3-32B","messages":[{"role":"user","content":"hi"}],"stream":true}`, false),
  );
  assert.deepEqual(ok, {
    status: 0,
    model: "/models/Qwen3-32B",
    stream: true,
    includeUsage: false,
    modelStart: 9,
    modelEnd: 28,
  });
  const parts = JSON.parse(
    pure.request(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`, false),
  );
  assert.equal(parts.status, 0);
  const comp = JSON.parse(pure.request(`{"model":"m","prompt":["a","b"],"max_tokens":3}`, true));
  assert.equal(comp.status, 0);
});

/** A chat body with these members over a valid one. */
const chatWith = (extra: Record<string, unknown>) =>
  JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }], ...extra });
/** A chat body whose first message's content is `content`. */
const chatContent = (content: unknown) => chatWith({ messages: [{ role: "user", content }] });
/** A completions body with this prompt. */
const completion = (prompt: unknown) => JSON.stringify({ model: "m", prompt });

test("bad requests get 400 with the offending parameter", () => {
  // [body, completions endpoint, param, message]
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
    [chatContent(5), false, "messages[0].content", /content' must be a string/],
    // lone surrogate escapes: no character, no UTF-8 form
    [chatContent("x").replace('"x"', '"x\\ud800y"'), false, "", /byte \d+: lone surrogate/],
    [chatContent("x").replace('"x"', '"\\udc00"'), false, "", /byte \d+: lone surrogate/],
    // content parts: the innermost path is the param, as in OpenAI's errors
    [chatContent([42]), false, "messages[0].content[0]", /must be an object \(a content part\), got number/],
    [chatContent([null]), false, "messages[0].content[0]", /got null/],
    [chatContent(["text"]), false, "messages[0].content[0]", /got string/],
    [chatContent([[{ type: "text", text: "x" }]]), false, "messages[0].content[0]", /got array/],
    [chatContent([{ text: "x" }]), false, "messages[0].content[0].type", /missing required parameter/],
    [chatContent([{ type: 42, text: "x" }]), false, "messages[0].content[0].type", /must be a string, got number/],
    [chatContent([{ type: "text" }]), false, "messages[0].content[0].text", /missing required parameter/],
    [chatContent([{ type: "text", text: 42 }]), false, "messages[0].content[0].text", /must be a string, got number/],
    [chatContent([{ type: "text", text: null }]), false, "messages[0].content[0].text", /got null/],
    [
      chatWith({
        messages: [
          { role: "user", content: "a" },
          { role: "user", content: [{ type: "text", text: "b" }, { type: "image_url" }, 7] },
        ],
      }),
      false,
      "messages[1].content[2]",
      /got number/,
    ],
    // stream and stream_options
    [chatWith({ stream: "yes" }), false, "stream", /'stream' must be a boolean/],
    [chatWith({ stream: true, stream_options: "yes" }), false, "stream_options", /object or null, got string/],
    [chatWith({ stream: true, stream_options: 1 }), false, "stream_options", /got number/],
    [chatWith({ stream: true, stream_options: [{ include_usage: true }] }), false, "stream_options", /got array/],
    [
      chatWith({ stream: true, stream_options: { include_usage: "yes" } }),
      false,
      "stream_options.include_usage",
      /must be a boolean, got string/,
    ],
    [chatWith({ stream_options: { include_usage: true } }), false, "stream_options", /only allowed when 'stream'/],
    [chatWith({ stream: false, stream_options: {} }), false, "stream_options", /only allowed when 'stream'/],
    [chatWith({ stream: null, stream_options: { include_usage: false } }), false, "stream_options", /only allowed/],
    // max_tokens and max_completion_tokens: integers from 1
    [chatWith({ max_tokens: -1 }), false, "max_tokens", /integer from 1 to 2147483647, got -1/],
    [chatWith({ max_tokens: 0 }), false, "max_tokens", /got 0$/],
    [chatWith({ max_tokens: 1.5 }), false, "max_tokens", /got 1.5$/],
    [chatWith({ max_tokens: "10" }), false, "max_tokens", /got string$/],
    [chatWith({ max_tokens: true }), false, "max_tokens", /got boolean$/],
    [chatWith({ max_tokens: [2] }), false, "max_tokens", /got array$/],
    [chatWith({ max_tokens: 2 }).replace('"max_tokens":2', '"max_tokens":1e400'), false, "max_tokens", /got 1e400$/],
    [chatWith({ max_tokens: 2 ** 31 }), false, "max_tokens", /got 2147483648$/],
    [chatWith({ max_tokens: 2 }).replace('"max_tokens":2', '"max_tokens":-0'), false, "max_tokens", /got -0$/],
    [chatWith({ max_completion_tokens: 0 }), false, "max_completion_tokens", /'max_completion_tokens' must be/],
    [`${chatWith({ max_tokens: 5 }).slice(0, -1)},"max_tokens":0}`, false, "max_tokens", /got 0$/],
    // completions prompts: one of four forms
    [`{"model":"m"}`, true, "prompt", /missing required parameter: 'prompt'/],
    [completion({}), true, "prompt", /must be a string, an array of strings, .* got object/],
    [completion(42), true, "prompt", /got number/],
    [completion([]), true, "prompt", /must not be an empty array/],
    [completion([null]), true, "prompt", /prompt\[0\] is null/],
    [completion([{}]), true, "prompt", /prompt\[0\] is object/],
    [completion([true]), true, "prompt", /prompt\[0\] is boolean/],
    [completion([-1]), true, "prompt", /prompt\[0\] is not a token id, got -1/],
    [completion([1.5]), true, "prompt", /prompt\[0\] is not a token id, got 1.5/],
    [completion([1, 2 ** 31]), true, "prompt", /prompt\[1\] is not a token id, got 2147483648/],
    [completion([[]]), true, "prompt", /prompt\[0\] is an empty array/],
    [completion([[1], [2, -3]]), true, "prompt", /prompt\[1\]\[1\] is not a token id, got -3/],
    [completion([[1], 2]), true, "prompt", /prompt\[1\] is not an array of token ids/],
    [completion(["a", 1]), true, "prompt", /prompt\[1\] is not a string/],
    [completion([1, "a"]), true, "prompt", /prompt\[1\] is not a token id, got string/],
    [completion([["a"]]), true, "prompt", /prompt\[0\]\[0\] is not a token id, got string/],
  ];
  for (const [body, completions, param, re] of bad) {
    const r = JSON.parse(pure.request(body, completions));
    assert.equal(r.status, 400, body);
    assert.equal(r.param, param, body);
    assert.match(r.message, re, body);
  }
});

test("valid requests at the edges are routed", () => {
  // [body, completions endpoint, what the filter reads: stream, includeUsage]
  const good: [string, boolean, { stream: boolean; includeUsage: boolean }][] = [
    [chatContent(null), false, { stream: false, includeUsage: false }],
    [chatContent(""), false, { stream: false, includeUsage: false }],
    [chatContent([]), false, { stream: false, includeUsage: false }],
    [
      chatContent([
        { type: "text", text: "a" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AA==" } },
        { type: "input_audio", input_audio: { data: "AA==", format: "wav" } },
        { type: "video_url", video_url: { url: "http://x/v.mp4" } },
      ]),
      false,
      { stream: false, includeUsage: false },
    ],
    // a type spelled with an escape is still "text" (and then needs its text)
    [
      chatContent([{ type: "text", text: "a" }]).replace('"type":"text"', '"type":"t\\u0065xt"'),
      false,
      { stream: false, includeUsage: false },
    ],
    [chatContent("x").replace('"x"', '"\\ud83d\\ude00"'), false, { stream: false, includeUsage: false }],
    [chatWith({ stream: true, stream_options: { include_usage: true } }), false, { stream: true, includeUsage: true }],
    [chatWith({ stream: true, stream_options: {} }), false, { stream: true, includeUsage: false }],
    [chatWith({ stream: true, stream_options: { include_usage: null } }), false, { stream: true, includeUsage: false }],
    [chatWith({ stream_options: null }), false, { stream: false, includeUsage: false }],
    [chatWith({ stream: null }), false, { stream: false, includeUsage: false }],
    [chatWith({ max_tokens: 1 }), false, { stream: false, includeUsage: false }],
    [chatWith({ max_tokens: 2 ** 31 - 1 }), false, { stream: false, includeUsage: false }],
    [chatWith({ max_tokens: null, max_completion_tokens: 5 }), false, { stream: false, includeUsage: false }],
    [
      chatWith({ max_tokens: 3 }).replace('"max_tokens":3', '"max_tokens":2.0'),
      false,
      { stream: false, includeUsage: false },
    ],
    [
      chatWith({ max_tokens: 3 }).replace('"max_tokens":3', '"max_tokens":2E0'),
      false,
      { stream: false, includeUsage: false },
    ],
    // the last duplicate wins, escaped keys are their decoded names
    [`${chatWith({ max_tokens: 0 }).slice(0, -1)},"max_tokens":4}`, false, { stream: false, includeUsage: false }],
    [chatWith({ stream: true }).replace('"stream"', '"str\\u0065am"'), false, { stream: true, includeUsage: false }],
    [completion("Once"), true, { stream: false, includeUsage: false }],
    [completion(["a", ""]), true, { stream: false, includeUsage: false }],
    [completion([0, 1, 2 ** 31 - 1]), true, { stream: false, includeUsage: false }],
    // 9 digits are judged from the scanner's digits-only flag, 10 from the value
    [completion([999999999, 1000000000, 10]), true, { stream: false, includeUsage: false }],
    [completion([1, 2]).replace("[1,2]", "[1.0,2E0,3e+0]"), true, { stream: false, includeUsage: false }],
    [completion([[1, 2], [3]]), true, { stream: false, includeUsage: false }],
  ];
  for (const [body, completions, want] of good) {
    const r = JSON.parse(pure.request(body, completions));
    assert.equal(r.status, 0, `${body}: ${r.message}`);
    assert.deepEqual({ stream: r.stream, includeUsage: r.includeUsage }, want, body);
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
  // The type by status: every 4xx is the client's, 503/504 a retry later, any other 5xx a server error.
  for (const [status, type] of [
    [400, "invalid_request_error"],
    [404, "invalid_request_error"],
    [405, "invalid_request_error"],
    [408, "invalid_request_error"],
    [409, "invalid_request_error"],
    [413, "invalid_request_error"],
    [431, "invalid_request_error"],
    [401, "authentication_error"],
    [429, "rate_limit_exceeded"],
    [500, "server_error"],
    [502, "server_error"],
    [503, "service_unavailable"],
    [504, "service_unavailable"],
  ] as const)
    assert.equal(JSON.parse(pure.error(status, "m", "c", "")).error.type, type, String(status));
});

test("plugin configuration is validated at load, weights by scorer name", () => {
  assert.equal(pure.config(""), "ok mode=0 maxBody=8388608 weights=");
  assert.equal(pure.config(`{"mode":"control","token":"0123456789abcdef"}`), "ok mode=1 maxBody=8388608 weights=");
  assert.match(pure.config(`{"mode":"control","token":"short"}`), /token of at least 16/);
  assert.match(pure.config(`{"mode":"edge"}`), /mode must be/);
  assert.match(pure.config(`{"maxBodyBytes":10}`), /maxBodyBytes must be in/);
  // Unknown names are refused with the known ones listed.
  assert.match(
    pure.config(`{"weights":{"bogus":1}}`),
    /unknown weight "bogus": weights name scorers \(known: queue-scorer, kv-cache-utilization-scorer, in-flight-scorer, lora-affinity-scorer, prefix-cache-scorer\)/,
  );
  // A filter is not a scorer.
  assert.match(pure.config(`{"weights":{"ready-filter":1}}`), /unknown weight "ready-filter"/);
  assert.match(pure.config(`{"weights":{"queue-scorer":-1}}`), /weights.queue-scorer must be in \[0, 1000\]/);
  assert.match(pure.config(`{"balanceBound":0.5}`), /balanceBound must be 0 \(off\) or at least 1/);
  assert.match(pure.config(`{"saturation":{"kvUsage":2}}`), /saturation.kvUsage must be in \[0, 1\]/);
  assert.match(pure.config(`{"logScores":"yes"}`), /logScores must be a boolean/);
  // Where Request Handled lines go: Envoy's own log (the default) or the listener's access log.
  assert.equal(pure.config(`{"handledLog":"envoy-log"}`), "ok mode=0 maxBody=8388608 weights=");
  assert.equal(pure.config(`{"handledLog":"access-log"}`), "ok mode=0 maxBody=8388608 weights= handledLog=access-log");
  assert.match(pure.config(`{"handledLog":"stdout"}`), /handledLog must be "envoy-log" or "access-log"/);
  assert.match(pure.config(`{"fallbacks":17}`), /fallbacks must be in \[0, 16\]/);
  assert.match(pure.config(`{"imbalance":{"rel":0.5}}`), /imbalance.rel must be in \[1, /);
  assert.match(pure.config(`{"imbalance":{"ratio":2}}`), /unknown imbalance key "ratio" \(known: abs, rel\)/);
  assert.match(pure.config(`{"colour":"red"}`), /unknown configuration key "colour"/);
  assert.equal(
    pure.config(`{"weights":{"queue-scorer":0,"in-flight-scorer":5}}`),
    "ok mode=0 maxBody=8388608 weights=queue-scorer=0.0,in-flight-scorer=5.0",
  );
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

test("table validation names the bad field", () => {
  assert.equal(pure.table(tableJson([ep(0, "a"), ep(1, "b")])), "ok pools=1 models=1 endpoints=2");
  const bad: [string, RegExp][] = [
    [`{`, /invalid JSON/],
    [
      JSON.stringify({ version: 3, generation: 1, builtAtMs: 0, stalenessMs: 0, pools: [], models: [] }),
      /unsupported version 3 \(this filter speaks 1 and 2\)/,
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
