// The KV cache under pressure behaves as vLLM's block pool and scheduler do, and cached_tokens
// says exactly what survived. Prompts are token-id arrays, so every block boundary is known.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { metric, postJson, scrape, sleep } from "./helpers.js";
import { type SimConfig, type SimServer, simConfig, startSimServer } from "./server.js";
import { outputText, outputTokenId } from "./tokens.js";

const MODEL = "/models/Qwen3-32B";
const BLOCK = 16;
const L = { model_name: MODEL, engine: "0" };
let pod: SimServer | null = null;

async function start(o: Partial<SimConfig>): Promise<SimServer> {
  pod = await startSimServer(
    simConfig({
      name: "pressure",
      port: 0,
      prefillOverheadMs: 0,
      prefillTimePerTokenMs: 0,
      interTokenLatencyMs: 1,
      decodeTimePerSeqMs: 0,
      blockSize: BLOCK,
      enablePromptTokensDetails: true,
      ...o,
    }),
  );
  return pod;
}
afterEach(async () => {
  await pod?.stop();
  pod = null;
});

const ids = (n: number, from: number) => Array.from({ length: n }, (_, i) => from + i);

async function complete(p: SimServer, prompt: number[], maxTokens = 1) {
  const r = await postJson(`${p.url}/v1/completions`, { model: MODEL, prompt, max_tokens: maxTokens });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return {
    cached: r.body.usage.prompt_tokens_details.cached_tokens as number,
    completion: r.body.usage.completion_tokens as number,
    text: r.body.choices[0].text as string,
  };
}

async function kvState(p: SimServer) {
  return ((await (await fetch(`${p.url}/debug/state`)).json()) as { kv: Record<string, number> }).kv;
}

test("a prefix loses its tail first: the next request hits exactly the surviving head", async () => {
  const p = await start({ kvBlocks: 20 });
  const a = ids(8 * BLOCK + 5, 1000); // 8 full blocks and a partial one: 9 blocks
  const b = ids(13 * BLOCK + 3, 5000); // 14 blocks
  assert.equal((await complete(p, a)).cached, 0);
  // A freed its blocks tail first: queue = 11 never used, A's partial block, A's blocks 7..0.
  // B takes 14: the 11 unused, A's partial block (no prefix in it), A's blocks 7 and 6.
  await complete(p, b);
  assert.equal((await kvState(p)).evicted, 2);
  assert.equal((await complete(p, a)).cached, 6 * BLOCK, "blocks 0..5 of A survived");
});

test("the KV of generated tokens is cached too: the next turn hits the previous answer", async () => {
  const p = await start({ kvBlocks: 64 });
  const prompt = ids(40, 100);
  const turn1 = await complete(p, prompt, 30);
  assert.equal(turn1.text, outputText(30));
  // 70 tokens, the last one never computed: full blocks among the first 69 are cached (4 blocks)
  const answer = Array.from({ length: 30 }, (_, i) => outputTokenId(i));
  const turn2 = [...prompt, ...answer, ...ids(10, 900)];
  assert.equal((await complete(p, turn2)).cached, 4 * BLOCK);
});

test("a chat conversation's second turn hits the first turn's prompt and answer", async () => {
  const p = await start({ kvBlocks: 64 });
  const turn1 = [{ role: "user", content: "Tell me something about the simulator, in a few words." }];
  const r1 = await postJson(`${p.url}/v1/chat/completions`, { model: MODEL, messages: turn1, max_tokens: 40 });
  const answer = r1.body.choices[0].message.content as string;
  const p1 = r1.body.usage.prompt_tokens as number;
  const turn2 = [...turn1, { role: "assistant", content: answer }, { role: "user", content: "And more?" }];
  const r2 = await postJson(`${p.url}/v1/chat/completions`, { model: MODEL, messages: turn2, max_tokens: 1 });
  // cached: the full blocks among turn 1's prompt and answer but its last token (never computed)
  assert.equal(r2.body.usage.prompt_tokens_details.cached_tokens, Math.floor((p1 + 40 - 1) / BLOCK) * BLOCK);
});

test("blocks of a running request are never evicted, however much others need", async () => {
  const p = await start({ kvBlocks: 12, interTokenLatencyMs: 10 });
  const x = ids(3 * BLOCK, 100);
  const running = complete(p, x, 60); // holds up to 7 blocks for ~600 ms
  await sleep(30);
  // three 4-block prompts one after the other: 12 blocks wanted, 5 or fewer free
  for (let i = 0; i < 3; i++) await complete(p, ids(4 * BLOCK, 10_000 * (i + 1)));
  assert.ok((await kvState(p)).evicted > 0, "there was pressure");
  assert.equal((await complete(p, [...x, ...ids(10, 7)])).cached, 3 * BLOCK, "x is still all there");
  const r = await running;
  assert.equal(r.completion, 60);
});

test("out of blocks while decoding: the latest request is preempted, recomputed, and completes", async () => {
  const p = await start({ kvBlocks: 8, interTokenLatencyMs: 2 });
  const first = complete(p, ids(2 * BLOCK, 100), 60);
  await sleep(5);
  const second = complete(p, ids(2 * BLOCK, 200), 60);
  // both start with 2 blocks each; each needs 6 to finish; 8 in all: the second is preempted
  const [r1, r2] = await Promise.all([first, second]);
  for (const r of [r1, r2]) {
    assert.equal(r.completion, 60);
    assert.equal(r.text, outputText(60), "no token lost or repeated across the preemption");
    assert.equal(r.cached, 0, "cached_tokens is the first admission's hit");
  }
  const m = await scrape(p.url);
  assert.ok((metric(m, "vllm:num_preemptions_total", L) ?? 0) >= 1);
  assert.equal(metric(m, "vllm:prefix_cache_queries_total", L), 4 * BLOCK, "a recompute is not a new query");
  const log = (await (await fetch(`${p.url}/debug/requests`)).json()) as { requests: Array<{ e2eMs: number }> };
  assert.equal(log.requests.length, 2);
});

test("admission takes blocks for the prompt only: a long answer does not hold back the queue", async () => {
  // 8 blocks: reserving the long request's whole answer (7 blocks) up front would leave the short
  // request (2 blocks) waiting until the long one finished
  const p = await start({ kvBlocks: 8, interTokenLatencyMs: 5 });
  let longDone = false;
  const long = complete(p, ids(2 * BLOCK, 100), 80).then((r) => {
    longDone = true;
    return r;
  });
  await sleep(20);
  const short = await complete(p, ids(2 * BLOCK, 300), 1);
  assert.equal(short.completion, 1);
  assert.equal(longDone, false, "served while the long request is still decoding");
  assert.equal((await long).completion, 80);
});
