// The current table, in proxy-wasm shared data so every Envoy worker's VM sees the same one.
// Keys (bounded: two, overwritten in place):
//   infergate/v1/table       f64 generation, then the table JSON as pushed
//   infergate/v1/generation  f64 generation, written after the table: the cheap per-request check
// Each worker keeps its decoded copy and re-reads the table only when the generation key changes:
// a table of the same topology (only loads changed) is patched into the copy, another one decoded.
// A stored table's generation is also stamped into the in-flight counters' key, which every
// routing decision reads anyway (state/inflight.ts): a decision asks atGeneration() and makes no
// read of the generation key of its own.

import { decodeTable } from "../table/decode-table";
import { applyLoads, fitGeneration, loadsFit, patchLoads } from "../table/patch-loads";
import { Table } from "../table/table";
import { InFlightCounters } from "./inflight";
import { SetResult, SharedStore } from "./shared-store";

const TABLE_KEY = "infergate/v1/table";
const GEN_KEY = "infergate/v1/generation";

export enum PublishStatus {
  Ok = 0,
  Invalid = 1,
  Stale = 2,
  Failed = 3,
}

export class PublishResult {
  constructor(
    public status: PublishStatus,
    public message: string,
    public current: f64,
  ) {}
}

function readGen(buf: ArrayBuffer | null): f64 {
  if (buf === null || buf.byteLength < 8) return 0;
  return load<f64>(changetype<usize>(buf));
}

export class TableStore {
  constructor(
    private shared: SharedStore,
    /** Where a stored table's generation is announced to the decisions (see above). */
    private inflight: InFlightCounters,
  ) {}

  private cached: Table | null = null;
  private seenGenKey: f64 = -1;

  /** Validates and stores a pushed table; refuses a generation not above the stored one. */
  publish(body: ArrayBuffer): PublishResult {
    // Only loads changed since the table this worker holds (its topology, endpoints, and every
    // load in range): nothing else to validate, and the copy is patched once the push is stored.
    const held = this.cached;
    if (held !== null && loadsFit(changetype<usize>(body), body.byteLength, held!)) {
      const r = this.store(body, fitGeneration());
      if (r.status == PublishStatus.Ok) applyLoads(held!);
      return r;
    }
    const decoded = decodeTable(body);
    if (decoded.table === null) return new PublishResult(PublishStatus.Invalid, decoded.error, 0);
    const r = this.store(body, decoded.table!.generation);
    if (r.status == PublishStatus.Ok) this.cached = decoded.table;
    return r;
  }

  /** Stores a validated table under its generation, if that is above the stored one. */
  private store(body: ArrayBuffer, gen: f64): PublishResult {
    const stored = new ArrayBuffer(8 + body.byteLength);
    store<f64>(changetype<usize>(stored), gen);
    memory.copy(changetype<usize>(stored) + 8, changetype<usize>(body), body.byteLength);
    // Compare-and-swap on the table key, so two workers handling two pushes at once cannot
    // leave an older table in place under a newer generation.
    for (let attempt = 0; attempt < 16; attempt++) {
      const cur = this.shared.get(TABLE_KEY);
      const curGen = readGen(cur.value);
      if (gen <= curGen)
        return new PublishResult(
          PublishStatus.Stale,
          `generation ${(<i64>gen).toString()} is not newer than the current ${(<i64>curGen).toString()}`,
          curGen,
        );
      const r = this.shared.set(TABLE_KEY, stored, cur.cas);
      if (r == SetResult.CasMismatch) continue;
      if (r != SetResult.Ok)
        return new PublishResult(PublishStatus.Failed, `shared data write failed: ${(<i32>r).toString()}`, curGen);
      this.bumpGenerationKey(gen);
      this.inflight.stampGeneration(gen);
      return new PublishResult(PublishStatus.Ok, "", gen);
    }
    return new PublishResult(PublishStatus.Failed, "shared data contended", 0);
  }

  private bumpGenerationKey(gen: f64): void {
    const v = new ArrayBuffer(8);
    store<f64>(changetype<usize>(v), gen);
    for (let attempt = 0; attempt < 16; attempt++) {
      const cur = this.shared.get(GEN_KEY);
      if (readGen(cur.value) >= gen) return;
      if (this.shared.set(GEN_KEY, v, cur.cas) != SetResult.CasMismatch) return;
    }
  }

  private checkedAt: u64 = 0;

  /** The table this worker last decoded, without a look at shared data (no host call): may be a
   *  generation behind. */
  last(): Table | null {
    return this.cached;
  }

  /**
   * Like current(), but reads the shared generation at most once per millisecond of `nowNanos`
   * (a shared-data read costs microseconds; a table newer by under 1 ms can wait for the next).
   */
  currentAt(nowNanos: u64): Table | null {
    if (this.cached !== null && nowNanos - this.checkedAt < 1000000) return this.cached;
    this.checkedAt = nowNanos;
    return this.current();
  }

  /**
   * The table of generation `gen` as a decision's in-flight snapshot saw it stamped: this worker's
   * copy when it is that generation (no host call), else the newest stored one. `gen` 0 (nothing
   * stamped yet) falls back to currentAt().
   */
  atGeneration(gen: f64, nowNanos: u64): Table | null {
    if (gen <= 0) return this.currentAt(nowNanos);
    if (this.cached !== null && gen <= this.seenGenKey) return this.cached;
    this.checkedAt = nowNanos;
    return this.current();
  }

  /** The newest table any worker accepted, or null before the first push. */
  current(): Table | null {
    const g = this.shared.get(GEN_KEY);
    if (g.value === null) return null;
    const genKey = readGen(g.value);
    if (genKey != this.seenGenKey || this.cached === null) {
      const t = this.shared.get(TABLE_KEY);
      if (t.value === null || t.value!.byteLength < 8) return this.cached;
      // Most pushes change only loads: patched into this worker's copy, with no decode.
      if (this.cached !== null && patchLoads(changetype<usize>(t.value!) + 8, t.value!.byteLength - 8, this.cached!)) {
        this.seenGenKey = genKey;
        return this.cached;
      }
      const json = t.value!.slice(8);
      const decoded = decodeTable(json);
      // Validated on publish; a failure here would mean corruption: keep the last good table.
      if (decoded.table !== null) this.cached = decoded.table;
      this.seenGenKey = genKey;
    }
    return this.cached;
  }
}
