// Reads what routing needs from an OpenAI request body (chat or legacy completions) and rejects,
// with the status and message a client should see, anything a model server would reject anyway.
// Runs on the allocation-free JSON tape: only the model name is decoded into a string.
import { T_ARRAY, T_FALSE, T_NULL, T_NUMBER, T_OBJECT, T_TRUE, Tape, tapeKindName } from "../json/tape";

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

function reject(out: ParsedRequest, message: string, param: string): ParsedRequest {
  out.status = 400;
  out.message = message;
  out.param = param;
  return out;
}

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
  const model = t.find(root, "model");
  if (model < 0) return reject(out, "missing required parameter: 'model'", "model");
  if (!t.isString(model)) return reject(out, `'model' must be a string, got ${tapeKindName(t.kind(model))}`, "model");
  if (t.end(model) == t.start(model)) return reject(out, "'model' must not be empty", "model");
  out.model = t.str(model);
  out.modelStart = t.start(model) - 1;
  out.modelEnd = t.end(model) + 1;
  const stream = t.find(root, "stream");
  if (stream >= 0 && t.kind(stream) != T_NULL) {
    const k = t.kind(stream);
    if (k != T_TRUE && k != T_FALSE) return reject(out, `'stream' must be a boolean, got ${tapeKindName(k)}`, "stream");
    out.stream = k == T_TRUE;
  }
  const options = t.find(root, "stream_options");
  if (options >= 0 && t.kind(options) == T_OBJECT) {
    const usage = t.find(options, "include_usage");
    out.includeUsage = usage >= 0 && t.kind(usage) == T_TRUE;
  }
  if (endpoint == Endpoint.ChatCompletions) {
    const messages = t.find(root, "messages");
    if (messages < 0) return reject(out, "missing required parameter: 'messages'", "messages");
    if (t.kind(messages) != T_ARRAY)
      return reject(out, `'messages' must be an array, got ${tapeKindName(t.kind(messages))}`, "messages");
    if (t.next(messages) == messages + 1)
      return reject(out, "'messages' must contain at least one message", "messages");
    let i = 0;
    for (let m = messages + 1; m < t.next(messages); m = t.next(m), i++) {
      if (t.kind(m) != T_OBJECT)
        return reject(
          out,
          `'messages[${i.toString()}]' must be an object, got ${tapeKindName(t.kind(m))}`,
          `messages[${i.toString()}]`,
        );
      const role = t.find(m, "role");
      if (role < 0 || !t.isString(role))
        return reject(out, `'messages[${i.toString()}].role' must be a string`, `messages[${i.toString()}].role`);
      const content = t.find(m, "content");
      if (content >= 0) {
        const k = t.kind(content);
        if (!t.isString(content) && k != T_ARRAY && k != T_NULL)
          return reject(
            out,
            "'messages[" +
              i.toString() +
              "].content' must be a string, an array of content parts or null, got " +
              tapeKindName(k),
            `messages[${i.toString()}].content`,
          );
      }
    }
    out.messages = messages;
  } else {
    const prompt = t.find(root, "prompt");
    if (prompt < 0) return reject(out, "missing required parameter: 'prompt'", "prompt");
    if (t.kind(prompt) == T_ARRAY) {
      if (t.next(prompt) == prompt + 1) return reject(out, "'prompt' must not be an empty array", "prompt");
      for (let p = prompt + 1; p < t.next(prompt); p = t.next(p)) {
        const k = t.kind(p);
        if (!t.isString(p) && k != T_NUMBER && k != T_ARRAY)
          return reject(out, "'prompt' must be a string, an array of strings or of token ids", "prompt");
      }
    } else if (!t.isString(prompt))
      return reject(out, `'prompt' must be a string or an array, got ${tapeKindName(t.kind(prompt))}`, "prompt");
    out.prompt = prompt;
  }
  const maxTokens = t.find(root, "max_tokens");
  if (maxTokens >= 0 && t.kind(maxTokens) != T_NULL) {
    if (t.kind(maxTokens) != T_NUMBER) return reject(out, "'max_tokens' must be a non-negative integer", "max_tokens");
    const n = t.number(maxTokens);
    if (n < 0 || n != Math.floor(n)) return reject(out, "'max_tokens' must be a non-negative integer", "max_tokens");
  }
  return out;
}
