// Writes a routed request's "Request Handled" line to Envoy's log: the record's bytes go into one
// buffer per worker (reused by every request; the VM is single-threaded) and from there to the
// host, with no string built on the way.
import { JsonLineWriter } from "../core/json-line-writer";
import { RequestLog } from "../core/request-log";
import { LogLevel, logBytes } from "../host/abi";

const line = new JsonLineWriter();

export function logHandled(l: RequestLog): void {
  l.write(line);
  logBytes(LogLevel.Info, line.ptr, line.len);
}
