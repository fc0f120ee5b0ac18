// The load generator, run as its own process (node build/js/bench/loadgen-process.js JOB.json OUT.json)
// so its CPU use is not the bench orchestrator's and no contender shares its event loop. It
// regenerates the workload from the spec + seed it is given (identical for every contender), sends
// it, and writes one record per request to OUT.json.
//   open loop: every request is sent at its scheduled arrival time, whatever the answers do;
//   closed loop: `concurrency` workers, each sending its next request when the last one finished.
// TTFT on streams is the time to the first SSE chunk carrying generated text (the first chunk of a
// chat stream only announces the role); e2e is to the last byte.

import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { generateWorkload, type WorkloadRequest, type WorkloadSpec } from "./workloads.js";

export interface LoadJob {
  label: string;
  /** base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** several gateway replicas: request i goes to urls[i % urls.length] (clients spread over both) */
  urls?: string[];
  workload: WorkloadSpec;
  mode: "open" | "closed";
  concurrency?: number;
  /** closed loop: run this long (cycling through the workload's requests) */
  durationMs?: number;
  /** open: requests scheduled before this; closed: requests started before this. Marked warm-up. */
  warmupMs: number;
  stream: boolean;
  /** per request */
  timeoutMs: number;
}

export interface LoadRecord {
  i: number;
  /** scheduled arrival (open) or send time (closed), ms from start */
  atMs: number;
  /** how late the request was sent relative to its schedule (open loop), ms */
  lateMs: number;
  status: number;
  /** 0 = ok; otherwise the error message (connection refused, timeout, ...) */
  error?: string;
  ttftMs: number | null;
  e2eMs: number;
  promptTokens: number | null;
  cachedTokens: number | null;
  completionTokens: number | null;
  warmup: boolean;
  criticality?: string;
  conversation?: number;
  stage?: number;
  group?: number;
  /** index of the replica URL it was sent to */
  replica?: number;
}

export interface LoadOutput {
  label: string;
  job: Omit<LoadJob, "workload"> & { workload: WorkloadSpec };
  startedAt: string;
  elapsedMs: number;
  /** measured (non-warm-up) window length, ms */
  measuredMs: number;
  requests: number;
  records: LoadRecord[];
  node: string;
  pid: number;
}

function parseUsage(text: string): { prompt: number | null; cached: number | null; completion: number | null } {
  const last = (re: RegExp) => {
    let m: RegExpExecArray | null;
    let v: number | null = null;
    re.lastIndex = 0;
    while ((m = re.exec(text)) !== null) v = Number(m[1]);
    return v;
  };
  return {
    prompt: last(/"prompt_tokens":(\d+)/g),
    cached: last(/"cached_tokens":(\d+)/g),
    completion: last(/"completion_tokens":(\d+)/g),
  };
}

const bodies = new WeakMap<WorkloadRequest, string>();

const CONTENT_RE = /"(?:content|text)":"[^"]/;

function send(
  agent: http.Agent,
  base: URL,
  r: WorkloadRequest,
  stream: boolean,
  timeoutMs: number,
): Promise<Omit<LoadRecord, "i" | "atMs" | "lateMs" | "warmup">> {
  // closed loops cycle through the workload: serialise each request once (a 220 KB body costs the
  // client real CPU per JSON.stringify, which is not the gateway's)
  let body = bodies.get(r);
  if (body === undefined) {
    body = JSON.stringify(stream ? { ...r.body, stream: true, stream_options: { include_usage: true } } : r.body);
    bodies.set(r, body);
  }
  return new Promise((resolve) => {
    const t0 = performance.now();
    let ttft: number | null = null;
    let done = false;
    const finish = (x: Omit<LoadRecord, "i" | "atMs" | "lateMs" | "warmup">) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        resolve(x);
      }
    };
    const fail = (msg: string, status = 0) =>
      finish({
        status,
        error: msg,
        ttftMs: null,
        e2eMs: performance.now() - t0,
        promptTokens: null,
        cachedTokens: null,
        completionTokens: null,
        criticality: r.criticality,
        conversation: r.conversation,
        stage: r.stage,
        group: r.group,
      });
    const req = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: r.path,
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "x-request-id": `bench-${r.i}`,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          if (ttft === null && stream && res.statusCode === 200 && CONTENT_RE.test(c)) ttft = performance.now() - t0;
          text += c;
        });
        res.on("end", () => {
          const e2e = performance.now() - t0;
          const status = res.statusCode ?? 0;
          const u = parseUsage(text);
          finish({
            status,
            ...(status >= 400 ? { error: `HTTP ${status}: ${text.slice(0, 200)}` } : {}),
            ttftMs: stream ? ttft : status === 200 ? e2e : null,
            e2eMs: e2e,
            promptTokens: u.prompt,
            cachedTokens: u.cached,
            completionTokens: u.completion,
            criticality: r.criticality,
            conversation: r.conversation,
            stage: r.stage,
            group: r.group,
          });
        });
        res.on("error", (e) => fail(e.message, res.statusCode ?? 0));
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    req.on("error", (e) => fail(e.message));
    req.end(body);
  });
}

export async function runJob(job: LoadJob): Promise<LoadOutput> {
  const bases = (job.urls?.length ? job.urls : [job.url]).map((u) => new URL(u));
  const pick = (i: number) => ({ base: bases[i % bases.length], replica: i % bases.length });
  const w = generateWorkload(job.workload);
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: job.mode === "closed" ? (job.concurrency ?? 1) : Infinity,
  });
  const records: LoadRecord[] = [];
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  if (job.mode === "open") {
    const inflight: Promise<void>[] = [];
    for (const r of w.requests) {
      const wait = r.atMs - (performance.now() - t0);
      if (wait > 1) await new Promise((res) => setTimeout(res, wait));
      const late = Math.max(0, performance.now() - t0 - r.atMs);
      inflight.push(
        send(agent, pick(r.i).base, r, job.stream, job.timeoutMs).then((x) => {
          records.push({
            i: r.i,
            atMs: r.atMs,
            lateMs: late,
            warmup: r.atMs < job.warmupMs,
            replica: pick(r.i).replica,
            ...x,
          });
        }),
      );
    }
    await Promise.all(inflight);
  } else {
    const conc = job.concurrency ?? 1;
    const dur = job.durationMs ?? 10000;
    let next = 0;
    const worker = async () => {
      // bounded: by duration, and by a hard cap on requests
      while (performance.now() - t0 < dur && next < 10_000_000) {
        const r = w.requests[next % w.requests.length];
        const i = next++;
        const at = performance.now() - t0;
        const x = await send(agent, pick(i).base, r, job.stream, job.timeoutMs);
        records.push({ i, atMs: at, lateMs: 0, warmup: at < job.warmupMs, replica: pick(i).replica, ...x });
      }
    };
    await Promise.all(Array.from({ length: conc }, worker));
  }
  agent.destroy();
  const elapsedMs = performance.now() - t0;
  records.sort((a, b) => a.i - b.i);
  return {
    label: job.label,
    job,
    startedAt,
    elapsedMs,
    measuredMs: Math.max(1, elapsedMs - job.warmupMs),
    requests: records.length,
    records,
    node: process.version,
    pid: process.pid,
  };
}

const isMain =
  process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/").split("/").slice(-2).join("/"));
if (isMain) {
  const [jobPath, outPath] = process.argv.slice(2);
  if (!jobPath || !outPath) {
    console.error("usage: loadgen-process.js JOB.json OUT.json");
    process.exit(2);
  }
  const job = JSON.parse(readFileSync(jobPath, "utf8")) as LoadJob;
  runJob(job).then(
    (out) => {
      writeFileSync(outPath, JSON.stringify(out));
      process.stdout.write(
        JSON.stringify({ ok: true, label: out.label, requests: out.requests, elapsedMs: Math.round(out.elapsedMs) }) +
          "\n",
      );
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
