// OpenAI-shaped error bodies: {"error":{"message","type","param","code"}}. Clients (and the openai
// SDKs) read these; the status code says the class, "code" a stable machine-readable reason.
import { jsonQuote } from "./json/quote";

/** The error's type by status: the client's mistake (4xx), or the service's: unavailable for now
 *  (503, 504: worth a retry) or failed (500 and any other 5xx: OpenAI's "server_error"). */
export function errorType(status: i32): string {
  if (status == 401) return "authentication_error";
  if (status == 429) return "rate_limit_exceeded";
  if (status < 500) return "invalid_request_error";
  if (status == 503 || status == 504) return "service_unavailable";
  return "server_error";
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
