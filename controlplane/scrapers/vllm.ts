// vLLM metric names, from vllm/v1/metrics/loggers.py (PrometheusStatLogger):
//   vllm:num_requests_waiting, vllm:num_requests_running  gauges, labels model_name + engine
//   vllm:kv_cache_usage_perc  gauge, "KV-cache usage. 1 means 100 percent usage." (0.9+);
//   vllm:gpu_cache_usage_perc  the same value under the name deprecated in 0.9, still read for older servers
//   vllm:lora_requests_info  gauge with labels max_lora, waiting_lora_adapters, running_lora_adapters
//     (comma-joined adapter names), set_to_current_time(): several label sets can be exported, and
//     the current one is the sample with the greatest value (the latest timestamp).
// With data parallelism each engine exports its own series: counts are summed, KV use averaged.

import { clamp01, meanOf, required, type Samples, sumOf } from "./prometheus-text.js";
import type { LoadSample, RuntimeScraper } from "./types.js";

export function vllmLoras(samples: Samples): string[] {
  const info = samples.get("vllm:lora_requests_info") ?? [];
  let latest: (typeof info)[number] | undefined;
  for (const s of info) if (Number.isFinite(s.value) && (!latest || s.value > latest.value)) latest = s;
  if (!latest) return [];
  const names = new Set<string>();
  for (const key of ["running_lora_adapters", "waiting_lora_adapters"]) {
    for (const n of (latest.labels[key] ?? "").split(",")) if (n.trim()) names.add(n.trim());
  }
  return [...names].sort();
}

export const vllmScraper: RuntimeScraper = {
  runtime: "vllm",
  extract(samples: Samples): LoadSample {
    const kv = meanOf(samples, "vllm:kv_cache_usage_perc") ?? meanOf(samples, "vllm:gpu_cache_usage_perc");
    return {
      waiting: required("vllm:num_requests_waiting", sumOf(samples, "vllm:num_requests_waiting")),
      running: required("vllm:num_requests_running", sumOf(samples, "vllm:num_requests_running")),
      kvUsage: clamp01(required("vllm:kv_cache_usage_perc (or vllm:gpu_cache_usage_perc)", kv)),
      loras: vllmLoras(samples),
    };
  },
};
