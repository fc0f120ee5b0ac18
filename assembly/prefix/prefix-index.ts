// PrefixIndex: which endpoint was last sent which prompt block (estimate mode: what we routed,
// not what the pod reports). Bounded by construction, because Envoy's shared data cannot delete
// keys: a fixed set of buckets (ceil(capacity / ENTRIES) of them), each a fixed-size array of
// entries, replaced least-recently-used first within the bucket.
//
// Entry (16 bytes): block hash u64 | endpoint slot u16 | endpoint tag u16 | stamp u32.
// The tag (16 bits of a hash of the endpoint's address) makes entries of a pod that left, whose
// slot was later reused, never match the new pod. Stamps are coarse time (100 ms units).
//
// Blocks are grouped by SEGMENT: all blocks of one 16-block segment of a prompt live in the bucket
// chosen by the segment's first block hash, so a lookup or a record costs one shared-data read
// (and write) per 16 blocks instead of one per block.
//
// The store behind it is abstract: shared data in Envoy (state/shared-buckets.ts), memory in tests.
export const ENTRIES: i32 = 64;
export const ENTRY_BYTES: i32 = 16;
export const SEGMENT: i32 = 16;
const MAX_SLOTS: i32 = 4096;

export class Bucket {
  constructor(public data: ArrayBuffer | null, public cas: u32) {}
}

export abstract class BucketStore {
  abstract read(index: i32): Bucket;
  /** False when another writer changed the bucket since read (compare-and-swap). */
  abstract write(index: i32, data: ArrayBuffer, cas: u32): bool;
}

/** slot -> candidate index (or -1), reused across lookups: no per-request allocation. */
const slotToCandidate = new StaticArray<i16>(MAX_SLOTS).fill(-1);

export class PrefixIndex {
  numBuckets: i32;
  constructor(public store: BucketStore, capacity: i32) {
    this.numBuckets = max(1, (capacity + ENTRIES - 1) / ENTRIES);
  }

  bucketOf(anchor: u64): i32 { return <i32>((anchor >> 17) % <u64>this.numBuckets); }

  /**
   * For each candidate (slot, tag), the length of the longest chain of the request's blocks it
   * holds, written to matched[i]. Returns the best length. Stops reading as soon as no candidate
   * can extend its match.
   */
  longestMatches(hashes: StaticArray<u64>, n: i32, slots: StaticArray<i32>, tags: StaticArray<u16>, count: i32, matched: StaticArray<i32>): i32 {
    for (let c = 0; c < count; c++) { matched[c] = 0; if (slots[c] >= 0 && slots[c] < MAX_SLOTS) slotToCandidate[slots[c]] = <i16>c; }
    let best = 0;
    for (let seg = 0; seg * SEGMENT < n; seg++) {
      const first = seg * SEGMENT;
      const last = min(n, first + SEGMENT);
      const b = this.store.read(this.bucketOf(hashes[first]));
      if (b.data === null) break;
      const base = changetype<usize>(b.data!);
      const entries = b.data!.byteLength / ENTRY_BYTES;
      let extended = false;
      for (let j = first; j < last; j++) {
        const h = hashes[j];
        let any = false;
        for (let e = 0; e < entries; e++) {
          const p = base + <usize>(e * ENTRY_BYTES);
          if (load<u64>(p) != h) continue;
          const slot = <i32>load<u16>(p, 8);
          const c = <i32>slotToCandidate[slot];
          if (c < 0 || load<u16>(p, 10) != tags[c] || matched[c] != j) continue;
          matched[c] = j + 1;
          any = true;
        }
        if (!any) break;
        extended = true;
        if (j + 1 > best) best = j + 1;
      }
      if (!extended || best < last) break;
    }
    for (let c = 0; c < count; c++) if (slots[c] >= 0 && slots[c] < MAX_SLOTS) slotToCandidate[slots[c]] = -1;
    return best;
  }

  /** Records blocks [0, n) against the endpoint; refreshes existing entries' stamps. */
  record(hashes: StaticArray<u64>, n: i32, slot: i32, tag: u16, stamp: u32): void {
    for (let seg = 0; seg * SEGMENT < n; seg++) {
      const first = seg * SEGMENT;
      const last = min(n, first + SEGMENT);
      const index = this.bucketOf(hashes[first]);
      for (let attempt = 0; attempt < 8; attempt++) {
        const b = this.store.read(index);
        const next = this.merge(b.data, hashes, first, last, slot, tag, stamp);
        if (next === null) break; // nothing to change
        if (this.store.write(index, next!, b.cas)) break;
      }
    }
  }

  /** The bucket with blocks [first, last) of this endpoint inserted or refreshed; null if unchanged. */
  private merge(old: ArrayBuffer | null, hashes: StaticArray<u64>, first: i32, last: i32, slot: i32, tag: u16, stamp: u32): ArrayBuffer | null {
    const oldEntries = old === null ? 0 : old.byteLength / ENTRY_BYTES;
    const add = last - first;
    const cap = min(ENTRIES, oldEntries + add);
    const out = new ArrayBuffer(cap * ENTRY_BYTES);
    const o = changetype<usize>(out);
    if (oldEntries > 0) memory.copy(o, changetype<usize>(old!), <usize>(min(oldEntries, cap) * ENTRY_BYTES));
    let used = min(oldEntries, cap);
    let changed = false;
    for (let j = first; j < last; j++) {
      const h = hashes[j];
      let found = -1;
      for (let e = 0; e < used; e++) {
        const p = o + <usize>(e * ENTRY_BYTES);
        if (load<u64>(p) == h && <i32>load<u16>(p, 8) == slot && load<u16>(p, 10) == tag) { found = e; break; }
      }
      if (found >= 0) {
        const p = o + <usize>(found * ENTRY_BYTES);
        if (load<u32>(p, 12) != stamp) { store<u32>(p, stamp, 12); changed = true; }
        continue;
      }
      let at = used;
      if (used < cap) used++;
      else {
        // Full: replace the least recently used entry (smallest stamp; wrap-around ignored).
        let oldest: u32 = 0xFFFFFFFF;
        at = 0;
        for (let e = 0; e < used; e++) {
          const s = load<u32>(o + <usize>(e * ENTRY_BYTES), 12);
          if (s < oldest) { oldest = s; at = e; }
        }
      }
      const p = o + <usize>(at * ENTRY_BYTES);
      store<u64>(p, h);
      store<u16>(p, <u16>slot, 8);
      store<u16>(p, tag, 10);
      store<u32>(p, stamp, 12);
      changed = true;
    }
    if (!changed) return null;
    return used * ENTRY_BYTES == out.byteLength ? out : out.slice(0, used * ENTRY_BYTES);
  }
}
