// PrefixIndex buckets in proxy-wasm shared data ("infergate/v1/prefix/<n>"), so every Envoy worker
// reads and updates one index. The key set is bounded by the largest bucket count ever configured.
import { sharedGet, sharedSet, WasmResult } from "../host/abi";
import { Bucket, BucketStore } from "../prefix/prefix-index";

export class SharedBucketStore extends BucketStore {
  /** Key strings per bucket, built once (a lookup reads several buckets per request). */
  private keys: Map<i32, string> = new Map();
  private key(index: i32): string {
    if (this.keys.has(index)) return this.keys.get(index);
    const k = `infergate/v1/prefix/${index.toString()}`;
    this.keys.set(index, k);
    return k;
  }
  read(index: i32): Bucket {
    const v = sharedGet(this.key(index));
    return new Bucket(v.value, v.cas);
  }
  write(index: i32, data: ArrayBuffer, cas: u32): bool {
    return sharedSet(this.key(index), data, cas) != WasmResult.CasMismatch;
  }
}
