// `usage` exactly as each engine's OpenAI frontend writes it (see wire-format.ts for the sources):
// with and without the engine's cached-token switch, chat and completions, non-streaming and
// streaming, and where in a stream the usage sits.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { longText, postJson, postSse } from "./helpers.js";
import { type SimConfig, type SimServer, simConfig, startSimServer } from "./server.js";
import { countTokens, renderChat } from "./tokens.js";

const MODEL = "/models/Qwen3-32B";
const BLOCK = 16;
const FAST: Partial<SimConfig> = {
  port: 0,
  prefillOverheadMs: 0,
  prefillTimePerTokenMs: 0,
  interTokenLatencyMs: 0,
  decodeTimePerSeqMs: 0,
};

const pods: Record<string, SimServer> = {};
before(async () => {
  const configs: Record<string, Partial<SimConfig>> = {
    "vllm-off": { runtime: "vllm" },
    "vllm-on": { runtime: "vllm", enablePromptTokensDetails: true },
    "sglang-off": { runtime: "sglang" },
    "sglang-on": { runtime: "sglang", enableCacheReport: true },
    trtllm: { runtime: "trtllm" },
  };
  for (const [name, c] of Object.entries(configs))
    pods[name] = await startSimServer(simConfig({ ...FAST, name, ...c }));
});
after(async () => {
  await Promise.all(Object.values(pods).map((p) => p.stop()));
});

/** A prompt of this many blocks and a bit (so that its warm hit is all its full blocks). */
function chatMessages(seed: string) {
  return [{ role: "user", content: longText(seed, 60) }];
}
/** What a second identical request hits: the last token is always recomputed; vLLM matches whole
 *  16-token blocks, SGLang (page size 1) token by token. */
function warmHit(promptTokens: number, runtime: "vllm" | "sglang" = "vllm"): number {
  return runtime === "sglang" ? promptTokens - 1 : Math.floor((promptTokens - 1) / BLOCK) * BLOCK;
}

async function chatTwice(pod: SimServer, seed: string) {
  const messages = chatMessages(seed);
  const n = countTokens(renderChat(messages));
  const body = { model: MODEL, messages, max_tokens: 3 };
  const cold = await postJson(`${pod.url}/v1/chat/completions`, body);
  const warm = await postJson(`${pod.url}/v1/chat/completions`, body);
  assert.equal(cold.status, 200);
  assert.equal(warm.status, 200);
  assert.ok(warmHit(n) >= 3 * BLOCK, `prompt of ${n} tokens`);
  return { n, cold: cold.body.usage, warm: warm.body.usage };
}

describe("non-streaming usage", () => {
  test("vLLM without --enable-prompt-tokens-details: prompt_tokens_details is null", async () => {
    const { n, cold, warm } = await chatTwice(pods["vllm-off"], "vllm off");
    const base = { prompt_tokens: n, total_tokens: n + 3, completion_tokens: 3 };
    assert.deepEqual(cold, { ...base, prompt_tokens_details: null, completion_tokens_details: null });
    assert.deepEqual(warm, { ...base, prompt_tokens_details: null, completion_tokens_details: null });
  });

  test("vLLM with --enable-prompt-tokens-details: cached_tokens always, 0 included", async () => {
    const { n, cold, warm } = await chatTwice(pods["vllm-on"], "vllm on");
    const base = { prompt_tokens: n, total_tokens: n + 3, completion_tokens: 3 };
    assert.deepEqual(cold, { ...base, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: null });
    assert.deepEqual(warm, {
      ...base,
      prompt_tokens_details: { cached_tokens: warmHit(n) },
      completion_tokens_details: null,
    });
  });

  test("SGLang without --enable-cache-report: null; with it: cached_tokens only when > 0", async () => {
    const off = await chatTwice(pods["sglang-off"], "sglang off");
    const base = (n: number) => ({ prompt_tokens: n, total_tokens: n + 3, completion_tokens: 3, reasoning_tokens: 0 });
    assert.deepEqual(off.cold, { ...base(off.n), prompt_tokens_details: null });
    assert.deepEqual(off.warm, { ...base(off.n), prompt_tokens_details: null });
    const on = await chatTwice(pods["sglang-on"], "sglang on");
    assert.deepEqual(on.cold, { ...base(on.n), prompt_tokens_details: null });
    assert.deepEqual(on.warm, { ...base(on.n), prompt_tokens_details: { cached_tokens: warmHit(on.n, "sglang") } });
  });

  test("Triton/TensorRT-LLM: prompt, completion and total tokens only", async () => {
    const { n, cold, warm } = await chatTwice(pods.trtllm, "trtllm");
    assert.deepEqual(cold, { prompt_tokens: n, total_tokens: n + 3, completion_tokens: 3 });
    assert.deepEqual(warm, { prompt_tokens: n, total_tokens: n + 3, completion_tokens: 3 });
  });

  test("completions report the same way as chat", async () => {
    const prompt = longText("completion prompt", 60);
    const n = countTokens(prompt);
    for (const [name, details] of [
      ["vllm-on", { cached_tokens: warmHit(n) }],
      ["vllm-off", null],
      ["sglang-on", { cached_tokens: warmHit(n, "sglang") }],
    ] as const) {
      const url = `${pods[name].url}/v1/completions`;
      await postJson(url, { model: MODEL, prompt, max_tokens: 2 });
      const warm = await postJson(url, { model: MODEL, prompt, max_tokens: 2 });
      assert.deepEqual(warm.body.usage.prompt_tokens_details, details, name);
      assert.equal(warm.body.usage.prompt_tokens, n, name);
    }
  });

  test("the engines' flags are refused on the wrong runtime, with the right flag named", async () => {
    const { parseSimArgs } = await import("./config.js");
    assert.throws(
      () => parseSimArgs(["--runtime", "sglang", "--enable-prompt-tokens-details"]),
      /SGLang's is --enable-cache-report/,
    );
    assert.throws(
      () => parseSimArgs(["--runtime", "vllm", "--enable-cache-report"]),
      /vLLM's is --enable-prompt-tokens-details/,
    );
    assert.throws(() => parseSimArgs(["--runtime", "trtllm", "--enable-cache-report"]), /reports no cached tokens/);
    assert.equal(parseSimArgs(["--enable-prompt-tokens-details"]).enablePromptTokensDetails, true);
    assert.equal(parseSimArgs(["--runtime", "sglang", "--enable-cache-report"]).enableCacheReport, true);
    assert.equal(parseSimArgs([]).enablePromptTokensDetails, false);
    // the matching unit: vLLM's 16-token blocks, SGLang's 1-token pages (same capacity in tokens)
    assert.deepEqual([parseSimArgs([]).blockSize, parseSimArgs([]).kvBlocks], [16, 2048]);
    const sg = parseSimArgs(["--runtime", "sglang"]);
    assert.deepEqual([sg.blockSize, sg.kvBlocks], [1, 32768]);
    assert.equal(parseSimArgs(["--runtime", "sglang", "--page-size", "64"]).blockSize, 64);
    assert.throws(() => parseSimArgs(["--page-size", "4", "--block-size", "4"]), /one of them/);
  });
});

type Events = Awaited<ReturnType<typeof postSse>>;
const chunks = (ev: Events) => ev.filter((e): e is Record<string, any> => e !== "[DONE]");
/** The events after the last one that has a choice: what closes the stream. */
function tail(ev: Events) {
  let i = ev.length - 1;
  while (i >= 0 && (ev[i] === "[DONE]" || (ev[i] as Record<string, any>).choices.length === 0)) i--;
  return ev.slice(i + 1);
}

describe("streaming usage", () => {
  const streamBody = (seed: string, streamOptions?: Record<string, boolean>) => ({
    model: MODEL,
    messages: chatMessages(seed),
    max_tokens: 4,
    stream: true,
    ...(streamOptions ? { stream_options: streamOptions } : {}),
  });

  test("vLLM: the usage chunk follows the finish_reason chunk, has choices [], drops null details", async () => {
    for (const [name, details] of [
      ["vllm-on", true],
      ["vllm-off", false],
    ] as const) {
      const url = `${pods[name].url}/v1/chat/completions`;
      const body = streamBody(`vllm stream ${name}`, { include_usage: true });
      const n = countTokens(renderChat(body.messages));
      const cold = await postSse(url, body);
      const warm = await postSse(url, body);
      for (const [ev, cached] of [
        [cold, 0],
        [warm, warmHit(n)],
      ] as const) {
        const t = tail(ev);
        assert.equal(t.length, 2, JSON.stringify(t));
        assert.equal(t[1], "[DONE]");
        const usageChunk = t[0] as Record<string, any>;
        assert.deepEqual(usageChunk.choices, []);
        assert.equal(usageChunk.object, "chat.completion.chunk");
        const base = { prompt_tokens: n, total_tokens: n + 4, completion_tokens: 4 };
        assert.deepEqual(
          usageChunk.usage,
          details ? { ...base, prompt_tokens_details: { cached_tokens: cached } } : base,
        );
        const withChoices = chunks(ev).filter((c) => c.choices.length > 0);
        assert.equal(withChoices.at(-1)?.choices[0].finish_reason, "length");
        assert.ok(
          withChoices.every((c) => !("usage" in c)),
          "no usage key on other chunks",
        );
      }
    }
  });

  test("SGLang chat: a separate finish chunk, then the usage chunk with null details kept", async () => {
    for (const [name, report] of [
      ["sglang-on", true],
      ["sglang-off", false],
    ] as const) {
      const url = `${pods[name].url}/v1/chat/completions`;
      const body = streamBody(`sglang stream ${name}`, { include_usage: true });
      const n = countTokens(renderChat(body.messages));
      await postSse(url, body);
      const ev = await postSse(url, body);
      const all = chunks(ev);
      const content = all.filter((c) => c.choices.length > 0 && c.choices[0].delta.content);
      assert.equal(content.length, 4);
      assert.ok(content.every((c) => c.choices[0].finish_reason === null));
      const [finish, usage, done] = ev.slice(-3) as [Record<string, any>, Record<string, any>, string];
      assert.deepEqual(finish.choices[0].delta, {});
      assert.equal(finish.choices[0].finish_reason, "length");
      assert.deepEqual(usage.choices, []);
      assert.deepEqual(usage.usage, {
        prompt_tokens: n,
        total_tokens: n + 4,
        completion_tokens: 4,
        prompt_tokens_details: report ? { cached_tokens: warmHit(n, "sglang") } : null,
        reasoning_tokens: 0,
      });
      assert.equal(done, "[DONE]");
    }
  });

  test("SGLang completions: finish_reason on the last text chunk, usage chunk without null details", async () => {
    const url = `${pods["sglang-on"].url}/v1/completions`;
    const prompt = longText("sglang completion stream", 40);
    const body = { model: MODEL, prompt, max_tokens: 2, stream: true, stream_options: { include_usage: true } };
    const ev = await postSse(url, body); // cold: cached 0, so no details at all
    const [last, usage, done] = ev.slice(-3) as [Record<string, any>, Record<string, any>, string];
    assert.equal(last.choices[0].finish_reason, "length");
    assert.equal(last.usage, null);
    const n = countTokens(prompt);
    assert.deepEqual(usage.usage, { prompt_tokens: n, total_tokens: n + 2, completion_tokens: 2, reasoning_tokens: 0 });
    assert.equal(done, "[DONE]");
  });

  test("without include_usage no chunk carries usage", async () => {
    for (const name of ["vllm-on", "sglang-on", "trtllm"]) {
      const ev = await postSse(`${pods[name].url}/v1/chat/completions`, streamBody(`no usage ${name}`));
      assert.equal(ev.at(-1), "[DONE]");
      assert.ok(
        chunks(ev).every((c) => c.usage === undefined && c.choices.length > 0),
        name,
      );
    }
  });

  test("continuous_usage_stats: vLLM only with include_usage, SGLang without it, Triton never", async () => {
    // vLLM: ignored without include_usage
    let ev = await postSse(
      `${pods["vllm-on"].url}/v1/chat/completions`,
      streamBody("cont 1", { continuous_usage_stats: true }),
    );
    assert.ok(chunks(ev).every((c) => c.usage === undefined));
    // vLLM with include_usage: every chunk, the role chunk first (completion 0), never cached tokens
    const b2 = streamBody("cont 2", { include_usage: true, continuous_usage_stats: true });
    const n = countTokens(renderChat(b2.messages));
    ev = await postSse(`${pods["vllm-on"].url}/v1/chat/completions`, b2);
    const withChoices = chunks(ev).filter((c) => c.choices.length > 0);
    assert.deepEqual(
      withChoices.map((c) => c.usage.completion_tokens),
      [0, 1, 2, 3, 4],
    );
    assert.deepEqual(withChoices[2].usage, {
      prompt_tokens: n,
      completion_tokens: 2,
      total_tokens: n + 2,
      completion_tokens_details: null,
    });
    assert.deepEqual(chunks(ev).at(-1)?.usage.prompt_tokens_details, { cached_tokens: 0 });
    // SGLang: continuous without include_usage; content chunks only; no final usage chunk
    const b3 = streamBody("cont 3", { continuous_usage_stats: true });
    const n3 = countTokens(renderChat(b3.messages));
    ev = await postSse(`${pods["sglang-on"].url}/v1/chat/completions`, b3);
    const content = chunks(ev).filter((c) => c.choices.length > 0 && c.choices[0].delta.content);
    assert.deepEqual(
      content.map((c) => c.usage.completion_tokens),
      [1, 2, 3, 4],
    );
    assert.deepEqual(content[0].usage, {
      prompt_tokens: n3,
      total_tokens: n3 + 1,
      completion_tokens: 1,
      prompt_tokens_details: null,
      reasoning_tokens: 0,
    });
    assert.ok(chunks(ev).every((c) => c.choices.length > 0));
    // Triton: no continuous usage, the final chunk only
    ev = await postSse(
      `${pods.trtllm.url}/v1/chat/completions`,
      streamBody("cont 4", { include_usage: true, continuous_usage_stats: true }),
    );
    const withUsage = chunks(ev).filter((c) => c.usage !== undefined);
    assert.equal(withUsage.length, 1);
    assert.deepEqual(withUsage[0].choices, []);
  });

  test("stream_options with a non-boolean flag is a 400", async () => {
    const r = await postJson(`${pods["vllm-on"].url}/v1/chat/completions`, {
      ...streamBody("bad"),
      stream_options: { include_usage: "yes" },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.param, "stream_options");
  });
});
