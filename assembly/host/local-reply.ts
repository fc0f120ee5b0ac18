// OpenAI-shaped error answers sent by the filter itself (proxy_send_local_response).
import { errorBody } from "../errors";
import { sendLocalResponse } from "./abi";

export function sendError(
  status: i32,
  message: string,
  code: string,
  param: string,
  extraNames: string[] = [],
  extraValues: string[] = [],
): void {
  const names = ["content-type"];
  const values = ["application/json"];
  for (let i = 0; i < extraNames.length; i++) {
    names.push(extraNames[i]);
    values.push(extraValues[i]);
  }
  sendLocalResponse(<u32>status, "infergate_" + code, errorBody(status, message, code, param), names, values);
}
