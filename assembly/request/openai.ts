// Reads what routing needs from an OpenAI request body (chat or legacy completions) and rejects,
// with the status and message a client should see, anything a model server would reject anyway.
import { JsonParser, JsonValue, JsonKind, kindName } from "../json/parser";

export enum Endpoint { ChatCompletions = 0, Completions = 1 }

export class ParsedRequest {
  model: string = "";
  stream: bool = false;
  /** Byte span of the "model" string value (quotes included) in the raw body, for the target-model rewrite. */
  modelStart: i32 = 0;
  modelEnd: i32 = 0;
  root: JsonValue | null = null;
  /** Error to answer instead of routing; status 0 = no error. */
  status: i32 = 0;
  message: string = "";
  param: string = "";
}

function reject(out: ParsedRequest, message: string, param: string): ParsedRequest {
  out.status = 400; out.message = message; out.param = param;
  return out;
}

export function parseRequest(body: ArrayBuffer, endpoint: Endpoint): ParsedRequest {
  const out = new ParsedRequest();
  if (body.byteLength == 0) return reject(out, "request body is empty: expected a JSON object", "");
  const parser = new JsonParser();
  const root = parser.parse(body);
  if (root === null) return reject(out, "invalid JSON body at byte " + parser.errorAt.toString() + ": " + parser.error, "");
  if (!root.isObject) return reject(out, "request body must be a JSON object, got " + kindName(root.kind), "");
  out.root = root;
  const model = root.get("model");
  if (model === null) return reject(out, "missing required parameter: 'model'", "model");
  if (!model.isString) return reject(out, "'model' must be a string, got " + kindName(model.kind), "model");
  if (model.s.length == 0) return reject(out, "'model' must not be empty", "model");
  out.model = model.s;
  out.modelStart = model.start;
  out.modelEnd = model.end;
  const stream = root.get("stream");
  if (stream !== null && !stream.isNull) {
    if (!stream.isBool) return reject(out, "'stream' must be a boolean, got " + kindName(stream.kind), "stream");
    out.stream = stream.b;
  }
  if (endpoint == Endpoint.ChatCompletions) {
    const messages = root.get("messages");
    if (messages === null) return reject(out, "missing required parameter: 'messages'", "messages");
    if (!messages.isArray) return reject(out, "'messages' must be an array, got " + kindName(messages.kind), "messages");
    if (messages.length == 0) return reject(out, "'messages' must contain at least one message", "messages");
    for (let i = 0; i < messages.length; i++) {
      const m = messages.at(i);
      const p = "messages[" + i.toString() + "]";
      if (!m.isObject) return reject(out, "'" + p + "' must be an object, got " + kindName(m.kind), p);
      const role = m.get("role");
      if (role === null || !role.isString) return reject(out, "'" + p + ".role' must be a string", p + ".role");
      const content = m.get("content");
      if (content !== null && !content.isString && !content.isArray && !content.isNull)
        return reject(out, "'" + p + ".content' must be a string, an array of content parts or null, got " + kindName(content.kind), p + ".content");
    }
  } else {
    const prompt = root.get("prompt");
    if (prompt === null) return reject(out, "missing required parameter: 'prompt'", "prompt");
    if (prompt.isArray) {
      if (prompt.length == 0) return reject(out, "'prompt' must not be an empty array", "prompt");
      for (let i = 0; i < prompt.length; i++) {
        const k = prompt.at(i).kind;
        if (k != JsonKind.String && k != JsonKind.Number && k != JsonKind.Array)
          return reject(out, "'prompt' must be a string, an array of strings or of token ids", "prompt");
      }
    } else if (!prompt.isString) return reject(out, "'prompt' must be a string or an array, got " + kindName(prompt.kind), "prompt");
  }
  const maxTokens = root.get("max_tokens");
  if (maxTokens !== null && !maxTokens.isNull && (!maxTokens.isNumber || maxTokens.n < 0 || maxTokens.n != Math.floor(maxTokens.n)))
    return reject(out, "'max_tokens' must be a non-negative integer", "max_tokens");
  return out;
}
