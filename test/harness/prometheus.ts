// A real Prometheus for tests (Debian's package, scripts/get-prometheus.sh; PROMETHEUS_BIN overrides):
// its own config and data directory, on loopback, scraping the targets given every second, with its
// HTTP query API. Killed by stop() and on process exit.

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import YAML from "yaml";
import { killOnExit, stopChild } from "../../scripts/lib/child-processes.js";
import { freePort } from "../../scripts/lib/ports.js";

export interface ScrapeJob {
  job: string;
  metricsPath?: string;
  /** "host:port" targets, each with its own labels (e.g. the `pod` label a Kubernetes relabel gives). */
  targets: { address: string; labels?: Record<string, string> }[];
}

export interface PrometheusInstance {
  url: string;
  /** Instant query through GET /api/v1/query; the result vector (or matrix/scalar as given). */
  query(
    expr: string,
  ): Promise<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>;
  /** The scrape targets' health as Prometheus sees it. */
  targets(): Promise<{ job: string; health: string; lastError: string; scrapeUrl: string }[]>;
  log(): string;
  stop(): Promise<void>;
}

export function findPrometheus(): string | null {
  if (process.env.PROMETHEUS_BIN) return process.env.PROMETHEUS_BIN;
  return existsSync("/usr/bin/prometheus") ? "/usr/bin/prometheus" : null;
}

export async function startPrometheus(opts: {
  bin: string;
  jobs: ScrapeJob[];
  scrapeIntervalS?: number;
}): Promise<PrometheusInstance> {
  const dir = mkdtempSync(join(tmpdir(), "infergate-prometheus-"));
  const interval = `${opts.scrapeIntervalS ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
    scrape_configs: opts.jobs.map((j) => ({
      job_name: j.job,
      metrics_path: j.metricsPath ?? "/metrics",
      static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
    })),
  };
  writeFileSync(join(dir, "prometheus.yml"), YAML.stringify(config));
  const port = await freePort();
  const child = spawn(
    opts.bin,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      "--storage.tsdb.retention.time=1h",
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let logText = "";
  child.stdout!.on("data", (b: Buffer) => (logText += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (logText += b.toString()));
  killOnExit(child);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${child.exitCode}):\n${logText.slice(-3000)}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within 30 s:\n${logText.slice(-3000)}`);
    }
    await sleep(100);
  }
  return {
    url,
    async query(expr) {
      const r = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const j = (await r.json()) as { status: string; error?: string; data: never };
      if (j.status !== "success") throw new Error(`prometheus refused ${expr}: ${j.error}`);
      return j.data;
    },
    async targets() {
      const j = (await (await fetch(`${url}/api/v1/targets`)).json()) as {
        data: { activeTargets: { labels: { job: string }; health: string; lastError: string; scrapeUrl: string }[] };
      };
      return j.data.activeTargets.map((t) => ({
        job: t.labels.job,
        health: t.health,
        lastError: t.lastError,
        scrapeUrl: t.scrapeUrl,
      }));
    },
    log: () => logText,
    stop,
  };
}
