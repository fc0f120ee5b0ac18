// Fuzzed bodies (test/fuzz/bodies.ts) through real Envoy running the filter, a few at a time on
// keep-alive connections. Each answer must be either the pod's (the filter routed it) or the
// gateway's own 4xx in OpenAI's shape; the gateway never answers 5xx to a body (a trapped or failed
// wasm VM shows as 503/500), never hangs, and Envoy's log shows no wasm trap or filter abort.

import type { LocalGateway } from "../../scripts/lib/local-gateway.js";
import { wasmFailures } from "../e2e/wasm-log.js";
import { bodyGenerator } from "./bodies.js";
import { type Failure, FailureLog } from "./parser-fuzz.js";

/** Pods that answer at once and refuse long generations (a fuzzed max_tokens must not stall the run). */
export const FUZZ_POD_ARGS = [
  "--prefill-overhead-ms",
  "0",
  "--prefill-time-per-token-ms",
  "0",
  "--inter-token-latency-ms",
  "0",
  "--decode-time-per-seq-ms",
  "0",
  "--max-model-len",
  "4096",
];
export const PREFIX_CACHE = { "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE" };

export interface EnvoyFuzzOptions {
  seed: number;
  count: number;
  concurrency: number;
  maxSeconds: number;
  seeds?: Buffer[];
  /** Largest body sent; default 64 KiB (the pods are simulated, the parser is what is fuzzed). */
  maxBytes?: number;
}

export interface EnvoyFuzzResult {
  seed: number;
  requests: number;
  ms: number;
  timedOut: boolean;
  /** "gateway 400", "pod 200", ... */
  answers: Record<string, number>;
  failuresByKind: Record<string, number>;
  failures: Failure[];
  /** Lines of Envoy's log that show a wasm trap or abort. */
  wasmFailures: string[];
}

function gatewayErrorProblem(status: number, text: string): string | null {
  if (status >= 500) return `gateway answered ${status}`;
  if (status < 400) return `gateway answered ${status} without a pod`;
  try {
    const e = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
    if (
      !e ||
      typeof e.message !== "string" ||
      typeof e.type !== "string" ||
      typeof e.code !== "string" ||
      !("param" in e)
    )
      return "gateway error not OpenAI-shaped";
  } catch {
    return "gateway error not JSON";
  }
  return null;
}

export async function fuzzEnvoy(gw: LocalGateway, o: EnvoyFuzzOptions): Promise<EnvoyFuzzResult> {
  const next = bodyGenerator({ seed: o.seed, seeds: o.seeds, maxBytes: o.maxBytes ?? 64 * 1024 });
  const answers: Record<string, number> = {};
  const log = new FailureLog();
  const t0 = Date.now();
  const deadline = t0 + o.maxSeconds * 1000;
  let sent = 0;
  let timedOut = false;
  const one = async (index: number, bytes: Buffer, completions: boolean) => {
    const fail = (kind: string, detail: string) => log.add(kind, detail, index, bytes, completions);
    try {
      const r = await fetch(`${gw.url}/v1/${completions ? "completions" : "chat/completions"}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new Uint8Array(bytes),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await r.text();
      const who = r.headers.get("x-sim-pod") ? "pod" : "gateway";
      answers[`${who} ${r.status}`] = (answers[`${who} ${r.status}`] ?? 0) + 1;
      if (who === "gateway") {
        const p = gatewayErrorProblem(r.status, text);
        if (p) fail(p, `${r.status} ${text.slice(0, 300)}`);
      }
    } catch (e) {
      fail("no answer", String((e as Error).message ?? e));
    }
  };
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (sent < o.count) {
        if (Date.now() > deadline) {
          timedOut = true;
          return;
        }
        const index = sent++;
        const { bytes, completions } = next();
        await one(index, bytes, completions);
      }
    }),
  );
  return {
    seed: o.seed,
    requests: sent,
    ms: Date.now() - t0,
    timedOut,
    answers,
    failuresByKind: log.byKind,
    failures: log.kept,
    wasmFailures: gw.envoys.flatMap((e) => wasmFailures(e.log())),
  };
}
