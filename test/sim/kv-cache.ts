// The prefix KV cache of one simulated pod, modelled on vLLM's v1 block pool with automatic
// prefix caching (vllm/v1/core/block_pool.py, kv_cache_utils.py):
//  - the KV cache is `capacity` blocks of `blockSize` tokens;
//  - a full block of prompt tokens is identified by a hash chained over the previous block's
//    hash, so a block's identity covers every token before it (equal block hashes mean equal
//    prefixes, not only equal 16-token windows); a LoRA adapter name seeds the chain, so the same
//    text under two adapters never shares blocks (vLLM puts the adapter in the block's extra keys);
//  - a block in use by a running request is pinned (reference count > 0) and cannot be evicted;
//  - a block no request uses stays cached (its KV is still valid) until space is needed; then the
//    least recently used such block is evicted;
//  - usage counts pinned blocks only: cached-but-free blocks are reusable capacity, which is what
//    vllm:kv_cache_usage_perc (1 - free/total, with cached free blocks in the free queue) and
//    sglang:token_usage (evictable radix-tree tokens count as available) report.
// Simplifications: a request reserves all its blocks (prompt + max output) when admitted, so there
// is no preemption; only full prompt blocks are hashed and cached (not blocks filled by decode).

import { fnv1a32 } from "./tokens.js";

const TWO32 = 4294967296;

/** Chained block hashes of the full blocks of `tokens`. `salt` (e.g. a LoRA name) seeds the chain. */
export function blockHashes(tokens: ArrayLike<number>, blockSize: number, salt = ""): number[] {
  const nBlocks = Math.floor(tokens.length / blockSize);
  const out = new Array<number>(nBlocks);
  // Two independent 32-bit FNV-1a lanes, folded into a 53-bit integer key (exact in a double).
  let hi = salt ? fnv1a32(salt, 0x9dc5811c) : 0x9dc5811c;
  let lo = salt ? fnv1a32(salt) : 0x811c9dc5;
  for (let b = 0; b < nBlocks; b++) {
    // Start this block's lanes from the previous block's hash: that is the chaining.
    let h1 = (hi ^ 0x5bd1e995) >>> 0;
    let h2 = lo >>> 0;
    const end = (b + 1) * blockSize;
    for (let i = b * blockSize; i < end; i++) {
      const t = tokens[i] >>> 0;
      h1 = Math.imul(h1 ^ (t & 0xffff), 0x01000193);
      h1 = Math.imul(h1 ^ (t >>> 16), 0x01000193);
      h2 = Math.imul(h2 ^ t, 0x01000193) ^ (h2 >>> 15);
    }
    hi = (h1 >>> 0) & 0x1fffff;
    lo = h2 >>> 0;
    out[b] = hi * TWO32 + lo;
  }
  return out;
}

/** What one admitted request holds in the cache; give it back to release(). */
export interface KvAllocation {
  /** hashes of the prompt blocks this request pinned (hit or newly inserted) */
  pinned: number[];
  /** blocks held without a hash (partial last prompt block, output tokens) */
  anonymous: number;
}

export interface KvLookup {
  /** leading prompt blocks already cached on this pod */
  hitBlocks: number;
  /** tokens those blocks cover (what the request does not prefill) */
  hitTokens: number;
}

export class PrefixKvCache {
  readonly capacity: number;
  readonly blockSize: number;
  /** hash -> reference count (0 = cached, evictable) */
  private readonly refs = new Map<number, number>();
  /** evictable blocks in LRU order: oldest first (Map keeps insertion order) */
  private readonly lru = new Map<number, true>();
  private anonymousBlocks = 0;
  private pinnedHashed = 0;
  /** counters, in tokens, as vLLM reports them (prefix_cache_queries / prefix_cache_hits) */
  queriesTokens = 0;
  hitsTokens = 0;
  /** counters, in blocks (TensorRT-LLM reports reused / newly allocated blocks) */
  reusedBlocksTotal = 0;
  allocatedBlocksTotal = 0;
  newBlocksTotal = 0;
  evictedBlocksTotal = 0;

  constructor(capacity: number, blockSize: number) {
    if (!(capacity > 0) || !(blockSize > 0)) throw new Error("kv cache: capacity and block size must be > 0");
    this.capacity = capacity;
    this.blockSize = blockSize;
  }

  /** Blocks held by running requests. */
  get usedBlocks(): number {
    return this.pinnedHashed + this.anonymousBlocks;
  }
  /** Blocks that hold reusable prefix KV but no running request (evictable). */
  get cachedFreeBlocks(): number {
    return this.lru.size;
  }
  /** Blocks available to a new request (never used + evictable). */
  get freeBlocks(): number {
    return this.capacity - this.usedBlocks;
  }
  /** Fraction of the cache held by running requests, 0..1. */
  get usage(): number {
    return this.usedBlocks / this.capacity;
  }

  /** Longest cached prefix of `hashes`. At least one prompt token is always recomputed (as vLLM
   *  does: the last token's logits are needed), so a fully cached prompt hits one block less. */
  lookup(hashes: number[], promptTokens: number): KvLookup {
    let n = 0;
    while (n < hashes.length && this.refs.has(hashes[n])) n++;
    if (n > 0 && n * this.blockSize >= promptTokens) n--;
    return { hitBlocks: n, hitTokens: n * this.blockSize };
  }

  /** Blocks a request of this size needs in total. */
  blocksFor(totalTokens: number): number {
    return Math.ceil(totalTokens / this.blockSize);
  }

  /** Whether a request needing `needBlocks` blocks, of which the first `hitBlocks` are cached,
   *  fits now (counting evictable blocks as available). */
  canAllocate(hashes: number[], hitBlocks: number, needBlocks: number): boolean {
    // Hit blocks that are currently evictable stop being evictable once pinned, but they also
    // need no new space, so the net demand is needBlocks - hitBlocks new blocks from free space,
    // where free space excludes the hit blocks themselves.
    let hitEvictable = 0;
    for (let i = 0; i < hitBlocks; i++) if (this.refs.get(hashes[i]) === 0) hitEvictable++;
    return needBlocks - hitBlocks <= this.freeBlocks - hitEvictable;
  }

  /** Pins the request's blocks. Call canAllocate() first. Counts the query and its hits. */
  allocate(hashes: number[], hitBlocks: number, needBlocks: number, promptTokens: number): KvAllocation {
    this.queriesTokens += promptTokens;
    this.hitsTokens += hitBlocks * this.blockSize;
    this.reusedBlocksTotal += hitBlocks;
    this.allocatedBlocksTotal += needBlocks;
    this.newBlocksTotal += needBlocks - hitBlocks;
    const pinned: number[] = [];
    for (let i = 0; i < hitBlocks; i++) this.pin(hashes[i]);
    for (let i = 0; i < hitBlocks; i++) pinned.push(hashes[i]);
    // New full prompt blocks get hashed (cacheable); a block whose hash is somehow present
    // already (the one recomputed block of a fully cached prompt) is just pinned again.
    let anonymous = needBlocks - hitBlocks;
    for (let i = hitBlocks; i < hashes.length && anonymous > 0; i++) {
      const h = hashes[i];
      if (!this.refs.has(h)) this.makeRoom(1);
      this.pin(h);
      pinned.push(h);
      anonymous--;
    }
    this.makeRoom(anonymous);
    this.anonymousBlocks += anonymous;
    return { pinned, anonymous };
  }

  /** Unpins a finished (or aborted) request's blocks; its prompt blocks stay cached. */
  release(a: KvAllocation): void {
    // Tail blocks first, as vLLM frees them: a prefix's later blocks are then evicted before its
    // earlier ones (an evicted early block would make every later block of the chain unreachable).
    for (let i = a.pinned.length - 1; i >= 0; i--) {
      const h = a.pinned[i];
      const r = this.refs.get(h);
      if (r === undefined) continue;
      if (r <= 1) {
        this.refs.set(h, 0);
        this.pinnedHashed--;
        this.lru.set(h, true); // most recently used goes last
      } else {
        this.refs.set(h, r - 1);
      }
    }
    this.anonymousBlocks -= a.anonymous;
    a.pinned = [];
    a.anonymous = 0;
  }

  /** Inserts blocks computed elsewhere (a P/D hand-over) as cached, unpinned. */
  insertCached(hashes: number[]): void {
    for (const h of hashes) {
      if (this.refs.has(h)) continue;
      if (this.capacity - this.usedBlocks <= 0) return; // everything pinned: nowhere to put it
      this.makeRoom(1);
      this.refs.set(h, 0);
      this.lru.set(h, true);
    }
  }

  /** Drops every cached block and counter (POST /admin/reset). Pinned blocks stay. */
  reset(): void {
    for (const h of this.lru.keys()) this.refs.delete(h);
    this.lru.clear();
    this.queriesTokens = this.hitsTokens = 0;
    this.reusedBlocksTotal = this.allocatedBlocksTotal = this.newBlocksTotal = this.evictedBlocksTotal = 0;
  }

  private pin(h: number): void {
    const r = this.refs.get(h);
    if (r === undefined || r === 0) {
      if (r === 0) this.lru.delete(h);
      this.refs.set(h, 1);
      this.pinnedHashed++;
    } else {
      this.refs.set(h, r + 1);
    }
  }

  /** Makes `n` blocks of never-used space, evicting least recently used cached blocks. */
  private makeRoom(n: number): void {
    let unused = this.capacity - this.usedBlocks - this.lru.size;
    while (unused < n) {
      const oldest = this.lru.keys().next();
      if (oldest.done) throw new Error("kv cache: out of blocks (canAllocate not checked)");
      this.lru.delete(oldest.value);
      this.refs.delete(oldest.value);
      this.evictedBlocksTotal++;
      unused++;
    }
  }
}
