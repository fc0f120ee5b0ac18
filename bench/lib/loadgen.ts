// A closed-loop HTTP load generator: `concurrency` workers, each sending the next request as soon
// as its previous one finished, over keep-alive connections. Latency is measured per request from
// write to the last byte of the response (and to the first body byte, for TTFT on streams).
import http from "node:http";

export interface LoadOptions {
  url: string;
  /** Body per request index (so workloads can vary); JSON-encoded if not a string. */
  body: (i: number) => string;
  concurrency: number;
  /** Stop after this many requests... */
  requests?: number;
  /** ...or after this long (ms), whichever comes first. */
  durationMs?: number;
  headers?: Record<string, string>;
  /** Called with each response (status, headers, body) for checks; keep it cheap. */
  onResponse?: (i: number, status: number, headers: http.IncomingHttpHeaders, body: string) => void;
}

export interface LoadResult {
  /** Per-request end-to-end latency, µs, in completion order. */
  latencyUs: number[];
  /** Per-request time to first body byte, µs. */
  ttfbUs: number[];
  statuses: Map<number, number>;
  errors: number;
  elapsedMs: number;
  throughput: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const u = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency });
  const latencyUs: number[] = [];
  const ttfbUs: number[] = [];
  const statuses = new Map<number, number>();
  let errors = 0;
  let next = 0;
  const limit = o.requests ?? Number.MAX_SAFE_INTEGER;
  const start = process.hrtime.bigint();
  const deadline = o.durationMs !== undefined ? start + BigInt(o.durationMs) * 1_000_000n : null;

  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const body = o.body(i);
      const t0 = process.hrtime.bigint();
      let tFirst: bigint | null = null;
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          method: "POST",
          agent,
          headers: {
            "content-type": "application/json",
            "content-length": Buffer.byteLength(body),
            ...(o.headers ?? {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => {
            if (tFirst === null) tFirst = process.hrtime.bigint();
            chunks.push(c);
          });
          res.on("end", () => {
            const t1 = process.hrtime.bigint();
            latencyUs.push(Number(t1 - t0) / 1000);
            ttfbUs.push(Number((tFirst ?? t1) - t0) / 1000);
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            o.onResponse?.(i, res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString());
            resolve();
          });
          res.on("error", () => {
            errors++;
            resolve();
          });
        },
      );
      req.on("error", () => {
        errors++;
        resolve();
      });
      req.end(body);
    });

  const worker = async () => {
    while (true) {
      if (next >= limit) return;
      if (deadline !== null && process.hrtime.bigint() >= deadline) return;
      await one(next++);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  agent.destroy();
  const elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  return { latencyUs, ttfbUs, statuses, errors, elapsedMs, throughput: (latencyUs.length / elapsedMs) * 1000 };
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[idx];
}
