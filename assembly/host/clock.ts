// The decision core's clock: Envoy's (proxy_get_current_time_nanoseconds).
import { Clock } from "../clock";
import { nowNanos } from "./abi";

export class HostClock extends Clock {
  nowNanos(): u64 {
    return nowNanos();
  }
}
