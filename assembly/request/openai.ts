// Reads what routing needs from an OpenAI request body (chat or legacy completions) and rejects,
// with the status and message a client should see, anything a model server would reject anyway.
// Runs on the allocation-free JSON tape: only the model name is decoded into a string. The body's
// bytes are scanned once (the tape); validation walks tape entries: the top-level members once,
// then only the fields checked (messages and their content parts, the prompt's elements).
import { T_ARRAY, T_ESCAPED, T_FALSE, T_NULL, T_NUMBER, T_OBJECT, T_TRUE, Tape, tapeKindName } from "../json/tape";

export enum Endpoint {
  ChatCompletions = 0,
  Completions = 1,
}

/** One tape per VM, reused by every request (the VM runs one callback at a time). */
export const requestTape = new Tape();

export class ParsedRequest {
  model: string = "";
  stream: bool = false;
  /** stream_options.include_usage: the stream ends with a usage chunk. */
  includeUsage: bool = false;
  /** Byte span of the "model" string value (quotes included) in the raw body, for the target-model rewrite. */
  modelStart: i32 = 0;
  modelEnd: i32 = 0;
  /** Tape entries of "messages" (chat) or "prompt" (completions); valid until the tape is reused. */
  messages: i32 = -1;
  prompt: i32 = -1;
  /** Error to answer instead of routing; status 0 = no error. */
  status: i32 = 0;
  message: string = "";
  param: string = "";
}

/** The largest max_tokens or token id accepted: no model has a context or vocabulary past 2^31 - 1. */
const MAX_INT32: f64 = 2147483647;

// The top-level members the filter reads.
const OTHER = 0,
  MODEL = 1,
  STREAM = 2,
  STREAM_OPTIONS = 3,
  MESSAGES = 4,
  PROMPT = 5,
  MAX_TOKENS = 6,
  MAX_COMPLETION_TOKENS = 7;

function memberNamed(name: string): i32 {
  if (name == "model") return MODEL;
  if (name == "stream") return STREAM;
  if (name == "stream_options") return STREAM_OPTIONS;
  if (name == "messages") return MESSAGES;
  if (name == "prompt") return PROMPT;
  if (name == "max_tokens") return MAX_TOKENS;
  if (name == "max_completion_tokens") return MAX_COMPLETION_TOKENS;
  return OTHER;
}

/** Which member key entry k names; by length first, so most keys cost one comparison. */
function memberOf(t: Tape, k: i32): i32 {
  if (t.kind(k) == T_ESCAPED) return memberNamed(t.str(k)); // decoded, as Python's json reads it
  const n = t.end(k) - t.start(k);
  if (n == 5) return t.keyIs(k, "model") ? MODEL : OTHER;
  if (n == 6) return t.keyIs(k, "stream") ? STREAM : t.keyIs(k, "prompt") ? PROMPT : OTHER;
  if (n == 8) return t.keyIs(k, "messages") ? MESSAGES : OTHER;
  if (n == 10) return t.keyIs(k, "max_tokens") ? MAX_TOKENS : OTHER;
  if (n == 14) return t.keyIs(k, "stream_options") ? STREAM_OPTIONS : OTHER;
  if (n == 21) return t.keyIs(k, "max_completion_tokens") ? MAX_COMPLETION_TOKENS : OTHER;
  return OTHER;
}

function reject(out: ParsedRequest, message: string, param: string): ParsedRequest {
  out.status = 400;
  out.message = message;
  out.param = param;
  return out;
}

/** What a value is, for an error message: a number as written (cut), otherwise its kind. */
function shown(t: Tape, e: i32): string {
  const k = t.kind(e);
  if (k != T_NUMBER) return tapeKindName(k);
  const n = min(t.end(e) - t.start(e), 40); // a number's bytes are ASCII: any cut is valid text
  return String.UTF8.decodeUnsafe(t.base + <usize>t.start(e), <usize>n);
}

/**
 * Is entry e an integer in [lo, MAX_INT32], lo 0 or 1 (2.0 and 2e0 are the integer 2, as in Python's
 * json)? The common case, up to 9 digits as scanned, is decided from the tape entry alone.
 */
function isIntFrom(t: Tape, e: i32, lo: i32): bool {
  if (t.digitsOnly(e)) {
    const n = t.end(e) - t.start(e);
    // JSON has no leading zeros: the only digits-only value below 1 is "0".
    if (n <= 9) return lo == 0 || n > 1 || load<u8>(t.base + <usize>t.start(e)) != 0x30;
  } else if (t.kind(e) != T_NUMBER) return false;
  const v = t.number(e);
  return v >= <f64>lo && v <= MAX_INT32 && v == Math.floor(v);
}

/** Is string entry e the 4-byte ASCII word w (little-endian; an escaped string is decoded first)? */
function isWord4(t: Tape, e: i32, w: u32, word: string): bool {
  if (t.kind(e) == T_ESCAPED) return t.str(e) == word;
  return t.end(e) - t.start(e) == 4 && load<u32>(t.base + <usize>t.start(e)) == w;
}
const TYPE: u32 = 0x65707974; // "type"
const TEXT: u32 = 0x74786574; // "text"

export function parseRequest(body: ArrayBuffer, endpoint: Endpoint, t: Tape = requestTape): ParsedRequest {
  return parseRequestBytes(changetype<usize>(body), body.byteLength, endpoint, t);
}

/** Parses the body in place (bytes the host wrote into raw memory). */
export function parseRequestBytes(ptr: usize, len: i32, endpoint: Endpoint, t: Tape = requestTape): ParsedRequest {
  const out = new ParsedRequest();
  if (len == 0) return reject(out, "request body is empty: expected a JSON object", "");
  if (!t.parse(ptr, len)) return reject(out, `invalid JSON body at byte ${t.errorAt.toString()}: ${t.error}`, "");
  const root = 0;
  if (t.kind(root) != T_OBJECT)
    return reject(out, `request body must be a JSON object, got ${tapeKindName(t.kind(root))}`, "");
  // One walk over the top-level members; the last of duplicate keys wins, as in Python's json (the
  // model server reads the same request).
  let model = -1,
    stream = -1,
    options = -1,
    messages = -1,
    prompt = -1,
    maxTokens = -1,
    maxCompletionTokens = -1;
  const rootEnd = t.next(root);
  for (let k = root + 1; k < rootEnd; ) {
    const v = k + 1;
    const m = memberOf(t, k);
    if (m == MODEL) model = v;
    else if (m == STREAM) stream = v;
    else if (m == STREAM_OPTIONS) options = v;
    else if (m == MESSAGES) messages = v;
    else if (m == PROMPT) prompt = v;
    else if (m == MAX_TOKENS) maxTokens = v;
    else if (m == MAX_COMPLETION_TOKENS) maxCompletionTokens = v;
    k = t.next(v);
  }

  if (model < 0) return reject(out, "missing required parameter: 'model'", "model");
  if (!t.isString(model)) return reject(out, `'model' must be a string, got ${tapeKindName(t.kind(model))}`, "model");
  if (t.end(model) == t.start(model)) return reject(out, "'model' must not be empty", "model");
  out.model = t.str(model);
  out.modelStart = t.start(model) - 1;
  out.modelEnd = t.end(model) + 1;

  if (stream >= 0 && t.kind(stream) != T_NULL) {
    const k = t.kind(stream);
    if (k != T_TRUE && k != T_FALSE) return reject(out, `'stream' must be a boolean, got ${tapeKindName(k)}`, "stream");
    out.stream = k == T_TRUE;
  }
  if (options >= 0 && t.kind(options) != T_NULL) {
    if (t.kind(options) != T_OBJECT)
      return reject(
        out,
        `'stream_options' must be an object or null, got ${tapeKindName(t.kind(options))}`,
        "stream_options",
      );
    const usage = t.find(options, "include_usage");
    if (usage >= 0 && t.kind(usage) != T_NULL) {
      const k = t.kind(usage);
      if (k != T_TRUE && k != T_FALSE)
        return reject(
          out,
          `'stream_options.include_usage' must be a boolean, got ${tapeKindName(k)}`,
          "stream_options.include_usage",
        );
      out.includeUsage = k == T_TRUE;
    }
    // OpenAI and vLLM refuse it too: a client asking for a usage chunk of a stream it did not ask for.
    if (!out.stream)
      return reject(out, "the 'stream_options' parameter is only allowed when 'stream' is true", "stream_options");
  }

  if (endpoint == Endpoint.ChatCompletions) {
    if (messages < 0) return reject(out, "missing required parameter: 'messages'", "messages");
    const bad = checkMessages(t, messages, out);
    if (bad !== null) return bad;
    out.messages = messages;
  } else {
    if (prompt < 0) return reject(out, "missing required parameter: 'prompt'", "prompt");
    const bad = checkPrompt(t, prompt, out);
    if (bad !== null) return bad;
    out.prompt = prompt;
  }

  for (let which = 0; which < 2; which++) {
    const e = which == 0 ? maxTokens : maxCompletionTokens;
    if (e < 0 || t.kind(e) == T_NULL) continue;
    // A model server needs at least one token to generate (vLLM and OpenAI refuse 0 as well).
    if (!isIntFrom(t, e, 1)) {
      const name = which == 0 ? "max_tokens" : "max_completion_tokens";
      return reject(
        out,
        `'${name}' must be an integer from 1 to ${(<i64>MAX_INT32).toString()}, got ${shown(t, e)}`,
        name,
      );
    }
  }
  return out;
}

/** Chat messages: a non-empty array of objects with a string role and valid content. */
function checkMessages(t: Tape, messages: i32, out: ParsedRequest): ParsedRequest | null {
  if (t.kind(messages) != T_ARRAY)
    return reject(out, `'messages' must be an array, got ${tapeKindName(t.kind(messages))}`, "messages");
  const end = t.next(messages);
  if (end == messages + 1) return reject(out, "'messages' must contain at least one message", "messages");
  let i = 0;
  for (let m = messages + 1; m < end; m = t.next(m), i++) {
    if (t.kind(m) != T_OBJECT) {
      const at = `messages[${i.toString()}]`;
      return reject(out, `'${at}' must be an object, got ${tapeKindName(t.kind(m))}`, at);
    }
    const role = t.find(m, "role");
    if (role < 0 || !t.isString(role)) {
      const at = `messages[${i.toString()}].role`;
      return reject(out, `'${at}' must be a string`, at);
    }
    const content = t.find(m, "content");
    if (content < 0 || t.isString(content) || t.kind(content) == T_NULL) continue;
    if (t.kind(content) != T_ARRAY) {
      const at = `messages[${i.toString()}].content`;
      return reject(
        out,
        `'${at}' must be a string, an array of content parts or null, got ${tapeKindName(t.kind(content))}`,
        at,
      );
    }
    const bad = checkParts(t, content, i, out);
    if (bad !== null) return bad;
  }
  return null;
}

/**
 * Content parts: objects with a string "type"; a "text" part carries a string "text". Other part
 * types (image_url, input_audio, video_url, file, refusal, ...) are the model server's to judge: which
 * it supports depends on the model. The param names the innermost path, as OpenAI's errors do
 * ("Missing required parameter: 'messages[0].content[0].type'", param "messages[0].content[0].type").
 */
function checkParts(t: Tape, content: i32, i: i32, out: ParsedRequest): ParsedRequest | null {
  const end = t.next(content);
  let j = 0;
  for (let p = content + 1; p < end; p = t.next(p), j++) {
    if (t.kind(p) != T_OBJECT) return badPart(t, out, i, j, "", p);
    // One walk over the part's members (the last duplicate wins); parts are small objects.
    let type = -1,
      text = -1;
    const partEnd = t.next(p);
    for (let k = p + 1; k < partEnd; ) {
      const v = k + 1;
      if (isWord4(t, k, TYPE, "type")) type = v;
      else if (isWord4(t, k, TEXT, "text")) text = v;
      k = t.next(v);
    }
    if (type < 0 || !t.isString(type)) return badPart(t, out, i, j, ".type", type);
    if (isWord4(t, type, TEXT, "text") && (text < 0 || !t.isString(text))) return badPart(t, out, i, j, ".text", text);
  }
  return null;
}

/** The 400 for content part j of message i (field: "", ".type" or ".text"; e: its entry, -1 if missing). */
function badPart(t: Tape, out: ParsedRequest, i: i32, j: i32, field: string, e: i32): ParsedRequest {
  const at = `messages[${i.toString()}].content[${j.toString()}]${field}`;
  if (e < 0) return reject(out, `missing required parameter: '${at}'`, at);
  const want = field.length == 0 ? "an object (a content part)" : "a string";
  return reject(out, `'${at}' must be ${want}, got ${tapeKindName(t.kind(e))}`, at);
}

const PROMPT_FORMS = "a string, an array of strings, an array of token ids or an array of token-id arrays";

/**
 * A completions prompt in one of OpenAI's four forms (vLLM's too): a string, strings, token ids
 * (integers >= 0), or non-empty arrays of token ids; an array holds one form only.
 */
function checkPrompt(t: Tape, prompt: i32, out: ParsedRequest): ParsedRequest | null {
  if (t.isString(prompt)) return null;
  if (t.kind(prompt) != T_ARRAY)
    return reject(out, `'prompt' must be ${PROMPT_FORMS}, got ${tapeKindName(t.kind(prompt))}`, "prompt");
  const end = t.next(prompt);
  if (end == prompt + 1) return reject(out, "'prompt' must not be an empty array", "prompt");
  const form = t.isString(prompt + 1) ? T_ESCAPED : t.kind(prompt + 1); // strings: either string kind
  let i = 0;
  for (let p = prompt + 1; p < end; p = t.next(p), i++) {
    if (form == T_ESCAPED) {
      if (!t.isString(p)) return badPrompt(out, i, -1, "is not a string");
    } else if (form == T_NUMBER) {
      if (!isIntFrom(t, p, 0)) return badPrompt(out, i, -1, `is not a token id, got ${shown(t, p)}`);
    } else if (form == T_ARRAY) {
      if (t.kind(p) != T_ARRAY) return badPrompt(out, i, -1, "is not an array of token ids");
      const inner = t.next(p);
      if (inner == p + 1) return badPrompt(out, i, -1, "is an empty array");
      let k = 0;
      for (let q = p + 1; q < inner; q = t.next(q), k++)
        if (!isIntFrom(t, q, 0)) return badPrompt(out, i, k, `is not a token id, got ${shown(t, q)}`);
    } else return badPrompt(out, i, -1, `is ${tapeKindName(t.kind(p))}`);
  }
  return null;
}

/** The 400 for prompt[i] (or prompt[i][k], k >= 0). */
function badPrompt(out: ParsedRequest, i: i32, k: i32, what: string): ParsedRequest {
  const at = k < 0 ? `prompt[${i.toString()}]` : `prompt[${i.toString()}][${k.toString()}]`;
  return reject(out, `'prompt' must be ${PROMPT_FORMS}: ${at} ${what}`, "prompt");
}
