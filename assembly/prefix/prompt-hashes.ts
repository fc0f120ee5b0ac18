// A request's chained prompt block hashes for one pool's block settings, computed at most once
// per request and settings (a P/D decision runs two profiles over the same prompt).
import { Tape } from "../json/tape";
import { BlockHasher, hashPrompt } from "./prompt-blocks";

export class PromptHashes {
  private hasher: BlockHasher = new BlockHasher(64, 128, "");
  private valid: bool = false;
  private blockSize: i32 = 0;
  private maxBlocks: i32 = 0;
  private model: string = "";

  /** Forget the previous request. */
  reset(): void {
    this.valid = false;
  }

  /** Hashes the prompt (tape entries `messages` or `prompt`) unless already done for these settings. */
  ensure(tape: Tape, messages: i32, prompt: i32, model: string, blockSize: i32, maxBlocks: i32): void {
    if (this.valid && this.blockSize == blockSize && this.maxBlocks == maxBlocks && this.model == model) return;
    this.hasher.reset(blockSize, maxBlocks, model);
    hashPrompt(this.hasher, tape, messages, prompt);
    this.valid = true;
    this.blockSize = blockSize;
    this.maxBlocks = maxBlocks;
    this.model = model;
  }

  /** Full blocks of the prompt (0 for a prompt shorter than one block). */
  get count(): i32 {
    return this.valid ? this.hasher.count : 0;
  }

  /** The prompt's bytes as hashed; when the block limit cut it short, at least this many. */
  get bytes(): i32 {
    return this.valid ? this.hasher.bytes : 0;
  }

  /** Whether the prompt went on past the last hashed block (maxBlocks reached). */
  get truncated(): bool {
    return this.valid && this.hasher.full;
  }

  /** The chained hashes; the first `count` are valid. */
  get hashes(): StaticArray<u64> {
    return this.hasher.hashes;
  }
}
