// The prefill call's own stream, so that it can be cancelled. proxy-wasm has no host call to cancel
// a proxy_http_call, so the filter sends it to the `infergate_prefill` cluster, whose one endpoint is
// Envoy's internal listener `infergate_prefill` (envoy/bootstrap.yaml): an in-process hop to an HTTP
// connection manager whose router forwards it to the prefill pod through `infergate_pods`. That
// listener runs this filter too (mode "prefill-leg", the same vm_id; an internal listener's
// connections stay on the worker that opened them, so the same VM): each of its streams registers
// under the request's room. When the client goes away, the gateway stream closes the leg
// (proxy_close_stream on the leg's context), Envoy resets its upstream request, and the prefill pod
// sees the connection close and aborts the prefill, as it does when sglang-router drops it.
import { closeStream, getHeader, HeaderMap, StreamType, setEffectiveContext } from "../host/abi";
import { HeadersStatus, Root, Stream } from "../host/contexts";

/** Set by the gateway on the prefill call; read only by the leg (the public listener strips it). */
export const ROOM_HEADER = "x-infergate-room";

/** Room -> the leg stream's context id, for this worker's VM. */
const legs = new Map<string, u32>();

/** Closes the prefill leg of `room` if it is still open; true when there was one. */
export function cancelPrefillLeg(room: string): bool {
  if (!legs.has(room)) return false;
  const id = legs.get(room);
  legs.delete(room);
  setEffectiveContext(id);
  closeStream(StreamType.Request);
  return true;
}

export function openPrefillLegs(): i32 {
  return legs.size;
}

class PrefillLegStream extends Stream {
  room: string = "";
  onRequestHeaders(headerCount: u32, endOfStream: bool): HeadersStatus {
    const room = getHeader(HeaderMap.RequestHeaders, ROOM_HEADER);
    if (room !== null && room.length > 0) {
      this.room = room;
      legs.set(room, this.id);
    }
    return HeadersStatus.Continue;
  }
  onDone(): void {
    if (this.room.length > 0 && legs.has(this.room) && legs.get(this.room) == this.id) legs.delete(this.room);
  }
}

export class PrefillLegRoot extends Root {
  configure(text: string): bool {
    return true;
  }
  newStream(id: u32): Stream {
    return new PrefillLegStream(id);
  }
}
