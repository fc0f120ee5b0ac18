// What a failing filter leaves in Envoy's log: a wasm trap (proxy-wasm's V8 host logs "Function:
// <callback> failed: Uncaught RuntimeError: ..."), a VM left in a failed state, or the filter's own
// abort handler ("infergate abort: ...", assembly/host/abi.ts). Used by the hostile-input test and
// the fuzzing through Envoy.

const FAILURE =
  /Function: \S+ failed|Uncaught \w*Error|RuntimeError|infergate abort|wasm trap|VM (?:has )?failed|failed state/i;

/** Every log line that shows a wasm failure (empty when there is none). */
export function wasmFailures(log: string): string[] {
  return log.split("\n").filter((l) => FAILURE.test(l));
}
