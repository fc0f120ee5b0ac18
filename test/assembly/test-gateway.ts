// The filter's decision core and queue dispatcher as production builds them (routing/factory.ts),
// over mocks of what only Envoy has: shared data (MockSharedData), the clock, and the paused
// streams a held request belongs to (RecordingQueueHost).

import { Clock } from "../../assembly/clock";
import { PluginConfig, parseConfig } from "../../assembly/config";
import { DecisionCore } from "../../assembly/core/decision-core";
import { Dispatch, QueueDispatcher, QueueEvent, QueueHost } from "../../assembly/core/queue-dispatcher";
import { HeaderSource } from "../../assembly/core/route-match";
import { QueuedRequest } from "../../assembly/queue/request-queue";
import { buildRouting, Routing } from "../../assembly/routing/factory";
import { Random } from "../../assembly/routing/random";
import { InFlightCounters } from "../../assembly/state/inflight";
import { PoolStates } from "../../assembly/state/pool-states";
import { QueueLedger } from "../../assembly/state/queue-ledger";
import { TableStore } from "../../assembly/state/table-store";
import { MockSharedData } from "./mock-shared-data";

export class MockClock extends Clock {
  ns: u64 = 0;
  /** Each read advances the clock this much (0: time stands still). */
  stepNs: u64 = 0;
  /** Reads so far: each is a host call in the filter. */
  reads: i32 = 0;
  nowNanos(): u64 {
    this.reads++;
    const t = this.ns;
    this.ns += this.stepNs;
    return t;
  }
}

/** Stands in for the held streams: records what the dispatcher asks of them. */
export class RecordingQueueHost extends QueueHost {
  /** How many more redispatches find room (then NoRoom). */
  room: i32 = 0;
  /** Stream ids whose streams are gone (redispatch answers Done). */
  gone: Set<u32> = new Set();
  events: string[] = [];

  redispatch(r: QueuedRequest, nowMs: f64): Dispatch {
    if (this.gone.has(r.streamId)) return Dispatch.Done;
    if (this.room <= 0) return Dispatch.NoRoom;
    this.room--;
    this.events.push("sent:" + r.streamId.toString());
    return Dispatch.Sent;
  }
  reject(r: QueuedRequest, status: i32, message: string, code: string, reason: string): void {
    this.events.push(reason + ":" + r.streamId.toString() + ":" + status.toString());
  }
  counted(event: QueueEvent, poolId: string, waitedMs: f64): void {}
}

/**
 * Stands in for Envoy's request header map: "name\tvalue" lines (names as given; lookups are by
 * lowercase name, as Envoy's map is). Counts reads: each is a host call in the filter.
 */
export class MapHeaders extends HeaderSource {
  names: string[] = [];
  values: string[] = [];
  reads: i32 = 0;
  constructor(lines: string) {
    super();
    const ls = lines.length == 0 ? new Array<string>() : lines.split("\n");
    for (let i = 0; i < ls.length; i++) {
      const tab = ls[i].indexOf("\t");
      if (tab < 0) continue;
      this.names.push(ls[i].substring(0, tab).toLowerCase());
      this.values.push(ls[i].substring(tab + 1));
    }
  }
  read(name: string): string | null {
    this.reads++;
    for (let i = 0; i < this.names.length; i++) if (this.names[i] == name) return this.values[i];
    return null;
  }
  value(name: string, def: string): string {
    for (let i = 0; i < this.names.length; i++) if (this.names[i] == name) return this.values[i];
    return def;
  }
}

export class TestGateway {
  clock: MockClock;
  rng: Random;
  tables: TableStore;
  inflight: InFlightCounters;
  ledger: QueueLedger;
  pools: PoolStates;
  config: PluginConfig = new PluginConfig();
  routing: Routing | null = null;
  core: DecisionCore | null = null;

  constructor(
    rng: Random,
    public shared: MockSharedData = new MockSharedData(),
  ) {
    this.rng = rng;
    const clock = new MockClock();
    this.clock = clock;
    const inflight = new InFlightCounters(shared);
    this.inflight = inflight;
    this.tables = new TableStore(shared, inflight);
    this.ledger = new QueueLedger(shared);
    this.pools = new PoolStates(shared, clock);
  }

  /** Applies a plugin configuration exactly as the filter does; "" or the error it reports. */
  configure(json: string): string {
    const r = parseConfig(json);
    if (r.config === null) return r.error;
    const built = buildRouting(r.config!);
    if (built.routing === null) return built.error;
    this.config = r.config!;
    this.routing = built.routing;
    this.core = new DecisionCore(
      this.config,
      this.routing!,
      this.tables,
      this.inflight,
      this.ledger,
      this.pools,
      this.rng,
    );
    return "";
  }

  /** A queue dispatcher for one worker of this gateway (several share the ledger). */
  dispatcher(workerId: f64): QueueDispatcher {
    return new QueueDispatcher(this.ledger, workerId);
  }
}
