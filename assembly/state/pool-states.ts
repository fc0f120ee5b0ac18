// State that belongs to a pool rather than to the VM: today its prefix index. Brought in line with
// a table when the table is adopted (a new generation), never on the request path, so a pool's
// `prefix-cache-lru-capacity` sizes that pool's index alone and two pools never evict each
// other's entries.
//
// Keys: "infergate/v1/prefix/<pool id>/<capacity>/<bucket>". The capacity is part of the key, so a
// capacity change starts a fresh index (bucket assignment depends on the bucket count) that no
// worker still on the old table can corrupt; the old keys are emptied, as are a departed pool's.
import { Clock } from "../clock";
import { PrefixIndex } from "../prefix/prefix-index";
import { Pool, Table } from "../table/table";
import { PrefixLifetimes } from "./prefix-lifetimes";
import { SharedStore } from "./shared-store";

export class PoolState {
  constructor(
    public readonly poolId: string,
    public readonly prefixIndex: PrefixIndex,
    /** Feedback mode: how long each pod keeps the prefixes recorded for it. */
    public readonly lifetimes: PrefixLifetimes,
  ) {}
}

export class PoolStates {
  private byId: Map<string, PoolState> = new Map();
  private adopted: Table | null = null;

  constructor(
    private shared: SharedStore,
    /** Times the prefix indexes' writes (the log line's recordUs). */
    private clock: Clock,
  ) {}

  /** Creates, resizes or drops per-pool state for the pools of `table` (once per table). */
  adopt(table: Table): void {
    if (table === this.adopted) return;
    this.adopted = table;
    const seen = new Set<string>();
    for (let i = 0; i < table.pools.length; i++) {
      const p = table.pools[i];
      seen.add(p.id);
      if (this.byId.has(p.id)) {
        const old = this.byId.get(p.id);
        if (old.prefixIndex.capacity == p.lruCapacity) continue;
        old.prefixIndex.clear();
      }
      this.byId.set(p.id, this.create(p));
    }
    const ids = this.byId.keys();
    for (let i = 0; i < ids.length; i++) {
      if (seen.has(ids[i])) continue;
      this.byId.get(ids[i]).prefixIndex.clear();
      this.byId.delete(ids[i]);
    }
  }

  /** The pool's prefix index as adopted, or null for a pool no longer (or not yet) in the table. */
  indexOf(poolId: string): PrefixIndex | null {
    return this.byId.has(poolId) ? this.byId.get(poolId).prefixIndex : null;
  }

  /** The pool's state; created on first use for a pool adopt() has not seen (tests). */
  of(pool: Pool): PoolState {
    if (!this.byId.has(pool.id)) this.byId.set(pool.id, this.create(pool));
    return this.byId.get(pool.id);
  }

  private create(p: Pool): PoolState {
    const prefix = "infergate/v1/prefix/" + p.id + "/" + p.lruCapacity.toString() + "/";
    return new PoolState(
      p.id,
      new PrefixIndex(this.shared, prefix, p.lruCapacity, this.clock),
      new PrefixLifetimes(this.shared, p.id),
    );
  }
}
