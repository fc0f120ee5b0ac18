// A monotonic clock for timing the decision's phases (test/assembly/entry.ts decisionPhases), from
// the host: test/unit/pure.ts puts benchNowNs on globalThis, which the ESM bindings' env falls back
// to. Kept in a file of its own because Biome cannot parse AssemblyScript's decorators.

/** Nanoseconds of a monotonic clock. */
@external("env", "benchNowNs")
export declare function benchNowNs(): f64;
