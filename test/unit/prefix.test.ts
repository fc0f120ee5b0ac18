// PREFIX_CACHE's pieces alone: XXH64, prompt blocks, the bounded PrefixIndex.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pure } from "./pure.js";

const sys = "You are a helpful assistant. ".repeat(12);
function chat(messages: { role: string; content: unknown }[], model = "m") {
  return JSON.stringify({ model, messages });
}

test("XXH64 matches the reference vectors", () => {
  // Reference values of the xxHash specification's test vectors.
  assert.equal(pure.xxh64Hex("", 0n), "ef46db3751d8e999");
  assert.equal(pure.xxh64Hex("a", 0n), "d24ec4f1a98c6e5b");
  assert.equal(pure.xxh64Hex("abc", 0n), "44bc2cf5ad770999");
  assert.equal(pure.xxh64Hex("Nobody inspects the spammish repetition", 0n), "fbcea83c8a378bf1");
});

test("prompt blocks: a later turn's blocks begin with the earlier turn's", () => {
  const t1 = [
    { role: "system", content: sys },
    { role: "user", content: "Tell me about zork." },
  ];
  const t2 = [
    ...t1,
    { role: "assistant", content: "Zork is a text adventure. ".repeat(4) },
    { role: "user", content: "Open the mailbox." },
  ];
  const b1 = pure.blocks(chat(t1), true, 64, 128, "m").split(",");
  const b2 = pure.blocks(chat(t2), true, 64, 128, "m").split(",");
  assert.ok(b1.length >= 5 && b2.length > b1.length, `${b1.length} ${b2.length}`);
  // Only full blocks count, so every block of turn 1 is a prefix of turn 2's chain.
  assert.deepEqual(b2.slice(0, b1.length), b1);
  // Chained: the same 64 characters at a different position hash differently.
  const rep = pure.blocks(JSON.stringify({ model: "m", prompt: "x".repeat(64 * 3) }), false, 64, 128, "m").split(",");
  assert.equal(new Set(rep).size, 3);
});

test("prompt blocks: the same text gives the same chain however it is split, at any block size", () => {
  // A completions prompt array is joined by "\n": blocks straddling two elements are gathered before
  // hashing, whole blocks inside one are hashed where they lie. Both must give the chain that one
  // string of the same text gives, including block sizes that end in a partial stripe or word.
  const parts = ["first part ".repeat(23), "second, longer part ".repeat(31), "x", "third ".repeat(45)];
  const joined = JSON.stringify({ model: "m", prompt: parts.join("\n") });
  const split = JSON.stringify({ model: "m", prompt: parts });
  for (const size of [64, 40, 33, 16, 7, 100]) {
    const one = pure.blocks(joined, false, size, 1000, "m");
    assert.equal(pure.blocks(split, false, size, 1000, "m"), one, `block size ${size}`);
    const hashes = one.split(",");
    assert.equal(hashes.length, Math.floor(parts.join("\n").length / size), `block size ${size}`);
    assert.equal(new Set(hashes).size, hashes.length, `block size ${size}: every prefix hashes apart`);
  }
  // One byte changed in block 2 changes block 2's hash and every later one, not the earlier ones.
  const text = "abcdefgh".repeat(40);
  const changed = `${text.slice(0, 130)}X${text.slice(131)}`;
  const a = pure.blocks(JSON.stringify({ model: "m", prompt: text }), false, 64, 128, "m").split(",");
  const b = pure.blocks(JSON.stringify({ model: "m", prompt: changed }), false, 64, 128, "m").split(",");
  assert.deepEqual(b.slice(0, 2), a.slice(0, 2));
  for (let i = 2; i < a.length; i++) assert.notEqual(b[i], a[i], `block ${i}`);
});

test("prompt blocks: model and block size seed the chain; max blocks caps it; parts count", () => {
  const body = chat([{ role: "user", content: sys }]);
  assert.notEqual(
    pure.blocks(body, true, 64, 128, "a").split(",")[0],
    pure.blocks(body, true, 64, 128, "b").split(",")[0],
  );
  assert.notEqual(
    pure.blocks(body, true, 64, 128, "m").split(",")[0],
    pure.blocks(body, true, 32, 128, "m").split(",")[0],
  );
  assert.equal(pure.blocks(body, true, 16, 3, "m").split(",").length, 3);
  assert.equal(pure.blocks(chat([{ role: "user", content: "short" }]), true, 64, 128, "m"), "");
  // Content as parts hashes like the same text as a string.
  const asParts = chat([{ role: "user", content: [{ type: "text", text: sys }] }]);
  assert.equal(pure.blocks(asParts, true, 64, 128, "m"), pure.blocks(body, true, 64, 128, "m"));
  // A non-text part contributes its JSON, so different images differ.
  const img = (u: string) =>
    chat([{ role: "user", content: [{ type: "image_url", image_url: { url: u + "/".repeat(200) } }] }]);
  assert.notEqual(pure.blocks(img("http://a"), true, 64, 128, "m"), pure.blocks(img("http://b"), true, 64, 128, "m"));
  // Role matters.
  assert.notEqual(
    pure.blocks(chat([{ role: "system", content: sys }]), true, 64, 128, "m"),
    pure.blocks(body, true, 64, 128, "m"),
  );
});

function hexBlocks(n: number, salt: string): string {
  return pure.blocks(
    JSON.stringify({ model: "m", prompt: `${salt} `.repeat(Math.ceil((n * 64) / (salt.length + 1)) + 1) }),
    false,
    64,
    n,
    "m",
  );
}

test("PrefixIndex: longest chained match per endpoint in a logarithmic number of reads", () => {
  pure.indexReset(50000);
  const a = hexBlocks(40, "alpha");
  const aHashes = a.split(",");
  pure.indexRecord(aHashes.slice(0, 40).join(","), 0, 111, 1);
  pure.indexRecord(aHashes.slice(0, 10).join(","), 1, 222, 1);
  const reads0 = pure.indexReads();
  assert.equal(pure.indexMatch(a, "0:111,1:222,2:333"), "40,10,0");
  const reads = pure.indexReads() - reads0;
  assert.ok(reads <= 14, `two match levels over 40 blocks took ${reads} reads`);
  // A chain held whole (a prompt sent before) costs two reads: its first block and its last.
  const r2 = pure.indexReads();
  assert.equal(pure.indexMatch(a, "0:111"), "40");
  assert.equal(pure.indexReads() - r2, 2);
  // Wrong tag (slot reused by another pod): no match.
  assert.equal(pure.indexMatch(a, "0:999"), "0");
  // A prompt nobody holds costs one read.
  const r1 = pure.indexReads();
  assert.equal(pure.indexMatch(hexBlocks(40, "beta"), "0:111,1:222"), "0,0");
  assert.equal(pure.indexReads() - r1, 1);
});

test("PrefixIndex: recording after a lookup starts from its reads, and never over another worker's write", () => {
  pure.indexReset(50000);
  const a = hexBlocks(40, "alpha");
  pure.indexRecord(a, 0, 111, 1);
  // A repeat visit: the lookup read the last block's bucket; refreshing that block at the same stamp
  // costs no host call, at a new stamp one write and no read.
  assert.equal(pure.indexMatch(a, "0:111"), "40");
  let reads = pure.indexReads();
  const writes = pure.indexWrites();
  pure.indexRecordFrom(a, 39, 0, 111, 1);
  assert.equal(pure.indexReads() - reads, 0, "same stamp: no read");
  assert.equal(pure.indexWrites() - writes, 0, "same stamp: no write");
  pure.indexRecordFrom(a, 39, 0, 111, 2);
  assert.equal(pure.indexReads() - reads, 0, "new stamp: the lookup's read serves");
  assert.equal(pure.indexWrites() - writes, 1, "new stamp: one write");
  // Another worker writes the same bucket between this worker's lookup and its record: the record's
  // compare-and-swap fails, the bucket is read again, and both entries stay.
  assert.equal(pure.indexMatch(a, "0:111"), "40");
  pure.indexRecordOtherWorker(a.split(",").slice(0, 40).join(","), 1, 222, 3);
  pure.indexRecordFrom(a, 39, 0, 111, 4);
  assert.equal(pure.indexMatch(a, "0:111,1:222"), "40,40");
  // A bucket that did not exist at the lookup (version 0): never written blind from the memo.
  pure.indexReset(50000);
  const b = hexBlocks(1, "beta");
  assert.equal(pure.indexMatch(b, "0:111"), "0");
  pure.indexRecordOtherWorker(b, 1, 222, 1);
  reads = pure.indexReads();
  pure.indexRecordFrom(b, 0, 0, 111, 1);
  assert.equal(pure.indexReads() - reads, 1, "read again");
  assert.equal(pure.indexMatch(b, "0:111,1:222"), "1,1");
});

test("PrefixIndex: once a record wrote a bucket, the lookup's copy of it is not used again", () => {
  pure.indexReset(64); // one bucket: every group of blocks shares it
  const c = hexBlocks(5, "gamma"); // two groups: blocks 0-3 and block 4
  pure.indexRecord(c.split(",")[0], 1, 7, 5); // block 0 held by pod 1
  assert.equal(pure.indexMatch(c, "0:7,1:7"), "0,1"); // reads the bucket for both groups
  const reads = pure.indexReads();
  const sets = pure.indexSetCalls();
  // Pod 0 gets all five blocks: the first group is written from the lookup's copy; the second
  // group's bucket is the one just written, so it is read again rather than tried from the stale
  // copy (a refused compare-and-swap: one host call more).
  pure.indexRecordFrom(c, 0, 0, 7, 5);
  assert.equal(pure.indexReads() - reads, 1);
  assert.equal(pure.indexSetCalls() - sets, 2);
  assert.equal(pure.indexMatch(c, "0:7,1:7"), "5,1");
});

test("PrefixIndex: a prompt is recorded with a read and a write per group of blocks, not per block", () => {
  pure.indexReset(50000);
  const a = hexBlocks(128, "a prompt nobody sent before");
  const reads = pure.indexReads();
  const sets = pure.indexSetCalls();
  pure.indexRecord(a, 2, 9, 1);
  assert.equal(pure.indexReads() - reads, 32, "128 blocks in groups of 4: 32 bucket reads");
  assert.equal(pure.indexSetCalls() - sets, 32);
  assert.equal(pure.indexMatch(a, "2:9,3:9"), "128,0");
  // Every block is its own entry: a prompt sharing the first 6 blocks (diverging inside the second
  // group) matches exactly those 6.
  const b = a.split(",").slice(0, 6).concat(hexBlocks(10, "another question").split(",").slice(6)).join(",");
  assert.equal(pure.indexMatch(b, "2:9"), "6");
});

test("PrefixIndex: continuations of one shared prefix do not crowd each other out", () => {
  pure.indexReset(50000);
  // 40 conversations that share their first 8 blocks (a system prompt) and then diverge.
  const shared = "S".repeat(64 * 8);
  const conv = (i: number) =>
    pure.blocks(JSON.stringify({ model: "m", prompt: shared + `conversation ${i} `.repeat(40) }), false, 64, 20, "m");
  for (let i = 0; i < 40; i++) pure.indexRecord(conv(i), i % 4, 7, i + 1);
  for (let i = 0; i < 40; i++)
    assert.equal(pure.indexMatch(conv(i), `${i % 4}:7`), String(conv(i).split(",").length), `conversation ${i}`);
  // A new user of the same system prompt matches its 8 blocks on every pod that served it.
  const fresh = pure.blocks(
    JSON.stringify({ model: "m", prompt: shared + "a new user ".repeat(40) }),
    false,
    64,
    20,
    "m",
  );
  assert.equal(pure.indexMatch(fresh, "0:7,1:7,2:7,3:7"), "8,8,8,8");
});

test("PrefixIndex: bounded by capacity with least-recently-used replacement", () => {
  pure.indexReset(128); // 2 buckets x 64 entries
  for (let i = 0; i < 200; i++) pure.indexRecord(hexBlocks(16, `conv${i}`), i % 4, 7, i + 1);
  assert.ok(pure.indexEntries() <= 128, `entries ${pure.indexEntries()}`);
  // The newest conversation survives, the oldest was evicted.
  assert.equal(pure.indexMatch(hexBlocks(16, "conv199"), `${199 % 4}:7`), "16");
  assert.equal(pure.indexMatch(hexBlocks(16, "conv0"), "0:7"), "0");
  // Refreshing stamps writes each group's bucket once (16 blocks, 4 groups); re-recording at the
  // same stamp writes nothing.
  const w = pure.indexWrites();
  pure.indexRecord(hexBlocks(16, "conv199"), 199 % 4, 7, 201);
  assert.equal(pure.indexWrites() - w, 4);
  pure.indexRecord(hexBlocks(16, "conv199"), 199 % 4, 7, 201);
  assert.equal(pure.indexWrites() - w, 4);
});

test("PrefixIndex: a group's new entries replace the least recently used ones, never one it refreshes", () => {
  pure.indexReset(64); // one bucket of 64 entries
  // The oldest entries are conversation 0's first two blocks (stamp 1); then 15 conversations of 4
  // blocks (one group each) at stamps 2..16 and 2 blocks at 17: the bucket is full.
  const c0 = hexBlocks(4, "c0");
  assert.deepEqual(hexBlocks(2, "c0").split(","), c0.split(",").slice(0, 2));
  pure.indexRecord(hexBlocks(2, "c0"), 0, 7, 1);
  for (let i = 1; i < 16; i++) pure.indexRecord(hexBlocks(4, `c${i}`), 0, 7, i + 1);
  pure.indexRecord(hexBlocks(2, "tail"), 0, 7, 17);
  assert.equal(pure.indexEntries(), 64);
  // Conversation 0 comes back with all 4 blocks, one group: its 2 entries, the least recently used
  // of all, are refreshed, and its 2 new ones take the places of the next least recently used,
  // conversation 1's first two blocks (stamp 2).
  pure.indexRecord(c0, 0, 7, 20);
  assert.equal(pure.indexEntries(), 64);
  assert.equal(pure.indexMatch(c0, "0:7"), "4");
  assert.equal(pure.indexMatch(hexBlocks(4, "c1"), "0:7"), "0");
  assert.equal(pure.indexMatch(hexBlocks(4, "c2"), "0:7"), "4");
  // A new conversation of 4 blocks takes the 4 least recently used places: the rest of conversation
  // 1's and the first two of conversation 2's.
  pure.indexRecord(hexBlocks(4, "new"), 0, 7, 21);
  assert.equal(pure.indexMatch(hexBlocks(4, "new"), "0:7"), "4");
  assert.equal(pure.indexMatch(hexBlocks(4, "c2"), "0:7"), "0");
  assert.equal(pure.indexMatch(hexBlocks(4, "c3"), "0:7"), "4");
  assert.equal(pure.indexMatch(c0, "0:7"), "4");
});

test("prompt blocks: an escaped prompt is decoded only as far as the blocks reach, to the same chain", () => {
  // Escapes of every length (a newline, a quote, a backslash, a 2- and 3-byte \u, a surrogate pair)
  // land on both sides of where max blocks cuts the prompt, at several block sizes: the chain cut
  // at max blocks is the first blocks of the whole prompt's chain.
  const unit = 'line one\nsaid "hi" \\ caf\u00e9 \u20ac emoji \ud83d\ude00 end\n';
  const text = unit.repeat(60);
  const asUnicode = JSON.stringify({ model: "m", prompt: text }).replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  for (const body of [JSON.stringify({ model: "m", prompt: text }), asUnicode]) {
    for (const size of [64, 7, 16, 33]) {
      const whole = pure.blocks(body, false, size, 100000, "m").split(",");
      assert.ok(whole.length > 40, `${whole.length} blocks`);
      for (const max of [1, 2, 3, 5, 13, 40]) {
        assert.deepEqual(
          pure.blocks(body, false, size, max, "m").split(","),
          whole.slice(0, max),
          `size ${size} max ${max}`,
        );
      }
    }
  }
  // And chat: a long escaped system prompt, then a user turn, cut inside the system prompt.
  const conv = chat([
    { role: "system", content: text },
    { role: "user", content: "and\tthen?" },
  ]);
  const whole = pure.blocks(conv, true, 64, 100000, "m").split(",");
  assert.deepEqual(pure.blocks(conv, true, 64, 20, "m").split(","), whole.slice(0, 20));
});
