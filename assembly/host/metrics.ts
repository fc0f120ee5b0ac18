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

export class Histogram extends Metric {
  constructor(name: string) {
    super(Kind.Histogram, name);
  }
  record(v: u64): void {
    imports.proxy_record_metric(this.ensure(), v);
  }
}
