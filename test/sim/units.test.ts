// Unit tests of the token approximation and the prefix KV cache.
import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashes, extendBlockHashes, KvBlocks, PrefixKvCache } from "./kv-cache.js";
import { countTokens, encode, outputText, outputTokenId, renderChat, tokenize } from "./tokens.js";

const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);

test("tokenizer: deterministic, lossless, about 4 characters per token, prefix-stable", () => {
  const text = "Hi, here's some system prompt: hi hi hi hi.\nI would like to test your intelligence 12345!";
  const a = tokenize(text);
  assert.deepEqual(a, tokenize(text));
  assert.equal(a.join(""), text);
  assert.equal(countTokens(text), a.length);
  assert.deepEqual(encode(text), encode(text));
  const prose = "I would like to test your intelligence. For this purpose I would like you to play zork.";
  const ratio = prose.length / countTokens(prose);
  assert.ok(ratio > 3 && ratio < 5.5, `chars per token ${ratio}`);
  // appending text keeps all but (at most) the last token
  const longer = encode(`${text} and more words follow here`);
  const base = encode(text);
  assert.deepEqual(longer.slice(0, base.length - 1), base.slice(0, base.length - 1));
  assert.equal(countTokens("<|im_start|>"), 1);
  assert.equal(countTokens(outputText(37)), 37);
  // the generated text re-encodes to exactly the generated ids, so a client that sends the answer
  // back in the next turn reproduces the tokens whose KV the pod cached
  for (let n = 1; n <= 120; n++)
    assert.deepEqual(
      encode(outputText(n)),
      Array.from({ length: n }, (_, i) => outputTokenId(i)),
      `${n} output tokens`,
    );
});

test("chat template: a later turn's prompt starts with the earlier turn's prompt", () => {
  const turn1 = [{ role: "user", content: "Hello there, how are you?" }];
  const turn2 = [...turn1, { role: "assistant", content: "Fine." }, { role: "user", content: "Good." }];
  const p1 = renderChat(turn1);
  const p2 = renderChat(turn2);
  const shared = "<|im_start|>user\nHello there, how are you?<|im_end|>\n";
  assert.ok(p1.startsWith(shared) && p2.startsWith(shared));
});

test("block hashes are chained: equal block, different prefix, different hash; salt separates", () => {
  const bs = 4;
  const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const y = [9, 9, 9, 9, 5, 6, 7, 8];
  const hx = blockHashes(x, bs);
  const hy = blockHashes(y, bs);
  assert.equal(hx.length, 2); // only full blocks
  assert.notEqual(hx[1], hy[1]); // same tokens 5..8, different history
  assert.deepEqual(blockHashes(x.slice(0, 8), bs), hx);
  assert.notEqual(blockHashes(x, bs, "lora-a")[0], hx[0]);
  assert.ok(hx.every((h) => Number.isSafeInteger(h)));
  // extended block by block as tokens arrive (output tokens), the chain is the same
  const long = range(40);
  const grown: number[] = [];
  for (let n = 0; n <= long.length; n += 3) extendBlockHashes(grown, long, n, bs, "s");
  extendBlockHashes(grown, long, long.length, bs, "s");
  assert.deepEqual(grown, blockHashes(long, bs, "s"));
});

test("kv cache: hit on a cached prefix, capped to recompute the last token; blocks in use never evicted", () => {
  const kv = new PrefixKvCache(10, 4);
  const a = range(16); // 4 full blocks
  const ha = blockHashes(a, 4);
  assert.deepEqual(kv.findHit(ha, 15), []);
  const ra = new KvBlocks();
  assert.ok(kv.allocateSlots(ra, 16));
  kv.cacheFullBlocks(ra, ha, 4);
  assert.equal(kv.usedBlocks, 4);
  assert.equal(kv.usage, 0.4);
  // the same prompt again while A runs: all but the block of the last token (num_tokens - 1 = 15)
  assert.equal(kv.findHit(ha, 15).length, 3);
  kv.free(ra);
  assert.equal(kv.usedBlocks, 0);
  assert.equal(kv.cachedFreeBlocks, 4);
  assert.equal(kv.findHit(ha, 20).length, 4);
  // B needs 8 blocks: the 6 never used, then the queue's head: A's two tail blocks (freed first)
  const rb = new KvBlocks();
  assert.ok(kv.allocateSlots(rb, 32));
  assert.equal(kv.evictedBlocksTotal, 2);
  assert.equal(kv.findHit(ha, 20).length, 2, "A's head survives: tail blocks go first");
  // C needs 3 blocks; 2 are free while B holds 8: it does not fit, and nothing changed
  const rc = new KvBlocks();
  assert.equal(kv.allocateSlots(rc, 12), false);
  assert.deepEqual(rc.ids, []);
  assert.equal(kv.findHit(ha, 20).length, 2);
  kv.free(rb);
  assert.ok(kv.allocateSlots(rc, 12));
});

test("kv cache: a hit block waiting in the free queue counts against it when reused", () => {
  const kv = new PrefixKvCache(4, 4);
  const a = range(12);
  const ha = blockHashes(a, 4);
  const ra = new KvBlocks();
  kv.allocateSlots(ra, 12);
  kv.cacheFullBlocks(ra, ha, 3);
  kv.free(ra); // queue: [3, a2, a1, a0]
  const hit = kv.findHit(ha, 12);
  assert.equal(hit.length, 3);
  // 3 hit blocks leave the queue, 2 new blocks are needed: 5 > 4 free
  assert.equal(kv.allocateSlots(new KvBlocks(), 20, hit), false);
  const r = new KvBlocks();
  assert.ok(kv.allocateSlots(r, 16, hit)); // 3 hit + 1 new = the whole cache
  assert.equal(kv.usedBlocks, 4);
  assert.equal(kv.reusedBlocksTotal, 3);
});

test("kv cache: freed blocks without a hash queue like any other; they do not shield older prefixes", () => {
  const kv = new PrefixKvCache(6, 4);
  const a = range(8); // 2 full blocks
  const ha = blockHashes(a, 4);
  const ra = new KvBlocks();
  kv.allocateSlots(ra, 8);
  kv.cacheFullBlocks(ra, ha, 2);
  kv.free(ra); // queue: [2 3 4 5 | a1 a0]
  const b = range(10, 100); // 2 full blocks + a partial one
  const hb = blockHashes(b, 4);
  const rb = new KvBlocks();
  kv.allocateSlots(rb, 10);
  kv.cacheFullBlocks(rb, hb, 2);
  kv.free(rb); // queue: [5 | a1 a0 | b-partial b1 b0]
  // 3 blocks: the unused one, then all of A (freed earlier); B's empty partial block is newer and
  // does not spare A's head
  assert.ok(kv.allocateSlots(new KvBlocks(), 12));
  assert.deepEqual(kv.findHit(ha, 8), [], "A was freed before B: evicted first, whole");
  assert.equal(kv.findHit(hb, 9).length, 2, "B's full blocks survive behind its partial block");
  assert.equal(kv.evictedBlocksTotal, 2);
});

test("kv cache: a recomputed block duplicates a hash; evicting one copy keeps the prefix", () => {
  const kv = new PrefixKvCache(4, 4);
  const a = range(8);
  const ha = blockHashes(a, 4);
  const r1 = new KvBlocks();
  kv.allocateSlots(r1, 8);
  kv.cacheFullBlocks(r1, ha, 2);
  kv.free(r1); // queue: [2 3 | a1 a0]
  // the same 8-token prompt: hit capped at 7 tokens = 1 block; its second block is recomputed
  const hit = kv.findHit(ha, 7);
  assert.equal(hit.length, 1);
  const r2 = new KvBlocks();
  kv.allocateSlots(r2, 8, hit); // takes block 2 for the recomputed block
  kv.cacheFullBlocks(r2, ha, 2);
  kv.free(r2); // queue: [3 a1 | a1' a0]
  assert.ok(kv.allocateSlots(new KvBlocks(), 8)); // takes 3 and the first copy of a1
  assert.equal(kv.evictedBlocksTotal, 1);
  assert.equal(kv.findHit(ha, 8).length, 2, "the second copy still serves the block");
});

test("kv cache: vLLM's reset refuses while blocks are in use, then drops every hash", () => {
  const kv = new PrefixKvCache(4, 4);
  const a = range(8);
  const ha = blockHashes(a, 4);
  const r = new KvBlocks();
  kv.allocateSlots(r, 8);
  kv.cacheFullBlocks(r, ha, 2);
  kv.recordQuery(8, 0);
  assert.equal(kv.resetPrefixCache(), false);
  assert.equal(kv.findHit(ha, 8).length, 2);
  kv.free(r);
  assert.equal(kv.resetPrefixCache(), true);
  assert.deepEqual(kv.findHit(ha, 8), []);
  assert.equal(kv.cachedFreeBlocks, 0);
  assert.equal(kv.queriesTokens, 8, "counters keep counting");
});
