// A second third-party load generator as a cross-check: guidellm (PyPI) drives a shared-prefix
// workload (its synthetic_text data with prefix_count shared prefixes) open loop (Poisson) against
// infergate PREFIX_CACHE and plain Envoy round-robin, on simulated vLLM pods with default timing.
// guidellm needs a tokenizer: a small local one is trained with `tokenizers`
// (bench/make-tokenizer.py) and loaded offline (HF_HUB_OFFLINE=1). Cross-check: guidellm's TTFT /
// TPOT next to what the pods themselves recorded for the same requests (/debug/requests ttftMs,
// e2eMs). inference-perf, the first third-party generator, drives the ramp (inference-perf.ts).

import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender } from "../contenders/types.js";
import { peerInstall, spawnProc, VENV_BENCH } from "../contenders/util.js";
import { podHitRate, podLogs, progress, resetPods, round, sleep, stats } from "../lib/common.js";
import { SEED_MODEL } from "../workloads.js";

export interface ThirdPartyConfig {
  pods: number;
  podArgs: string[];
  rate: number;
  durationS: number;
  promptTokens: number;
  prefixTokens: number;
  prefixCount: number;
  outputTokens: number;
  seed: number;
}

/** The local tokenizer directory (trained once into .venv-bench/tokenizer). */
export function tokenizerDir(): string {
  const dir = join(VENV_BENCH, "tokenizer");
  if (!existsSync(join(dir, "tokenizer.json"))) {
    execFileSync(join(VENV_BENCH, "bin/python"), [join(REPO_ROOT, "bench/make-tokenizer.py"), dir], {
      env: { ...process.env, HF_HUB_OFFLINE: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
  }
  return dir;
}

type Dist = { median: number; percentiles: Record<string, number>; count: number };
type GuidellmOut = {
  benchmarks: { metrics: Record<string, { successful: Dist; errored: Dist; incomplete?: Dist }>; requests?: unknown }[];
};

/** Runs guidellm to the end (or its duration plus 4 minutes) and reads its JSON results. */
async function runGuidellm(args: string[], out: string, durationS: number): Promise<GuidellmOut> {
  rmSync(out, { force: true });
  const p = spawnProc(join(VENV_BENCH, "bin/guidellm"), args, { HF_HUB_OFFLINE: "1", TRANSFORMERS_OFFLINE: "1" });
  for (let k = 0; k < (durationS + 240) * 10 && p.child.exitCode === null && p.child.signalCode === null; k++)
    await sleep(100);
  await p.stop();
  if (!existsSync(out))
    throw new Error(
      `guidellm wrote no results (exit ${p.child.exitCode}): ${
        p
          .log()
          .split("\n")
          .filter((l) => /Error|error:/.test(l))
          .slice(-4)
          .join(" / ")
          .slice(0, 1200) || p.log().slice(-1200)
      }`,
    );
  return JSON.parse(readFileSync(out, "utf8")) as GuidellmOut;
}

/** Requests guidellm sent: finished, failed or cut off at the end. */
function sentCount(j: GuidellmOut): number {
  const l = j.benchmarks[0].metrics.request_latency;
  return (l?.successful?.count ?? 0) + (l?.errored?.count ?? 0) + (l?.incomplete?.count ?? 0);
}

export async function thirdPartyScenario(contenders: Contender[], cfg: ThirdPartyConfig) {
  const tool = peerInstall("guidellm");
  const status = {
    guidellm: tool?.ok
      ? `installed ${tool.version}`
      : `not installed: ${tool?.error ?? "setup-peers.sh did not record it"}`,
  };
  if (!tool?.ok) return { config: cfg, status, rows: [] };
  const tok = tokenizerDir();
  const rows: Record<string, unknown>[] = [];
  for (const c of contenders) {
    const why = c.unavailable();
    if (why) {
      rows.push({ contender: c.id, error: `not run: ${why}` });
      continue;
    }
    progress(`third-party (guidellm): ${c.label}`);
    const fleet = await startFleet({ model: SEED_MODEL, pods: cfg.pods, args: cfg.podArgs });
    const row: Record<string, unknown> = { contender: c.id, label: c.label, tool: `guidellm ${tool.version}` };
    rows.push(row);
    const dir = mkdtempSync(join(tmpdir(), "guidellm-"));
    try {
      const inst = await c.start(fleet);
      row.version = inst.version;
      try {
        await resetPods(fleet);
        const out = join(dir, "out.json");
        const args = [
          "run",
          "--backend",
          `kind=openai_http,target=${inst.url},model=${SEED_MODEL}`,
          "--profile",
          `kind=poisson,rate=${cfg.rate}`,
          "--constraint",
          `kind=max_duration,seconds=${cfg.durationS}`,
          "--tokenizer",
          `kind=hf_auto,model=${tok}`,
          "--data",
          `kind=synthetic_text,prompt_tokens=${cfg.promptTokens},output_tokens=${cfg.outputTokens},prefix_tokens=${cfg.prefixTokens},prefix_count=${cfg.prefixCount}`,
          "--seed",
          `kind=static,value=${cfg.seed}`,
          "--output",
          `kind=json,path=${out}`,
          "--disable-progress",
        ];
        row.command = [
          "guidellm",
          ...args.map((a) => a.replace(inst.url, "<url>").replace(tok, "<local tokenizer>")),
        ].join(" ");
        // guidellm 0.8.1's Poisson schedule is seeded, so every contender gets the same requests (245 in
        // 30 s at rate 6), but now and then it sends two to three times that many (seen in 3 of 13 runs:
        // 588, 481 and 896 requests, to either contender; the pods' own TTFT p50 went from 0.3 s to 7-14 s).
        // Such a run measures guidellm's overload, not the router: it is run again (up to twice),
        // and the row says so.
        const budget = 1.5 * cfg.rate * cfg.durationS;
        const discarded: number[] = [];
        let j: GuidellmOut;
        for (;;) {
          j = await runGuidellm(args, out, cfg.durationS);
          const sent = sentCount(j);
          if (sent <= budget) break;
          if (discarded.length === 2) {
            row.burst = true; // kept, and marked in the summary
            break;
          }
          discarded.push(sent);
          progress(`  guidellm sent ${sent} requests (more than ${budget}): a burst of its own; run again`);
          await sleep(2000);
          await resetPods(fleet);
        }
        if (discarded.length) row.discardedRuns = discarded.map((requests) => ({ requests, reason: "burst" }));
        const m = j.benchmarks[0].metrics;
        const pick = (k: string) => {
          const d = m[k]?.successful;
          return d
            ? {
                p50: round(d.percentiles.p50 ?? d.median, 2),
                p90: round(d.percentiles.p90, 2),
                p99: round(d.percentiles.p99, 2),
                n: d.count,
              }
            : null;
        };
        row.guidellm = {
          ttftMs: pick("time_to_first_token_ms"),
          tpotMs: pick("time_per_output_token_ms"),
          itlMs: pick("inter_token_latency_ms"),
          requestLatencyS: pick("request_latency"),
          errored: m.request_latency?.errored?.count ?? 0,
          sent: sentCount(j),
        };
        const logs = [...(await podLogs(fleet)).values()].flat().filter((r) => r.status === 200 && r.ttftMs !== null);
        const podTtft = logs.map((r) => r.ttftMs!);
        const podTpot = logs
          .filter((r) => (r as unknown as { completionTokens: number }).completionTokens > 1 && r.e2eMs !== null)
          .map((r) => (r.e2eMs! - r.ttftMs!) / ((r as unknown as { completionTokens: number }).completionTokens - 1));
        row.pods = {
          ttftMs: stats(podTtft),
          tpotMs: stats(podTpot),
          hitRate: round((await podHitRate(fleet)).hitRate, 4),
          requests: logs.length,
        };
        const g = row.guidellm as { ttftMs: { p50: number } | null; tpotMs: { p50: number } | null };
        row.clientOverPodTtftP50 =
          g.ttftMs && podTtft.length ? round(g.ttftMs.p50 / (stats(podTtft).p50 ?? NaN), 3) : null;
        progress(
          `  guidellm TTFT p50 ${g.ttftMs?.p50} ms vs pods' own ${stats(podTtft).p50} ms; TPOT p50 ${g.tpotMs?.p50} vs ${stats(podTpot).p50} ms`,
        );
      } finally {
        await inst.stop();
      }
    } catch (e) {
      row.error = (e as Error).message.slice(0, 1500);
      progress(`  failed: ${(row.error as string).slice(0, 300)}`);
    } finally {
      await fleet.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return { config: cfg, status, rows };
}
