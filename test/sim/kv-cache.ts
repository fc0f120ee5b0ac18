// The prefix KV cache of one simulated pod: vLLM v1's block pool with automatic prefix caching
// (vllm/v1/core/block_pool.py, kv_cache_manager.py, single_type_kv_cache_manager.py,
// kv_cache_utils.py FreeKVCacheBlockQueue), reduced to what decides hits and evictions:
//  - `capacity` blocks of `blockSize` tokens, with ids; a block is either in use by requests
//    (reference count > 0, never evicted) or in the free queue;
//  - the free queue is ordered least recently freed first and holds every free block, those that
//    still carry a prefix hash (cached, reusable) and those that carry none (never used, or a
//    partial / decode block); a new block is always taken from its head, and if that block carries
//    a hash, the hash is evicted then. So eviction is LRU over free blocks, and freed blocks with no
//    hash queue up like any other (they do not shield older cached blocks);
//  - a request frees its blocks in reverse order, tail first (vLLM: "so that the tail blocks are
//    evicted first"): under pressure a prefix loses its end before its head, and the next request
//    still hits the surviving head;
//  - a full block is identified by a hash chained over the previous block's hash (equal hashes mean
//    equal prefixes); a LoRA adapter seeds the chain (vLLM puts the adapter in the extra keys);
//    a block gets its hash when the request schedules the block's last token (cache_full_blocks),
//    output tokens included; several blocks may carry the same hash (a recomputed block);
//  - a cache hit is the longest run of leading hashes present, capped so that at least one token
//    is recomputed (max_cache_hit_length = num_tokens - 1), in whole blocks;
//  - usage counts blocks in use only: cached free blocks are reusable capacity, which is what
//    vllm:kv_cache_usage_perc (1 - free/total) and sglang:token_usage report.

import { fnv1a32 } from "./tokens.js";

const TWO32 = 4294967296;

/** Appends to `hashes` the chained hashes of the full blocks of tokens[0..numTokens) not hashed yet. */
export function extendBlockHashes(
  hashes: number[],
  tokens: ArrayLike<number>,
  numTokens: number,
  blockSize: number,
  salt = "",
): void {
  const nBlocks = Math.floor(Math.min(numTokens, tokens.length) / blockSize);
  // Two independent 32-bit FNV-1a lanes, folded into a 53-bit integer key (exact in a double);
  // each block starts from the previous block's hash: that is the chaining.
  let hi: number;
  let lo: number;
  if (hashes.length === 0) {
    hi = salt ? fnv1a32(salt, 0x9dc5811c) : 0x9dc5811c;
    lo = salt ? fnv1a32(salt) : 0x811c9dc5;
  } else {
    const prev = hashes[hashes.length - 1];
    hi = Math.floor(prev / TWO32);
    lo = prev % TWO32;
  }
  for (let b = hashes.length; b < nBlocks; b++) {
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
    hashes.push(hi * TWO32 + lo);
  }
}

/** Chained block hashes of the full blocks of `tokens`. `salt` (e.g. a LoRA name) seeds the chain. */
export function blockHashes(tokens: ArrayLike<number>, blockSize: number, salt = ""): number[] {
  const out: number[] = [];
  extendBlockHashes(out, tokens, tokens.length, blockSize, salt);
  return out;
}

/** The blocks one request holds, in token order (vLLM's req_to_blocks). */
export class KvBlocks {
  ids: number[] = [];
  /** leading blocks that carry their hash already (hit, or hashed by cacheFullBlocks) */
  numHashed = 0;
}

export class PrefixKvCache {
  readonly capacity: number;
  readonly blockSize: number;
  /** block id -> its prefix hash, NaN if none */
  private readonly hashOf: Float64Array;
  private readonly refCount: Int32Array;
  /** hash -> blocks carrying it (a recomputed block can duplicate one), and each block's index in
   *  that list (so that evicting one copy is O(1), as in vLLM's BlockHashToBlockMap) */
  private readonly byHash = new Map<number, number[]>();
  private readonly hashIndex: Int32Array;
  /** free blocks, least recently freed first: vLLM's FreeKVCacheBlockQueue, a doubly linked list
   *  over block ids (O(1) take from the head, append, and removal of a hit block from the middle) */
  private readonly freeQueue: FreeBlockQueue;
  private cachedFree = 0;
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
    this.hashOf = new Float64Array(capacity).fill(Number.NaN);
    this.refCount = new Int32Array(capacity);
    this.hashIndex = new Int32Array(capacity);
    this.freeQueue = new FreeBlockQueue(capacity);
  }

  /** Blocks held by running requests. */
  get usedBlocks(): number {
    return this.capacity - this.freeQueue.size;
  }
  /** Free blocks that still hold reusable prefix KV (evicted when the free queue reaches them). */
  get cachedFreeBlocks(): number {
    return this.cachedFree;
  }
  /** Blocks a new request can take (never used, freed without a hash, or cached and evictable). */
  get freeBlocks(): number {
    return this.freeQueue.size;
  }
  /** Fraction of the cache held by running requests, 0..1. */
  get usage(): number {
    return this.usedBlocks / this.capacity;
  }

  /** Blocks a request of this many tokens holds. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  /** The cached blocks of the longest prefix of `hashes`, at most `maxTokens` tokens of them
   *  (vLLM: num_tokens - 1, so the last token is recomputed for its logits; whole blocks). */
  findHit(hashes: number[], maxTokens: number): number[] {
    const max = Math.min(hashes.length, Math.floor(maxTokens / this.blockSize));
    const out: number[] = [];
    for (let i = 0; i < max; i++) {
      const ids = this.byHash.get(hashes[i]);
      if (!ids) break;
      out.push(ids[0]);
    }
    return out;
  }

  /** Gives `req` blocks for its first `numTokens` tokens; `hit` (from findHit, only for a request
   *  holding no blocks yet) are reused. Returns false, changing nothing, when the free queue is too
   *  short: hit blocks sitting in it count against it, as they stop being free (vLLM
   *  get_num_blocks_to_allocate). */
  allocateSlots(req: KvBlocks, numTokens: number, hit: number[] = []): boolean {
    const need = Math.max(0, this.blocksFor(numTokens) - req.ids.length - hit.length);
    let hitInQueue = 0;
    for (const id of hit) if (this.refCount[id] === 0) hitInQueue++;
    if (need + hitInQueue > this.freeQueue.size) return false;
    for (const id of hit) {
      this.touch(id);
      req.ids.push(id);
    }
    if (hit.length > 0) req.numHashed = req.ids.length;
    for (let i = 0; i < need; i++) req.ids.push(this.takeFree());
    this.reusedBlocksTotal += hit.length;
    this.newBlocksTotal += need;
    this.allocatedBlocksTotal += hit.length + need;
    return true;
  }

  /** Makes the request's first `numFullBlocks` blocks hittable under `hashes` (cache_full_blocks;
   *  called when a block's last token is scheduled, so a concurrent request may reuse it). */
  cacheFullBlocks(req: KvBlocks, hashes: number[], numFullBlocks: number): void {
    const n = Math.min(numFullBlocks, hashes.length, req.ids.length);
    for (let i = req.numHashed; i < n; i++) {
      const id = req.ids[i];
      if (!Number.isNaN(this.hashOf[id])) continue;
      this.setHash(id, hashes[i]);
    }
    if (n > req.numHashed) req.numHashed = n;
  }

  /** Frees a finished, aborted or preempted request's blocks, tail first; hashed ones stay
   *  cached until the free queue reaches them. */
  free(req: KvBlocks): void {
    for (let i = req.ids.length - 1; i >= 0; i--) {
      const id = req.ids[i];
      if (--this.refCount[id] === 0) {
        this.freeQueue.append(id);
        if (!Number.isNaN(this.hashOf[id])) this.cachedFree++;
      }
    }
    req.ids = [];
    req.numHashed = 0;
  }

  /** Counts one admitted request in the prefix-cache counters. */
  recordQuery(tokens: number, hitTokens: number): void {
    this.queriesTokens += tokens;
    this.hitsTokens += hitTokens;
  }

  /** Inserts blocks computed elsewhere (a P/D hand-over) as cached and free, most recent last. */
  insertCached(hashes: number[]): void {
    for (const h of hashes) {
      if (this.byHash.has(h)) continue;
      if (this.freeQueue.size === 0) return; // everything in use: nowhere to put it
      const id = this.takeFree();
      this.setHash(id, h);
      this.refCount[id] = 0;
      this.freeQueue.append(id);
      this.cachedFree++;
    }
  }

  /** vLLM's reset_prefix_cache: drops every hash, but only when no block is in use (else it
   *  changes nothing and says so). Counters are Prometheus counters: they keep counting. */
  resetPrefixCache(): boolean {
    if (this.usedBlocks > 0) return false;
    this.dropHashes(() => true);
    return true;
  }

  /** The simulator's own /admin/reset: forgets every cached free block and zeroes the counters;
   *  blocks of running requests keep their hashes. */
  reset(): void {
    this.dropHashes((id) => this.refCount[id] === 0);
    this.queriesTokens = this.hitsTokens = 0;
    this.reusedBlocksTotal = this.allocatedBlocksTotal = this.newBlocksTotal = this.evictedBlocksTotal = 0;
  }

  private setHash(id: number, h: number): void {
    this.hashOf[id] = h;
    const ids = this.byHash.get(h);
    if (ids) {
      this.hashIndex[id] = ids.length;
      ids.push(id);
    } else {
      this.hashIndex[id] = 0;
      this.byHash.set(h, [id]);
    }
  }

  private clearHash(id: number): void {
    const h = this.hashOf[id];
    const ids = this.byHash.get(h) as number[];
    const last = ids.pop() as number;
    if (last !== id) {
      ids[this.hashIndex[id]] = last;
      this.hashIndex[last] = this.hashIndex[id];
    }
    if (ids.length === 0) this.byHash.delete(h);
    this.hashOf[id] = Number.NaN;
  }

  private dropHashes(which: (id: number) => boolean): void {
    for (let id = 0; id < this.capacity; id++) if (!Number.isNaN(this.hashOf[id]) && which(id)) this.clearHash(id);
    this.cachedFree = 0;
    this.freeQueue.forEach((id) => {
      if (!Number.isNaN(this.hashOf[id])) this.cachedFree++;
    });
  }

  /** A hit block starts being used: out of the free queue if it was there. */
  private touch(id: number): void {
    if (this.refCount[id]++ === 0) {
      this.freeQueue.remove(id);
      if (!Number.isNaN(this.hashOf[id])) this.cachedFree--;
    }
  }

  /** Takes the free queue's head, evicting the prefix it held. Caller checked there is one. */
  private takeFree(): number {
    const id = this.freeQueue.popHead();
    if (id < 0) throw new Error("kv cache: out of blocks (allocation not checked)");
    if (!Number.isNaN(this.hashOf[id])) {
      this.clearHash(id);
      this.cachedFree--;
      this.evictedBlocksTotal++;
    }
    this.refCount[id] = 1;
    return id;
  }
}

/** Block ids in a doubly linked list: all of them at first, in id order. */
class FreeBlockQueue {
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private head = -1;
  private tail = -1;
  size = 0;

  constructor(capacity: number) {
    this.prev = new Int32Array(capacity).fill(-2); // -2: not in the queue
    this.next = new Int32Array(capacity).fill(-2);
    for (let id = 0; id < capacity; id++) this.append(id);
  }

  append(id: number): void {
    this.prev[id] = this.tail;
    this.next[id] = -1;
    if (this.tail >= 0) this.next[this.tail] = id;
    else this.head = id;
    this.tail = id;
    this.size++;
  }

  remove(id: number): void {
    if (this.next[id] === -2) throw new Error(`kv cache: block ${id} is not free`);
    const p = this.prev[id];
    const n = this.next[id];
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.prev[id] = this.next[id] = -2;
    this.size--;
  }

  /** The least recently freed block, taken out; -1 if none. */
  popHead(): number {
    const id = this.head;
    if (id >= 0) this.remove(id);
    return id;
  }

  forEach(f: (id: number) => void): void {
    for (let id = this.head; id >= 0; id = this.next[id]) f(id);
  }
}
