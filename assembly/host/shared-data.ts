// The filter's SharedStore: Envoy's proxy-wasm shared data of this plugin's vm_id.
import { SetResult, SharedStore, SharedValue } from "../state/shared-store";
import { sharedGet, sharedSet, WasmResult } from "./abi";

export class HostSharedData extends SharedStore {
  get(key: string): SharedValue {
    return sharedGet(key);
  }
  set(key: string, value: ArrayBuffer, cas: u32): SetResult {
    const r = sharedSet(key, value, cas);
    if (r == WasmResult.Ok) return SetResult.Ok;
    return r == WasmResult.CasMismatch ? SetResult.CasMismatch : SetResult.Failed;
  }
}
