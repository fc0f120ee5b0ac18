// One plugin at a time, as a profile runs it (test/assembly/entry.ts pluginRun): each plugin has
// one table-driven test file here, its cases rows of (endpoints, load, request) -> what it says.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type EndpointJson, pure, tableJson } from "../pure.js";

export interface PluginCase {
  name: string;
  endpoints: EndpointJson[];
  /** In-flight by slot, "3,1,2". */
  inflight?: string;
  loadFresh?: boolean;
  /** Queueing on for the pool (the saturation filter applies). */
  bounded?: boolean;
  config?: Record<string, unknown>;
  /** A completions prompt (the prefix scorer reads it). */
  prompt?: string;
  /** Pickers: candidates' scores "a:0.5,b:0.7" (a third field is the load-only score). */
  scores?: string;
  /** Before the case runs (e.g. route requests so the index holds something). */
  setup?: () => void;
  strategy?: "DEFAULT" | "PREFIX_CACHE";
  /** Candidates an affinity guard marked (scorers read it). */
  yielded?: string[];
  /** What the plugin says; a function when it depends on what setup did. */
  expect: string | (() => string);
}

/** Runs one plugin once with a case's inputs (for tests that compare runs). */
export function runPlugin(plugin: string, c: Omit<PluginCase, "name" | "expect">): string {
  pure.gatewayReset(JSON.stringify(c.config ?? {}));
  pure.loadTable(tableJson(c.endpoints, {}, { strategy: c.strategy ?? "DEFAULT" }));
  c.setup?.();
  return pure.pluginRun(
    plugin,
    JSON.stringify(c.config ?? {}),
    "m",
    c.inflight ?? "",
    c.loadFresh ?? true,
    c.bounded ?? false,
    c.prompt === undefined ? "" : JSON.stringify({ model: "m", prompt: c.prompt }),
    c.scores ?? "",
    (c.yielded ?? []).join(","),
  );
}

export function pluginTable(plugin: string, cases: PluginCase[]): void {
  test(`${plugin}: table`, () => {
    for (const c of cases) {
      const got = runPlugin(plugin, c);
      assert.equal(got, typeof c.expect === "string" ? c.expect : c.expect(), c.name);
    }
  });
}
