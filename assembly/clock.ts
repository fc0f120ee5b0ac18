// The clock the decision and the prefix index read: Envoy's in the filter
// (host/clock.ts, proxy_get_current_time_nanoseconds: a host call), a settable one in tests.
export abstract class Clock {
  abstract nowNanos(): u64;
}
