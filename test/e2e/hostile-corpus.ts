// The hostile-input corpus (issue 12): requests a careless or malicious client sends, each with
// what the gateway must answer. Every case is raw bytes on a fresh connection (test/e2e/raw-http.ts),
// so nothing is normalised on the way: invalid UTF-8, lying lengths, odd request lines.
//
// Two kinds of expectation:
// - reject: exactly this status, an OpenAI-shaped JSON error ({"error":{"message","type","param",
//   "code"}}), and no pod ever sees the request. A request a model server would refuse (vLLM is the
//   reference; the simulator refuses the same) is refused by the gateway itself, so a bad client
//   never costs a pod anything, never counts as a pod failure, and gateway and pod never disagree
//   about what the request says (duplicate or escaped keys).
// - served: a valid but unusual request; 200 with a complete answer from exactly one pod.

import { SEED_MODEL } from "../../scripts/lib/local-gateway.js";
import type { RequestRecord } from "../sim/server.js";
import { buildRequest, type ExchangeOptions, type RequestSpec } from "./raw-http.js";

export type Expectation =
  | {
      kind: "reject";
      status: number;
      /** error.param exactly (null = no parameter); undefined = not checked. */
      param?: string | null;
      /** error.code: exact string or pattern; undefined = any non-empty string. */
      code?: string | RegExp;
      /** HEAD answers carry no body: only the status and content type are checked. */
      noBody?: boolean;
    }
  | {
      kind: "served";
      stream?: boolean;
      /** Checks on what the pod received (its /debug/requests record). */
      pod?: (rec: RequestRecord, podAddress: string) => string | null;
      /** Checks on the filter's Request Handled line for this request. */
      handled?: (line: Record<string, unknown>) => string | null;
    }
  | {
      /** The client never finishes its request: no answer while it waits, nothing reaches a pod, and
       *  Envoy goes on serving others. */
      kind: "no-answer";
    };

export interface HostileCase {
  group: string;
  name: string;
  bytes: Buffer | Buffer[];
  options?: ExchangeOptions;
  expect: Expectation;
}

const M = SEED_MODEL;
const JSON_CT: [string, string] = ["content-type", "application/json"];
const MIB = 1024 * 1024;
/** The gateway's default body limit (scripts/lib/envoy-process.ts DEFAULT_MAX_BODY_BYTES). */
export const LIMIT = 8 * MIB;

function req(body: Buffer | string, spec: RequestSpec = {}): Buffer {
  return buildRequest({ ...spec, body, headers: [JSON_CT, ...(spec.headers ?? [])] });
}
const base = () => ({ model: M, messages: [{ role: "user", content: "hostile input" }], max_tokens: 2 });
const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ ...base(), ...extra });
const message = (m: unknown) => chat({ messages: [m] });
const content = (c: unknown) => message({ role: "user", content: c });
const completion = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: M, prompt: "Once upon a time", max_tokens: 2, ...extra });
/** A chat body whose first message's content is `before` + raw bytes + `after`. */
function rawContent(bytes: number[], before = "ab", after = "cd"): Buffer {
  const [head, tail] = chat({ messages: [{ role: "user", content: "\u0000" }] }).split("\\u0000");
  return Buffer.concat([Buffer.from(head + before), Buffer.from(bytes), Buffer.from(after + tail)]);
}
const reject = (status: number, param?: string | null, code?: string | RegExp): Expectation => ({
  kind: "reject",
  status,
  param,
  code,
});
const bad = (param: string | null = null) => reject(400, param, "invalid_request");
const served = (more: Omit<Extract<Expectation, { kind: "served" }>, "kind"> = {}): Expectation => ({
  kind: "served",
  ...more,
});

/** Body of exactly `size` bytes: a valid chat request padded with JSON whitespace. */
export function paddedTo(size: number): Buffer {
  const b = chat();
  return Buffer.concat([Buffer.from(b.slice(0, -1)), Buffer.alloc(size - b.length, 0x20), Buffer.from("}")]);
}

function nested(depth: number): string {
  return chat({ metadata: null }).replace('"metadata":null', `"metadata":${"[".repeat(depth)}${"]".repeat(depth)}`);
}

const cases: HostileCase[] = [];
const add = (group: string, name: string, bytes: Buffer | Buffer[], expect: Expectation, options?: ExchangeOptions) =>
  cases.push({ group, name, bytes, expect, options });

// --- malformed JSON -------------------------------------------------------------------------------
const valid = chat();
for (const [name, body] of [
  ["not JSON at all", "{not json"],
  ["truncated in an array", valid.slice(0, valid.indexOf("[") + 1)],
  ["missing closing brace", valid.slice(0, -1)],
  ["trailing comma in object", `${valid.slice(0, -1)},}`],
  ["trailing comma in array", valid.replace("}]", "},]")],
  ["single quotes", valid.replace(/"/g, "'")],
  ["unquoted keys", valid.replace('"model"', "model")],
  ["a comment", valid.replace("{", "{/* hi */")],
  ["NaN", valid.replace('"max_tokens":2', '"max_tokens":NaN')],
  ["Infinity", valid.replace('"max_tokens":2', '"max_tokens":Infinity')],
  ["leading zero", valid.replace('"max_tokens":2', '"max_tokens":02')],
  ["hex number", valid.replace('"max_tokens":2', '"max_tokens":0x2')],
  ["plus sign", valid.replace('"max_tokens":2', '"max_tokens":+2')],
  ["number ending in a dot", valid.replace('"max_tokens":2', '"max_tokens":2.')],
  ["exponent without digits", valid.replace('"max_tokens":2', '"max_tokens":2e')],
  ["raw tab inside a string", valid.replace("hostile input", "hostile\tinput")],
  ["raw newline inside a string", valid.replace("hostile input", "hostile\ninput")],
  ["unknown escape", valid.replace("hostile input", "hostile \\x41")],
  ["short unicode escape", valid.replace("hostile input", "hostile \\u12")],
  ["two JSON values", `${valid}${valid}`],
  ["garbage after the value", `${valid} xyz`],
  ["literal 'True'", valid.replace('"max_tokens":2', '"stream":True')],
  ["nesting 65 deep in an unread field", nested(64)],
  ["nesting 100000 deep", `{"model":"${M}","messages":${"[".repeat(100000)}`],
] as const)
  add("malformed JSON", name, req(body), bad());
add("malformed JSON", "NUL byte inside a string", req(rawContent([0x00])), bad());
add("malformed JSON", "JSON null", req("null"), bad());
add("malformed JSON", "JSON array", req(`[${valid}]`), bad());
add("malformed JSON", "JSON string", req(JSON.stringify(valid)), bad());
add("malformed JSON", "JSON number", req("42"), bad());
add("malformed JSON", "JSON true", req("true"), bad());
add("malformed JSON", "nesting at the limit (64 levels) in an unread field", req(nested(63)), served());

// --- empty and whitespace bodies, BOMs, other encodings ------------------------------------------
add("empty bodies", "Content-Length: 0", req(""), bad());
add("empty bodies", "POST with no body and no length", buildRequest({ headers: [JSON_CT], noLength: true }), bad());
add("empty bodies", "whitespace only", req(" \r\n\t  \n"), bad());
add("empty bodies", "empty chunked body", buildRequest({ headers: [JSON_CT], chunks: [] }), bad());
// RFC 8259 8.1: senders MUST NOT add a BOM; the gateway holds clients to the grammar.
add(
  "encodings",
  "UTF-8 BOM before the JSON",
  req(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)])),
  bad(),
);
add("encodings", "a BOM alone", req(Buffer.from([0xef, 0xbb, 0xbf])), bad());
add(
  "encodings",
  "UTF-16LE body with BOM",
  req(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(valid, "utf16le")])),
  bad(),
);
add(
  "encodings",
  "gzip-compressed body (content-encoding: gzip)",
  req(Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0]), { headers: [["content-encoding", "gzip"]] }),
  bad(),
);
add(
  "encodings",
  "U+FEFF inside a string is text",
  req(chat({ messages: [{ role: "user", content: "\ufeffhello" }] })),
  served(),
);

// --- invalid UTF-8 inside strings (raw bytes) -----------------------------------------------------
for (const [name, bytes] of [
  ["lone continuation byte 0x80", [0x80]],
  ["byte 0xFF", [0xff]],
  ["byte 0xFE", [0xfe]],
  ["overlong NUL C0 80", [0xc0, 0x80]],
  ["overlong C1 BF", [0xc1, 0xbf]],
  ["overlong 3-byte E0 80 80", [0xe0, 0x80, 0x80]],
  ["overlong 4-byte F0 80 80 80", [0xf0, 0x80, 0x80, 0x80]],
  ["UTF-16 surrogate encoded (ED A0 80)", [0xed, 0xa0, 0x80]],
  ["past U+10FFFF (F4 90 80 80)", [0xf4, 0x90, 0x80, 0x80]],
  ["lead byte F5", [0xf5, 0x80, 0x80, 0x80]],
  ["2-byte sequence cut short", [0xc3]],
  ["4-byte sequence cut short", [0xf0, 0x9f, 0x98]],
  ["Latin-1 'é' (E9)", [0x63, 0x61, 0x66, 0xe9]],
] as const)
  add("invalid UTF-8", `${name} in a message's content`, req(rawContent([...bytes])), bad());
// Where the scanner's 16-byte blocks begin and end.
for (const at of [15, 16, 17, 31, 32])
  add("invalid UTF-8", `0xFF after ${at} ASCII bytes of a string`, req(rawContent([0xff], "x".repeat(at), "")), bad());
add(
  "invalid UTF-8",
  "in the model name",
  req(
    Buffer.concat([
      Buffer.from(`{"model":"${M}`),
      Buffer.from([0xc0, 0xaf]),
      Buffer.from(`","messages":[{"role":"user","content":"x"}]}`),
    ]),
  ),
  bad(),
);
add(
  "invalid UTF-8",
  "in an object key",
  req(Buffer.concat([Buffer.from(`${valid.slice(0, -1)},"k`), Buffer.from([0xff]), Buffer.from('":1}')])),
  bad(),
);
add(
  "invalid UTF-8",
  "in a field the filter does not read",
  req(
    Buffer.concat([Buffer.from(`${valid.slice(0, -1)},"user":"`), Buffer.from([0xed, 0xbf, 0xbf]), Buffer.from('"}')]),
  ),
  bad(),
);
// Valid multi-byte text, also straddling the 16-byte block edges.
for (const at of [13, 14, 15, 16])
  add(
    "valid UTF-8",
    `a 4-byte emoji after ${at} ASCII bytes`,
    req(chat({ messages: [{ role: "user", content: `${"y".repeat(at)}😀z` }] })),
    served(),
  );
add("valid UTF-8", "CJK, U+FFFF and U+10FFFF", req(content("漢字 \uffff \u{10ffff}")), served());
add("valid UTF-8", "escaped NUL (\\u0000) is text", req(chat().replace("hostile input", "a\\u0000b")), served());
add(
  "valid UTF-8",
  "escaped surrogate pair (\\ud83d\\ude00)",
  req(chat().replace("hostile input", "\\ud83d\\ude00")),
  served(),
);
// A lone surrogate escape decodes to no Unicode scalar value: vLLM's tokenizer cannot encode it
// (a 500 there would count as a pod failure), so it is refused like invalid UTF-8.
add("invalid UTF-8", "lone high surrogate escape \\ud800", req(chat().replace("hostile input", "x\\ud800y")), bad());
add("invalid UTF-8", "lone low surrogate escape \\udc00", req(chat().replace("hostile input", "\\udc00")), bad());

// --- wrong types in every field the filter reads --------------------------------------------------
add("types: model", "missing", req(JSON.stringify({ messages: base().messages })), bad("model"));
for (const [name, v] of [
  ["a number", 42],
  ["null", null],
  ["true", true],
  ["an array", [M]],
  ["an object", { name: M }],
] as const)
  add("types: model", name, req(chat({ model: v })), bad("model"));
add("types: model", "empty string", req(chat({ model: "" })), bad("model"));
add("types: model", "unknown model", req(chat({ model: "/models/unknown" })), reject(404, "model", "model_not_found"));
add("types: model", "a 1 MiB name", req(chat({ model: "m".repeat(MIB) })), reject(404, "model", "model_not_found"));
add(
  "types: model",
  "escaped slashes name the same model",
  req(chat().replace(JSON.stringify(M), JSON.stringify(M).replace(/\//g, "\\/"))),
  served(),
);

add("types: messages", "missing", req(JSON.stringify({ model: M })), bad("messages"));
for (const [name, v] of [
  ["a string", "hi"],
  ["a number", 42],
  ["null", null],
  ["an object", { role: "user", content: "x" }],
  ["an empty array", []],
] as const)
  add("types: messages", name, req(chat({ messages: v })), bad("messages"));
for (const [name, v] of [
  ["a number", 1],
  ["null", null],
  ["a string", "hello"],
  ["an array", [{ role: "user", content: "x" }]],
] as const)
  add("types: messages", `an element that is ${name}`, req(chat({ messages: [v] })), bad("messages[0]"));

add("types: role", "missing", req(message({ content: "x" })), bad("messages[0].role"));
for (const [name, v] of [
  ["a number", 1],
  ["null", null],
  ["an array", ["user"]],
  ["an object", { name: "user" }],
] as const)
  add("types: role", name, req(message({ role: v, content: "x" })), bad("messages[0].role"));
add(
  "types: role",
  "in the second message",
  req(
    chat({
      messages: [
        { role: "user", content: "a" },
        { role: 7, content: "b" },
      ],
    }),
  ),
  bad("messages[1].role"),
);

for (const [name, v] of [
  ["a number", 42],
  ["true", true],
  ["an object", { type: "text", text: "x" }],
] as const)
  add("types: content", name, req(content(v)), bad("messages[0].content"));
add(
  "types: content",
  "system, user and assistant turns with null assistant content",
  req(
    chat({
      messages: [
        { role: "system", content: "s" },
        { role: "user", content: "u" },
        { role: "assistant", content: null },
        { role: "user", content: "again" },
      ],
    }),
  ),
  served(),
);
add("types: content", "an empty string", req(content("")), served());

// error.param names the innermost field, as OpenAI's do: "Missing required parameter:
// 'messages[0].content[0].type'." comes with param "messages[0].content[0].type".
for (const [name, v, param] of [
  ["a number", [42], "messages[0].content[0]"],
  ["null", [null], "messages[0].content[0]"],
  ["a string", ["text"], "messages[0].content[0]"],
  ["an array", [[{ type: "text", text: "x" }]], "messages[0].content[0]"],
  ["a text part without text", [{ type: "text" }], "messages[0].content[0].text"],
  ["a text part whose text is a number", [{ type: "text", text: 42 }], "messages[0].content[0].text"],
  ["a part whose type is a number", [{ type: 42, text: "x" }], "messages[0].content[0].type"],
  ["a part without a type", [{ text: "x" }], "messages[0].content[0].type"],
] as const)
  add("types: content parts", name, req(content(v)), bad(param));
add(
  "types: content parts",
  "two text parts",
  req(
    content([
      { type: "text", text: "a" },
      { type: "text", text: "b" },
    ]),
  ),
  served(),
);

for (const [name, v] of [
  ["a string", "true"],
  ["a number", 1],
  ["an array", [true]],
  ["an object", {}],
] as const)
  add("types: stream", name, req(chat({ stream: v })), bad("stream"));
add("types: stream", "null means not streaming", req(chat({ stream: null })), served({ stream: false }));
add("types: stream", "true", req(chat({ stream: true })), served({ stream: true }));

for (const [name, v] of [
  ["negative", -1],
  ["zero (a model server needs at least 1)", 0],
  ["a fraction", 1.5],
  ["a string", "10"],
  ["true", true],
  ["an array", [2]],
  ["an object", { n: 2 }],
] as const)
  add("types: max_tokens", name, req(chat({ max_tokens: v })), bad("max_tokens"));
add(
  "types: max_tokens",
  "1e400 (infinite as a double)",
  req(chat().replace('"max_tokens":2', '"max_tokens":1e400')),
  bad("max_tokens"),
);
add("types: max_tokens", "null means the default", req(chat({ max_tokens: null })), served());
add("types: max_tokens", "2.0 is the integer 2", req(chat().replace('"max_tokens":2', '"max_tokens":2.0')), served());
add("types: max_tokens", "2E0 is the integer 2", req(chat().replace('"max_tokens":2', '"max_tokens":2E0')), served());

for (const [name, v, param] of [
  ["a string", "yes", "stream_options"],
  ["a number", 1, "stream_options"],
  ["an array", [{ include_usage: true }], "stream_options"],
  ["include_usage a string", { include_usage: "yes" }, "stream_options.include_usage"],
] as const)
  add("types: stream_options", name, req(chat({ stream: true, stream_options: v })), bad(param));
add(
  "types: stream_options",
  "without stream (model servers refuse it)",
  req(chat({ stream_options: { include_usage: true } })),
  bad("stream_options"),
);
add(
  "types: stream_options",
  "include_usage with stream",
  req(chat({ stream: true, stream_options: { include_usage: true } })),
  served({ stream: true }),
);

const cpath = { path: "/v1/completions" };
add("types: prompt", "missing", req(JSON.stringify({ model: M }), cpath), bad("prompt"));
for (const [name, v] of [
  ["a number", 42],
  ["null", null],
  ["true", true],
  ["an object", { text: "x" }],
  ["an empty array", []],
  ["an array holding null", [null]],
  ["an array holding an object", [{}]],
  ["an array holding true", [true]],
  ["a negative token id", [-1]],
  ["a fractional token id", [1.5]],
  ["an empty token array", [[]]],
] as const)
  add("types: prompt", name, req(completion({ prompt: v }), cpath), bad("prompt"));
add("types: prompt", "token ids", req(completion({ prompt: [1, 2, 3] }), cpath), served());
add("types: prompt", "one string in an array", req(completion({ prompt: ["Once upon a time"] }), cpath), served());
add("types: prompt", "a chat body on the completions path", req(chat(), cpath), bad("prompt"));
add("types: prompt", "a completions body on the chat path", req(completion()), bad("messages"));

// --- duplicate and escaped keys (gateway and pod must read the same request) ----------------------
// Python's json (vLLM, SGLang) keeps the last of duplicate keys and decodes escaped keys; the filter
// reads the request the same way, so it never routes by one value while the pod serves another.
const dup = (key: string, first: unknown) => valid.replace("{", `{${JSON.stringify(key)}:${JSON.stringify(first)},`);
const dupLast = (key: string, last: unknown) => `${valid.slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(last)}}`;
const loggedStream = (want: boolean) => (l: Record<string, unknown>) =>
  l.stream === want ? null : `the filter logged stream=${l.stream}, the pod streamed=${want}`;
add(
  "duplicate keys",
  "model twice, the last one known: served like the pod reads it",
  req(dup("model", "/models/unknown")),
  served(),
);
add(
  "duplicate keys",
  "model twice, the last one unknown",
  req(dupLast("model", "/models/unknown")),
  reject(404, "model", "model_not_found"),
);
add(
  "duplicate keys",
  "stream false then true: a stream, also for the filter",
  req(`${valid.slice(0, -1)},"stream":false,"stream":true}`),
  served({ stream: true, handled: loggedStream(true) }),
);
add(
  "duplicate keys",
  "stream true then false: no stream, also for the filter",
  req(`${valid.slice(0, -1)},"stream":true,"stream":false}`),
  served({ stream: false, handled: loggedStream(false) }),
);
add(
  "duplicate keys",
  "messages twice, the last not an array",
  req(dupLast("messages", "not an array")),
  bad("messages"),
);
add("duplicate keys", "max_tokens twice, the last negative", req(dupLast("max_tokens", -5)), bad("max_tokens"));
add(
  "duplicate keys",
  "prompt twice, the last a number",
  req(`${completion().slice(0, -1)},"prompt":42}`, cpath),
  bad("prompt"),
);
add(
  "duplicate keys",
  "model again under an escaped key, unknown",
  req(`${valid.slice(0, -1)},"mod\\u0065l":"/models/unknown"}`),
  reject(404, "model", "model_not_found"),
);
add(
  "duplicate keys",
  "a field the filter does not read, twice",
  req(`${valid.slice(0, -1)},"temperature":0.5,"temperature":0.7}`),
  served(),
);
add("escaped keys", "the model under an escaped key", req(valid.replace('"model"', '"mod\\u0065l"')), served());
add(
  "escaped keys",
  "stream under an escaped key is still streaming",
  req(chat({ stream: true }).replace('"stream"', '"str\\u0065am"')),
  served({
    stream: true,
    handled: (l) => (l.stream === true ? null : `the filter logged stream=${l.stream}`),
  }),
);

// --- huge numbers and strings ----------------------------------------------------------------------
add(
  "huge values",
  "a 1000-digit number in an unread field",
  req(`${valid.slice(0, -1)},"seed_x":${"9".repeat(1000)}}`),
  served(),
);
add("huge values", "1e308 in an unread field", req(`${valid.slice(0, -1)},"temperature_x":1e308}`), served());
add("huge values", "a 1 MiB key", req(`${valid.slice(0, -1)},${JSON.stringify("k".repeat(MIB))}:1}`), served());
add(
  "huge values",
  "100000 keys in an unread object",
  req(chat({ metadata: Object.fromEntries(Array.from({ length: 100000 }, (_, i) => [`k${i}`, i])) })),
  served(),
);
add(
  "huge values",
  "2000 messages",
  req(
    chat({ messages: Array.from({ length: 2000 }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: "x" })) }),
  ),
  served(),
);
add("huge values", "a body of exactly the limit (JSON whitespace)", req(paddedTo(LIMIT)), served());
add(
  "huge values",
  "one byte over the limit",
  req(paddedTo(LIMIT + 1)),
  reject(413, undefined, /body_too_large|request_too_large/),
);
add(
  "huge values",
  "one byte over the limit, chunked",
  buildRequest({ headers: [JSON_CT], chunks: split(paddedTo(LIMIT + 1), 64) }),
  reject(413, undefined, /body_too_large|request_too_large/),
);

// --- Content-Length and transfer coding (what fetch cannot send) ----------------------------------
const malformedHttp = reject(400, null);
const headOnly = (head: string) => Buffer.from(head.replace(/\n/g, "\r\n"));
add(
  "Content-Length",
  "over the limit: 413 before any body byte is sent",
  buildRequest({ headers: [JSON_CT, ["content-length", String(LIMIT + 1)]] }),
  reject(413, undefined, /body_too_large|request_too_large/),
  { timeoutMs: 3000 },
);
add(
  "Content-Length",
  "1 GiB announced, nothing sent",
  buildRequest({ headers: [JSON_CT, ["content-length", String(1024 * MIB)]] }),
  reject(413, undefined, /body_too_large|request_too_large/),
  { timeoutMs: 3000 },
);
add(
  "Content-Length",
  "over the limit with Expect: 100-continue",
  buildRequest({ headers: [JSON_CT, ["expect", "100-continue"], ["content-length", String(9 * MIB)]] }),
  reject(413, undefined, /body_too_large|request_too_large/),
  { timeoutMs: 3000 },
);
add(
  "Content-Length",
  "20 digits (overflows 64 bits)",
  buildRequest({ body: valid, headers: [["content-length", "99999999999999999999"]] }),
  malformedHttp,
);
add("Content-Length", "negative", buildRequest({ body: valid, headers: [["content-length", "-1"]] }), malformedHttp);
add(
  "Content-Length",
  "not a number",
  buildRequest({ body: valid, headers: [["content-length", "abc"]] }),
  malformedHttp,
);
add(
  "Content-Length",
  "two different values",
  buildRequest({
    body: valid,
    headers: [
      ["content-length", String(valid.length)],
      ["content-length", "5"],
    ],
  }),
  malformedHttp,
);
add(
  "Content-Length",
  "with Transfer-Encoding: chunked too (smuggling)",
  buildRequest({ headers: [["content-length", "4"]], chunks: [valid] }),
  malformedHttp,
);
add(
  "Content-Length",
  "shorter than the body: the cut body is invalid JSON",
  buildRequest({ body: valid, headers: [JSON_CT, ["content-length", "20"]] }),
  bad(),
);
add(
  "Content-Length",
  "longer than the body, client waits",
  buildRequest({ body: valid, headers: [JSON_CT, ["content-length", String(valid.length + 100)]] }),
  { kind: "no-answer" },
  { timeoutMs: 1500 },
);
add(
  "Content-Length",
  "longer than the body, client half-closes",
  buildRequest({ body: valid, headers: [JSON_CT, ["content-length", String(valid.length + 100)]] }),
  { kind: "no-answer" },
  { timeoutMs: 1500, endAfterWrite: true },
);
add(
  "Content-Length",
  "Expect: 100-continue with a small body",
  req(valid, { headers: [["expect", "100-continue"]] }),
  served(),
);
add(
  "chunked",
  "a valid body in 7 chunks",
  buildRequest({ headers: [JSON_CT], chunks: split(Buffer.from(valid), 7) }),
  served(),
);
add(
  "chunked",
  "a chunk extension",
  Buffer.concat([
    buildRequest({ headers: [JSON_CT, ["transfer-encoding", "chunked"]], noLength: true }),
    Buffer.from(`${valid.length.toString(16)};ext=1\r\n${valid}\r\n0\r\n\r\n`),
  ]),
  served(),
);
add(
  "chunked",
  "trailers after the last chunk",
  Buffer.concat([
    buildRequest({ headers: [JSON_CT, ["transfer-encoding", "chunked"]], noLength: true }),
    Buffer.from(`${valid.length.toString(16)}\r\n${valid}\r\n0\r\nx-trailer: 1\r\n\r\n`),
  ]),
  served(),
);
add(
  "chunked",
  "a chunk size that is not hex",
  Buffer.concat([
    buildRequest({ headers: [["transfer-encoding", "chunked"]], noLength: true }),
    Buffer.from(`zz\r\n${valid}\r\n0\r\n\r\n`),
  ]),
  malformedHttp,
);
add(
  "chunked",
  "a chunk size that overflows",
  Buffer.concat([
    buildRequest({ headers: [["transfer-encoding", "chunked"]], noLength: true }),
    Buffer.from(`fffffffffffffffffff\r\n${valid}\r\n0\r\n\r\n`),
  ]),
  malformedHttp,
);
add(
  "chunked",
  "a chunk shorter than its size",
  Buffer.concat([
    buildRequest({ headers: [["transfer-encoding", "chunked"]], noLength: true }),
    Buffer.from(`ff\r\n${valid}\r\n0\r\n\r\n`),
  ]),
  { kind: "no-answer" },
  { timeoutMs: 1500 },
);
add(
  "chunked",
  "Transfer-Encoding: gzip, chunked",
  buildRequest({ headers: [["transfer-encoding", "gzip, chunked"]], chunks: [valid] }),
  reject(501),
);
add(
  "chunked",
  "Transfer-Encoding: identity",
  buildRequest({ body: valid, headers: [["transfer-encoding", "identity"]] }),
  reject(501),
);

// --- slow bodies (bounded: at most ~2 s each) ------------------------------------------------------
add("slow bodies", "a valid body in 20 pieces, 50 ms apart", req(valid), served(), { pieces: 20, delayMs: 50 });
add(
  "slow bodies",
  "one byte at a time for the first 40 bytes, 25 ms apart",
  [...[...req(valid).subarray(0, 40)].map((b) => Buffer.from([b])), req(valid).subarray(40)],
  served(),
  { delayMs: 25 },
);
add("slow bodies", "invalid JSON, slowly", req("{not json at all, sent slowly}"), bad(), { pieces: 10, delayMs: 50 });
add("slow bodies", "invalid UTF-8, slowly", req(rawContent([0xff])), bad(), { pieces: 10, delayMs: 50 });

// --- methods and paths ------------------------------------------------------------------------------
for (const m of ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
  add(
    "methods and paths",
    `${m} /v1/chat/completions`,
    buildRequest({ method: m, body: m === "GET" || m === "TRACE" || m === "OPTIONS" ? undefined : valid }),
    reject(405, null, "method_not_allowed"),
  );
add("methods and paths", "HEAD /v1/chat/completions", buildRequest({ method: "HEAD" }), {
  kind: "reject",
  status: 405,
  noBody: true,
});
add("methods and paths", "an unknown method", buildRequest({ method: "BREW", body: valid }), malformedHttp);
add("methods and paths", "a lower-case method", buildRequest({ method: "post", body: valid }), malformedHttp);
add(
  "methods and paths",
  "CONNECT",
  headOnly("CONNECT 127.0.0.1:80 HTTP/1.1\nhost: 127.0.0.1:80\n\n"),
  reject(404, null, "not_found"),
);
add(
  "methods and paths",
  "POST /health",
  buildRequest({ path: "/health", body: valid }),
  reject(405, null, "method_not_allowed"),
);
add(
  "methods and paths",
  "POST /v1/models",
  buildRequest({ path: "/v1/models", body: valid }),
  reject(405, null, "method_not_allowed"),
);
for (const p of [
  "/",
  "/v1/chat/completions/",
  "/V1/CHAT/COMPLETIONS",
  "/v1//chat/completions",
  "/v1/chat/../chat/completions",
  "/v1/chat/%63ompletions",
  "/v1/chat/completions%00",
  "/v1/embeddings",
  "/v1/responses",
  "/infergate/v1/table",
  "/v1/chat/completions;x=1",
])
  add("methods and paths", `POST ${p}`, req(valid, { path: p }), reject(404, null, "not_found"));
add("methods and paths", "a path without a leading slash", req(valid, { path: "v1/chat/completions" }), malformedHttp);
add("methods and paths", "asterisk form", req(valid, { path: "*" }), malformedHttp);
add(
  "methods and paths",
  "a 70 KB query string",
  req(valid, { path: `/v1/chat/completions?${"a".repeat(70000)}` }),
  reject(431),
);
add(
  "methods and paths",
  "a query string is ignored",
  req(valid, { path: "/v1/chat/completions?api-version=2024-01-01&x=%ff" }),
  served(),
);
add(
  "methods and paths",
  "absolute-form request target",
  req(valid, { path: "http://127.0.0.1/v1/chat/completions" }),
  served(),
);
add("methods and paths", "HTTP/1.0", req(valid, { version: "HTTP/1.0" }), reject(426));
add(
  "methods and paths",
  "HTTP/1.1 without Host",
  Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\ncontent-length: ${valid.length}\r\n\r\n${valid}`),
  malformedHttp,
);
add("methods and paths", "a 100 KB header", req(valid, { headers: [["x-big", "a".repeat(100 * 1024)]] }), reject(431));
add(
  "methods and paths",
  "150 headers",
  req(valid, { headers: Array.from({ length: 150 }, (_, i) => [`x-h${i}`, "v"] as [string, string]) }),
  reject(431),
);
add(
  "methods and paths",
  "content-type text/plain (not checked: the body decides)",
  buildRequest({ body: valid, headers: [["content-type", "text/plain"]] }),
  served(),
);

// --- spoofed routing headers: served, and the pod sees only the gateway's own choice ----------------
const ownDestination = (rec: RequestRecord, addr: string) => {
  const d = rec.headers["x-gateway-destination-endpoint"] ?? "";
  return d.split(",")[0] === addr ? null : `the pod ${addr} received x-gateway-destination-endpoint "${d}"`;
};
const noHeader = (name: string) => (rec: RequestRecord) =>
  rec.headers[name] === undefined ? null : `the pod received ${name}: ${rec.headers[name]}`;
for (const [name, value] of [
  ["a closed loopback port", "127.0.0.1:1"],
  ["a list of closed ports", "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3"],
  ["garbage", "not an address, at all"],
  ["an empty value", ""],
] as const)
  add(
    "spoofed headers",
    `x-gateway-destination-endpoint: ${name}`,
    req(valid, { headers: [["x-gateway-destination-endpoint", value]] }),
    served({ pod: ownDestination }),
  );
add(
  "spoofed headers",
  "x-gateway-destination-endpoint twice",
  req(valid, {
    headers: [
      ["x-gateway-destination-endpoint", "127.0.0.1:1"],
      ["x-gateway-destination-endpoint", "127.0.0.1:2"],
    ],
  }),
  served({ pod: ownDestination }),
);
add(
  "spoofed headers",
  "x-infergate-pool of another pool",
  req(valid, { headers: [["x-infergate-pool", "other/pool"]] }),
  served({ pod: noHeader("x-infergate-pool") }),
);
add(
  "spoofed headers",
  "x-envoy-upstream-rq-timeout-ms: 1",
  req(valid, {
    headers: [
      ["x-envoy-upstream-rq-timeout-ms", "1"],
      ["x-envoy-upstream-rq-per-try-timeout-ms", "1"],
    ],
  }),
  served(),
);
add(
  "spoofed headers",
  "x-envoy-retry-on and x-envoy-max-retries",
  req(valid, {
    headers: [
      ["x-envoy-retry-on", "5xx,reset"],
      ["x-envoy-max-retries", "50"],
      ["x-envoy-hedge-on-per-try-timeout", "true"],
    ],
  }),
  served({ pod: noHeader("x-envoy-retry-on") }),
);
add(
  "spoofed headers",
  "x-request-id with quotes and backslashes stays one JSON log field",
  req(valid, { headers: [["x-request-id", 'id"},"pod":"evil\\']] }),
  served({
    handled: (l) =>
      l.requestId === 'id"},"pod":"evil\\' ? null : `requestId logged as ${JSON.stringify(l.requestId)}`,
  }),
);

/** The whole corpus, in a stable order. */
export const HOSTILE_CASES: readonly HostileCase[] = cases;

function split(b: Buffer, n: number): Buffer[] {
  const size = Math.ceil(b.length / n);
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}
