// SGLang metric names, from python/sglang/srt/metrics/collector.py (SchedulerMetricsCollector):
//   sglang:num_queue_reqs    "The number of requests in the waiting queue."
//   sglang:num_running_reqs  "The number of running requests."
//   sglang:token_usage       "The token usage." (fraction of the KV pool in use, 0..1)
// Series carry labels such as model_name (and per-rank labels with DP attention): counts are summed
// over series, token usage averaged.

import { clamp01, meanOf, required, type Samples, sumOf } from "./prometheus-text.js";
import type { LoadSample, RuntimeScraper } from "./types.js";

export const sglangScraper: RuntimeScraper = {
  runtime: "sglang",
  extract(samples: Samples): LoadSample {
    return {
      waiting: required("sglang:num_queue_reqs", sumOf(samples, "sglang:num_queue_reqs")),
      running: required("sglang:num_running_reqs", sumOf(samples, "sglang:num_running_reqs")),
      kvUsage: clamp01(required("sglang:token_usage", meanOf(samples, "sglang:token_usage"))),
      loras: [],
    };
  },
};
