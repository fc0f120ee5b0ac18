// Triton + TensorRT-LLM backend metric names, from the backend's custom metrics reporter
// (inflight_batcher_llm/src/custom_metrics_reporter/custom_metrics_reporter.cc), labels model + version:
//   nv_trt_llm_request_metrics{request_type="active"|"max"|"scheduled"|"context"|"waiting"}
//   nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="max"|"free"|"used"|"tokens_per"|"reused"|"fraction"}
// waiting = request_type="waiting"; running = "active" (requests held by the in-flight batcher; the
// upstream endpoint picker reads "scheduled", used here only when "active" is absent);
// KV use = used / max blocks, falling back to "fraction" on backends that export only that.
// Series of several Triton models are summed.

import { clamp01, MetricsError, meanOf, required, type Samples, sumOf } from "./prometheus-text.js";
import type { LoadSample, RuntimeScraper } from "./types.js";

const REQ = "nv_trt_llm_request_metrics";
const KV = "nv_trt_llm_kv_cache_block_metrics";

export const trtllmScraper: RuntimeScraper = {
  runtime: "trt-llm",
  extract(samples: Samples): LoadSample {
    const waiting = required(`${REQ}{request_type="waiting"}`, sumOf(samples, REQ, { request_type: "waiting" }));
    const running = required(
      `${REQ}{request_type="active"}`,
      sumOf(samples, REQ, { request_type: "active" }) ?? sumOf(samples, REQ, { request_type: "scheduled" }),
    );
    const used = sumOf(samples, KV, { kv_cache_block_type: "used" });
    const max = sumOf(samples, KV, { kv_cache_block_type: "max" });
    let kvUsage: number;
    if (used !== undefined && max !== undefined && max > 0) kvUsage = used / max;
    else {
      const fraction = meanOf(samples, KV, { kv_cache_block_type: "fraction" });
      if (fraction === undefined) {
        throw new MetricsError(
          `metric ${KV}{kv_cache_block_type="used"} / {kv_cache_block_type="max"} is missing${max === 0 ? " (max is 0)" : ""}`,
        );
      }
      kvUsage = fraction;
    }
    return { waiting, running, kvUsage: clamp01(kvUsage), loras: [] };
  },
};
