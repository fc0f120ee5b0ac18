// summary.md of one run: setup and noise note, the goals table (met / not met, with the numbers),
// the contenders (versions, exact install or start errors), then one table per workload, and the
// pictures. Every claim is a ratio or a side-by-side comparison from the same run; absolute times
// are shown for context only (the machine is shared).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { goals } from "./goals.js";

export { goals } from "./goals.js";
export { writePictures } from "./pictures.js";

/* eslint-disable @typescript-eslint/no-explicit-any */
type Any = any;

const n = (x: unknown, d = 1) =>
  typeof x === "number" && Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(d)) : "–";
const pct = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–");
const oneLine = (s: unknown, max = 300) =>
  String(s ?? "")
    .replace(/\n/g, " ")
    .replace(/\|/g, "\\|")
    .slice(0, max);

function table(head: string[], rows: (string | number)[][]): string {
  return (
    `| ${head.join(" | ")} |\n| ${head.map(() => "---").join(" | ")} |\n` +
    rows.map((r) => `| ${r.join(" | ")} |`).join("\n") +
    "\n"
  );
}

/** A row that did not run: its contender and the exact reason, padded to the table's width. */
const failedRow = (x: Any, width: number) => [
  x.label ?? x.contender,
  `not run / failed: ${oneLine(x.error, 400)}`,
  ...Array.from({ length: Math.max(0, width - 2) }, () => ""),
];

function fieldRows(rows: Any[], extra: (x: Any) => (string | number)[], extraHead: string[]) {
  const head = [
    "contender",
    "TTFT p50 ms",
    "p90",
    "p99",
    "output tok/s",
    "hit rate (pods)",
    "max/mean load",
    "errors",
    ...extraHead,
  ];
  return table(
    head,
    rows.map((x: Any) =>
      x.summary
        ? [
            `${x.label}${x.replicas > 1 ? ` ×${x.replicas}` : ""}`,
            n(x.summary.ttftMs.p50),
            n(x.summary.ttftMs.p90),
            n(x.summary.ttftMs.p99),
            n(x.stages?.[0]?.outputTokPerS),
            pct(x.podMetricsHitRate),
            n(x.maxOverMeanLoad, 2),
            `${x.summary.errors}/${x.summary.requests}`,
            ...extra(x),
          ]
        : failedRow(x, head.length),
    ),
  );
}

/** The scenarios whose rows name this contender (burst rows carry a " +queue" / " no-queue" suffix). */
function scenariosOf(r: Any, id: string): string[] {
  return Object.entries(r.scenarios ?? {})
    .filter(([, v]) =>
      ((v as Any)?.rows ?? []).some((x: Any) => x.contender === id || String(x.contender).startsWith(`${id} `)),
    )
    .map(([k]) => k);
}

export function writeSummary(r: Any, dir: string, pictures: string[]): string {
  const G = goals(r);
  let md = `# infergate benchmark summary\n\n`;
  md += `Run ${r.startedAt} (${r.mode}), ${r.machine.cpus} CPU cores (${r.machine.cpuModel}), ${r.machine.os}, Node ${r.machine.node}, Envoy ${r.machine.envoy}; load average at start ${r.machine.loadAvgAtStart?.join(" / ")}, at end ${r.machine.loadAvgAtEnd?.join(" / ")}. Took ${n(r.elapsedS, 0)} s.\n\n`;
  md += `**Noise.** This machine is shared (other builds and test suites ran during this run): absolute times and rates are noisy and shown for context only. The claims are the ratios and side-by-side comparisons within this one run. Every contender runs on a fresh simulated fleet with the same seeded workload; the load generator is a separate process.\n\n`;
  md +=
    `## Goals\n\n` +
    table(
      ["issue", "goal", "met", "numbers"],
      G.map((g) => [
        g.issue,
        g.goal,
        g.met === null ? "n/a" : g.met ? "**met**" : "**not met**",
        oneLine(g.value, 700),
      ]),
    ) +
    "\n";
  md += `## Contenders and peers\n\n`;
  md += table(
    ["package", "install"],
    (r.peers as Any[]).map((p: Any) => [
      p.package,
      p.ok ? `ok ${p.version}${p.python ? ` (Python ${p.python})` : ""}` : `**failed**: \`${oneLine(p.error, 400)}\``,
    ]),
  );
  md += `\n${(r.contenders as Any[])
    .map((c: Any) => {
      const where = scenariosOf(r, c.id);
      return `- **${c.label}**${c.unavailable ? `: not run: ${oneLine(c.unavailable, 600)}` : where.length ? ` (${where.join(", ")})` : ": in no workload of this run"}`;
    })
    .join("\n")}\n`;
  if (r.epp)
    md += `\nUpstream endpoint picker: ${r.epp.version}. Plugin configurations: ${Object.entries(r.epp.plugins)
      .map(([k, v]) => `**${k}**: ${v}`)
      .join("; ")}.\n`;
  if (r.notRun?.length) md += `\n${r.notRun.map((x: string) => `- ${x}`).join("\n")}\n`;

  const ramp = r.scenarios.ramp;
  if (ramp?.rows) {
    const w = ramp.config.workload;
    md += `\n## 1. Shared-prefix capacity ramp (workload 1)\n\n`;
    md += `After llm-d's published shared-prefix benchmark, scaled to the simulated fleet (run.ts says why for each number):\n\n`;
    md += table(
      ["", "llm-d", "here"],
      [
        ["pods", "8", String(ramp.config.fleet.pods)],
        ["groups × prompts per group", "150 × 5", `${w.groups} × ${w.promptsPerGroup}`],
        ["system prompt + question tokens", "6,000 + 1,200", `${w.systemTokens} + ${w.questionTokens}`],
        ["output tokens", "1,000", String(w.maxTokens)],
        [
          "QPS steps",
          "3 → 60",
          `${w.stages.map((s: Any) => s.rate).join(", ")} (${w.stages[0].durationMs / 1000} s each, back to back)`,
        ],
        [
          "KV cache per pod",
          "one H100 each",
          `${ramp.config.fleet.args.join(" ")} (× 16 tokens); working set ${w.groups * w.systemTokens + w.groups * w.promptsPerGroup * w.questionTokens} tokens`,
        ],
      ],
    );
    md += `\n${ramp.requests} requests, mean prompt ${ramp.promptTokensMean} tokens; oracle hit rate (unbounded cache, ideal router) ${pct(ramp.oracleHitRate)}. Output tok/s counts tokens of responses completed inside the step; hit rate is cached / prompt tokens as the pods reported them per request (usage.prompt_tokens_details.cached_tokens); "predicted" is infergate's own index (matchedBlocks / totalBlocks of its Request Handled line) where it logs one.\n\n`;
    const head = [
      "contender",
      "QPS",
      "output tok/s",
      "TTFT p50 ms",
      "TTFT p90 ms",
      "hit rate (pods)",
      "predicted hit",
      "mean abs(pred − real)",
      "errors",
    ];
    const rows: (string | number)[][] = [];
    for (const x of ramp.rows) {
      if (!x.stages) {
        rows.push(failedRow(x, head.length));
        continue;
      }
      for (const s of x.stages)
        rows.push([
          x.label,
          s.rate,
          n(s.outputTokPerS),
          n(s.ttftMs.p50),
          n(s.ttftMs.p90),
          pct(s.podHitRate),
          s.predictedHit == null ? "–" : pct(s.predictedHit),
          s.predictionError == null ? "–" : pct(s.predictionError),
          `${s.errors}/${s.sent}`,
        ]);
    }
    md += table(head, rows);
    md += `\nWhole run, the pods' own /metrics counters (vllm:prefix_cache_hits/queries_total): ${ramp.rows
      .filter((x: Any) => x.summary)
      .map((x: Any) => `${x.label} ${pct(x.podMetricsHitRate)}`)
      .join(", ")}.\n`;
  }
  const ip = r.scenarios.inferencePerf;
  if (ip) {
    md += `\n### Workload 1 driven by inference-perf\n\n${oneLine(ip.status, 600)}. Its own shared_prefix generator and Poisson stages at the same rates, on the same fleet shape; next to our own client's figures for the same contender in the ramp above (its prompts are its own words and token counts).\n\n`;
    const head = [
      "contender",
      "QPS",
      "inference-perf TTFT p50 / p90 ms",
      "our client TTFT p50 / p90 ms",
      "inference-perf output tok/s",
      "our client output tok/s",
      "inference-perf hit rate",
      "failed",
    ];
    const rows: (string | number)[][] = [];
    for (const x of ip.rows ?? []) {
      if (!x.stages) {
        rows.push(failedRow(x, head.length));
        continue;
      }
      const own = ramp?.rows?.find((y: Any) => y.contender === x.contender && y.stages);
      x.stages.forEach((s: Any, i: number) => {
        const o = own?.stages?.[i];
        rows.push([
          x.label,
          s.rate ?? "?",
          `${n(s.ttftMs.p50)} / ${n(s.ttftMs.p90)}`,
          o ? `${n(o.ttftMs.p50)} / ${n(o.ttftMs.p90)}` : "–",
          n(s.outputTokPerS),
          o ? n(o.outputTokPerS) : "–",
          pct(s.hitRate),
          s.failed,
        ]);
      });
    }
    md += table(head, rows);
  }
  const lp = r.scenarios.longPrompt;
  if (lp?.rows) {
    md += `\n## 2. Long prompts (workload 2): ${lp.config.promptKb} KB prompts, ${lp.config.pods} near-instant pods, closed loop, streamed, ${lp.config.durationMs / 1000} s per run\n\n`;
    const head = [
      "contender",
      "concurrent",
      "req/s",
      "vs plain Envoy",
      "TTFT p50 ms",
      "TTFT p99 ms",
      "added p50 ms",
      "added p99 ms",
      "CPU µs/req",
      "CPU vs Envoy",
      "errors",
    ];
    md +=
      "CPU per request: the gateway's own processes (/proc utime + stime) over the run, warm-up included, divided by the requests sent. The load generator, the pods and the gateway share two cores, so a gateway's CPU per request is what it takes from the others, and it moves far less between runs (about ±10 %) than req/s and TTFT, which follow whatever else the machine runs.\n\n";
    md += table(
      head,
      lp.rows.map((x: Any) =>
        x.ttftMs
          ? [
              x.label,
              x.concurrency,
              n(x.throughputRps),
              n(x.throughputVsEnvoy, 2),
              n(x.ttftMs.p50),
              n(x.ttftMs.p99),
              n(x.addedTtftP50OverEnvoyMs),
              n(x.addedTtftP99OverEnvoyMs),
              n(x.cpuUsPerRequest),
              n(x.cpuVsEnvoy, 2),
              `${x.errors}/${x.requests}`,
            ]
          : failedRow(x, head.length),
      ),
    );
  }
  const rep = r.scenarios.replicas;
  if (rep?.rows) {
    md += `\n## 3. Two gateway replicas (workload 3): the ramp's shape at ${rep.config.workload.stages[0].rate} QPS, requests alternating between the replicas (each replica its own process and state)\n\n`;
    md += fieldRows(rep.rows, (x) => [x.perReplica ? x.perReplica.join(" / ") : "–"], ["requests per replica"]);
  }
  const hot = r.scenarios.hotSpot;
  if (hot?.rows) {
    md += `\n## 4. Hot spot (workload 4): one system prompt carries ${pct(hot.config.workload.hotShare)} of the traffic, ${hot.config.workload.stages[0].rate} QPS\n\n`;
    md += fieldRows(hot.rows, (x) => [Object.values(x.perPodRequests ?? {}).join(" / ")], ["requests per pod"]);
  }
  const un = r.scenarios.uneven;
  if (un?.rows) {
    md += `\n## 5. Uneven fleet (workload 5): pod-0 half as fast (${(un.config.fleet.perPod?.["0"] ?? []).join(" ")}), ${un.config.workload.stages[0].rate} QPS\n\n`;
    md += fieldRows(
      un.rows,
      (x) => {
        const p = x.perPodRequests ?? {};
        const tot = Object.values(p).reduce((a: number, b: Any) => a + b, 0) as number;
        return [tot ? pct((p["pod-0"] ?? 0) / tot) : "–"];
      },
      ["slow pod's share (even: 25 %)"],
    );
  }
  const ov = r.scenarios.overhead;
  if (ov?.rows) {
    md += `\n## 6. Overhead (${ov.loadGenerator}, ${ov.config.connections} connections, ${ov.config.threads} threads, ${ov.config.durationS} s per run, ${ov.config.rounds} rounds in alternating order; ${ov.config.pods} zero-latency pods; max_tokens 1, non-streaming)\n\n`;
    md += `CPU per request: utime + stime of the gateway's own processes from /proc (Envoy; for the upstream EPP, Envoy + the EPP; for the Rust routers, their process), before and after the run, divided by the requests served. infergate's control plane runs in the bench process and is not counted (it does no per-request work).\n\n`;
    const head = [
      "contender",
      "body",
      "req/s",
      "vs plain Envoy",
      "p50 µs",
      "p99 µs",
      "+p50 vs Envoy",
      "+p99 vs Envoy",
      "CPU µs/req",
      "CPU vs Envoy",
      "per round (req/s, CPU µs)",
      "errors",
    ];
    md += table(
      head,
      ov.rows.map((x: Any) =>
        x.rps
          ? [
              x.label,
              x.body,
              n(x.rps),
              n(x.rpsVsEnvoy, 2),
              n(x.latencyUs.p50),
              n(x.latencyUs.p99),
              n(x.addedP50OverEnvoyUs),
              n(x.addedP99OverEnvoyUs),
              n(x.cpuPerRequestUs),
              n(x.cpuVsEnvoy, 2),
              (x.perRound ?? []).map((p: Any) => `${p.rps}, ${n(p.cpuPerRequestUs)}`).join("; "),
              x.errors,
            ]
          : failedRow(x, head.length),
      ),
    );
  }
  const b = r.scenarios.burst;
  if (b?.rows) {
    md += `\n## 8. Burst (${b.config.pods} pods × max-num-seqs ${b.config.maxNumSeqs}, capacity ≈ ${b.config.capacityRps} req/s, arrivals ${b.config.factor}× = ${b.config.workload.rate} req/s for ${b.config.workload.durationMs / 1000} s; classes ${b.config.workload.classes.map((c: Any) => `${c.criticality} ${Math.round(c.share * 100)}%`).join(", ")})\n\n`;
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
    md += `\n## 9. Scale\n\nDecision time inside the wasm (decisionUs per request, one request at a time; endpoints are distinct loopback ports of one stub process in a synthetic table pushed to Envoy's control listener, all ready with varied load):\n\n`;
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
  const ph = r.scenarios.phases;
  if (ph?.rows) {
    md += `\n### Where the decision time goes\n\nEach phase of the decision timed alone over the filter's pure modules compiled to wasm, in Node's V8, µs per decision: a lower bound for Envoy's (its wasm runtime is V8 too, but each phase runs here in a hot loop, and inside Envoy a request finds the filter's code and data evicted by Envoy's own work since the last one: timed inside Envoy, the first parse of a request's body cost ~3.5 µs and a second parse of the same bytes right after it 0.5 µs) (${ph.note}); host calls counted for one decision (shared-data reads / writes, header reads). Other host calls per routed request (the stream glue): ${Object.entries(
      ph.hostCalls as Record<string, string>,
    )
      .map(([k, v]) => `${k}: ${v}`)
      .join("; ")}.\n\n`;
    md += table(
      [
        "endpoints",
        "strategy",
        "prompt",
        "decide",
        "parse",
        "shared reads",
        "candidates",
        "hashing",
        "index lookup",
        "scoring",
        "record",
        "release",
        "log line",
        "shared reads/writes (one; mean)",
        "header reads",
      ],
      ph.rows.map((x: Any) => [
        x.endpoints,
        x.strategy,
        `${x.promptKb} KB`,
        n(x.decideUs, 1),
        n(x.parseUs, 1),
        n(x.sharedReadsUs, 1),
        n(x.candidatesUs, 1),
        n(x.hashUs, 1),
        n(x.lookupUs, 1),
        n(x.scoringUs, 1),
        n(x.recordUs, 1),
        n(x.releaseUs, 1),
        n(x.logLineUs, 1),
        `${x.sharedReads}/${x.sharedWrites}; ${x.meanSharedReads}/${x.meanSharedWrites}`,
        x.headerReads,
      ]),
    );
  }
  const tp = r.scenarios.thirdParty;
  if (tp) {
    md += `\n## 10. guidellm cross-check\n\n${Object.entries(tp.status ?? {})
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
          "requests sent",
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
                `${x.guidellm.sent ?? ""}${
                  x.discardedRuns?.length
                    ? ` (discarded before: runs that sent ${x.discardedRuns.map((d: Any) => d.requests).join(", ")})`
                    : ""
                }${x.burst ? "; guidellm's burst in every run: not comparable" : ""}`,
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
                "",
              ],
        ),
      );
  }
  if (r.errors?.length)
    md += `\n## Scenario errors\n\n${r.errors.map((e: string) => `- ${oneLine(e, 500)}`).join("\n")}\n`;
  md += `\n## Pictures\n\n${pictures.map((p) => `![${p}](${p})`).join("\n")}\n`;
  md += `\nAggregates of every figure: \`results.json\` (committed); the per-request samples stay in the run's \`raw.json\` (git-ignored). Reproduce: \`make bench\` (or \`make bench QUICK=1\`).\n`;
  writeFileSync(join(dir, "summary.md"), md);
  return md;
}
