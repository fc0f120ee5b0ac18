// Writes a routed request's "Request Handled" line: the record's bytes go into one buffer per
// worker (reused by every request; the VM is single-threaded) and from there to the host, with no
// string built on the way.
//
// Two ways out (config "handledLog"):
//  - "access-log": the line becomes the stream's filter state wasm.infergate_request_handled and
//    the listener's access log (envoy/bootstrap.yaml) prints it when the stream ends, through
//    Envoy's buffered log file that a flush thread writes off the request path. A proxy_log call
//    per request (Envoy's own log writes each line with a system call, under a lock, on the
//    worker) cost Envoy 10-23 us more CPU per tiny request (212 -> 189 us, and 193 -> 183 us
//    measured again 2026-12-06; wrk, alternating rounds).
//  - "envoy-log" (the default, for an Envoy whose listener has no such access log): proxy_log at
//    info, in Envoy's own log. The Helm chart and the Envoy Gateway manifests both add the access
//    log and set "access-log".
// A line whose stream Envoy has already logged (the client went away or the stream was reset
// before the response ended; a P/D prefill answering after its decode half) takes proxy_log
// either way: the access log has printed that stream's entry by then.
import { JsonLineWriter } from "../core/json-line-writer";
import { RequestLog } from "../core/request-log";
import { LogLevel, logBytes, setFilterStateBytes } from "../host/abi";

/** Filter state key (Envoy prefixes "wasm."): the access log's %FILTER_STATE% names it. */
const STATE_KEY = String.UTF8.encode("infergate_request_handled");

const line = new JsonLineWriter();

export function logHandled(l: RequestLog, toAccessLog: bool): void {
  l.write(line);
  if (toAccessLog && setFilterStateBytes(STATE_KEY, line.ptr, line.len)) return;
  logBytes(LogLevel.Info, line.ptr, line.len);
}
