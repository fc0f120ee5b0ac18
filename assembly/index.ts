// infergate's proxy-wasm filter. One module, two roles chosen by the plugin configuration's "mode":
// the public gateway (routes OpenAI requests) and the loopback control listener (accepts tables).
// Both run in the same vm_id, so they share the table and counters through shared data.
// Only the hooks the filter uses are exported: Envoy skips a callback the module does not
// export, and every call into the VM costs microseconds (response trailers, log, delete, metadata
// and the network-filter hooks would all be no-ops: a stream is forgotten in proxy_on_done).
// Request trailers end a body (Envoy calls the hook only for a request that has them).

export { malloc } from "./host/abi";
export {
  proxy_abi_version_0_2_1,
  proxy_on_configure,
  proxy_on_context_create,
  proxy_on_done,
  proxy_on_http_call_response,
  proxy_on_request_body,
  proxy_on_request_headers,
  proxy_on_request_trailers,
  proxy_on_response_body,
  proxy_on_response_headers,
  proxy_on_tick,
  proxy_on_vm_start,
  proxy_validate_configuration,
} from "./host/contexts";

import { Mode, parseConfig } from "./config";
import { ControlRoot } from "./control";
import { GatewayRoot } from "./gateway/gateway-root";
import { PrefillLegRoot } from "./gateway/prefill-leg";
import { LogLevel, log } from "./host/abi";
import { Root, Stream, setRootFactory } from "./host/contexts";
import { buildRouting } from "./routing/factory";

/** Decides the root's role from its configuration; the first configure wins the role. */
class RootSwitch extends Root {
  inner: Root | null = null;
  configure(text: string): bool {
    const r = parseConfig(text);
    if (r.config === null) {
      log(LogLevel.Critical, `infergate: invalid plugin configuration: ${r.error}`);
      return false;
    }
    const c = r.config!;
    if (c.mode == Mode.Control) {
      const root = new ControlRoot(this.id);
      root.config = c;
      this.inner = root;
    } else if (c.mode == Mode.PrefillLeg) {
      this.inner = new PrefillLegRoot(this.id);
    } else {
      const built = buildRouting(c);
      if (built.routing === null) {
        log(LogLevel.Critical, `infergate: invalid plugin configuration: ${built.error}`);
        return false;
      }
      this.inner = new GatewayRoot(this.id, c, built.routing!);
    }
    return true;
  }
  newStream(id: u32): Stream {
    return this.inner!.newStream(id);
  }
  onTick(): void {
    if (this.inner !== null) this.inner!.onTick();
  }
  onHttpCallResponse(token: u32, headers: u32, bodySize: u32): void {
    if (this.inner !== null) this.inner!.onHttpCallResponse(token, headers, bodySize);
  }
}

setRootFactory((id: u32): Root => new RootSwitch(id));
