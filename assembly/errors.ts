// OpenAI-shaped error bodies: {"error":{"message","type","param","code"}}. Clients (and the openai
// SDKs) read these; the status code says the class, "code" a stable machine-readable reason.
import { jsonQuote } from "./json/quote";

export function errorType(status: i32): string {
  if (status == 400 || status == 404 || status == 405 || status == 413 || status == 409) return "invalid_request_error";
  if (status == 401) return "authentication_error";
  if (status == 429) return "rate_limit_exceeded";
  return "service_unavailable";
}

export function errorBody(status: i32, message: string, code: string, param: string): string {
  return (
    '{"error":{"message":' +
    jsonQuote(message) +
    ',"type":"' +
    errorType(status) +
    '","param":' +
    (param.length > 0 ? jsonQuote(param) : "null") +
    ',"code":' +
    jsonQuote(code) +
    "}}"
  );
}
