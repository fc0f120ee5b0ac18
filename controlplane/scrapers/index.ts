// Runtime name (the model-server-runtime annotation / InferenceTrafficPolicy modelServerRuntime) → scraper.

import type { Runtime } from "../table/schema.js";
import { sglangScraper } from "./sglang.js";
import { trtllmScraper } from "./trtllm.js";
import type { RuntimeScraper } from "./types.js";
import { vllmScraper } from "./vllm.js";

export const SCRAPERS: Record<Runtime, RuntimeScraper> = {
  vllm: vllmScraper,
  sglang: sglangScraper,
  "trt-llm": trtllmScraper,
};
