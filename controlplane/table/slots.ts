// Endpoint slots index the filter's fixed-size in-flight counters in shared data (which cannot shrink
// or delete). A slot stays with its address while the address is in the table. A freed slot is reused
// only after every never-used slot is taken, and then the longest-free first: the filter may still be
// releasing in-flight counts of the old owner, so reuse is put off as long as possible.

import { MAX_SLOTS } from "./schema.js";

export class SlotAllocator {
  private readonly byAddress = new Map<string, number>();
  private nextFresh = 0;
  /** Freed slots, oldest first. */
  private readonly freed: number[] = [];

  constructor(private readonly capacity: number = MAX_SLOTS) {}

  get(address: string): number | undefined {
    return this.byAddress.get(address);
  }

  /** The slot of `address`, allocating one if needed; undefined when all slots are taken. */
  acquire(address: string): number | undefined {
    const have = this.byAddress.get(address);
    if (have !== undefined) return have;
    let slot: number | undefined;
    if (this.nextFresh < this.capacity) slot = this.nextFresh++;
    else slot = this.freed.shift();
    if (slot !== undefined) this.byAddress.set(address, slot);
    return slot;
  }

  /** Frees the slots of every address not in `keep`. */
  retain(keep: ReadonlySet<string>): void {
    for (const [addr, slot] of this.byAddress) {
      if (!keep.has(addr)) {
        this.byAddress.delete(addr);
        this.freed.push(slot);
      }
    }
  }

  get size(): number {
    return this.byAddress.size;
  }
}
