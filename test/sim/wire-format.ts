// How each runtime's OpenAI frontend reports token usage, byte for byte where it matters to a
// client: which keys `usage` has, which are null and which are left out, which chunk of a stream
// carries it, and when `prompt_tokens_details.cached_tokens` is there at all. Read from the
// engines' sources (paths below; the usage code is the same in chat and completions unless said):
//
// vLLM (vllm/entrypoints/openai/chat_completion/serving.py, .../completion/serving.py,
// vllm/entrypoints/serve/utils/api_utils.py should_include_usage, protocol UsageInfo):
//  - `prompt_tokens_details` only with --enable-prompt-tokens-details (default off); then it is
//    {"cached_tokens": N} for every request, 0 included (PR #44383 turned the old truthiness test
//    `and num_cached_tokens` into `is not None`; older releases left it out when N was 0);
//  - non-streaming bodies are `model_dump()`ed: unset optional fields are there as null
//    (`prompt_tokens_details: null` without the flag, `completion_tokens_details: null`);
//  - streams: the usage chunk is its own chunk, `choices: []`, after the chunk with the finish
//    reason and before `data: [DONE]`, only when `stream_options.include_usage` is true; it is
//    dumped with exclude_none, so null keys are absent there;
//  - `stream_options.continuous_usage_stats` (only together with include_usage) puts
//    {prompt_tokens, completion_tokens, total_tokens} (chat: also `completion_tokens_details: null`)
//    on every chunk, the role chunk included; never cached tokens.
// SGLang (python/sglang/srt/entrypoints/openai/usage_processor.py, serving_chat.py,
// serving_completions.py, protocol.py UsageInfo / PromptTokensDetails, utils.py should_include_usage):
//  - `prompt_tokens_details` is {"cached_tokens": N} only with --enable-cache-report (default off)
//    AND N > 0 (`_details_if_cached`: "keeps JSON slim"); otherwise null;
//  - usage always has `reasoning_tokens` (0 without a reasoning parser);
//  - chat streams end with a separate finish_reason chunk (empty delta), then the usage chunk
//    (`choices: []`, dumped with nulls kept), then [DONE]; completions streams put finish_reason on
//    the last text chunk and dump the usage chunk with exclude_none (a null detail is absent);
//  - continuous_usage_stats works without include_usage and never carries cached tokens.
// Triton's OpenAI frontend for TensorRT-LLM (triton-inference-server/server
// python/openai/openai_frontend/engine/utils/triton.py _get_usage_from_response and
// _StreamingUsageAccumulator, schemas/openai.py CompletionUsage, engine/triton_engine.py):
//  - usage is {prompt_tokens, total_tokens, completion_tokens}: no cached tokens, no flag for them;
//  - streams: the usage chunk (`choices: []`) before [DONE] when include_usage; no continuous usage.

import type { Runtime } from "./metrics.js";

export type Endpoint = "chat" | "completion";

export interface StreamOptions {
  includeUsage: boolean;
  continuousUsageStats: boolean;
}

export interface UsageCounts {
  prompt: number;
  completion: number;
  /** prompt tokens whose KV came from this pod's prefix cache */
  cached: number;
}

export type JsonObject = Record<string, unknown>;

export class WireFormat {
  readonly runtime: Runtime;
  /** vLLM --enable-prompt-tokens-details / SGLang --enable-cache-report */
  readonly reportCachedTokens: boolean;

  constructor(runtime: Runtime, reportCachedTokens: boolean) {
    if (runtime === "trtllm" && reportCachedTokens)
      throw new Error("Triton's OpenAI frontend for TensorRT-LLM has no cached-token report");
    this.runtime = runtime;
    this.reportCachedTokens = reportCachedTokens;
  }

  /** Which usage a stream carries: the final usage chunk, and usage on every chunk. */
  streamUsage(o: StreamOptions): { final: boolean; continuous: boolean } {
    switch (this.runtime) {
      case "vllm":
        return { final: o.includeUsage, continuous: o.includeUsage && o.continuousUsageStats };
      case "sglang":
        return { final: o.includeUsage, continuous: o.continuousUsageStats };
      default:
        return { final: o.includeUsage, continuous: false };
    }
  }

  /** `usage` of a non-streaming response. */
  responseUsage(c: UsageCounts): JsonObject {
    const base = { prompt_tokens: c.prompt, total_tokens: c.prompt + c.completion, completion_tokens: c.completion };
    switch (this.runtime) {
      case "vllm":
        return { ...base, prompt_tokens_details: this.vllmDetails(c), completion_tokens_details: null };
      case "sglang":
        return { ...base, prompt_tokens_details: this.sglangDetails(c), reasoning_tokens: 0 };
      default:
        return base;
    }
  }

  /** `usage` of the stream's final usage chunk (`choices: []`). */
  finalChunkUsage(kind: Endpoint, c: UsageCounts): JsonObject {
    const base = { prompt_tokens: c.prompt, total_tokens: c.prompt + c.completion, completion_tokens: c.completion };
    switch (this.runtime) {
      case "vllm": {
        // exclude_none: the details are there only when reported
        const d = this.vllmDetails(c);
        return d ? { ...base, prompt_tokens_details: d } : base;
      }
      case "sglang": {
        const d = this.sglangDetails(c);
        // chat: model_dump_json() keeps the null; completions: exclude_none drops it
        if (kind === "chat") return { ...base, prompt_tokens_details: d, reasoning_tokens: 0 };
        return d ? { ...base, prompt_tokens_details: d, reasoning_tokens: 0 } : { ...base, reasoning_tokens: 0 };
      }
      default:
        return base;
    }
  }

  /** `usage` on every chunk with continuous_usage_stats (so far: prompt + completion tokens). */
  continuousUsage(kind: Endpoint, prompt: number, completion: number): JsonObject {
    if (this.runtime === "sglang")
      return {
        prompt_tokens: prompt,
        total_tokens: prompt + completion,
        completion_tokens: completion,
        prompt_tokens_details: null,
        reasoning_tokens: 0,
      };
    const u: JsonObject = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
    if (kind === "chat") u.completion_tokens_details = null; // set explicitly, so exclude_unset keeps it
    return u;
  }

  /** vLLM puts continuous usage on the chat role chunk too; SGLang starts with the content. */
  get continuousUsageOnRoleChunk(): boolean {
    return this.runtime === "vllm";
  }

  /** SGLang chat streams send finish_reason in a chunk of its own, after the last content. */
  finishInOwnChunk(kind: Endpoint): boolean {
    return this.runtime === "sglang" && kind === "chat";
  }

  /** Fields a streamed choice carries besides index/delta|text/logprobs/finish_reason. */
  choiceExtras(kind: Endpoint): JsonObject {
    if (this.runtime === "sglang") return { matched_stop: null };
    if (this.runtime === "vllm" && kind === "completion") return { stop_reason: null };
    return {};
  }

  /** SGLang's completions chunks are pydantic dumps: `usage: null` when there is none. */
  chunkUsageWhenNone(kind: Endpoint): { usage?: null } {
    return this.runtime === "sglang" && kind === "completion" ? { usage: null } : {};
  }

  private vllmDetails(c: UsageCounts): JsonObject | null {
    return this.reportCachedTokens ? { cached_tokens: c.cached } : null;
  }

  private sglangDetails(c: UsageCounts): JsonObject | null {
    return this.reportCachedTokens && c.cached > 0 ? { cached_tokens: c.cached } : null;
  }
}
