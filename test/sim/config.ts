// Command-line flags of one simulated pod, their defaults, and what each approximates.
// Defaults model Qwen3-32B (bf16) on one 80 GB H100 served by vLLM; see README.md.

import { parseArgs } from "node:util";
import { type Faults, noFaults } from "./faults.js";
import type { Runtime } from "./metrics.js";

export type Role = "prefill" | "decode" | "both";

export interface SimConfig {
  name: string;
  host: string;
  port: number;
  runtime: Runtime;
  model: string;
  /** names the base model answers to (first one is reported); default [model] */
  servedModelNames: string[];
  maxModelLen: number;
  maxNumSeqs: number;
  maxNumBatchedTokens: number;
  blockSize: number;
  kvBlocks: number;
  prefillOverheadMs: number;
  prefillTimePerTokenMs: number;
  interTokenLatencyMs: number;
  decodeTimePerSeqMs: number;
  outputLen: number;
  loraModules: string[];
  maxLoras: number;
  role: Role;
  /** bootstrap server port (prefill role); 0 = pick a free one; -1 = none */
  bootstrapPort: number;
  bootstrapTimeoutMs: number;
  kvTransferMs: number;
  faults: Faults;
  seed: number;
  requestLogSize: number;
  /** vLLM --enable-prompt-tokens-details: usage.prompt_tokens_details.cached_tokens (vllm only) */
  enablePromptTokensDetails: boolean;
  /** SGLang --enable-cache-report: the same, SGLang's way (sglang only) */
  enableCacheReport: boolean;
}

/** KV cache capacity in tokens (see kvBlocks below); --kv-blocks defaults to this / --block-size. */
export const KV_TOKENS = 32768;

/** The unit of prefix matching per engine: vLLM's --block-size 16; SGLang's --page-size, 1 with its
 *  default attention backend on Hopper (the radix cache then matches token by token, and
 *  cached_tokens is not rounded to blocks); TRT-LLM is left at 16 (its tokens_per_block is 32 or 64:
 *  pass --block-size to mimic). */
export function defaultBlockSize(runtime: Runtime): number {
  return runtime === "sglang" ? 1 : 16;
}

export const DEFAULTS: SimConfig = {
  name: "sim",
  host: "127.0.0.1",
  port: 8000,
  runtime: "vllm",
  model: "/models/Qwen3-32B",
  servedModelNames: [],
  maxModelLen: 40960, // Qwen3-32B native context
  maxNumSeqs: 256, // vLLM's default --max-num-seqs
  maxNumBatchedTokens: 8192, // vLLM v1 chunked-prefill token budget for online serving
  blockSize: 16, // vLLM's default KV block size
  // 80 GB x 0.9 utilisation - 64 GB of weights ~ 8 GB of KV; Qwen3-32B stores
  // 64 layers x 8 KV heads x 128 dims x 2 (K,V) x 2 bytes = 256 KiB per token -> 32768 tokens.
  kvBlocks: KV_TOKENS / 16,
  prefillOverheadMs: 20, // one forward pass of launch/scheduling overhead before the first token
  prefillTimePerTokenMs: 0.15, // ~2 x 32e9 FLOP per token at ~400 TFLOP/s effective
  interTokenLatencyMs: 22, // reading 64 GB of weights at ~3 TB/s per decode step
  decodeTimePerSeqMs: 0.1, // attention over each extra sequence's KV in a decode step
  outputLen: 32,
  loraModules: [],
  maxLoras: 1, // vLLM's default --max-loras
  role: "both",
  bootstrapPort: -1,
  bootstrapTimeoutMs: 30_000,
  kvTransferMs: 2,
  faults: noFaults(),
  seed: 1,
  requestLogSize: 10_000,
  enablePromptTokensDetails: false, // vLLM's default
  enableCacheReport: false, // SGLang's default
};

export const USAGE = `usage: node build/js/test/sim/server.js [flags]
  --name NAME                    pod name, sent as x-sim-pod on every response (${DEFAULTS.name})
  --port N                       listen port on 127.0.0.1; 0 = any free port (${DEFAULTS.port})
  --runtime vllm|sglang|trtllm   metric names and health paths of this server (${DEFAULTS.runtime})
  --model NAME                   served model (${DEFAULTS.model})
  --served-model-name A,B        names the model answers to (default: --model)
  --max-model-len N              context window, prompt + output tokens (${DEFAULTS.maxModelLen})
  --max-num-seqs N               max running sequences; more wait in the queue (${DEFAULTS.maxNumSeqs})
  --max-num-batched-tokens N     tokens per engine step (chunked prefill budget) (${DEFAULTS.maxNumBatchedTokens})
  --block-size N                 tokens per KV block, the unit of prefix matching (vllm/trtllm 16;
                                 sglang 1, its --page-size; --page-size is accepted as an alias)
  --kv-blocks N                  KV cache capacity in blocks (${KV_TOKENS} tokens / --block-size)
  --prefill-overhead-ms X        fixed cost of a step with prefill (${DEFAULTS.prefillOverheadMs})
  --prefill-time-per-token-ms X  cost per uncached prompt token (${DEFAULTS.prefillTimePerTokenMs})
  --inter-token-latency-ms X     decode step with one sequence (${DEFAULTS.interTokenLatencyMs})
  --decode-time-per-seq-ms X     extra decode step cost per extra running sequence (${DEFAULTS.decodeTimePerSeqMs})
  --output-len N                 output tokens when a request sets no max_tokens (${DEFAULTS.outputLen})
  --lora-modules a,b             LoRA adapters served (vLLM's name=path form accepted)
  --max-loras N                  max distinct adapters in one batch (${DEFAULTS.maxLoras})
  --role prefill|decode|both     SGLang P/D role (${DEFAULTS.role})
  --bootstrap-port N             prefill role: bootstrap (KV hand-over) port; 0 = any free (8998)
  --bootstrap-timeout-ms X       decode role: how long to wait for a room's KV (${DEFAULTS.bootstrapTimeoutMs})
  --kv-transfer-ms X             prefill role: delay from prefill end to hand-over (${DEFAULTS.kvTransferMs})
  --fault-latency-ms X  --fault-error-rate P  --fault-error-status S  --fault-hang
  --fault-close-mid-stream N  --fault-metrics-down  --fault-metrics-delay-ms X  --fault-health-down
  --enable-prompt-tokens-details vllm: report usage.prompt_tokens_details.cached_tokens (off, as in vLLM)
  --enable-cache-report          sglang: report cached_tokens when > 0 (off, as in SGLang)
  --seed N                       seed of the fault PRNG (${DEFAULTS.seed})
  --request-log-size N           entries kept for /debug/requests (${DEFAULTS.requestLogSize})`;

function num(name: string, v: string | undefined, def: number, opts: { int?: boolean; min?: number } = {}): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (opts.int && !Number.isInteger(n)) || (opts.min !== undefined && n < opts.min)) {
    throw new Error(
      `--${name}: expected ${opts.int ? "an integer" : "a number"}${opts.min !== undefined ? ` >= ${opts.min}` : ""}, got "${v}"`,
    );
  }
  return n;
}

function list(v: string | undefined): string[] {
  if (!v) return [];
  return v
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parses flags; throws on unknown flags or bad values. */
export function parseSimArgs(argv: string[]): SimConfig {
  const s = { type: "string" } as const;
  const b = { type: "boolean" } as const;
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      name: s,
      host: s,
      port: s,
      runtime: s,
      model: s,
      "served-model-name": s,
      "max-model-len": s,
      "max-num-seqs": s,
      "max-num-batched-tokens": s,
      "block-size": s,
      "page-size": s,
      "kv-blocks": s,
      "prefill-overhead-ms": s,
      "prefill-time-per-token-ms": s,
      "inter-token-latency-ms": s,
      "decode-time-per-seq-ms": s,
      "output-len": s,
      "lora-modules": s,
      "max-loras": s,
      role: s,
      "bootstrap-port": s,
      "bootstrap-timeout-ms": s,
      "kv-transfer-ms": s,
      "fault-latency-ms": s,
      "fault-error-rate": s,
      "fault-error-status": s,
      "fault-hang": b,
      "fault-close-mid-stream": s,
      "fault-metrics-down": b,
      "fault-metrics-delay-ms": s,
      "fault-health-down": b,
      seed: s,
      "request-log-size": s,
      "enable-prompt-tokens-details": b,
      "enable-cache-report": b,
      help: b,
    },
  });
  if (v.help) throw new Error(USAGE);
  const d = DEFAULTS;
  let runtime = (v.runtime ?? d.runtime) as string;
  if (runtime === "trt-llm" || runtime === "triton") runtime = "trtllm";
  if (runtime !== "vllm" && runtime !== "sglang" && runtime !== "trtllm")
    throw new Error(`--runtime: expected vllm, sglang or trtllm, got "${runtime}"`);
  const role = (v.role ?? d.role) as string;
  if (role !== "prefill" && role !== "decode" && role !== "both")
    throw new Error(`--role: expected prefill, decode or both, got "${role}"`);
  const model = v.model ?? d.model;
  const faults = noFaults();
  faults.latencyMs = num("fault-latency-ms", v["fault-latency-ms"], 0, { min: 0 });
  faults.errorRate = num("fault-error-rate", v["fault-error-rate"], 0, { min: 0 });
  if (faults.errorRate > 1) throw new Error("--fault-error-rate: expected a fraction in [0, 1]");
  faults.errorStatus = num("fault-error-status", v["fault-error-status"], 500, { int: true, min: 400 });
  faults.hang = !!v["fault-hang"];
  const cms = v["fault-close-mid-stream"];
  faults.closeMidStream =
    cms === undefined
      ? false
      : cms === "" || cms === "true"
        ? true
        : num("fault-close-mid-stream", cms, 1, { int: true, min: 0 });
  faults.metricsDown = !!v["fault-metrics-down"];
  faults.metricsDelayMs = num("fault-metrics-delay-ms", v["fault-metrics-delay-ms"], 0, { min: 0 });
  faults.healthDown = !!v["fault-health-down"];
  if (v["block-size"] !== undefined && v["page-size"] !== undefined)
    throw new Error("--page-size is SGLang's name for --block-size: give one of them");
  const blockSize = num(
    v["page-size"] !== undefined ? "page-size" : "block-size",
    v["block-size"] ?? v["page-size"],
    defaultBlockSize(runtime as Runtime),
    { int: true, min: 1 },
  );
  const cfg: SimConfig = {
    name: v.name ?? d.name,
    host: v.host ?? d.host,
    port: num("port", v.port, d.port, { int: true, min: 0 }),
    runtime,
    model,
    servedModelNames: v["served-model-name"] ? list(v["served-model-name"]) : [model],
    maxModelLen: num("max-model-len", v["max-model-len"], d.maxModelLen, { int: true, min: 1 }),
    maxNumSeqs: num("max-num-seqs", v["max-num-seqs"], d.maxNumSeqs, { int: true, min: 1 }),
    maxNumBatchedTokens: num("max-num-batched-tokens", v["max-num-batched-tokens"], d.maxNumBatchedTokens, {
      int: true,
      min: 1,
    }),
    blockSize,
    kvBlocks: num("kv-blocks", v["kv-blocks"], Math.max(1, Math.floor(KV_TOKENS / blockSize)), { int: true, min: 1 }),
    prefillOverheadMs: num("prefill-overhead-ms", v["prefill-overhead-ms"], d.prefillOverheadMs, { min: 0 }),
    prefillTimePerTokenMs: num("prefill-time-per-token-ms", v["prefill-time-per-token-ms"], d.prefillTimePerTokenMs, {
      min: 0,
    }),
    interTokenLatencyMs: num("inter-token-latency-ms", v["inter-token-latency-ms"], d.interTokenLatencyMs, { min: 0 }),
    decodeTimePerSeqMs: num("decode-time-per-seq-ms", v["decode-time-per-seq-ms"], d.decodeTimePerSeqMs, { min: 0 }),
    outputLen: num("output-len", v["output-len"], d.outputLen, { int: true, min: 1 }),
    // vLLM's --lora-modules takes name=path pairs; only the name matters here.
    loraModules: list(v["lora-modules"]).map((m) => m.split("=")[0]),
    maxLoras: num("max-loras", v["max-loras"], d.maxLoras, { int: true, min: 1 }),
    role,
    bootstrapPort:
      v["bootstrap-port"] !== undefined
        ? num("bootstrap-port", v["bootstrap-port"], 0, { int: true, min: 0 })
        : role === "prefill"
          ? 8998
          : -1,
    bootstrapTimeoutMs: num("bootstrap-timeout-ms", v["bootstrap-timeout-ms"], d.bootstrapTimeoutMs, { min: 0 }),
    kvTransferMs: num("kv-transfer-ms", v["kv-transfer-ms"], d.kvTransferMs, { min: 0 }),
    faults,
    seed: num("seed", v.seed, d.seed, { int: true }),
    requestLogSize: num("request-log-size", v["request-log-size"], d.requestLogSize, { int: true, min: 0 }),
    enablePromptTokensDetails: !!v["enable-prompt-tokens-details"],
    enableCacheReport: !!v["enable-cache-report"],
  };
  // Each engine has its own switch (and rejects the other's as an unknown argument); Triton's
  // OpenAI frontend has none. A flag for the wrong runtime would silently report nothing.
  if (cfg.enablePromptTokensDetails && runtime !== "vllm")
    throw new Error(
      `--enable-prompt-tokens-details is vLLM's flag; ${runtime === "sglang" ? "SGLang's is --enable-cache-report" : "Triton's OpenAI frontend reports no cached tokens"}`,
    );
  if (cfg.enableCacheReport && runtime !== "sglang")
    throw new Error(
      `--enable-cache-report is SGLang's flag; ${runtime === "vllm" ? "vLLM's is --enable-prompt-tokens-details" : "Triton's OpenAI frontend reports no cached tokens"}`,
    );
  // Any 127.0.0.0/8 address (Linux routes the whole block to lo): tests give each simulated pod its
  // own loopback IP so that all of them can listen on the seed's targetPortNumber.
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(cfg.host) && cfg.host !== "::1" && cfg.host !== "localhost")
    throw new Error("--host: the simulator binds to loopback only (127.0.0.0/8, ::1, localhost)");
  return cfg;
}

/** A config from defaults plus overrides (in-process use); block size and capacity default per
 *  runtime as on the command line. */
export function simConfig(overrides: Partial<SimConfig> = {}): SimConfig {
  const model = overrides.model ?? DEFAULTS.model;
  const blockSize = overrides.blockSize ?? defaultBlockSize(overrides.runtime ?? DEFAULTS.runtime);
  const kvBlocks = overrides.kvBlocks ?? Math.max(1, Math.floor(KV_TOKENS / blockSize));
  return { ...DEFAULTS, servedModelNames: [model], faults: noFaults(), ...overrides, blockSize, kvBlocks };
}
