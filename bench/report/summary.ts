// Turns the results JSON into pictures (SVG) and summary.md: setup, the goals table (met / not met,
// with the numbers), then one table per scenario. Every claim is a ratio or a side-by-side
// comparison from the same run; absolute times are shown for context only.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { barChart, cdfChart, lineChart } from "./svg.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const n = (x: unknown, d = 1) =>
  typeof x === "number" && Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d)) : "–";
const pct = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–");

export interface Goal {
  goal: string;
  met: boolean | null;
  value: string;
}

export function goals(r: Any): Goal[] {
  const out: Goal[] = [];
  const ov = r.scenarios.overhead?.rows ?? [];
  const ig = ov.filter((x: Any) => x.contender.startsWith("infergate") && x.fixed);
  const g = (goal: string, ok: boolean | null, value: string) => out.push({ goal, met: ok, value });
  if (ig.length) {
    g(
      "added p50 ≤ 100 µs over plain Envoy (fixed concurrency)",
      ig.every((x: Any) => x.addedP50OverEnvoyUs !== null && x.addedP50OverEnvoyUs <= 100),
      ig.map((x: Any) => `${x.label}: +${n(x.addedP50OverEnvoyUs)} µs`).join("; "),
    );
    g(
      "added p99 ≤ 500 µs over plain Envoy",
      ig.every((x: Any) => x.addedP99OverEnvoyUs !== null && x.addedP99OverEnvoyUs <= 500),
      ig.map((x: Any) => `${x.label}: +${n(x.addedP99OverEnvoyUs)} µs`).join("; "),
    );
    g(
      "throughput ≥ 90 % of plain Envoy (max rate)",
      ig.every((x: Any) => x.throughputVsEnvoy !== null && x.throughputVsEnvoy >= 0.9),
      ig.map((x: Any) => `${x.label}: ${pct(x.throughputVsEnvoy)}`).join("; "),
    );
  } else g("overhead goals", null, "overhead scenario did not produce infergate numbers");
  const q = (r.scenarios.routingQuality?.rows ?? []).filter((x: Any) => x.workload === "shared-prefix");
  const row = (id: string) => q.find((x: Any) => x.contender === id && x.summary);
  const pc = row("infergate-prefix"),
    rr = row("envoy-rr"),
    sg = row("sglang-router-cache-aware");
  if (pc) {
    g(
      "PREFIX_CACHE hit rate ≥ 95 % of oracle",
      pc.hitRateVsOracle !== null && pc.hitRateVsOracle >= 0.95,
      `${pct(pc.podHitRate)} vs oracle ${pct(pc.oracleHitRate)} = ${pct(pc.hitRateVsOracle)} of oracle`,
    );
    g(
      "TTFT p50 ≤ 0.5× round-robin",
      rr ? pc.summary.ttftMs.p50 <= 0.5 * rr.summary.ttftMs.p50 : null,
      rr
        ? `${n(pc.summary.ttftMs.p50)} ms vs ${n(rr.summary.ttftMs.p50)} ms = ${n(pc.summary.ttftMs.p50 / rr.summary.ttftMs.p50, 2)}×`
        : "plain Envoy round-robin did not run",
    );
    g(
      "hit rate ≥ sglang-router cache_aware",
      sg ? pc.podHitRate >= sg.podHitRate : null,
      sg ? `${pct(pc.podHitRate)} vs ${pct(sg.podHitRate)}` : "sglang-router cache_aware did not run",
    );
    g(
      "TTFT p90 ≤ sglang-router cache_aware",
      sg ? pc.summary.ttftMs.p90 <= sg.summary.ttftMs.p90 : null,
      sg ? `${n(pc.summary.ttftMs.p90)} ms vs ${n(sg.summary.ttftMs.p90)} ms` : "sglang-router cache_aware did not run",
    );
    g(
      "max/mean pod load ≤ 1.25 (PREFIX_CACHE, shared prefix)",
      pc.maxOverMeanLoad <= 1.25,
      `${n(pc.maxOverMeanLoad, 2)}`,
    );
  } else g("routing-quality goals", null, "infergate PREFIX_CACHE produced no routing-quality numbers");
  const d = r.scenarios.scale?.decision ?? [];
  const dd = (ep: number, kb: number) =>
    d.find((x: Any) => x.endpoints === ep && x.promptKb === kb && x.strategy === "PREFIX_CACHE");
  const a = dd(16, 8),
    b = dd(512, 8),
    b64 = dd(512, 64);
  g(
    "decision ≤ 20 µs median, 8 KB prompt, 16 pods (PREFIX_CACHE)",
    a ? a.decisionUs.p50 <= 20 : null,
    a ? `${n(a.decisionUs.p50)} µs` : "not measured",
  );
  g(
    "decision ≤ 500 µs median at 512 pods (8 KB, PREFIX_CACHE)",
    b ? b.decisionUs.p50 <= 500 : null,
    b ? `${n(b.decisionUs.p50)} µs (64 KB: ${n(b64?.decisionUs.p50)} µs)` : "not measured",
  );
  return out;
}

function table(head: string[], rows: (string | number)[][]): string {
  return (
    `| ${head.join(" | ")} |\n| ${head.map(() => "---").join(" | ")} |\n` +
    rows.map((r) => `| ${r.join(" | ")} |`).join("\n") +
    "\n"
  );
}

export function writePictures(r: Any, dir: string): string[] {
  const files: string[] = [];
  const put = (name: string, svg: string) => {
    writeFileSync(join(dir, name), svg);
    files.push(name);
  };
  const ov = (r.scenarios.overhead?.rows ?? []).filter((x: Any) => x.cdfUs?.length);
  if (ov.length) {
    put(
      "overhead-latency-cdf.svg",
      cdfChart({
        title: "Overhead: latency of tiny requests (fixed concurrency)",
        xLabel: "latency, µs (log)",
        logX: true,
        clipPercentile: 0.999,
        series: ov.map((x: Any) => ({ name: x.label, values: x.cdfUs })),
      }),
    );
    put(
      "overhead-throughput.svg",
      barChart({
        title: "Overhead: max-rate throughput relative to plain Envoy RR",
        yLabel: "throughput / plain Envoy",
        categories: ov.map((x: Any) => x.label),
        series: [{ name: "", values: ov.map((x: Any) => x.throughputVsEnvoy) }],
        refLines: [
          { y: 0.9, label: "goal 0.9" },
          { y: 1, label: "plain Envoy" },
        ],
      }),
    );
  }
  const q = r.scenarios.routingQuality?.rows ?? [];
  const sp = q.filter((x: Any) => x.workload === "shared-prefix" && x.summary);
  if (sp.length) {
    put(
      "ttft-cdf-shared-prefix.svg",
      cdfChart({
        title: "TTFT, shared-prefix multi-turn chat",
        xLabel: "TTFT, ms (log)",
        logX: true,
        series: sp.map((x: Any) => ({ name: x.label, values: x.ttftCdfMs ?? [] })),
      }),
    );
    const ctl = q.filter((x: Any) => x.workload === "no-sharing" && x.summary);
    const cats = sp.map((x: Any) => x.label);
    put(
      "ttft-by-policy.svg",
      barChart({
        title: "TTFT by policy (shared prefix)",
        yLabel: "TTFT, ms",
        categories: cats,
        series: ["p50", "p90", "p99"].map((p) => ({ name: p, values: sp.map((x: Any) => x.summary.ttftMs[p]) })),
      }),
    );
    put(
      "hit-rate.svg",
      barChart({
        title: "Prefix-cache hit rate (pods' own counters) vs oracle",
        yLabel: "hit rate",
        categories: cats,
        series: [
          { name: "pods' hit rate", values: sp.map((x: Any) => x.podHitRate) },
          {
            name: "no-sharing control",
            values: sp.map((x: Any) => ctl.find((c: Any) => c.contender === x.contender)?.podHitRate ?? null),
          },
        ],
        refLines: [{ y: sp[0].oracleHitRate, label: `oracle ${pct(sp[0].oracleHitRate)}` }],
      }),
    );
    const pods = [...new Set(sp.flatMap((x: Any) => Object.keys(x.perPodRequests ?? {})))].sort() as string[];
    put(
      "per-pod-load.svg",
      barChart({
        title: "Requests per pod (shared prefix)",
        yLabel: "requests served",
        categories: cats,
        series: pods.map((p) => ({ name: p, values: sp.map((x: Any) => x.perPodRequests?.[p] ?? null) })),
      }),
    );
  }
  const d = r.scenarios.scale?.decision ?? [];
  if (d.length) {
    const kbs = [...new Set(d.map((x: Any) => x.promptKb))].sort((a: Any, b: Any) => a - b) as number[];
    const series = kbs.map((kb) => ({
      name: `PREFIX_CACHE ${kb} KB`,
      points: d
        .filter((x: Any) => x.promptKb === kb && x.strategy === "PREFIX_CACHE")
        .map((x: Any) => [x.endpoints, x.decisionUs.p50] as [number, number]),
    }));
    series.push({
      name: "DEFAULT 8 KB",
      points: d
        .filter((x: Any) => x.strategy === "DEFAULT")
        .map((x: Any) => [x.endpoints, x.decisionUs.p50] as [number, number]),
    });
    put(
      "decision-time.svg",
      lineChart({
        title: "Filter decision time (median, inside the wasm)",
        xLabel: "endpoints (log)",
        yLabel: "decision, µs",
        logX: true,
        series,
      }),
    );
  }
  return files;
}

export function writeSummary(r: Any, dir: string, pictures: string[]): string {
  const G = goals(r);
  let md = `# infergate benchmark summary\n\n`;
  md += `Run ${r.startedAt} (${r.mode}), ${r.machine.cpus} CPU cores (${r.machine.cpuModel}), ${r.machine.os}, Node ${r.machine.node}, Envoy ${r.machine.envoy}; load average at start ${r.machine.loadAvgAtStart?.join(" / ")}, at end ${r.machine.loadAvgAtEnd?.join(" / ")} (other work shares this machine). Took ${n(r.elapsedS, 0)} s. `;
  md += `Every contender ran on a fresh simulated fleet with the same seeded workload; the load generator is a separate process; warm-up is excluded. Numbers are ratios and side-by-side comparisons from this run; absolute times are for context (a noisy ${r.machine.cpus}-core machine running the fleet, Envoy, the peers and the load generator at once).\n\n`;
  md +=
    `## Goals\n\n` +
    table(
      ["goal", "met", "numbers"],
      G.map((g) => [g.goal, g.met === null ? "n/a" : g.met ? "**met**" : "**not met**", g.value]),
    ) +
    "\n";
  md += `## Contenders and peers\n\n`;
  md += table(
    ["package", "install"],
    (r.peers as Any[]).map((p: Any) => [
      p.package,
      p.ok
        ? `ok ${p.version}`
        : `**failed**: \`${String(p.error).replace(/\n/g, " ").replace(/\|/g, "\\|").slice(0, 400)}\``,
    ]),
  );
  md += `\n${(r.contenders as Any[]).map((c: Any) => `- **${c.label}**${c.unavailable ? `: not run: ${c.unavailable.replace(/\n/g, " ").slice(0, 300)}` : ""}`).join("\n")}\n`;
  if (r.notRun?.length) md += `\n${r.notRun.map((x: string) => `- ${x}`).join("\n")}\n`;
  const ov = r.scenarios.overhead;
  if (ov?.rows) {
    md += `\n## 1. Overhead (tiny non-streaming requests, ${ov.config.pods} zero-latency pods, concurrency ${ov.config.fixedConcurrency} / max rate at ${ov.config.maxConcurrency}, ${ov.config.rounds} round(s) of ${ov.config.durationMs / 1000} s)\n\n`;
    md += table(
      [
        "contender",
        "p50 µs",
        "p99 µs",
        "+p50 vs Envoy",
        "+p99 vs Envoy",
        "+p50 vs direct",
        "max-rate req/s",
        "vs Envoy",
        "vs direct",
        "errors",
      ],
      ov.rows.map((x: Any) =>
        x.fixed
          ? [
              x.label,
              n(x.fixed.latencyUs.p50),
              n(x.fixed.latencyUs.p99),
              n(x.addedP50OverEnvoyUs),
              n(x.addedP99OverEnvoyUs),
              n(x.addedP50OverDirectUs),
              n(x.max.throughputRps),
              pct(x.throughputVsEnvoy),
              pct(x.throughputVsDirect),
              pct(Math.max(x.fixed.errorRate ?? 0, x.max.errorRate ?? 0)),
            ]
          : [x.label, `not run / failed: ${String(x.error ?? "").slice(0, 200)}`, "", "", "", "", "", "", "", ""],
      ),
    );
  }
  const q = r.scenarios.routingQuality;
  if (q?.rows) {
    const s = q.config.shared;
    md += `\n## 2. Routing quality (${q.config.pods} simulated vLLM pods; shared prefix: ${s.systemPrompts} system prompts × ~${s.systemTokens} tokens, ${s.usersPerPrompt} users each, ${s.minTurns}–${s.maxTurns} turns, Poisson ${s.rate} req/s for ${s.durationMs / 1000} s = ${q.requests["shared-prefix"]} requests; control: unique ~${q.config.control.promptTokens}-token prompts at ${q.config.control.rate} req/s; first ${q.config.warmupMs / 1000} s excluded)\n\n`;
    md += `Oracle hit rate (ideal router, unbounded cache; definition in bench/workloads.ts): shared prefix ${pct(q.oracle["shared-prefix"].hitRate)}, control ${pct(q.oracle["no-sharing"].hitRate)}.\n\n`;
    md += table(
      [
        "workload",
        "contender",
        "TTFT p50 ms",
        "p90",
        "p99",
        "e2e p50 ms",
        "p99",
        "req/s",
        "hit rate (pods)",
        "of oracle",
        "max/mean load",
        "errors",
      ],
      q.rows.map((x: Any) =>
        x.summary
          ? [
              x.workload,
              x.label,
              n(x.summary.ttftMs.p50),
              n(x.summary.ttftMs.p90),
              n(x.summary.ttftMs.p99),
              n(x.summary.e2eMs.p50),
              n(x.summary.e2eMs.p99),
              n(x.summary.throughputRps, 2),
              pct(x.podHitRate),
              x.hitRateVsOracle === null ? "–" : pct(x.hitRateVsOracle),
              n(x.maxOverMeanLoad, 2),
              `${x.summary.errors} (${pct(x.summary.errorRate)})`,
            ]
          : [
              x.workload,
              x.label,
              `not run / failed: ${String(x.error ?? "")
                .replace(/\n/g, " ")
                .slice(0, 200)}`,
              "",
              "",
              "",
              "",
              "",
              "",
              "",
              "",
              "",
            ],
      ),
    );
  }
  const b = r.scenarios.burst;
  if (b?.rows) {
    md += `\n## 3. Burst (${b.config.pods} pods × max-num-seqs ${b.config.maxNumSeqs}, capacity ≈ ${b.config.capacityRps} req/s, arrivals ${b.config.factor}× = ${b.config.workload.rate} req/s for ${b.config.workload.durationMs / 1000} s; classes ${b.config.workload.classes.map((c: Any) => `${c.criticality} ${Math.round(c.share * 100)}%`).join(", ")})\n\n`;
    const rows: (string | number)[][] = [];
    for (const x of b.rows) {
      if (!x.classes) {
        rows.push([x.label ?? x.contender, `failed: ${String(x.error ?? "").slice(0, 200)}`, "", "", "", "", ""]);
        continue;
      }
      for (const [k, v] of Object.entries(x.classes as Record<string, Any>))
        rows.push([
          x.label,
          k,
          `${v.served}/${v.sent}`,
          v.rejected429,
          v.otherErrors,
          n(v.ttftMs.p50),
          n(v.ttftMs.p99),
        ]);
    }
    md += table(["contender", "class", "served", "429", "other errors", "TTFT p50 ms", "TTFT p99 ms"], rows);
  }
  const sc = r.scenarios.scale;
  if (sc?.decision) {
    md += `\n## 4. Scale\n\nDecision time inside the wasm (decisionUs per request, one request at a time; endpoints are distinct loopback ports of one stub process in a synthetic table pushed to Envoy's control listener, all ready with varied load):\n\n`;
    md += table(
      [
        "endpoints",
        "prompt",
        "strategy",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "samples",
        "mean matched/total blocks",
        "errors",
      ],
      sc.decision.map((x: Any) => [
        x.endpoints,
        `${x.promptKb} KB`,
        x.strategy,
        n(x.decisionUs.p50),
        n(x.decisionUs.p90),
        n(x.decisionUs.p99),
        x.samples,
        x.strategy === "PREFIX_CACHE" ? `${x.meanMatchedBlocks}/${x.meanTotalBlocks}` : "–",
        x.errors,
      ]),
    );
    const cp = sc.controlPlane;
    if (cp?.pods)
      md += `\nControl plane, ${cp.pods} pods (table ${cp.tableBytes} bytes): resolve + build p50 ${n(cp.resolveAndBuildMs.p50, 2)} ms (p99 ${n(cp.resolveAndBuildMs.p99, 2)}), JSON ${n(cp.serializeMs.p50, 2)} ms, push to Envoy (HTTP round trip incl. the filter's validation) p50 ${n(cp.pushRoundTripMs.p50, 2)} ms (p99 ${n(cp.pushRoundTripMs.p99, 2)}); total p50 ${n(cp.totalMs.p50, 2)} ms.\n`;
    const mf = sc.metricToFilter;
    if (mf)
      md += `\nMetric change → filter: p50 ${n(mf.latencyMs.p50)} ms, p90 ${n(mf.latencyMs.p90)} ms, max ${n(Math.max(...(mf.samplesMs ?? [NaN])))} ms over ${mf.latencyMs.n} trials (${mf.how}).${mf.notes?.length ? ` Notes: ${mf.notes.join("; ")}` : ""}\n`;
  }
  const tp = r.scenarios.thirdParty;
  if (tp) {
    md += `\n## 5. Third-party load generator\n\n${Object.entries(tp.status ?? {})
      .map(([k, v]) => `- ${k}: ${String(v).replace(/\n/g, " ").slice(0, 500)}`)
      .join("\n")}\n\n`;
    if (tp.rows?.length)
      md += table(
        [
          "contender",
          "guidellm TTFT p50 / p90 ms",
          "pods' TTFT p50 / p90 ms",
          "client/pod TTFT p50",
          "guidellm TPOT p50 ms",
          "pods' TPOT p50 ms",
          "hit rate (pods)",
          "errored",
        ],
        tp.rows.map((x: Any) =>
          x.guidellm
            ? [
                x.label,
                `${n(x.guidellm.ttftMs?.p50)} / ${n(x.guidellm.ttftMs?.p90)}`,
                `${n(x.pods.ttftMs.p50)} / ${n(x.pods.ttftMs.p90)}`,
                n(x.clientOverPodTtftP50, 2),
                n(x.guidellm.tpotMs?.p50, 2),
                n(x.pods.tpotMs.p50, 2),
                pct(x.pods.hitRate),
                x.guidellm.errored,
              ]
            : [
                x.label ?? x.contender,
                `failed: ${String(x.error ?? "")
                  .replace(/\n/g, " ")
                  .slice(0, 300)}`,
                "",
                "",
                "",
                "",
                "",
                "",
              ],
        ),
      );
    if (tp.ownClientOverPod)
      md += `\nOur own load generator in scenario 2 (same pods' view): client/pod TTFT p50 ${tp.ownClientOverPod.map((x: Any) => `${x.label} ${n(x.ratio, 2)}`).join(", ")}.\n`;
  }
  if (r.errors?.length)
    md += `\n## Scenario errors\n\n${r.errors.map((e: string) => `- ${e.replace(/\n/g, " ").slice(0, 500)}`).join("\n")}\n`;
  md += `\n## Pictures\n\n${pictures.map((p) => `![${p}](${p})`).join("\n")}\n`;
  md += `\nFull figures and setup: \`results.json\`. Reproduce: \`make bench\` (or \`make bench QUICK=1\`).\n`;
  writeFileSync(join(dir, "summary.md"), md);
  return md;
}
