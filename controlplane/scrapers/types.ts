// What every runtime scraper produces from one /metrics page: the load signals the table carries.

import type { Runtime } from "../table/schema.js";
import type { Samples } from "./prometheus-text.js";

export interface LoadSample {
  /** Requests in the model server's own queue. */
  waiting: number;
  /** Requests in the running batch. */
  running: number;
  /** KV-cache use in [0,1]. */
  kvUsage: number;
  /** LoRA adapters running or waiting (vLLM only), sorted. */
  loras: string[];
}

export interface RuntimeScraper {
  runtime: Runtime;
  /** Throws MetricsError naming the missing or bad metric. */
  extract(samples: Samples): LoadSample;
}
