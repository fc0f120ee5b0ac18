// PrefixIndex: which endpoint was last sent which prompt block (estimate mode: what we routed,
// not what the pod reports). Bounded by construction, because Envoy's shared data cannot delete
// keys: a fixed set of buckets (ceil(capacity / BUCKET_ENTRIES) of them), each a fixed-size array of
// entries, replaced least-recently-used first within the bucket.
//
// Entry (16 bytes): block hash u64 | endpoint slot u16 | endpoint tag u16 | stamp u32.
// The tag (16 bits of a hash of the endpoint's address) makes entries of a pod that left, whose
// slot was later reused, never match the new pod. Stamps are coarse time (100 ms units).
//
// Blocks live in groups of GROUP consecutive blocks of a chain: a group's blocks share the bucket
// its first block's (chained) hash picks. Recording a prompt nobody sent before then costs a bucket
// read and write per group instead of per block: each is a host call, the read one that returns
// data (~10 k instructions in Envoy), and a first-seen 8 KB prompt (128 blocks) spent 330-510 us of
// its decision on them (168-192 us in groups of 4). A bucket holds GROUP times the entries a bucket
// of single blocks held, so a group is held by as many pods at once as a block was (64) and the
// index's bound is unchanged; the price is that every lookup reads larger buckets (a repeat's
// decision +2-4 us; groups of 8 would save more on new prompts and cost lookups twice that).
// The groups of one popular shared prefix's continuations still spread over all buckets.
//
// Lookup: block hashes are chained, so whoever holds block j held blocks 0..j when it was recorded;
// "some remaining candidate holds block j" is monotone in j and a binary search finds the longest
// match in log2(n) bucket reads (fewer: blocks of one group share a read), after a read of the
// first block (nobody holds it: one read in all) and one of the last (a prompt held whole, such as
// a repeat or a long prompt whose first maxBlocks blocks are shared, costs those two reads; a
// partial match the search's reads more). The first block is read even when the last is held: a
// chain whose first entry was evicted is not credited. Candidates with shorter matches (a shared
// system prompt on other pods) are found by repeating the search below the previous length.
// Eviction can break the monotonicity; the result is then a shorter match, never a wrong pod.
//
// One index per pool (state/pool-states.ts), its keys "<keyPrefix><bucket>" in the SharedStore,
// sized when a table is adopted and never resized on the request path.
import { Clock } from "../clock";
import { SetResult, SharedStore } from "../state/shared-store";
import { MAX_SLOTS } from "../table/table";

export const ENTRY_BYTES: i32 = 16;

/** Coarse time for the entries' recency stamps (100 ms units, wrapping every 13.6 years). Through
 *  u64: f64 -> u32 saturates, and epoch time in 100 ms units is far past 2^32. */
export function recencyStamp(nowMs: f64): u32 {
  return <u32>(<u64>(nowMs / 100));
}
/** Consecutive blocks of a chain that share a bucket (a power of two). */
export const GROUP_SHIFT: i32 = 2;
export const GROUP: i32 = 1 << GROUP_SHIFT;
/** Entries a bucket holds for each block of its group (pods that can hold one block at once). */
const PER_BLOCK: i32 = 64;
/** Entries a bucket holds; an index of less capacity has one bucket of max(capacity, PER_BLOCK). */
export const BUCKET_ENTRIES: i32 = PER_BLOCK * GROUP;

/**
 * The candidates of one lookup by endpoint slot: slot -> candidate position, and whether the
 * candidate's match is settled. Entries are valid for the current epoch only, so a lookup neither
 * clears nor rebuilds anything per pod: the caller add()s its candidates while it walks them anyway
 * (the prefix scorer, filling its per-candidate arrays), and the lookup touches only the slots the
 * index's entries name. One per worker; begin() starts a lookup.
 */
export class SlotCandidates {
  private epoch: u32 = 0;
  private addedAt: StaticArray<u32> = new StaticArray<u32>(MAX_SLOTS);
  private settledAt: StaticArray<u32> = new StaticArray<u32>(MAX_SLOTS);
  private position: StaticArray<i16> = new StaticArray<i16>(MAX_SLOTS);
  /** Positions of the candidates settled so far, in settling order (each at most once). */
  private settledPositions: StaticArray<i16> = new StaticArray<i16>(MAX_SLOTS);
  /** Candidates added and not settled. */
  remaining: i32 = 0;
  /** Candidates settled: those the lookup found holding a match (a pod holding nothing never is). */
  settledCount: i32 = 0;

  begin(): void {
    this.epoch++;
    if (this.epoch == 0) {
      // wrapped (after 2^32 lookups): old stamps could look current
      for (let s = 0; s < MAX_SLOTS; s++) {
        unchecked((this.addedAt[s] = 0));
        unchecked((this.settledAt[s] = 0));
      }
      this.epoch = 1;
    }
    this.remaining = 0;
    this.settledCount = 0;
  }

  /** Candidate `c` is the endpoint in `slot` (slots out of range are never matched). */
  @inline add(slot: i32, c: i32): void {
    if (<u32>slot < <u32>MAX_SLOTS) {
      unchecked((this.addedAt[slot] = this.epoch));
      unchecked((this.position[slot] = <i16>c));
      this.remaining++;
    }
  }

  /** The remaining (unsettled) candidate in `slot`, or -1 (an entry's slot is 16 bits: bounded). */
  @inline remainingAt(slot: i32): i32 {
    const e = this.epoch;
    return <u32>slot < <u32>MAX_SLOTS && unchecked(this.addedAt[slot]) == e && unchecked(this.settledAt[slot]) != e
      ? <i32>unchecked(this.position[slot])
      : -1;
  }

  @inline settle(slot: i32): void {
    unchecked((this.settledAt[slot] = this.epoch));
    unchecked((this.settledPositions[this.settledCount++] = this.position[slot]));
    this.remaining--;
  }

  /** The k-th settled candidate's position (k < settledCount). */
  @inline settledPosition(k: i32): i32 {
    return <i32>unchecked(this.settledPositions[k]);
  }
}

/** The worker's one SlotCandidates (lookups never nest; the VM is single-threaded). */
export const lookupCandidates = new SlotCandidates();

export class PrefixIndex {
  readonly numBuckets: i32;
  /** Bucket key strings, built once (a lookup reads several buckets per request). */
  private keys: Array<string | null> = new Array<string | null>();
  /** Entries a bucket holds at most. */
  readonly bucketEntries: i32;
  /** Bucket reads per group of blocks of the current lookup (null = not read yet). */
  // A StaticArray, allocated (zeroed) at its size: growing an Array's length leaves its new slots
  // uninitialised under the incremental runtime, and the collector then visits garbage pointers.
  private memo: StaticArray<ArrayBuffer | null> = new StaticArray<ArrayBuffer | null>(0);
  /** Each memoized read's version (compare-and-swap) and the group's first block hash it was read for. */
  private memoCas: StaticArray<u32> = new StaticArray<u32>(0);
  private memoHash: StaticArray<u64> = new StaticArray<u64>(0);
  /** memo[g] was read in the current lookup iff probedAt[g] == lookupEpoch: nothing is cleared
   *  per lookup (a store per block was a third of a 512-pod lookup's own time in Node). */
  private probedAt: StaticArray<u32> = new StaticArray<u32>(0);
  private lookupEpoch: u32 = 0;
  /** Blocks of the last lookup (memo entries to reuse). */
  private memoLen: i32 = 0;
  /** The memo still mirrors the buckets: no record() wrote since the lookup (stampAt() reads it regardless). */
  private memoCurrent: bool = false;
  /** Nanoseconds record() spent from its first host call to its end, summed until the caller resets
   *  it (the log line's recordUs). Timed only when a record makes host calls: a repeat visit makes
   *  none, and a clock read is a host call too (two of them were ~1 % of a request's instructions). */
  recordNanos: u64 = 0;
  /** The current record() has made a host call, timed from timedSince. */
  private timing: bool = false;
  private timedSince: u64 = 0;
  /** merge()'s per-call scratch: where each block of the run already has its entry (-1: none), and
   *  the entries its new ones replace in a full bucket, with their stamps. */
  private found: StaticArray<i32> = new StaticArray<i32>(GROUP);
  private victims: StaticArray<i32> = new StaticArray<i32>(GROUP);
  private victimStamps: StaticArray<u32> = new StaticArray<u32>(GROUP);

  constructor(
    private shared: SharedStore,
    private keyPrefix: string,
    /** Entries the index holds at most (the pool's prefix-cache-lru-capacity). */
    public readonly capacity: i32,
    /** Times record()'s host calls; null: not timed (recordNanos stays 0). */
    private clock: Clock | null = null,
  ) {
    const per = min(BUCKET_ENTRIES, max(PER_BLOCK, capacity));
    this.bucketEntries = per;
    const n = max(1, (capacity + per - 1) / per);
    this.numBuckets = n;
    this.keys = new Array<string | null>(n);
  }

  private key(bucket: i32): string {
    const k = unchecked(this.keys[bucket]);
    if (k !== null) return k;
    const made = this.keyPrefix + bucket.toString();
    unchecked((this.keys[bucket] = made));
    return made;
  }

  /** Empties every bucket (shared data cannot delete keys; an empty value frees the memory). */
  clear(): void {
    const empty = new ArrayBuffer(0);
    for (let b = 0; b < this.numBuckets; b++) this.shared.set(this.key(b), empty, 0);
  }

  bucketOf(hash: u64): i32 {
    return <i32>((hash >> 17) % <u64>this.numBuckets);
  }

  /** The bucket holding block j (its group's), read once per lookup. */
  private bucketFor(hashes: StaticArray<u64>, j: i32): ArrayBuffer | null {
    const g = j >> GROUP_SHIFT;
    if (!this.probed(g)) {
      const h = unchecked(hashes[g << GROUP_SHIFT]);
      const read = this.shared.get(this.key(this.bucketOf(h)));
      unchecked((this.memo[g] = read.value));
      unchecked((this.memoCas[g] = read.cas));
      unchecked((this.memoHash[g] = h));
      unchecked((this.probedAt[g] = this.lookupEpoch));
    }
    return unchecked(this.memo[g]);
  }

  /** Group g's bucket was read in the current lookup (g's blocks below memoLen). */
  @inline private probed(g: i32): bool {
    return unchecked(this.probedAt[g]) == this.lookupEpoch;
  }

  /**
   * Does a remaining candidate hold block j? If `take`, writes j+1 as their match (and the entry's
   * stamp, when `stamps` is given) and settles them.
   */
  private holds(
    hashes: StaticArray<u64>,
    j: i32,
    cands: SlotCandidates,
    tags: StaticArray<u16>,
    matched: StaticArray<i32>,
    take: bool,
    stamps: StaticArray<u32> | null = null,
  ): bool {
    const data = this.bucketFor(hashes, j);
    if (data === null) return false;
    const base = changetype<usize>(data);
    const entries = data.byteLength / ENTRY_BYTES;
    const h = unchecked(hashes[j]);
    let any = false;
    // c is a candidate position the caller added: within tags, matched and stamps.
    for (let e = 0; e < entries; e++) {
      const p = base + <usize>(e * ENTRY_BYTES);
      if (load<u64>(p) != h) continue;
      const slot = <i32>load<u16>(p, 8);
      const c = cands.remainingAt(slot);
      if (c < 0 || load<u16>(p, 10) != unchecked(tags[c])) continue;
      if (!take) return true;
      any = true;
      unchecked((matched[c] = j + 1));
      if (stamps !== null) unchecked((stamps[c] = load<u32>(p, 12)));
    }
    if (take && any) {
      for (let e = 0; e < entries; e++) {
        const p = base + <usize>(e * ENTRY_BYTES);
        if (load<u64>(p) != h) continue;
        const slot = <i32>load<u16>(p, 8);
        const c = cands.remainingAt(slot);
        if (c >= 0 && load<u16>(p, 10) == tags[c]) cands.settle(slot);
      }
    }
    return any;
  }

  /**
   * For the candidates added to `cands` since its begin() (candidate i in slot slots[i], with tag
   * tags[i]), the length of the longest chain of the request's blocks each holds, written to
   * matched[i] (which the caller zeroed), and, when `stamps` is given, the stamp of that chain's
   * last entry (when it was last recorded or refreshed). Returns the best length. Work in bucket
   * reads and the entries they hold, not in candidates: a pod that holds nothing costs nothing.
   * The bucket reads stay memoized for stampAt() until the next lookup.
   */
  longestMatches(
    hashes: StaticArray<u64>,
    n: i32,
    cands: SlotCandidates,
    tags: StaticArray<u16>,
    matched: StaticArray<i32>,
    stamps: StaticArray<u32> | null = null,
  ): i32 {
    const groups = (n + GROUP - 1) >> GROUP_SHIFT;
    if (this.memo.length < groups) {
      this.memo = new StaticArray<ArrayBuffer | null>(groups);
      this.memoCas = new StaticArray<u32>(groups);
      this.memoHash = new StaticArray<u64>(groups);
      this.probedAt = new StaticArray<u32>(groups);
    }
    this.lookupEpoch++;
    if (this.lookupEpoch == 0) {
      // wrapped (after 2^32 lookups): an old mark could look current
      for (let j = 0; j < this.probedAt.length; j++) unchecked((this.probedAt[j] = 0));
      this.lookupEpoch = 1;
    }
    this.memoLen = n;
    this.memoCurrent = true;
    let best = 0;
    let hi = n - 1; // the next level's match is shorter than the previous one's
    while (hi >= 0 && cands.remaining > 0) {
      if (!this.holds(hashes, 0, cands, tags, matched, false)) break;
      // Largest j in [0, hi] some remaining candidate holds (block 0 is held, so one exists). The
      // top first: a prompt sent before (a retry, a repeated question, a long prompt whose first
      // maxBlocks blocks are a shared context) is held whole, found in one read instead of log2(n).
      let lo = 0,
        up = hi;
      if (hi > 0 && this.holds(hashes, hi, cands, tags, matched, false)) lo = hi;
      else up = hi - 1;
      while (lo < up) {
        const mid = (lo + up + 1) >> 1;
        if (this.holds(hashes, mid, cands, tags, matched, false)) lo = mid;
        else up = mid - 1;
      }
      this.holds(hashes, lo, cands, tags, matched, true, stamps);
      if (lo + 1 > best) best = lo + 1;
      hi = lo - 1;
    }
    return best;
  }

  /**
   * The stamp of block j's entry for (slot, tag), or -1 when there is none: for blocks of the last
   * longestMatches() call (its bucket reads are reused).
   */
  stampAt(hashes: StaticArray<u64>, j: i32, slot: i32, tag: u16): i64 {
    if (j < 0 || j >= this.memoLen) return -1;
    const data = this.bucketFor(hashes, j);
    if (data === null) return -1;
    const base = changetype<usize>(data);
    const entries = data.byteLength / ENTRY_BYTES;
    const h = hashes[j];
    for (let e = 0; e < entries; e++) {
      const p = base + <usize>(e * ENTRY_BYTES);
      if (load<u64>(p) == h && <i32>load<u16>(p, 8) == slot && load<u16>(p, 10) == tag) return <i64>load<u32>(p, 12);
    }
    return -1;
  }

  /**
   * Records blocks [from, n) against the endpoint (and refreshes the stamps of those it has): one
   * bucket read and write per group of blocks. A group whose bucket the last lookup read (same first
   * block hash) starts from that read: a repeat visit, whose last held block is already there with
   * this stamp, then costs no host call at all. Another worker's write since then fails the
   * compare-and-swap and the bucket is read again. Not used: a bucket that did not exist (version 0
   * would write blindly), and any read once this index was written after the lookup (a later
   * group, or the other P/D stage, may share a bucket written).
   */
  record(hashes: StaticArray<u64>, from: i32, n: i32, slot: i32, tag: u16, stamp: u32): void {
    this.timing = false;
    let lo = from;
    while (lo < n) {
      const g = lo >> GROUP_SHIFT;
      const first = g << GROUP_SHIFT;
      const hi = min(n, first + GROUP);
      const h0 = unchecked(hashes[first]);
      const key = this.key(this.bucketOf(h0));
      let memoized =
        this.memoCurrent && first < this.memoLen && this.probed(g) && this.memoHash[g] == h0 && this.memoCas[g] != 0;
      for (let attempt = 0; attempt < 8; attempt++) {
        let value: ArrayBuffer | null;
        let cas: u32;
        if (memoized) {
          value = this.memo[g];
          cas = this.memoCas[g];
          memoized = false;
        } else {
          this.beforeHostCall();
          const b = this.shared.get(key);
          value = b.value;
          cas = b.cas;
        }
        const next = this.merge(value, hashes, lo, hi, slot, tag, stamp);
        if (next === null) break; // already there with this stamp
        this.memoCurrent = false;
        this.beforeHostCall();
        if (this.shared.set(key, next!, cas) != SetResult.CasMismatch) break;
      }
      lo = hi;
    }
    const clock = this.clock;
    if (this.timing && clock !== null) this.recordNanos += clock.nowNanos() - this.timedSince;
  }

  /** record()'s clock starts at its first host call (a record that makes none reads no clock). */
  private beforeHostCall(): void {
    if (this.timing) return;
    this.timing = true;
    const clock = this.clock;
    if (clock !== null) this.timedSince = clock.nowNanos();
  }

  /**
   * The bucket with blocks [lo, hi) of one group inserted or refreshed for (slot, tag); null if
   * unchanged. A full bucket gives its new entries the places of its least recently used ones
   * (smallest stamps, the first of equal ones; wrap-around ignored), never of one this run
   * refreshes. One pass over the entries finds both (a full bucket holds 256).
   */
  private merge(
    old: ArrayBuffer | null,
    hashes: StaticArray<u64>,
    lo: i32,
    hi: i32,
    slot: i32,
    tag: u16,
    stamp: u32,
  ): ArrayBuffer | null {
    const oldEntries = old === null ? 0 : old.byteLength / ENTRY_BYTES;
    const o: usize = old === null ? 0 : changetype<usize>(old!);
    const run = hi - lo;
    const found = this.found;
    for (let k = 0; k < run; k++) unchecked((found[k] = -1));
    const who = ((<u32>tag) << 16) | (<u32>slot & 0xffff); // an entry's slot and tag, as one load
    let held = 0;
    for (let e = 0; e < oldEntries; e++) {
      const p = o + <usize>(e * ENTRY_BYTES);
      if (load<u32>(p, 8) != who) continue;
      const h = load<u64>(p);
      for (let k = 0; k < run; k++) {
        if (unchecked(hashes[lo + k]) == h && unchecked(found[k]) < 0) {
          unchecked((found[k] = e));
          held++;
          break;
        }
      }
    }
    const fresh = run - held;
    if (fresh == 0) {
      let changed = false;
      for (let k = 0; k < run; k++)
        if (load<u32>(o + <usize>(unchecked(found[k]) * ENTRY_BYTES), 12) != stamp) changed = true;
      if (!changed) return null;
    }
    // A bucket written by another layout may hold more than this one's size: never shrunk here.
    const size = max(oldEntries, min(oldEntries + fresh, this.bucketEntries));
    // A bucket that does not grow (a full one: the steady state) is changed where it was read: the
    // read is this record's own copy (the lookup's memo is not used once the index was written).
    // One that grows is copied, into memory not zeroed first: every byte is written below.
    let out: ArrayBuffer;
    if (old !== null && size == oldEntries) out = old!;
    else {
      out = changetype<ArrayBuffer>(__new(<usize>(size * ENTRY_BYTES), idof<ArrayBuffer>()));
      if (oldEntries > 0) memory.copy(changetype<usize>(out), o, <usize>(oldEntries * ENTRY_BYTES));
    }
    const q = changetype<usize>(out);
    const evict = oldEntries + fresh - size; // new entries that replace old ones
    if (evict > 0) this.leastRecent(q, oldEntries, evict, run);
    let count = oldEntries;
    let replaced = 0;
    for (let k = 0; k < run; k++) {
      let at = unchecked(found[k]);
      if (at < 0) {
        at = count < size ? count++ : unchecked(this.victims[replaced++]);
        const p = q + <usize>(at * ENTRY_BYTES);
        store<u64>(p, unchecked(hashes[lo + k]));
        store<u32>(p, who, 8);
      }
      store<u32>(q + <usize>(at * ENTRY_BYTES), stamp, 12);
    }
    return out;
  }

  /** Fills victims[0, k) with the k entries of the n at q with the smallest stamps (the first of
   *  equal ones), none of those this run refreshes (found[0, run)). */
  private leastRecent(q: usize, n: i32, k: i32, run: i32): void {
    const victims = this.victims;
    const stamps = this.victimStamps;
    let have = 0;
    for (let e = 0; e < n; e++) {
      const s = load<u32>(q + <usize>(e * ENTRY_BYTES), 12);
      if (have == k && s >= unchecked(stamps[k - 1])) continue;
      let mine = false;
      for (let r = 0; r < run; r++) if (unchecked(this.found[r]) == e) mine = true;
      if (mine) continue;
      // insert in stamp order, after equal stamps (earlier entries first)
      let at = have < k ? have++ : k - 1;
      while (at > 0 && unchecked(stamps[at - 1]) > s) {
        unchecked((stamps[at] = stamps[at - 1]));
        unchecked((victims[at] = victims[at - 1]));
        at--;
      }
      unchecked((stamps[at] = s));
      unchecked((victims[at] = e));
    }
  }
}
