// Proxy-wasm shared data as the filter's state modules see it: a key-value store of one vm_id,
// visible to every Envoy worker, with compare-and-swap. Abstract, so the state modules (table,
// in-flight counters, queue ledger, prefix index) make no host calls and run in unit tests: the
// filter hands them HostSharedData (host/shared-data.ts), the tests a mock.
//
// Envoy's shared data cannot delete a key; every structure kept in it is bounded by construction
// (a fixed key set, values overwritten in place).

export class SharedValue {
  constructor(
    public value: ArrayBuffer | null,
    /** Version for compare-and-swap; 0 when the key does not exist yet. */
    public cas: u32,
  ) {}
}

export enum SetResult {
  Ok = 0,
  /** Another writer changed the key since it was read with that cas. */
  CasMismatch = 1,
  Failed = 2,
}

export abstract class SharedStore {
  abstract get(key: string): SharedValue;
  /** cas 0 writes unconditionally; otherwise only if the key is still at that version. */
  abstract set(key: string, value: ArrayBuffer, cas: u32): SetResult;
}
