// Third-party load generator on workload 1: inference-perf (PyPI; needs Python >= 3.12, which
// bench/setup-peers.sh finds through pyenv) drives the same cache-pressure ramp (its own
// shared_prefix generator: groups x prompts per group, system prompt and question lengths, output
// length; Poisson stages at the ramp's rates) against infergate PREFIX_CACHE and plain Envoy
// round-robin, on the ramp's fleet, with a small local tokenizer (bench/make-tokenizer.py, loaded
// offline). Its per-stage TTFT and output tok/s are reported next to our own client's figures for
// the same contender in the ramp of the same run. Its prompts are its own (other words, counted by
// its tokenizer), so the comparison is of shapes and ratios, not of identical requests.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { startFleet } from "../../test/sim/fleet.js";
import type { Contender } from "../contenders/types.js";
import { peerInstall, spawnProc, VENV_BENCH } from "../contenders/util.js";
import { podHitRate, progress, resetPods, round, sleep } from "../lib/common.js";
import type { FleetShape } from "../lib/routed-run.js";
import { SEED_MODEL, type WorkloadSpec } from "../workloads.js";
import { tokenizerDir } from "./third-party.js";

export interface InferencePerfConfig {
  fleet: FleetShape;
  workload: Extract<WorkloadSpec, { kind: "field-shared-prefix" }>;
}

type Dist = { mean?: number; median?: number; p90?: number; p99?: number } | null;
interface StageReport {
  load_summary?: { count?: number; requested_rate?: number; achieved_rate?: number };
  successes?: {
    count?: number;
    latency?: { time_to_first_token?: Dist; request_latency?: Dist };
    throughput?: { output_tokens_per_sec?: number; requests_per_sec?: number };
    prompt_tokens?: { total?: number; cached?: number };
  };
  failures?: { count?: number };
}

export function inferencePerfConfigYaml(cfg: InferencePerfConfig, url: string, tokenizer: string, outDir: string) {
  const w = cfg.workload;
  return YAML.stringify({
    api: { type: "chat", streaming: true },
    data: {
      type: "shared_prefix",
      shared_prefix: {
        num_groups: w.groups,
        num_prompts_per_group: w.promptsPerGroup,
        system_prompt_len: w.systemTokens,
        question_len: w.questionTokens,
        output_len: w.maxTokens,
        seed: w.seed,
      },
    },
    load: {
      type: "poisson",
      interval: 0,
      stages: w.stages.map((s) => ({ rate: s.rate, duration: Math.round(s.durationMs / 1000) })),
      num_workers: 1,
      worker_max_concurrency: 400,
      request_timeout: 60,
      base_seed: w.seed,
      stage_teardown_grace_seconds: 30,
    },
    server: { type: "vllm", model_name: SEED_MODEL, base_url: url, ignore_eos: true },
    tokenizer: { pretrained_model_name_or_path: tokenizer },
    storage: { local_storage: { path: outDir } },
    report: {
      request_lifecycle: { summary: true, per_stage: true, per_request: false, use_server_output_tokens: true },
      prometheus: { summary: false, per_stage: false },
    },
  });
}

export async function inferencePerfScenario(contenders: Contender[], cfg: InferencePerfConfig) {
  const tool = peerInstall("inference-perf");
  const status = tool?.ok
    ? `installed ${tool.version} (Python ${tool.python ?? "?"})`
    : `not installed: ${tool?.error ?? "bench/setup-peers.sh did not record it"}`;
  if (!tool?.ok) return { config: cfg, status, rows: [] };
  const tok = tokenizerDir();
  const totalS = cfg.workload.stages.reduce((a, s) => a + s.durationMs / 1000, 0);
  const rows: Record<string, unknown>[] = [];
  for (const c of contenders) {
    const row: Record<string, unknown> = { contender: c.id, label: c.label, tool: `inference-perf ${tool.version}` };
    rows.push(row);
    const why = c.unavailable();
    if (why) {
      row.error = `not run: ${why}`;
      continue;
    }
    progress(`inference-perf ramp: ${c.label}`);
    const fleet = await startFleet({
      model: SEED_MODEL,
      cacheReport: true,
      args: cfg.fleet.args,
      pods: Array.from({ length: cfg.fleet.pods }, (_, i) => ({ name: `pod-${i}` })),
    });
    const dir = mkdtempSync(join(tmpdir(), "inference-perf-"));
    try {
      const inst = await c.start(fleet);
      row.version = inst.version;
      try {
        await resetPods(fleet);
        const out = join(dir, "reports");
        const cfgPath = join(dir, "config.yml");
        writeFileSync(cfgPath, inferencePerfConfigYaml(cfg, inst.url, tok, out));
        row.config = inferencePerfConfigYaml(cfg, "<gateway url>", "<local tokenizer>", "<dir>");
        const p = spawnProc(join(VENV_BENCH, "bin/inference-perf"), ["--config_file", cfgPath], {
          HF_HUB_OFFLINE: "1",
          TRANSFORMERS_OFFLINE: "1",
        });
        for (let k = 0; k < (totalS + 300) * 10 && p.child.exitCode === null && p.child.signalCode === null; k++)
          await sleep(100);
        await p.stop();
        const files = (() => {
          try {
            return readdirSync(out);
          } catch {
            return [];
          }
        })();
        const stageFiles = files
          .map((f) => /^stage_(\d+)_lifecycle_metrics\.json$/.exec(f))
          .filter((m): m is RegExpExecArray => m !== null)
          .sort((a, b) => Number(a[1]) - Number(b[1]));
        if (!stageFiles.length)
          throw new Error(
            `inference-perf wrote no stage reports (exit ${p.child.exitCode}): ${
              p
                .log()
                .split("\n")
                .filter((l) => /Error|error|Traceback/.test(l))
                .slice(-5)
                .join(" / ")
                .slice(0, 1200) || p.log().slice(-1200)
            }`,
          );
        row.stages = stageFiles.map((m) => {
          const j = JSON.parse(readFileSync(join(out, m[0]), "utf8")) as StageReport;
          const s = j.successes;
          const ms = (x: number | undefined) => (x === undefined ? null : round(x * 1000, 1));
          return {
            stage: Number(m[1]),
            rate: j.load_summary?.requested_rate ?? null,
            achievedRate: round(j.load_summary?.achieved_rate ?? NaN, 2),
            ok: s?.count ?? 0,
            failed: j.failures?.count ?? 0,
            ttftMs: { p50: ms(s?.latency?.time_to_first_token?.median), p90: ms(s?.latency?.time_to_first_token?.p90) },
            outputTokPerS: round(s?.throughput?.output_tokens_per_sec ?? NaN, 1),
            hitRate:
              s?.prompt_tokens?.total && s.prompt_tokens.cached !== undefined
                ? round(s.prompt_tokens.cached / s.prompt_tokens.total, 4)
                : null,
          };
        });
        row.podMetricsHitRate = round((await podHitRate(fleet)).hitRate, 4);
        progress(
          `  ${(row.stages as { rate: number; ttftMs: { p90: number | null } }[]).map((s) => `${s.rate} QPS: TTFT p90 ${s.ttftMs.p90} ms`).join("; ")}`,
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
