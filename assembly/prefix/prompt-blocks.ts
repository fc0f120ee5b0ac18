// Turns a request's prompt into chained block hashes, straight from the body's bytes.
//
// Prompt text: for chat, every message in order as "<|im_start|>{role}\n{content}<|im_end|>\n"
// (the serialisation the upstream prefix plugin used), so a later turn's text begins with the
// earlier turn's full text; content given as an array of parts contributes each text part's text
// (and a non-text part its JSON source, so two different images never look alike). For
// completions, the prompt string (array prompts: the elements joined by "\n", token ids by their
// JSON text).
//
// Blocks: the UTF-8 text cut into blocks of `blockSize` bytes (for ASCII, characters; the upstream
// plugin, in Go, also counts bytes). Only full blocks count: a trailing partial block changes as
// the conversation grows, so it would never match. Block i's hash covers blocks 0..i (BlockChain:
// XXH64's stripe loop carried through the prompt); the chain is seeded with a hash of (model name,
// block size), so two models never share entries and a new block size invalidates all old entries.
// At most `maxBlocks` blocks are produced.
import { T_ARRAY, T_ESCAPED, T_OBJECT, Tape, unescapeInto } from "../json/tape";
import { BlockChain } from "./block-chain";
import { xxh64String } from "./xxhash64";

const IM_START = String.UTF8.encode("<|im_start|>");
const NEWLINE = String.UTF8.encode("\n");
const IM_END = String.UTF8.encode("<|im_end|>\n");

export class BlockHasher {
  private buf: usize = 0; // blockSize bytes
  private fill: i32 = 0;
  private chain: BlockChain = new BlockChain();
  private scratch: ArrayBuffer = new ArrayBuffer(1024); // unescaped strings
  hashes: StaticArray<u64> = new StaticArray<u64>(0);
  count: i32 = 0;
  blockSize: i32 = 0;
  maxBlocks: i32 = 0;

  constructor(blockSize: i32, maxBlocks: i32, model: string) {
    this.reset(blockSize, maxBlocks, model);
  }

  /** Starts a new prompt; buffers are reused unless the sizes grew. */
  reset(blockSize: i32, maxBlocks: i32, model: string): void {
    if (blockSize > this.blockSize) {
      if (this.buf != 0) heap.free(this.buf);
      this.buf = heap.alloc(<usize>blockSize);
    }
    if (maxBlocks > this.hashes.length) this.hashes = new StaticArray<u64>(maxBlocks);
    this.blockSize = blockSize;
    this.maxBlocks = maxBlocks;
    this.fill = 0;
    this.count = 0;
    this.chain.start(xxh64String(model, 0x696e6665726761 ^ <u64>blockSize));
  }

  /** Bytes of the prompt hashed so far (full blocks and the partial last one). */
  get bytes(): i32 {
    return this.count * this.blockSize + this.fill;
  }

  get full(): bool {
    return this.count >= this.maxBlocks;
  }

  /** Appends bytes [ptr, ptr+len). */
  feedBytes(ptr: usize, len: i32): void {
    let i = 0;
    // Whole blocks of the source are hashed where they lie; only a block that straddles two
    // pieces of text (a message's end and the next one's start) is gathered in buf first.
    const size = this.blockSize;
    while (i < len && this.count < this.maxBlocks) {
      if (this.fill == 0 && len - i >= size) {
        const blocks = min((len - i) / size, this.maxBlocks - this.count);
        this.chain.run(ptr + <usize>i, <usize>size, blocks, this.hashes, this.count);
        this.count += blocks;
        i += blocks * size;
        continue;
      }
      const n = min(this.blockSize - this.fill, len - i);
      memory.copy(this.buf + <usize>this.fill, ptr + <usize>i, <usize>n);
      this.fill += n;
      i += n;
      if (this.fill == this.blockSize) {
        this.chain.run(this.buf, <usize>this.blockSize, 1, this.hashes, this.count++);
        this.fill = 0;
      }
    }
  }

  feedBuffer(b: ArrayBuffer): void {
    this.feedBytes(changetype<usize>(b), b.byteLength);
  }

  /** Appends a string entry's text (escapes resolved) or, for other values, their JSON source. */
  feedValue(t: Tape, e: i32): void {
    const s = t.start(e),
      n = t.end(e) - s;
    if (t.kind(e) != T_ESCAPED) {
      this.feedBytes(t.base + <usize>s, n);
      return;
    }
    // Only what the blocks still to fill take is decoded: a 220 KB document with a newline on every
    // line was decoded whole to hash its first 8 KB (95 of a decision's 122 us in Node). In i64: up
    // to 65536 blocks of up to 1 MiB. A string's bytes never outnumber its source's.
    const need = <i32>min(<i64>(this.maxBlocks - this.count) * <i64>this.blockSize - <i64>this.fill, <i64>n);
    if (need <= 0) return;
    const room = min(n, need + 16); // what unescapeInto may write past `need`
    if (this.scratch.byteLength < room) this.scratch = new ArrayBuffer(room);
    const m = unescapeInto(t.base + <usize>s, n, changetype<usize>(this.scratch), need);
    this.feedBytes(changetype<usize>(this.scratch), m);
  }
}

function feedContent(h: BlockHasher, t: Tape, content: i32): void {
  if (t.isString(content)) {
    h.feedValue(t, content);
    return;
  }
  if (t.kind(content) != T_ARRAY) return;
  for (let part = content + 1; part < t.next(content) && !h.full; part = t.next(part)) {
    if (t.isString(part)) {
      h.feedValue(t, part);
      continue;
    }
    if (t.kind(part) != T_OBJECT) continue;
    const text = t.find(part, "text");
    if (text >= 0 && t.isString(text)) h.feedValue(t, text);
    else h.feedValue(t, part);
  }
}

/** Feeds the prompt of a request parsed on tape `t`: chat messages (entry) or completions prompt (entry). */
export function hashPrompt(h: BlockHasher, t: Tape, messages: i32, prompt: i32): void {
  if (messages >= 0) {
    for (let m = messages + 1; m < t.next(messages) && !h.full; m = t.next(m)) {
      h.feedBuffer(IM_START);
      const role = t.find(m, "role");
      if (role >= 0) h.feedValue(t, role);
      h.feedBuffer(NEWLINE);
      const content = t.find(m, "content");
      if (content >= 0) feedContent(h, t, content);
      h.feedBuffer(IM_END);
    }
    return;
  }
  if (prompt < 0) return;
  if (t.isString(prompt)) {
    h.feedValue(t, prompt);
    return;
  }
  if (t.kind(prompt) != T_ARRAY) return;
  let first = true;
  for (let p = prompt + 1; p < t.next(prompt) && !h.full; p = t.next(p)) {
    if (!first) h.feedBuffer(NEWLINE);
    first = false;
    h.feedValue(t, p);
  }
}
