// A mock of Envoy's proxy-wasm shared data for the unit tests: the same get / compare-and-swap set
// semantics (a key's cas starts at 0 when absent and moves on every write), in one Map. It counts
// reads and writes so tests can check how many host calls a structure would make.
import { SetResult, SharedStore, SharedValue } from "../../assembly/state/shared-store";

export class MockSharedData extends SharedStore {
  private values: Map<string, ArrayBuffer> = new Map();
  private versions: Map<string, u32> = new Map();
  reads: i32 = 0;
  writes: i32 = 0;
  /** Every set, a refused compare-and-swap included (each is a host call in Envoy). */
  setCalls: i32 = 0;

  private readsByKey: Map<string, i32> = new Map();
  /** Reads of one key so far. */
  readsOf(key: string): i32 {
    return this.readsByKey.has(key) ? this.readsByKey.get(key) : 0;
  }

  get(key: string): SharedValue {
    this.reads++;
    this.readsByKey.set(key, this.readsOf(key) + 1);
    if (!this.values.has(key)) return new SharedValue(null, 0);
    // A copy, as the host hands out: the reader may not change the stored bytes.
    return new SharedValue(this.values.get(key).slice(0), this.versions.get(key));
  }

  set(key: string, value: ArrayBuffer, cas: u32): SetResult {
    this.setCalls++;
    const v = this.versions.has(key) ? this.versions.get(key) : 0;
    if (cas != 0 && cas != v) return SetResult.CasMismatch;
    this.writes++;
    this.values.set(key, value.slice(0));
    this.versions.set(key, v + 1);
    return SetResult.Ok;
  }

  /** Removes a key (Envoy cannot; tests use it to start a store over). */
  remove(key: string): void {
    this.values.delete(key);
    this.versions.delete(key);
  }

  /** Keys starting with `prefix` that hold a non-empty value. */
  liveKeys(prefix: string): i32 {
    const ks = this.values.keys();
    let n = 0;
    for (let i = 0; i < ks.length; i++) if (ks[i].startsWith(prefix) && this.values.get(ks[i]).byteLength > 0) n++;
    return n;
  }

  /** Total bytes held under keys starting with `prefix`. */
  bytesUnder(prefix: string): i32 {
    const ks = this.values.keys();
    let n = 0;
    for (let i = 0; i < ks.length; i++) if (ks[i].startsWith(prefix)) n += this.values.get(ks[i]).byteLength;
    return n;
  }
}
