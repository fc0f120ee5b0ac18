// Prometheus text exposition of one simulated pod, with the metric names and labels of the real
// server of the chosen runtime. Gauges are read from the engine at scrape time; counters and
// histograms accumulate as requests finish. Names were checked against these sources:
//
// vLLM (v1 engine): vllm-project/vllm, vllm/v1/metrics/loggers.py (PrometheusStatLogger):
//   labels ["model_name", "engine"]; vllm:num_requests_running, vllm:num_requests_waiting,
//   vllm:kv_cache_usage_perc, vllm:gpu_cache_usage_perc (deprecated alias), vllm:prefix_cache_queries
//   and vllm:prefix_cache_hits (counters, in tokens; exposed with _total), vllm:gpu_prefix_cache_*
//   (deprecated aliases), vllm:num_preemptions, vllm:prompt_tokens, vllm:generation_tokens,
//   vllm:request_success{finished_reason}, histograms vllm:time_to_first_token_seconds,
//   vllm:time_per_output_token_seconds, vllm:e2e_request_latency_seconds,
//   vllm:request_queue_time_seconds, vllm:request_inference_time_seconds,
//   vllm:request_prefill_time_seconds, vllm:request_decode_time_seconds,
//   vllm:request_prompt_tokens, vllm:request_generation_tokens, vllm:request_params_max_tokens;
//   vllm:lora_requests_info{max_lora, waiting_lora_adapters, running_lora_adapters} set to the
//   current time on every update (old label sets linger as stale series, as prometheus_client keeps
//   them; readers take the series with the largest value); vllm:cache_config_info (an info-style
//   gauge = 1 whose labels are CacheConfig.metrics_info() plus "engine").
// SGLang: sgl-project/sglang, python/sglang/srt/metrics/collector.py (SchedulerMetricsCollector,
//   TokenizerMetricsCollector) and python/sglang/srt/managers/scheduler_metrics_mixin.py (labels
//   model_name, engine_type, tp_rank, pp_rank): sglang:num_running_reqs, sglang:num_used_tokens,
//   sglang:token_usage, sglang:gen_throughput, sglang:num_queue_reqs, sglang:num_grammar_queue_reqs,
//   sglang:cache_hit_rate (hit ratio of the last prefill batch), sglang:max_total_num_tokens,
//   sglang:num_prefill_prealloc_queue_reqs, sglang:num_prefill_inflight_queue_reqs,
//   sglang:num_decode_prealloc_queue_reqs, sglang:num_decode_transfer_queue_reqs,
//   sglang:num_bootstrap_failed_reqs_total, sglang:num_transfer_failed_reqs_total,
//   sglang:kv_transfer_latency_ms, sglang:utilization, sglang:num_retracted_reqs,
//   sglang:num_paused_reqs; tokenizer side (label model_name): sglang:prompt_tokens_total,
//   sglang:generation_tokens_total, sglang:cached_tokens_total, sglang:num_requests_total,
//   sglang:num_aborted_requests_total, histograms sglang:time_to_first_token_seconds,
//   sglang:inter_token_latency_seconds, sglang:e2e_request_latency_seconds,
//   sglang:queue_time_seconds (scheduler labels).
// Triton + TensorRT-LLM backend: triton-inference-server/tensorrtllm_backend,
//   inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc (gauge families
//   nv_trt_llm_request_metrics{request_type=active|max|scheduled|context},
//   nv_trt_llm_runtime_memory_metrics{memory_type=cpu|gpu|pinned},
//   nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type=max|free|used|tokens_per|alloc_total|
//   alloc_new|reused}, nv_trt_llm_inflight_batcher_metrics{inflight_batcher_specific_metric=...},
//   nv_trt_llm_general_metrics{general_type=timestamp|iteration_counter}, each also labelled
//   model and version) and ci/L0_backend_trtllm/custom_metrics_verification_tests.py (adds
//   request_type=waiting and kv_cache_block_type=fraction, the two the Gateway API Inference
//   Extension reads); Triton core per-model metrics from triton-inference-server/server
//   docs/user_guide/metrics.md: nv_inference_request_success, nv_inference_request_failure,
//   nv_inference_count, nv_inference_exec_count, nv_inference_request_duration_us,
//   nv_inference_queue_duration_us, nv_inference_compute_infer_duration_us,
//   nv_inference_pending_request_count (labels model, version).
// Label values on the real servers come out in the order shown; Triton sorts them by name.

import type { Engine, RequestObservation } from "./engine.js";

export type Runtime = "vllm" | "sglang" | "trtllm";

export interface MetricsContext {
  runtime: Runtime;
  engine: Engine;
  servedModelName: string;
  loraEnabled: boolean;
  maxLoras: number;
  maxModelLen: number;
  /** SGLang P/D role: "unified" when not disaggregated */
  engineType: "unified" | "prefill" | "decode";
  /** P/D gauges and counters (sglang) */
  pd: () => {
    prefillInflight: number;
    decodeTransferQueue: number;
    bootstrapFailed: number;
    transferFailed: number;
    transferLatencyMs: number;
  };
  /** Triton failure counter (error responses) */
  failures: () => number;
}

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}
function labelStr(labels: Array<[string, string]>): string {
  if (labels.length === 0) return "";
  return `{${labels.map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;
}
function num(v: number): string {
  if (Number.isInteger(v)) return v.toFixed(1);
  return String(v);
}

class Histogram {
  readonly buckets: number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(buckets: number[]) {
    this.buckets = buckets;
    this.counts = new Array<number>(buckets.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

class Exposition {
  private out: string[] = [];
  family(name: string, type: "gauge" | "counter" | "histogram", help: string): this {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    return this;
  }
  sample(name: string, labels: Array<[string, string]>, v: number): this {
    this.out.push(`${name}${labelStr(labels)} ${num(v)}`);
    return this;
  }
  histogram(name: string, help: string, labels: Array<[string, string]>, h: Histogram, leFirst = false): this {
    this.family(name, "histogram", help);
    let cum = 0;
    for (let i = 0; i < h.buckets.length; i++) {
      cum = h.counts[i];
      const le: [string, string] = ["le", num(h.buckets[i])];
      this.sample(`${name}_bucket`, leFirst ? [le, ...labels] : [...labels, le], cum);
    }
    const inf: [string, string] = ["le", "+Inf"];
    this.sample(`${name}_bucket`, leFirst ? [inf, ...labels] : [...labels, inf], h.count);
    this.sample(`${name}_count`, labels, h.count);
    this.sample(`${name}_sum`, labels, h.sum);
    return this;
  }
  text(): string {
    return `${this.out.join("\n")}\n`;
  }
}

/** vLLM's build_1_2_5_buckets(max): 1, 2, 5, 10, 20, 50, ... up to max. */
function buckets125(max: number): number[] {
  const out: number[] = [];
  for (let e = 1; ; e *= 10)
    for (const m of [1, 2, 5]) {
      if (m * e > max) return out;
      out.push(m * e);
    }
}

const VLLM_TTFT_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0,
  640.0, 2560.0,
];
const VLLM_TPOT_BUCKETS = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0,
];
const VLLM_LATENCY_BUCKETS = [
  0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0,
  7680.0,
];
const SGLANG_TTFT_BUCKETS = [0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400];
const SGLANG_ITL_BUCKETS = [
  0.002, 0.004, 0.006, 0.008, 0.01, 0.015, 0.02, 0.025, 0.03, 0.035, 0.04, 0.06, 0.08, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4,
  6, 8,
];
const SGLANG_E2E_BUCKETS = [
  0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400,
];
const SGLANG_QUEUE_BUCKETS = [
  0.0, 0.1, 0.2, 0.5, 1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300, 400, 500, 600, 700, 800,
  900, 1000, 1200, 1400, 1600, 1800, 2000, 2500, 3000,
];

/** Keeps the histograms and the few stateful series; renders the text for the pod's runtime. */
export class SimMetrics {
  private readonly ctx: MetricsContext;
  private readonly h: Record<string, Histogram>;
  /** vllm:lora_requests_info label sets seen, with the time each was last current (seconds) */
  private readonly loraSeries = new Map<string, { running: string; waiting: string; t: number }>();
  private lastScrape = { t: 0, gen: 0, rate: 0 };
  // Triton cumulative microsecond counters
  private tritonRequestUs = 0;
  private tritonQueueUs = 0;
  private tritonComputeUs = 0;

  constructor(ctx: MetricsContext) {
    this.ctx = ctx;
    const tok = buckets125(ctx.maxModelLen);
    this.h = {
      ttft: new Histogram(ctx.runtime === "sglang" ? SGLANG_TTFT_BUCKETS : VLLM_TTFT_BUCKETS),
      tpot: new Histogram(ctx.runtime === "sglang" ? SGLANG_ITL_BUCKETS : VLLM_TPOT_BUCKETS),
      e2e: new Histogram(ctx.runtime === "sglang" ? SGLANG_E2E_BUCKETS : VLLM_LATENCY_BUCKETS),
      queue: new Histogram(ctx.runtime === "sglang" ? SGLANG_QUEUE_BUCKETS : VLLM_LATENCY_BUCKETS),
      inference: new Histogram(VLLM_LATENCY_BUCKETS),
      prefill: new Histogram(VLLM_LATENCY_BUCKETS),
      decode: new Histogram(VLLM_LATENCY_BUCKETS),
      promptTokens: new Histogram(tok),
      genTokens: new Histogram(tok),
      maxTokens: new Histogram(tok),
    };
    ctx.engine.onObservation = (o) => this.observe(o);
  }

  observe(o: RequestObservation): void {
    if (o.reason === "abort") return;
    const h = this.h;
    h.ttft.observe(o.ttft);
    if (o.tpot !== undefined) h.tpot.observe(o.tpot);
    h.e2e.observe(o.e2e);
    h.queue.observe(o.queue);
    h.inference.observe(o.inference);
    h.prefill.observe(o.prefill);
    h.decode.observe(o.decode);
    h.promptTokens.observe(o.promptTokens);
    h.genTokens.observe(o.generationTokens);
    h.maxTokens.observe(o.maxTokens);
    this.tritonRequestUs += Math.round(o.e2e * 1e6);
    this.tritonQueueUs += Math.round(o.queue * 1e6);
    this.tritonComputeUs += Math.round(o.inference * 1e6);
  }

  reset(): void {
    for (const k of Object.keys(this.h)) this.h[k].reset();
    this.loraSeries.clear();
    this.tritonRequestUs = this.tritonQueueUs = this.tritonComputeUs = 0;
  }

  render(): string {
    switch (this.ctx.runtime) {
      case "vllm":
        return this.renderVllm();
      case "sglang":
        return this.renderSglang();
      case "trtllm":
        return this.renderTrtllm();
    }
  }

  private genThroughput(): number {
    const now = performance.now();
    const gen = this.ctx.engine.counters.generationTokens;
    const dt = (now - this.lastScrape.t) / 1000;
    if (dt >= 0.2) {
      this.lastScrape = {
        t: now,
        gen,
        rate: this.lastScrape.t === 0 ? 0 : Math.max(0, gen - this.lastScrape.gen) / dt,
      };
    }
    return this.lastScrape.rate;
  }

  private renderVllm(): string {
    const { engine, servedModelName } = this.ctx;
    const kv = engine.kv;
    const c = engine.counters;
    const L: Array<[string, string]> = [
      ["model_name", servedModelName],
      ["engine", "0"],
    ];
    const x = new Exposition();
    x.family("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.").sample(
      "vllm:num_requests_running",
      L,
      engine.running.length,
    );
    x.family("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.").sample(
      "vllm:num_requests_waiting",
      L,
      engine.waiting.length,
    );
    x.family(
      "vllm:gpu_cache_usage_perc",
      "gauge",
      "GPU KV-cache usage. 1 means 100 percent usage.DEPRECATED: Use vllm:kv_cache_usage_perc instead.",
    ).sample("vllm:gpu_cache_usage_perc", L, kv.usage);
    x.family(
      "vllm:gpu_prefix_cache_queries_total",
      "counter",
      "GPU prefix cache queries, in terms of number of queriedtokens. DEPRECATED: Use vllm:prefix_cache_queries instead.",
    ).sample("vllm:gpu_prefix_cache_queries_total", L, kv.queriesTokens);
    x.family(
      "vllm:gpu_prefix_cache_hits_total",
      "counter",
      "GPU prefix cache hits, in terms of number of cached tokens. DEPRECATED: Use vllm:prefix_cache_hits instead.",
    ).sample("vllm:gpu_prefix_cache_hits_total", L, kv.hitsTokens);
    x.family("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.").sample(
      "vllm:kv_cache_usage_perc",
      L,
      kv.usage,
    );
    x.family(
      "vllm:prefix_cache_queries_total",
      "counter",
      "Prefix cache queries, in terms of number of queried tokens.",
    ).sample("vllm:prefix_cache_queries_total", L, kv.queriesTokens);
    x.family(
      "vllm:prefix_cache_hits_total",
      "counter",
      "Prefix cache hits, in terms of number of cached tokens.",
    ).sample("vllm:prefix_cache_hits_total", L, kv.hitsTokens);
    x.family("vllm:num_preemptions_total", "counter", "Cumulative number of preemption from the engine.").sample(
      "vllm:num_preemptions_total",
      L,
      c.preemptions,
    );
    x.family("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.").sample(
      "vllm:prompt_tokens_total",
      L,
      c.promptTokens,
    );
    x.family("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.").sample(
      "vllm:generation_tokens_total",
      L,
      c.generationTokens,
    );
    x.family("vllm:request_success_total", "counter", "Count of successfully processed requests.");
    for (const r of ["stop", "length", "abort"] as const)
      x.sample("vllm:request_success_total", [...L, ["finished_reason", r]], c.finished[r]);
    const h = this.h;
    x.histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", L, h.promptTokens);
    x.histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", L, h.genTokens);
    x.histogram("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", L, h.maxTokens);
    x.histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", L, h.ttft);
    x.histogram("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", L, h.tpot);
    x.histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", L, h.e2e);
    x.histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", L, h.queue);
    x.histogram(
      "vllm:request_inference_time_seconds",
      "Histogram of time spent in RUNNING phase for request.",
      L,
      h.inference,
    );
    x.histogram(
      "vllm:request_prefill_time_seconds",
      "Histogram of time spent in PREFILL phase for request.",
      L,
      h.prefill,
    );
    x.histogram(
      "vllm:request_decode_time_seconds",
      "Histogram of time spent in DECODE phase for request.",
      L,
      h.decode,
    );
    if (this.ctx.loraEnabled) {
      const running = [...engine.runningAdapters()].join(",");
      const waiting = [...engine.waitingAdapters()].join(",");
      const key = `${running}\u0000${waiting}`;
      this.loraSeries.delete(key);
      this.loraSeries.set(key, { running, waiting, t: Date.now() / 1000 });
      while (this.loraSeries.size > 32) this.loraSeries.delete(this.loraSeries.keys().next().value as string);
      x.family("vllm:lora_requests_info", "gauge", "Running stats on lora requests.");
      for (const s of this.loraSeries.values()) {
        x.sample(
          "vllm:lora_requests_info",
          [
            ["max_lora", String(this.ctx.maxLoras)],
            ["waiting_lora_adapters", s.waiting],
            ["running_lora_adapters", s.running],
          ],
          s.t,
        );
      }
    }
    x.family("vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig").sample(
      "vllm:cache_config_info",
      [
        ["block_size", String(kv.blockSize)],
        ["cache_dtype", "auto"],
        ["calculate_kv_scales", "False"],
        ["cpu_offload_gb", "0"],
        ["enable_prefix_caching", "True"],
        ["engine", "0"],
        ["gpu_memory_utilization", "0.9"],
        ["is_attention_free", "False"],
        ["num_cpu_blocks", "None"],
        ["num_gpu_blocks", String(kv.capacity)],
        ["num_gpu_blocks_override", "None"],
        ["prefix_caching_hash_algo", "builtin"],
        ["sliding_window", "None"],
        ["swap_space", "4"],
        ["swap_space_bytes", "4294967296"],
      ],
      1,
    );
    return x.text();
  }

  private renderSglang(): string {
    const { engine, servedModelName, engineType } = this.ctx;
    const kv = engine.kv;
    const c = engine.counters;
    const L: Array<[string, string]> = [
      ["model_name", servedModelName],
      ["engine_type", engineType],
      ["tp_rank", "0"],
      ["pp_rank", "0"],
    ];
    const T: Array<[string, string]> = [["model_name", servedModelName]];
    const pd = this.ctx.pd();
    const usedTokens = kv.usedBlocks * kv.blockSize;
    const maxTokens = kv.capacity * kv.blockSize;
    const lp = engine.lastPrefillBatch;
    const x = new Exposition();
    const g = (name: string, help: string, v: number) => x.family(name, "gauge", help).sample(name, L, v);
    g("sglang:num_running_reqs", "The number of running requests.", engine.running.length);
    g("sglang:num_used_tokens", "The number of used tokens.", usedTokens);
    g("sglang:token_usage", "The token usage.", kv.usage);
    g("sglang:gen_throughput", "The generation throughput (token/s).", this.genThroughput());
    g("sglang:num_queue_reqs", "The number of requests in the waiting queue.", engine.waiting.length);
    g("sglang:num_grammar_queue_reqs", "The number of requests in the grammar waiting queue.", 0);
    g(
      "sglang:cache_hit_rate",
      "The prefix cache hit rate.",
      lp.queriedTokens > 0 ? lp.hitTokens / lp.queriedTokens : 0,
    );
    g("sglang:max_total_num_tokens", "Maximum total number of tokens in the KV cache pool.", maxTokens);
    g("sglang:num_retracted_reqs", "The number of retracted requests.", 0);
    g("sglang:num_paused_reqs", "The number of paused requests by async weight sync.", 0);
    g("sglang:num_prefill_prealloc_queue_reqs", "The number of requests in the prefill prealloc queue.", 0);
    g(
      "sglang:num_prefill_inflight_queue_reqs",
      "The number of requests in the prefill inflight queue.",
      pd.prefillInflight,
    );
    g("sglang:num_decode_prealloc_queue_reqs", "The number of requests in the decode prealloc queue.", 0);
    g(
      "sglang:num_decode_transfer_queue_reqs",
      "The number of requests in the decode transfer queue.",
      pd.decodeTransferQueue,
    );
    x.family("sglang:num_bootstrap_failed_reqs_total", "counter", "The number of bootstrap failed requests.").sample(
      "sglang:num_bootstrap_failed_reqs_total",
      L,
      pd.bootstrapFailed,
    );
    x.family("sglang:num_transfer_failed_reqs_total", "counter", "The number of transfer failed requests.").sample(
      "sglang:num_transfer_failed_reqs_total",
      L,
      pd.transferFailed,
    );
    g("sglang:kv_transfer_latency_ms", "The transfer latency of the KV cache in ms.", pd.transferLatencyMs);
    g(
      "sglang:utilization",
      "The utilization.",
      engineType === "prefill" ? -1 : engine.running.length / engine.cfg.maxNumSeqs,
    );
    x.histogram("sglang:queue_time_seconds", "Histogram of queueing time in seconds.", L, this.h.queue);
    // tokenizer-manager side
    const ct = (name: string, help: string, v: number) => x.family(name, "counter", help).sample(name, T, v);
    ct("sglang:prompt_tokens_total", "Number of prefill tokens processed.", kv.queriesTokens);
    ct("sglang:generation_tokens_total", "Number of generation tokens processed.", c.generationTokens);
    ct("sglang:cached_tokens_total", "Number of cached prompt tokens.", kv.hitsTokens);
    ct(
      "sglang:num_requests_total",
      "Number of requests processed.",
      c.finished.stop + c.finished.length + c.finished.abort,
    );
    ct("sglang:num_aborted_requests_total", "Number of requests aborted.", c.finished.abort);
    x.histogram("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.", T, this.h.ttft);
    x.histogram("sglang:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", T, this.h.tpot);
    x.histogram(
      "sglang:e2e_request_latency_seconds",
      "Histogram of End-to-end request latency in seconds",
      T,
      this.h.e2e,
    );
    return x.text();
  }

  private renderTrtllm(): string {
    const { engine } = this.ctx;
    const kv = engine.kv;
    const c = engine.counters;
    const step = engine.lastStep;
    const M: [string, string] = ["model", "tensorrt_llm"];
    const V: [string, string] = ["version", "1"];
    const x = new Exposition();
    const group = (family: string, help: string, cat: string, values: Array<[string, number]>) => {
      x.family(family, "gauge", help);
      for (const [k, v] of values) x.sample(family, [M, [cat, k], V], v);
    };
    group("nv_trt_llm_request_metrics", "TRT LLM request metrics", "request_type", [
      ["active", engine.running.length],
      ["context", step.contextRequests],
      ["max", engine.cfg.maxNumSeqs],
      ["scheduled", engine.running.length],
      ["waiting", engine.waiting.length],
    ]);
    group("nv_trt_llm_runtime_memory_metrics", "TRT LLM runtime memory metrics", "memory_type", [
      ["cpu", 0],
      ["gpu", 85899345920],
      ["pinned", 0],
    ]);
    group("nv_trt_llm_kv_cache_block_metrics", "TRT LLM KV cache block metrics", "kv_cache_block_type", [
      ["alloc_new", kv.newBlocksTotal],
      ["alloc_total", kv.allocatedBlocksTotal],
      ["fraction", kv.usage],
      ["free", kv.freeBlocks],
      ["max", kv.capacity],
      ["reused", kv.reusedBlocksTotal],
      ["tokens_per", kv.blockSize],
      ["used", kv.usedBlocks],
    ]);
    group(
      "nv_trt_llm_inflight_batcher_metrics",
      "TRT LLM inflight_batcher-specific metrics",
      "inflight_batcher_specific_metric",
      [
        ["generation_requests", step.generationRequests],
        ["micro_batch_id", 0],
        ["paused_requests", 0],
        ["total_context_tokens", step.prefillTokens],
      ],
    );
    group("nv_trt_llm_general_metrics", "General TRT LLM metrics", "general_type", [
      ["iteration_counter", c.iterations],
      ["timestamp", Date.now() * 1000],
    ]);
    const ok = c.finished.stop + c.finished.length;
    const counter = (name: string, help: string, v: number, extra: Array<[string, string]> = []) =>
      x.family(name, "counter", help).sample(name, [M, ...extra, V], v);
    counter("nv_inference_request_success", "Number of successful inference requests, all batch sizes", ok);
    counter(
      "nv_inference_request_failure",
      "Number of failed inference requests, all batch sizes",
      this.ctx.failures(),
      [["reason", "BACKEND"]],
    );
    counter("nv_inference_count", "Number of inferences performed (does not include cached requests)", ok);
    counter(
      "nv_inference_exec_count",
      "Number of model executions performed (does not include cached requests)",
      c.iterations,
    );
    counter(
      "nv_inference_request_duration_us",
      "Cumulative inference request duration in microseconds (includes cached requests)",
      this.tritonRequestUs,
    );
    counter(
      "nv_inference_queue_duration_us",
      "Cumulative inference queuing duration in microseconds (includes cached requests)",
      this.tritonQueueUs,
    );
    counter(
      "nv_inference_compute_infer_duration_us",
      "Cumulative compute inference duration in microseconds (does not include cached requests)",
      this.tritonComputeUs,
    );
    x.family(
      "nv_inference_pending_request_count",
      "gauge",
      "Instantaneous number of pending requests awaiting execution per-model.",
    ).sample("nv_inference_pending_request_count", [M, V], engine.waiting.length);
    return x.text();
  }
}
