// Turns a request's prompt into chained block hashes.
//
// Prompt text: for chat, every message in order as "<|im_start|>{role}\n{content}<|im_end|>\n"
// (the serialisation the upstream prefix plugin used), so a later turn's text begins with the
// earlier turn's full text; content given as an array of parts contributes each text part's text
// (and a non-text part its JSON source span, so two different images never look alike). For
// completions, the prompt string (array prompts: the elements joined by "\n").
//
// Blocks: the text cut into blocks of `blockSize` characters (UTF-16 code units). Only full blocks
// count: a trailing partial block changes as the conversation grows, so it would never match. Each
// block's hash is XXH64 of its characters seeded with the previous block's hash; the first block
// is seeded with a hash of (model name, block size), so two models never share entries and a new
// block size invalidates all old entries. At most `maxBlocks` blocks are produced.
import { JsonValue, JsonKind } from "../json/parser";
import { xxh64, xxh64String } from "./xxhash64";

export class BlockHasher {
  private buf: usize = 0;      // blockSize UTF-16 units
  private fill: i32 = 0;
  private prev: u64 = 0;
  hashes: StaticArray<u64> = new StaticArray<u64>(0);
  count: i32 = 0;
  blockSize: i32 = 0;
  maxBlocks: i32 = 0;

  constructor(blockSize: i32, maxBlocks: i32, model: string) { this.reset(blockSize, maxBlocks, model); }

  /** Starts a new prompt; buffers are reused unless the sizes grew. */
  reset(blockSize: i32, maxBlocks: i32, model: string): void {
    if (blockSize > this.blockSize) {
      if (this.buf != 0) heap.free(this.buf);
      this.buf = heap.alloc(<usize>blockSize << 1);
    }
    if (maxBlocks > this.hashes.length) this.hashes = new StaticArray<u64>(maxBlocks);
    this.blockSize = blockSize;
    this.maxBlocks = maxBlocks;
    this.fill = 0;
    this.count = 0;
    this.prev = xxh64String(model, 0x696E6665726761 ^ <u64>blockSize);
  }

  get full(): bool { return this.count >= this.maxBlocks; }

  /** Appends characters of s[from, to) (UTF-16 units). */
  feedRange(s: string, from: i32, to: i32): void {
    const src = changetype<usize>(s);
    let i = from;
    while (i < to && this.count < this.maxBlocks) {
      const room = this.blockSize - this.fill;
      const n = min(room, to - i);
      memory.copy(this.buf + (<usize>this.fill << 1), src + (<usize>i << 1), <usize>n << 1);
      this.fill += n;
      i += n;
      if (this.fill == this.blockSize) {
        this.prev = xxh64(this.buf, <usize>this.blockSize << 1, this.prev);
        this.hashes[this.count++] = this.prev;
        this.fill = 0;
      }
    }
  }

  feed(s: string): void { this.feedRange(s, 0, s.length); }

  /** Appends raw bytes [ptr, ptr+len), one character per byte (JSON source spans). */
  feedBytes(ptr: usize, len: i32): void {
    for (let i = 0; i < len && this.count < this.maxBlocks; i++) {
      store<u16>(this.buf + (<usize>this.fill << 1), load<u8>(ptr + <usize>i));
      if (++this.fill == this.blockSize) {
        this.prev = xxh64(this.buf, <usize>this.blockSize << 1, this.prev);
        this.hashes[this.count++] = this.prev;
        this.fill = 0;
      }
    }
  }
}

const IM_START = "<|im_start|>";
const IM_END = "<|im_end|>\n";

function feedSpan(h: BlockHasher, v: JsonValue, body: ArrayBuffer): void {
  h.feedBytes(changetype<usize>(body) + <usize>v.start, v.end - v.start);
}

function feedContent(h: BlockHasher, content: JsonValue, body: ArrayBuffer): void {
  if (content.kind == JsonKind.String) { h.feed(content.s); return; }
  if (content.kind != JsonKind.Array) return;
  for (let i = 0; i < content.length && !h.full; i++) {
    const part = content.at(i);
    if (part.kind == JsonKind.String) { h.feed(part.s); continue; }
    if (part.kind != JsonKind.Object) continue;
    const text = part.get("text");
    if (text !== null && text.kind == JsonKind.String) h.feed(text.s);
    else feedSpan(h, part, body);
  }
}

/**
 * Feeds the prompt of a parsed request; `body` is the raw JSON it was parsed from (non-text
 * content parts and token-id prompts contribute their JSON source), `chat` picks the serialisation.
 */
export function hashPrompt(h: BlockHasher, root: JsonValue, chat: bool, body: ArrayBuffer): void {
  if (chat) {
    const messages = root.get("messages");
    if (messages === null || !messages.isArray) return;
    for (let i = 0; i < messages.length && !h.full; i++) {
      const m = messages.at(i);
      const role = m.get("role");
      h.feed(IM_START);
      if (role !== null && role.isString) h.feed(role.s);
      h.feed("\n");
      const content = m.get("content");
      if (content !== null) feedContent(h, content, body);
      h.feed(IM_END);
    }
    return;
  }
  const prompt = root.get("prompt");
  if (prompt === null) return;
  if (prompt.isString) { h.feed(prompt.s); return; }
  if (!prompt.isArray) return;
  for (let i = 0; i < prompt.length && !h.full; i++) {
    if (i > 0) h.feed("\n");
    const p = prompt.at(i);
    if (p.isString) h.feed(p.s);
    else feedSpan(h, p, body); // token ids: their JSON text
  }
}
