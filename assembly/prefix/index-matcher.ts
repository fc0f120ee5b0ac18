// Connects the routing pipeline to a PrefixIndex: per candidate, the longest chain of the
// request's blocks the index says it holds.
import { RoutingContext } from "../routing/candidate";
import { PrefixMatcher } from "../routing/scheduler";
import { PrefixIndex } from "./prefix-index";

export class IndexPrefixMatcher extends PrefixMatcher {
  private slots: StaticArray<i32> = new StaticArray<i32>(0);
  private tags: StaticArray<u16> = new StaticArray<u16>(0);
  private matched: StaticArray<i32> = new StaticArray<i32>(0);

  constructor(public index: PrefixIndex) {
    super();
  }

  match(ctx: RoutingContext): void {
    const cs = ctx.candidates;
    const n = cs.length;
    if (this.slots.length < n) {
      this.slots = new StaticArray<i32>(n * 2);
      this.tags = new StaticArray<u16>(n * 2);
      this.matched = new StaticArray<i32>(n * 2);
    }
    for (let i = 0; i < n; i++) {
      this.slots[i] = cs[i].endpoint.slot;
      this.tags[i] = cs[i].endpoint.tag;
    }
    ctx.bestMatch = this.index.longestMatches(ctx.hashes!, ctx.prefixBlocks, this.slots, this.tags, n, this.matched);
    for (let i = 0; i < n; i++) cs[i].prefixMatched = this.matched[i];
  }
}
