// Workload 2, long prompts: 220 KB prompts (agentic and RAG requests are this size today; half of
// each prompt is one of a few shared prefixes, half unique; text in lines, as documents and code
// are) to near-instant pods, closed loop at 20
// and at 150 concurrent clients, streamed, max_tokens 1. The pods are stubs (bench/lib/
// stub-pods.ts: a one-token answer without parsing the body, idle vLLM metrics): the simulator
// tokenizes 220 KB in tens of milliseconds of CPU, which would measure the pods, not the gateway. What the gateway adds shows as
// TTFT over plain Envoy's on the same setup, and as a throughput plateau below plain Envoy's.
// (The upstream endpoint picker was reported at 158 ms TTFT at 20 concurrent, 1.14 s at 150, and
// a ~130 req/s plateau on this shape; it runs here side by side.)
import type { Contender } from "../contenders/types.js";
import { okRecords, progress, round, runLoadProcess, stats, summarizeLoad } from "../lib/common.js";
import { cpuSeconds } from "../lib/proc-cpu.js";
import { startStubFleet } from "../lib/stub-fleet.js";

export interface LongPromptConfig {
  pods: number;
  promptKb: number;
  prefixes: number;
  /** Prompt text in lines of about this many bytes (0: plain words). */
  lineBytes: number;
  concurrency: number[];
  durationMs: number;
  warmupMs: number;
  seed: number;
}

export interface LongPromptRow {
  contender: string;
  label: string;
  concurrency: number;
  version?: string;
  error?: string;
  requests?: number;
  errors?: number;
  throughputRps?: number | null;
  ttftMs?: ReturnType<typeof stats>;
  addedTtftP50OverEnvoyMs?: number | null;
  addedTtftP99OverEnvoyMs?: number | null;
  throughputVsEnvoy?: number | null;
  /** The gateway's own processes' CPU (/proc) over the run, per request served: on two cores shared
   *  with the load generator and the pods, what the gateway spends per request is what it takes from
   *  them; it moves far less between runs (about ±10 %) than req/s and TTFT, which follow the machine's
   *  other load. */
  cpuUsPerRequest?: number | null;
  cpuVsEnvoy?: number | null;
}

export async function longPromptScenario(contenders: Contender[], cfg: LongPromptConfig) {
  const rows: LongPromptRow[] = [];
  for (const c of contenders) {
    for (const conc of cfg.concurrency) {
      const row: LongPromptRow = { contender: c.id, label: c.label, concurrency: conc };
      rows.push(row);
      const why = c.unavailable();
      if (why) {
        row.error = `not run: ${why}`;
        continue;
      }
      progress(`long prompts (${cfg.promptKb} KB, ${conc} concurrent): ${c.label}`);
      const fleet = await startStubFleet(cfg.pods);
      try {
        const inst = await c.start(fleet);
        row.version = inst.version;
        try {
          const cpu0 = inst.pids.length ? cpuSeconds(inst.pids) : null;
          const out = await runLoadProcess(
            {
              label: `${c.id} long ${conc}`,
              url: inst.url,
              workload: {
                kind: "sized",
                seed: cfg.seed,
                requests: 96,
                promptBytes: cfg.promptKb * 1024,
                prefixes: cfg.prefixes,
                lineBytes: cfg.lineBytes,
              },
              mode: "closed",
              concurrency: conc,
              durationMs: cfg.durationMs + cfg.warmupMs,
              warmupMs: cfg.warmupMs,
              stream: true,
              timeoutMs: 30_000,
            },
            cfg.durationMs * 3 + 60_000,
          );
          const cpu1 = inst.pids.length ? cpuSeconds(inst.pids) : null;
          const s = summarizeLoad(out);
          // The whole run (warm-up too) over every request it sent.
          row.cpuUsPerRequest =
            cpu0 !== null && cpu1 !== null && out.records.length > 0
              ? round(((cpu1 - cpu0) * 1e6) / out.records.length, 1)
              : null;
          row.requests = s.requests;
          row.errors = s.errors;
          row.throughputRps = s.throughputRps;
          row.ttftMs = stats(okRecords(out).map((r) => r.ttftMs ?? r.e2eMs));
          progress(
            `  ${s.throughputRps} req/s, TTFT p50 ${row.ttftMs.p50} ms p99 ${row.ttftMs.p99} ms, CPU ${row.cpuUsPerRequest ?? "–"} µs/request, errors ${s.errors}/${s.requests}${s.sampleErrors.length ? ` (${s.sampleErrors[0]})` : ""}`,
          );
        } finally {
          await inst.stop();
        }
      } catch (e) {
        row.error = (e as Error).message.slice(0, 1500);
        progress(`  ${c.label} failed: ${row.error.slice(0, 300)}`);
      } finally {
        await fleet.stop();
      }
    }
  }
  for (const r of rows) {
    const e = rows.find((x) => x.contender === "envoy-rr" && x.concurrency === r.concurrency && x.ttftMs);
    if (!e?.ttftMs || !r.ttftMs) continue;
    const d = (a: number | null, b: number | null) => (a !== null && b !== null ? round(a - b, 2) : null);
    r.addedTtftP50OverEnvoyMs = d(r.ttftMs.p50, e.ttftMs.p50);
    r.addedTtftP99OverEnvoyMs = d(r.ttftMs.p99, e.ttftMs.p99);
    r.throughputVsEnvoy = r.throughputRps && e.throughputRps ? round(r.throughputRps / e.throughputRps, 3) : null;
    r.cpuVsEnvoy = r.cpuUsPerRequest && e.cpuUsPerRequest ? round(r.cpuUsPerRequest / e.cpuUsPerRequest, 2) : null;
  }
  return { config: cfg, rows };
}
