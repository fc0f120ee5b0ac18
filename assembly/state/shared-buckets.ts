// PrefixIndex buckets in proxy-wasm shared data ("infergate/v1/prefix/<n>"), so every Envoy worker
// reads and updates one index. The key set is bounded by the largest bucket count ever configured.
import { sharedGet, sharedSet, WasmResult } from "../host/abi";
import { Bucket, BucketStore } from "../prefix/prefix-index";

export class SharedBucketStore extends BucketStore {
  read(index: i32): Bucket {
    const v = sharedGet("infergate/v1/prefix/" + index.toString());
    return new Bucket(v.value, v.cas);
  }
  write(index: i32, data: ArrayBuffer, cas: u32): bool {
    return sharedSet("infergate/v1/prefix/" + index.toString(), data, cas) != WasmResult.CasMismatch;
  }
}
