// Scenario: phases. Where the filter's decision time goes, phase by phase, measured in Node's V8
// (Envoy's wasm runtime is V8 too) over the filter's pure modules compiled to wasm
// (build/test/pure.wasm, test/assembly/entry.ts decisionPhases; -O3 like the filter, though with the
// incremental collector the filter no longer runs): parse, the shared-data reads
// (table generation, in-flight counters), candidates, prompt hashing, prefix-index lookup,
// filters + scorers + picker, recording in the index, in-flight release, the log line. Shared data
// is the unit tests' mock (a Map that copies values out as Envoy does), so host-call costs are not
// in these figures; they are counted instead (shared reads / writes and header reads per decision),
// beside the fixed host calls of the stream glue (gateway-stream.ts, listed in HOST_CALLS).
// No Envoy, no fleet: seconds.
import { ep, pure, tableJson } from "../../test/unit/pure.js";
import { progress } from "../lib/common.js";
import { generateWorkload } from "../workloads.js";

export interface PhasesConfig {
  endpoints: number[];
  promptKb: number[];
  iterations: number;
  seed: number;
}

/** Host calls the stream glue makes per routed request besides the decision core's shared-data
 *  and header reads (gateway-stream.ts, Envoy's callbacks not counted), by kind. */
export const HOST_CALLS: Record<string, string> = {
  "request headers": ":method, :path and content-length reads",
  "request body":
    "clock, body read; the decision's shared reads/writes (above); clock x2 around recording (PREFIX_CACHE only); destination and pool header replaces, clock, x-request-id read, decision-time histogram (and the predicted-prefix one with PREFIX_CACHE)",
  "response headers": "upstream address property (when fallbacks are listed)",
  "response end": "log line (into the stream's filter state; Envoy's access log prints it off the request path)",
  "stream done": "in-flight release (shared read + write)",
};

function body(kb: number, seed: number): string {
  const r = generateWorkload({ kind: "sized", seed, requests: 1, promptBytes: kb * 1024, prefixes: 1 }).requests[0];
  return JSON.stringify({ ...(r.body as Record<string, unknown>), model: "m" });
}

export async function phasesScenario(cfg: PhasesConfig) {
  const rows: Record<string, unknown>[] = [];
  for (const n of cfg.endpoints) {
    const eps = Array.from({ length: n }, (_, i) =>
      ep(i, `pod-${i}`, { waiting: i % 3, running: i % 8, kvUsage: (i % 7) / 10 }),
    );
    for (const strategy of ["DEFAULT", "PREFIX_CACHE"] as const) {
      pure.gatewayReset("");
      pure.setNowMs(1500);
      const err = pure.loadTable(tableJson(eps, {}, { strategy }));
      if (err) throw new Error(`phases: table refused: ${err}`);
      const sizes = strategy === "DEFAULT" ? cfg.promptKb.filter((k) => k === 8) : cfg.promptKb;
      for (const kb of sizes) {
        const out = JSON.parse(pure.decisionPhases(body(kb, cfg.seed), cfg.iterations));
        if (out.error) throw new Error(`phases: ${out.error}`);
        rows.push({ endpoints: n, strategy, promptKb: kb, ...out });
        progress(`phases: ${n} endpoints, ${strategy}, ${kb} KB: decide ${out.decideUs} µs`);
      }
    }
  }
  return {
    config: cfg,
    note: "µs per decision in Node's V8 (-O3, incremental collector); shared data is an in-memory mock",
    hostCalls: HOST_CALLS,
    rows,
  };
}
