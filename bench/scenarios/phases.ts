// Scenario: phases. Where the filter's decision time goes, phase by phase, measured in Node's V8
// (Envoy's wasm runtime is V8 too, yet timed inside Envoy the same code took 1.2-3.4x as long: these
// are lower bounds) over the filter's pure modules compiled to wasm as the filter is
// (build/test/phases.wasm: test/assembly/entry.ts decisionPhases, -O3, the minimal runtime; the unit
// tests' build runs the incremental collector, whose work inside every allocation made 512-pod
// decisions look four times slower than in Envoy): parse, the shared-data reads
// (table generation, in-flight counters), candidates, prompt hashing, prefix-index lookup,
// filters + scorers + picker, recording in the index, in-flight release, the log line. Shared data
// is the unit tests' mock (a Map that copies values out as Envoy does), so host-call costs are not
// in these figures; they are counted instead (shared reads / writes and header reads per decision),
// beside the fixed host calls of the stream glue (gateway-stream.ts, listed in HOST_CALLS).
// No Envoy, no fleet: seconds.
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { ep, tableJson } from "../../test/unit/pure.js";
import { progress } from "../lib/common.js";
import { generateWorkload } from "../workloads.js";

const here = dirname(fileURLToPath(import.meta.url));

type PureModule = Record<string, (...a: unknown[]) => any>;
let built: PureModule | null = null;

/**
 * build/test/phases.wasm, loaded when the scenario first runs (a bench without it neither needs
 * the file nor changes V8's flags). Compiled as Envoy's V8 compiles the filter
 * (proxy-wasm-cpp-host: the optimizing compiler up front, no baseline tier), so the first case
 * timed does not pay for tiering up. The flag holds for wasm this process compiles from then on.
 */
async function phasesModule(): Promise<PureModule> {
  if (built === null) {
    setFlagsFromString("--no-liftoff");
    built = (await import(pathToFileURL(join(here, "../../../test/phases.js")).href)) as PureModule;
  }
  return built;
}

export interface PhasesConfig {
  endpoints: number[];
  promptKb: number[];
  /** Prompt text in lines of about this many bytes (0: plain words). */
  lineBytes: number;
  iterations: number;
  seed: number;
}

/** Host calls the stream glue makes per routed request besides the decision core's shared-data
 *  and header reads (gateway-stream.ts, Envoy's callbacks not counted), by kind. */
export const HOST_CALLS: Record<string, string> = {
  "request headers":
    "the header map, read whole (one call: :method, :path, content-length, x-request-id and route matches)",
  "request body":
    "clock, body read as it arrives; the decision's shared reads/writes (above); clock x2 around recording (PREFIX_CACHE only); destination and pool header replaces, clock; the decision-time histogram values (and the predicted-prefix ones with PREFIX_CACHE) are buffered and recorded on the filter's 10 ms tick",
  "response headers":
    "the request's x-envoy-attempt-count (when fallbacks are listed), the upstream address property only for a retried request",
  "response end": "log line (into the stream's filter state; Envoy's access log prints it off the request path)",
  "stream done": "in-flight release (shared read + write)",
};

function body(kb: number, seed: number, lineBytes: number): string {
  const r = generateWorkload({ kind: "sized", seed, requests: 1, promptBytes: kb * 1024, prefixes: 1, lineBytes })
    .requests[0];
  return JSON.stringify({ ...(r.body as Record<string, unknown>), model: "m" });
}

export async function phasesScenario(cfg: PhasesConfig) {
  const pure = await phasesModule();
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
        const out = JSON.parse(pure.decisionPhases(body(kb, cfg.seed, cfg.lineBytes), cfg.iterations));
        pure.__collect(); // the minimal runtime collects only when told, as the filter does on its tick
        if (out.error) throw new Error(`phases: ${out.error}`);
        rows.push({ endpoints: n, strategy, promptKb: kb, ...out });
        progress(`phases: ${n} endpoints, ${strategy}, ${kb} KB: decide ${out.decideUs} µs`);
      }
    }
  }
  return {
    config: cfg,
    note: "µs per decision in Node's V8 (-O3, minimal runtime, as the filter is built); shared data is an in-memory mock",
    hostCalls: HOST_CALLS,
    rows,
  };
}
