// Envoy stats defined by the filter (proxy_define_metric). They appear in Envoy's admin /stats
// (and /stats/prometheus) under the names given here; Envoy aggregates them across workers.
// Defined lazily (the first use happens in a callback, never during module start), or up front
// by define() so a series exists at zero.
import * as imports from "@gcoredev/proxy-wasm-sdk-as/assembly/imports";

enum Kind {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}
const idOut = memory.data(8);

class Metric {
  private id: u32 = 0;
  private defined: bool = false;
  constructor(
    private kind: Kind,
    private name: string,
  ) {}
  /** Creates the stat now (at zero), so its series exists before its first event. */
  define(): void {
    this.ensure();
  }
  protected ensure(): u32 {
    if (!this.defined) {
      const n = String.UTF8.encode(this.name);
      imports.proxy_define_metric(<i32>this.kind, changetype<usize>(n), n.byteLength, idOut);
      this.id = load<u32>(idOut);
      this.defined = true;
    }
    return this.id;
  }
}

export class Counter extends Metric {
  constructor(name: string) {
    super(Kind.Counter, name);
  }
  increment(n: i64): void {
    imports.proxy_increment_metric(this.ensure(), n);
  }
}

export class Gauge extends Metric {
  constructor(name: string) {
    super(Kind.Gauge, name);
  }
  add(n: i64): void {
    imports.proxy_increment_metric(this.ensure(), n);
  }
}

/** Values a histogram holds until the next flush; a full buffer is recorded at once. */
const HISTOGRAM_BUFFER: i32 = 64;
/** Histograms holding values (each once). */
const buffered: Histogram[] = [];

/**
 * Values are buffered and recorded by flushHistograms() on the root's tick, not on the request
 * path: a request then records its decision time (and prefix figures) without a host call each.
 * Envoy merges histograms into its stats on its own flush interval (seconds) anyway.
 */
export class Histogram extends Metric {
  private values: StaticArray<u64> = new StaticArray<u64>(HISTOGRAM_BUFFER);
  private count: i32 = 0;
  private queued: bool = false;
  constructor(name: string) {
    super(Kind.Histogram, name);
  }
  record(v: u64): void {
    if (this.count == HISTOGRAM_BUFFER) this.flush();
    unchecked((this.values[this.count++] = v));
    if (!this.queued) {
      this.queued = true;
      buffered.push(this);
    }
  }
  flush(): void {
    const n = this.count;
    if (n == 0) return;
    const id = this.ensure();
    for (let i = 0; i < n; i++) imports.proxy_record_metric(id, unchecked(this.values[i]));
    this.count = 0;
  }
  /** flushHistograms() only. */
  dequeue(): void {
    this.queued = false;
  }
}

/** Records every buffered histogram value (the root's tick). */
export function flushHistograms(): void {
  for (let i = 0; i < buffered.length; i++) {
    const h = unchecked(buffered[i]);
    h.flush();
    h.dequeue();
  }
  buffered.length = 0;
}
