import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { killOnExit, stopChild } from "../../scripts/lib/child-processes.js";
import { findEnvoy } from "../../scripts/lib/envoy-process.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { SEED_MODEL } from "../workloads.js";

export { setTimeout as sleep } from "node:timers/promises";

export const VENV_BENCH = join(REPO_ROOT, ".venv-bench");

export interface PeerInstall {
  package: string;
  ok: boolean;
  version?: string;
  error?: string;
  exitCode?: number;
  /** the interpreter version of .venv-bench */
  python?: string;
}

/** What bench/setup-peers.sh recorded: one entry per package (ok + version, or the exact pip error). */
export function peerInstalls(): PeerInstall[] {
  const p = join(VENV_BENCH, "peers.json");
  if (!existsSync(p)) return [];
  try {
    return JSON.parse(readFileSync(p, "utf8")) as PeerInstall[];
  } catch {
    return [];
  }
}

export function peerInstall(pkg: string): PeerInstall | undefined {
  return peerInstalls().find((x) => x.package === pkg);
}

let envoyVersionCache: string | null = null;
export function envoyVersion(): string {
  if (envoyVersionCache) return envoyVersionCache;
  try {
    const out = execFileSync(findEnvoy(), ["--version"], { encoding: "utf8" });
    envoyVersionCache = (/version: \S+\/(\d+\.\d+\.\d+)\S*/.exec(out)?.[0] ?? out.trim()).replace(/^version: /, "");
  } catch (e) {
    envoyVersionCache = `unknown (${(e as Error).message})`;
  }
  return envoyVersionCache;
}

/** Polls with a real tiny chat request until the URL answers 200. */
export async function waitServing(
  url: string,
  timeoutMs: number,
  child?: ChildProcess,
  logOf?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null))
      throw new Error(`exited (${child.exitCode ?? child.signalCode}) before serving: ${logOf?.().slice(-1500) ?? ""}`);
    try {
      const r = await fetch(`${url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(2000),
        body: JSON.stringify({ model: SEED_MODEL, messages: [{ role: "user", content: "ping" }], max_tokens: 1 }),
      });
      last = `${r.status} ${(await r.text()).slice(0, 200)}`;
      if (r.status === 200) return;
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(150);
  }
  throw new Error(`${url} did not serve within ${timeoutMs} ms; last: ${last}; log: ${logOf?.().slice(-1500) ?? ""}`);
}

export interface Proc {
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

/** Spawns a process (no shell), keeps the tail of its output, stops it with SIGTERM then SIGKILL. */
export function spawnProc(cmd: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let text = "";
  const on = (b: Buffer) => {
    text += b.toString();
    if (text.length > 200_000) text = text.slice(-100_000);
  };
  child.stdout!.on("data", on);
  child.stderr!.on("data", on);
  killOnExit(child);
  return {
    child,
    log: () => text,
    stop: () => stopChild(child),
  };
}
