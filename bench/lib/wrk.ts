// The native load generator of the overhead scenario: wrk (Debian's package, installed by
// bench/setup-loadgen.sh). A Node client is itself the bottleneck on two cores; wrk's C event loop
// is not. One POST body for every request (bench/lib/wrk-post.lua), closed loop over a fixed number
// of keep-alive connections; latency percentiles from wrk's own histogram (µs).
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../scripts/lib/repo.js";

export interface WrkResult {
  requests: number;
  durationUs: number;
  bytes: number;
  connectErrors: number;
  readErrors: number;
  writeErrors: number;
  /** responses that were not 2xx/3xx */
  statusErrors: number;
  timeouts: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** requests per second over wrk's own measured duration */
  rps: number;
}

let wrkPath: string | null = null;
/** Path of wrk, installing it (bench/setup-loadgen.sh) when missing. Throws with the script's error. */
export function findWrk(): string {
  if (wrkPath) return wrkPath;
  const out = execFileSync(join(REPO_ROOT, "bench/setup-loadgen.sh"), [], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 600_000,
  });
  wrkPath = out.trim().split("\n").pop() ?? "wrk";
  return wrkPath;
}

export function wrkVersion(): string {
  try {
    // wrk prints its version with usage on stderr and exits 1
    execFileSync(findWrk(), ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const s = `${(e as { stdout?: string }).stdout ?? ""}${(e as { stderr?: string }).stderr ?? ""}`;
    const m = /wrk (\S+)/.exec(s);
    if (m) return `wrk ${m[1]}`;
  }
  return "wrk";
}

/** Runs wrk against url + path with this body; resolves with its figures. Bounded by duration + 30 s. */
export async function runWrk(o: {
  url: string;
  body: string;
  connections: number;
  threads: number;
  durationS: number;
}): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), "infergate-wrk-"));
  const bodyFile = join(dir, "body.json");
  writeFileSync(bodyFile, o.body);
  try {
    const args = [
      `-t${o.threads}`,
      `-c${o.connections}`,
      `-d${o.durationS}s`,
      "--timeout",
      "10s",
      "-s",
      join(REPO_ROOT, "bench/lib/wrk-post.lua"),
      o.url,
    ];
    const text = await new Promise<string>((resolve, reject) => {
      const child = spawn(findWrk(), args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, WRK_BODY_FILE: bodyFile },
      });
      let out = "";
      child.stdout!.on("data", (b: Buffer) => {
        out += b.toString();
      });
      child.stderr!.on("data", (b: Buffer) => {
        out += b.toString();
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), (o.durationS + 30) * 1000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        if (code === 0) resolve(out);
        else reject(new Error(`wrk exited ${code}: ${out.slice(-800)}`));
      });
    });
    const line = text.split("\n").find((l) => l.startsWith("WRK_JSON "));
    if (!line) throw new Error(`wrk printed no result line: ${text.slice(-800)}`);
    const r = JSON.parse(line.slice("WRK_JSON ".length)) as Omit<WrkResult, "rps">;
    return { ...r, rps: r.durationUs ? (r.requests / r.durationUs) * 1e6 : 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
