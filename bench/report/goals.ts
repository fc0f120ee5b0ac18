// The goals `make bench` checks, each met / not met with its numbers, from one run's results:
// issue 14 (the field benchmarks), issue 15 (per-request cost), issue 11 (prefix routing under
// pressure, measured on the ramp), and the earlier overhead / routing / decision goals. A goal whose
// figures are missing is n/a with the reason, never dropped.

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

export interface Goal {
  issue: string;
  goal: string;
  met: boolean | null;
  value: string;
}

const n = (x: unknown, d = 1) =>
  typeof x === "number" && Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d)) : "–";
/** a difference with its sign: +12 / -3.4 */
const sgn = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${n(x)}` : "–");
const pct = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–");

/** Throughput "≥" with this relative tolerance: at light load every router delivers the offered load,
 *  and two runs of the same contender differ by about this much. */
export const THROUGHPUT_TOLERANCE = 0.02;

export function goals(r: Any): Goal[] {
  const out: Goal[] = [];
  const g = (issue: string, goal: string, met: boolean | null, value: string) => out.push({ issue, goal, met, value });

  // ---- issue 14 / 11: the cache-pressure ramp ----
  const rampRows = (r.scenarios.ramp?.rows ?? []).filter((x: Any) => x.stages?.length);
  const pc = rampRows.find((x: Any) => x.contender === "infergate-prefix");
  const peers = rampRows.filter((x: Any) => !x.contender.startsWith("infergate"));
  if (pc && peers.length) {
    const steps = pc.stages.map((s: Any, i: number) => ({
      rate: s.rate,
      mine: s,
      others: peers.map((p: Any) => ({ label: p.label, s: p.stages[i] })).filter((o: Any) => o.s),
    }));
    const tputFails = steps.flatMap((st: Any) =>
      st.others
        .filter((o: Any) => (st.mine.outputTokPerS ?? 0) < (o.s.outputTokPerS ?? 0) * (1 - THROUGHPUT_TOLERANCE))
        .map((o: Any) => `${st.rate} QPS: ${n(st.mine.outputTokPerS)} < ${o.label} ${n(o.s.outputTokPerS)}`),
    );
    g(
      "14",
      `ramp: PREFIX_CACHE output tok/s ≥ every peer's at every step (within ${THROUGHPUT_TOLERANCE * 100} %)`,
      tputFails.length === 0,
      tputFails.length
        ? tputFails.slice(0, 6).join("; ")
        : `all ${steps.length} steps; at ${steps.at(-1).rate} QPS ${n(steps.at(-1).mine.outputTokPerS)} tok/s vs best peer ${n(Math.max(...steps.at(-1).others.map((o: Any) => o.s.outputTokPerS ?? 0)))}`,
    );
    const ttftWins = steps.filter((st: Any) =>
      st.others.every((o: Any) => (st.mine.ttftMs.p90 ?? Infinity) <= (o.s.ttftMs.p90 ?? Infinity)),
    );
    g(
      "14",
      "ramp: PREFIX_CACHE TTFT p90 ≤ every peer's at ≥ 80 % of steps",
      ttftWins.length >= 0.8 * steps.length,
      `${ttftWins.length}/${steps.length} steps; ${steps
        .filter((st: Any) => !ttftWins.includes(st))
        .map((st: Any) => {
          const best = st.others.reduce((a: Any, o: Any) =>
            (o.s.ttftMs.p90 ?? Infinity) < (a.s.ttftMs.p90 ?? Infinity) ? o : a,
          );
          return `${st.rate} QPS: ${n(st.mine.ttftMs.p90)} ms vs ${best.label} ${n(best.s.ttftMs.p90)} ms`;
        })
        .join("; ")}`,
    );
    const hitFails = steps.filter((st: Any) =>
      st.others.some((o: Any) => (st.mine.podHitRate ?? 0) < (o.s.podHitRate ?? 0)),
    );
    g(
      "11",
      "ramp: PREFIX_CACHE pods' hit rate ≥ the best peer's at every step",
      hitFails.length === 0,
      `${steps.length - hitFails.length}/${steps.length} steps; ${steps
        .map((st: Any) => {
          const best = st.others.reduce((a: Any, o: Any) => ((o.s.podHitRate ?? 0) > (a.s.podHitRate ?? 0) ? o : a));
          return `${st.rate} QPS ${pct(st.mine.podHitRate)} vs ${best.label} ${pct(best.s.podHitRate)}`;
        })
        .join("; ")}`,
    );
    const rr = rampRows.find((x: Any) => x.contender === "envoy-rr");
    if (rr) {
      const last = pc.stages.length - 1;
      const a = pc.stages[last].ttftMs.p50,
        b = rr.stages[last]?.ttftMs.p50;
      g(
        "earlier",
        "ramp, highest step: PREFIX_CACHE TTFT p50 ≤ 0.5× plain Envoy round-robin",
        a != null && b != null ? a <= 0.5 * b : null,
        `${n(a)} ms vs ${n(b)} ms at ${pc.stages[last].rate} QPS`,
      );
    }
  } else
    g(
      "14",
      "ramp goals",
      null,
      pc ? "no peer produced ramp figures" : "infergate PREFIX_CACHE produced no ramp figures",
    );

  // ---- issue 14 / 11: two replicas ----
  const rep = (r.scenarios.replicas?.rows ?? []).filter((x: Any) => x.stages?.length);
  const one = rep.find((x: Any) => x.contender === "infergate-prefix" && x.replicas === 1);
  const two = rep.find((x: Any) => x.contender === "infergate-prefix" && x.replicas === 2);
  g(
    "14",
    "two replicas: PREFIX_CACHE hit rate ≥ 0.95× its one-replica hit rate",
    one && two ? two.podMetricsHitRate >= 0.95 * one.podMetricsHitRate : null,
    one && two
      ? `${pct(two.podMetricsHitRate)} vs ${pct(one.podMetricsHitRate)} = ${n(two.podMetricsHitRate / one.podMetricsHitRate, 3)}×`
      : "replicas workload did not run for infergate PREFIX_CACHE",
  );

  // ---- issue 14: hot spot ----
  const hot = (r.scenarios.hotSpot?.rows ?? []).find((x: Any) => x.contender === "infergate-prefix" && x.summary);
  g(
    "14",
    "hot spot: PREFIX_CACHE max/mean pod load ≤ 1.25",
    hot ? hot.maxOverMeanLoad <= 1.25 : null,
    hot ? `${n(hot.maxOverMeanLoad, 2)} (TTFT p99 ${n(hot.summary.ttftMs.p99)} ms)` : "hot-spot workload did not run",
  );

  // ---- issue 15: per-request cost (wrk) ----
  const ov = r.scenarios.overhead?.rows ?? [];
  const orow = (id: string, body: string) => ov.find((x: Any) => x.contender === id && x.body === body && x.rps);
  const d = orow("infergate-default", "tiny"),
    p8 = orow("infergate-prefix", "8KB");
  g(
    "15",
    "Envoy CPU per request, DEFAULT (tiny prompt) ≤ 1.4× plain Envoy's",
    d?.cpuVsEnvoy != null ? d.cpuVsEnvoy <= 1.4 : null,
    d
      ? `${n(d.cpuPerRequestUs)} µs vs ${n(orow("envoy-rr", "tiny")?.cpuPerRequestUs)} µs = ${n(d.cpuVsEnvoy, 2)}×`
      : "not measured",
  );
  g(
    "15",
    "Envoy CPU per request, PREFIX_CACHE (8 KB prompt) ≤ 1.5× plain Envoy's (same body)",
    p8?.cpuVsEnvoy != null ? p8.cpuVsEnvoy <= 1.5 : null,
    p8
      ? `${n(p8.cpuPerRequestUs)} µs vs ${n(orow("envoy-rr", "8KB")?.cpuPerRequestUs)} µs = ${n(p8.cpuVsEnvoy, 2)}×`
      : "not measured",
  );
  g(
    "15",
    "throughput at saturation ≥ 0.75× plain Envoy's (DEFAULT tiny, PREFIX_CACHE 8 KB)",
    d?.rpsVsEnvoy != null && p8?.rpsVsEnvoy != null ? d.rpsVsEnvoy >= 0.75 && p8.rpsVsEnvoy >= 0.75 : null,
    `DEFAULT ${n(d?.rpsVsEnvoy, 2)}×, PREFIX_CACHE 8 KB ${n(p8?.rpsVsEnvoy, 2)}×`,
  );
  const ig = ov.filter((x: Any) => x.contender.startsWith("infergate") && x.rps && x.body === "tiny");
  g(
    "earlier",
    "added p50 ≤ 100 µs and p99 ≤ 500 µs over plain Envoy (tiny, wrk 8 connections)",
    ig.length ? ig.every((x: Any) => x.addedP50OverEnvoyUs <= 100 && x.addedP99OverEnvoyUs <= 500) : null,
    ig.map((x: Any) => `${x.label}: ${sgn(x.addedP50OverEnvoyUs)} / ${sgn(x.addedP99OverEnvoyUs)} µs`).join("; ") ||
      "not measured",
  );
  g(
    "earlier",
    "throughput ≥ 90 % of plain Envoy (tiny, max rate)",
    ig.length ? ig.every((x: Any) => x.rpsVsEnvoy >= 0.9) : null,
    ig.map((x: Any) => `${x.label}: ${pct(x.rpsVsEnvoy)}`).join("; ") || "not measured",
  );

  // ---- issue 15: decision time ----
  const dec = r.scenarios.scale?.decision ?? [];
  const dd = (ep: number, kb: number, s: string) =>
    dec.find((x: Any) => x.endpoints === ep && x.promptKb === kb && x.strategy === s);
  const decisionGoal = (goal: string, x: Any, limit: number) =>
    g("15", goal, x ? x.decisionUs.p50 <= limit : null, x ? `${n(x.decisionUs.p50)} µs` : "not measured");
  decisionGoal("decisionUs median ≤ 20 µs: 16 pods, 8 KB prompt, PREFIX_CACHE", dd(16, 8, "PREFIX_CACHE"), 20);
  decisionGoal("decisionUs median ≤ 25 µs: 512 pods, DEFAULT", dd(512, 8, "DEFAULT"), 25);
  decisionGoal("decisionUs median ≤ 60 µs: 512 pods, 8 KB prompt, PREFIX_CACHE", dd(512, 8, "PREFIX_CACHE"), 60);
  decisionGoal("decisionUs median ≤ 50 µs: 220 KB prompt (16 pods, PREFIX_CACHE)", dd(16, 220, "PREFIX_CACHE"), 50);

  // ---- issue 15 / 14: long prompts ----
  const lp = (r.scenarios.longPrompt?.rows ?? []).filter((x: Any) => x.contender.startsWith("infergate") && x.ttftMs);
  g(
    "15",
    "220 KB prompts, 20 and 150 concurrent: added TTFT p99 over plain Envoy ≤ 10 ms",
    lp.length ? lp.every((x: Any) => x.addedTtftP99OverEnvoyMs !== null && x.addedTtftP99OverEnvoyMs <= 10) : null,
    lp.map((x: Any) => `${x.label} @${x.concurrency}: ${sgn(x.addedTtftP99OverEnvoyMs)} ms`).join("; ") ||
      "not measured",
  );
  g(
    "15",
    "220 KB prompts: no throughput plateau below plain Envoy's (≥ 0.95×)",
    lp.length ? lp.every((x: Any) => x.throughputVsEnvoy !== null && x.throughputVsEnvoy >= 0.95) : null,
    lp.map((x: Any) => `${x.label} @${x.concurrency}: ${n(x.throughputVsEnvoy, 2)}×`).join("; ") || "not measured",
  );
  return out;
}
