// Unit tests of the benchmark's own measuring code (bench/): what it counts per QPS step, what it
// commits, the /proc CPU reader, the field workload's shape, and the goal checks. The benchmark's
// claims are only as good as these; none of this needs Envoy or a fleet.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { processCpuSeconds } from "../../bench/lib/proc-cpu.js";
import { stageRows } from "../../bench/lib/routed-run.js";
import type { LoadRecord } from "../../bench/loadgen-process.js";
import { compactResults } from "../../bench/report/compact.js";
import { goals } from "../../bench/report/goals.js";
import { generateWorkload, type WorkloadSpec } from "../../bench/workloads.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";

const rec = (x: Partial<LoadRecord> & { i: number; atMs: number }): LoadRecord => ({
  lateMs: 0,
  status: 200,
  ttftMs: 10,
  e2eMs: 100,
  promptTokens: 100,
  cachedTokens: 0,
  completionTokens: 10,
  warmup: false,
  ...x,
});

const twoStages: WorkloadSpec = {
  kind: "field-shared-prefix",
  seed: 1,
  groups: 4,
  promptsPerGroup: 2,
  systemTokens: 50,
  questionTokens: 10,
  maxTokens: 10,
  stages: [
    { rate: 5, durationMs: 1000 },
    { rate: 10, durationMs: 1000 },
  ],
};

test("stageRows: output tok/s counts responses completed inside the step; hit rate is cached / prompt", () => {
  const records = [
    // stage 0: completes at 600 ms (inside step 0)
    rec({ i: 0, atMs: 500, e2eMs: 100, stage: 0, cachedTokens: 50 }),
    // stage 0: arrives in step 0 but completes at 1500 ms: its tokens count in step 1
    rec({ i: 1, atMs: 900, e2eMs: 600, stage: 0, cachedTokens: 0 }),
    // stage 1, failed: no tokens, an error
    rec({ i: 2, atMs: 1200, e2eMs: 50, stage: 1, status: 500, error: "HTTP 500" }),
    rec({ i: 3, atMs: 1300, e2eMs: 100, stage: 1, cachedTokens: 100, promptTokens: 100 }),
  ];
  const rows = stageRows(twoStages, records, []);
  assert.equal(rows.length, 2);
  assert.deepEqual(
    rows.map((r) => [r.rate, r.sent, r.ok, r.errors, r.outputTokPerS]),
    [
      [5, 2, 2, 0, 10],
      [10, 2, 1, 1, 20],
    ],
  );
  assert.equal(rows[0].podHitRate, 0.25); // (50 + 0) / 200
  assert.equal(rows[1].podHitRate, 1);
  assert.equal(rows[0].predictedHit, undefined, "no Request Handled lines: no prediction, no error");
});

test("stageRows: infergate's predicted hit is matched to the response by request id", () => {
  const records = [
    rec({ i: 0, atMs: 100, stage: 0, promptTokens: 100, cachedTokens: 50 }),
    rec({ i: 1, atMs: 200, stage: 0, promptTokens: 100, cachedTokens: 100 }),
  ];
  const handled = [
    { requestId: "bench-0", matchedBlocks: 3, totalBlocks: 4 },
    { requestId: "bench-1", matchedBlocks: 4, totalBlocks: 4 },
    { requestId: "other", matchedBlocks: 0, totalBlocks: 4 },
    { requestId: "bench-9" }, // no block counts: ignored
  ];
  const [s0] = stageRows(twoStages, records, handled);
  assert.equal(s0.predictedHit, 0.875); // (0.75 + 1) / 2
  assert.equal(s0.predictionError, 0.125); // (|0.75 - 0.5| + |1 - 1|) / 2
});

test("compactResults drops per-request sample arrays and keeps aggregates", () => {
  const samples = Array.from({ length: 500 }, (_, i) => i);
  const r = {
    rows: [{ label: "x", ttftSamplesMs: samples, stages: [{ rate: 4, ttftMs: { p50: 1 } }], perReplica: [3, 4] }],
    names: Array.from({ length: 100 }, (_, i) => `n${i}`),
  };
  const c = compactResults(r);
  assert.equal(c.rows[0].ttftSamplesMs, undefined);
  assert.deepEqual(c.rows[0].stages, r.rows[0].stages);
  assert.deepEqual(c.rows[0].perReplica, [3, 4]);
  assert.equal(c.names.length, 100, "long arrays of other things stay");
  assert.equal(r.rows[0].ttftSamplesMs.length, 500, "the input is not modified");
});

test("processCpuSeconds reads this process's utime + stime (as Node's own counter sees it); null for no process", () => {
  const before = processCpuSeconds(process.pid);
  const nodeBefore = process.cpuUsage();
  assert.ok(before !== null && before > 0);
  // burn at least 200 ms of CPU, about half of it in the kernel (reading /proc), so that utime and
  // stime both count (wall time is no measure on a busy machine); at most 20 s of wall time
  let x = 0;
  const deadline = performance.now() + 20_000;
  const used = () => process.cpuUsage(nodeBefore).user + process.cpuUsage(nodeBefore).system;
  while (used() < 200_000 && performance.now() < deadline)
    for (let i = 0; i < 50; i++) x += readFileSync("/proc/self/status").length;
  const node = process.cpuUsage(nodeBefore);
  const nodeS = (node.user + node.system) / 1e6;
  const procS = processCpuSeconds(process.pid)! - before;
  // /proc counts in 10 ms ticks; both include every thread of this process
  assert.ok(
    Math.abs(procS - nodeS) <= 0.03 + 0.1 * nodeS,
    `/proc ${procS} s vs process.cpuUsage ${nodeS} s (${x > 0})`,
  );
  assert.equal(processCpuSeconds(2 ** 22 + 12345), null);
});

test("field-shared-prefix workload: seeded, Poisson per stage, hot group share", () => {
  const spec: WorkloadSpec = {
    ...(twoStages as Extract<WorkloadSpec, { kind: "field-shared-prefix" }>),
    groups: 10,
    stages: [
      { rate: 20, durationMs: 10_000 },
      { rate: 40, durationMs: 10_000 },
    ],
  };
  const a = generateWorkload(spec);
  assert.deepEqual(a, generateWorkload(spec), "same seed, same requests");
  const per = [0, 1].map((s) => a.requests.filter((r) => r.stage === s));
  assert.ok(
    Math.abs(per[0].length - 200) < 50 && Math.abs(per[1].length - 400) < 70,
    `${per[0].length}, ${per[1].length}`,
  );
  assert.ok(per[0].every((r) => r.atMs < 10_000) && per[1].every((r) => r.atMs >= 10_000 && r.atMs < 20_000));
  const r0 = a.requests[0];
  assert.equal(r0.body.messages[0].role, "system");
  assert.ok(r0.promptTokens >= 50 && r0.promptTokens < 100, `prompt tokens ${r0.promptTokens}`);
  const hot = generateWorkload({ ...spec, hotShare: 0.5 });
  const share = hot.requests.filter((r) => r.group === 0).length / hot.requests.length;
  assert.ok(share > 0.45 && share < 0.55, `hot share ${share}`);
  const cold = a.requests.filter((r) => r.group === 0).length / a.requests.length;
  assert.ok(cold < 0.2, `no hot spot without hotShare: ${cold}`);
});

test("goals: the ramp goals compare infergate PREFIX_CACHE with every peer at every step", () => {
  const stage = (rate: number, tok: number, p90: number, hit: number) => ({
    rate,
    outputTokPerS: tok,
    ttftMs: { p50: p90 / 2, p90 },
    podHitRate: hit,
  });
  const results = (peerTok: number) => ({
    scenarios: {
      ramp: {
        rows: [
          { contender: "infergate-prefix", label: "ig", stages: [stage(4, 100, 50, 0.9), stage(8, 200, 60, 0.9)] },
          { contender: "envoy-rr", label: "rr", stages: [stage(4, 100, 400, 0.3), stage(8, 150, 900, 0.3)] },
          { contender: "peer", label: "peer", stages: [stage(4, 100, 55, 0.8), stage(8, peerTok, 70, 0.8)] },
        ],
      },
    },
  });
  const find = (r: unknown, text: string) => goals(r).find((g) => g.goal.startsWith(text))!;
  assert.equal(find(results(200), "ramp: PREFIX_CACHE output tok/s").met, true);
  assert.equal(find(results(203), "ramp: PREFIX_CACHE output tok/s").met, true, "within the 2 % tolerance");
  const miss = find(results(220), "ramp: PREFIX_CACHE output tok/s");
  assert.equal(miss.met, false);
  assert.match(miss.value, /8 QPS: 200 < peer 220/);
  assert.equal(find(results(200), "ramp: PREFIX_CACHE TTFT p90").met, true);
  assert.equal(find(results(200), "ramp: PREFIX_CACHE pods' hit rate").met, true);
  assert.equal(find({ scenarios: {} }, "ramp goals").met, null, "missing figures are n/a, never dropped");
});

test("the floor variants of make bench-instructions still apply to today's filter", () => {
  // They are patches to assembly/ (bench/floor/*.patch); a change to the lines they touch left
  // bench-instructions failing at its first floor row, with nothing else noticing.
  for (const f of readdirSync(join(REPO_ROOT, "bench/floor")).filter((x) => x.endsWith(".patch"))) {
    const r = spawnSync("git", ["apply", "--check", join("bench/floor", f)], { cwd: REPO_ROOT, encoding: "utf8" });
    assert.equal(r.status, 0, `bench/floor/${f} no longer applies to assembly/ (regenerate it):\n${r.stderr}`);
  }
});
