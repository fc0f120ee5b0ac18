// `make fuzz`: the filter's request parser under at least 10^6 generated and mutated bodies (wasm,
// in this process), then at least 10^4 through real Envoy on simulated pods (PREFIX_CACHE, so the
// prefix hashing runs too). Seeded (--seed), bounded (--max-seconds per part), loopback only.
// Writes build/fuzz/fuzz-<seed>.json and exits non-zero on any failure.
//   node build/js/test/fuzz/run.js [--seed 1] [--bodies 1000000] [--envoy 10000] [--max-seconds 900]

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { FUZZ_POD_ARGS, fuzzEnvoy, PREFIX_CACHE } from "./envoy-fuzz.js";
import { fuzzParser } from "./parser-fuzz.js";
import { corpusSeeds } from "./seeds.js";

const { values } = parseArgs({
  options: {
    seed: { type: "string", default: "1" },
    bodies: { type: "string", default: "1000000" },
    envoy: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "8" },
    "max-seconds": { type: "string", default: "900" },
  },
});
const seed = Number(values.seed);
const maxSeconds = Number(values["max-seconds"]);
const log = (s: string) => process.stderr.write(`fuzz: ${s}\n`);

log(`parser: ${values.bodies} bodies, seed ${seed}`);
const parser = fuzzParser({
  seed,
  count: Number(values.bodies),
  maxSeconds,
  seeds: corpusSeeds(256 * 1024),
  progress: (n, ms) => log(`  ${n} bodies in ${(ms / 1000).toFixed(1)} s`),
});
log(
  `parser: ${parser.bodies} bodies in ${(parser.ms / 1000).toFixed(1)} s, ${JSON.stringify(parser.statuses)}, failures ${JSON.stringify(parser.failuresByKind)}`,
);

log(`envoy: ${values.envoy} requests, ${values.concurrency} at a time`);
const gw = await startLocalGateway({ fleet: { pods: 3, args: FUZZ_POD_ARGS }, pool: { annotations: PREFIX_CACHE } });
let envoy: Awaited<ReturnType<typeof fuzzEnvoy>>;
try {
  envoy = await fuzzEnvoy(gw, {
    seed: seed + 1,
    count: Number(values.envoy),
    concurrency: Number(values.concurrency),
    maxSeconds,
    seeds: corpusSeeds(64 * 1024),
  });
} finally {
  await gw.stop();
}
log(
  `envoy: ${envoy.requests} requests in ${(envoy.ms / 1000).toFixed(1)} s, ${JSON.stringify(envoy.answers)}, failures ${JSON.stringify(envoy.failuresByKind)}, wasm failures in the log: ${envoy.wasmFailures.length}`,
);

const ok =
  !parser.timedOut &&
  parser.bodies >= Number(values.bodies) &&
  Object.keys(parser.failuresByKind).length === 0 &&
  !envoy.timedOut &&
  Object.keys(envoy.failuresByKind).length === 0 &&
  envoy.wasmFailures.length === 0;
const out = join(REPO_ROOT, "build/fuzz");
mkdirSync(out, { recursive: true });
const file = join(out, `fuzz-${seed}.json`);
writeFileSync(file, JSON.stringify({ ok, parser, envoy }, null, 1));
log(`${ok ? "passed" : "FAILED"}; details (failing bodies as hex) in ${file}`);
process.exit(ok ? 0 : 1);
