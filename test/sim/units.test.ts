// Unit tests of the token approximation and the prefix KV cache.
import assert from "node:assert/strict";
import { test } from "node:test";
import { blockHashes, PrefixKvCache } from "./kv-cache.js";
import { countTokens, encode, outputText, renderChat, tokenize } from "./tokens.js";

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
});

test("kv cache: hits on cached prefix, LRU eviction, pinned blocks never evicted, usage", () => {
  const kv = new PrefixKvCache(10, 4);
  const a = Array.from({ length: 16 }, (_, i) => i + 1); // 4 blocks
  const ha = blockHashes(a, 4);
  assert.equal(kv.lookup(ha, 16).hitBlocks, 0);
  const allocA = kv.allocate(ha, 0, 5, 16); // prompt 16 + some output -> 5 blocks
  assert.equal(kv.usedBlocks, 5);
  assert.equal(kv.usage, 0.5);
  // a second request with the same prompt while A runs hits 3 blocks (the last is recomputed)
  assert.equal(kv.lookup(ha, 16).hitBlocks, 3);
  kv.release(allocA);
  assert.equal(kv.usedBlocks, 0);
  assert.equal(kv.cachedFreeBlocks, 4);
  assert.equal(kv.lookup(ha, 20).hitBlocks, 4);
  // B needs 8 blocks: 6 never-used + evicts 2 of A's cached blocks (A's tail first)
  const b = Array.from({ length: 32 }, (_, i) => 100 + i);
  const hb = blockHashes(b, 4);
  assert.ok(kv.canAllocate(hb, 0, 8));
  const allocB = kv.allocate(hb, 0, 8, 32);
  assert.equal(kv.evictedBlocksTotal, 2);
  assert.equal(kv.lookup(ha, 20).hitBlocks, 2, "A's first two blocks survive: tail blocks go first");
  // C needs 4 blocks; only 2 evictable + 0 free -> does not fit while B is pinned
  const c = Array.from({ length: 16 }, (_, i) => 500 + i);
  assert.equal(kv.canAllocate(blockHashes(c, 4), 0, 4), false);
  kv.release(allocB);
  assert.ok(kv.canAllocate(blockHashes(c, 4), 0, 4));
  assert.equal(kv.queriesTokens, 48);
  assert.equal(kv.hitsTokens, 0);
});
