// The public listener's root context (one per Envoy worker): its configuration, the decision core
// and the queue dispatcher, built once when Envoy configures the plugin and shared by every stream
// of this worker. Host glue only.
import { PluginConfig } from "../config";
import { DecisionCore } from "../core/decision-core";
import { Dispatch, QueueDispatcher, QueueEvent, QueueHost } from "../core/queue-dispatcher";
import { LogLevel, log, nowNanos, setEffectiveContext, setTickPeriodMs } from "../host/abi";
import { Root, Stream, streamById } from "../host/contexts";
import { entropy64 } from "../host/entropy";
import { QueuedRequest } from "../queue/request-queue";
import { Routing } from "../routing/factory";
import { Random } from "../routing/random";
import { Table } from "../table/table";
import { inflight, ledger, poolStates, tables } from "../vm";
import { GatewayStream } from "./gateway-stream";
import { PrefillCalls } from "./prefill-dispatch";
import { QueueMetrics } from "./queue-metrics";
import { routingMetrics } from "./routing-metrics";

/** Queue tick: how soon a held request notices freed capacity when no local request completes. */
const TICK_MS: u32 = 10;

/**
 * Per VM: tie-breaking, sampling and P/D bootstrap rooms; it also names this worker in the queue
 * ledger. Seeded from the host's entropy: every worker has its own VM and the same root id, and
 * Envoy's clock ticks in microseconds, so a clock seed let two workers that started in the same
 * microsecond draw the same sequence: the same room for two requests on one prefill pod (one
 * decode pod then waits out its bootstrap timeout) and one ledger entry for two workers.
 */
export const rng = new Random(0);
/** Ledger worker ids are below this (f64 holds them exactly), never 0. */
const WORKER_ID_BOUND: u64 = 1 << 52;

export class GatewayRoot extends Root {
  config: PluginConfig;
  core: DecisionCore;
  dispatcher: QueueDispatcher;
  queueHost: StreamQueueHost;
  /** P/D prefill calls in flight (proxy_http_call answers come to the root). */
  prefills: PrefillCalls = new PrefillCalls();

  constructor(id: u32, config: PluginConfig, routing: Routing) {
    super(id);
    this.config = config;
    const entropy = entropy64();
    // Without the host's entropy the clock alone seeds it, as before: workers may then coincide.
    if (entropy == 0) log(LogLevel.Warn, "infergate: the host gave no entropy (random_get); seeding from the clock");
    rng.reseed(entropy ^ nowNanos() ^ ((<u64>id) << 32));
    this.core = new DecisionCore(config, routing, tables, inflight, ledger, poolStates, rng);
    this.dispatcher = new QueueDispatcher(ledger, <f64>((rng.next() % (WORKER_ID_BOUND - 1)) + 1));
    this.queueHost = new StreamQueueHost();
    setTickPeriodMs(TICK_MS);
    routingMetrics.defineStart();
  }

  configure(text: string): bool {
    return true; // validated and applied by the dispatcher in index.ts
  }

  newStream(id: u32): Stream {
    return new GatewayStream(id, this);
  }

  onHttpCallResponse(token: u32, headers: u32, bodySize: u32): void {
    this.prefills.onResponse(token, headers, bodySize);
    this.serviceQueue(); // the prefill pod's place was just given back
  }

  onTick(): void {
    this.serviceQueue();
    this.definePools();
    routingMetrics.flush();
  }

  /** The table whose pools' metric series are defined (on the tick, never on a request). */
  private seriesFor: Table | null = null;

  /** Each pool's series at zero once a table names it (Envoy's stats outlive a pool that leaves). */
  private definePools(): void {
    const t = tables.currentAt(nowNanos());
    if (t === null || t === this.seriesFor) return;
    this.seriesFor = t;
    for (let i = 0; i < t.pools.length; i++) {
      const id = t.pools[i].id;
      routingMetrics.definePool(id);
      this.queueHost.metrics.definePool(id);
    }
  }

  /** Expires, drops and dispatches this worker's held requests. */
  serviceQueue(): void {
    if (this.dispatcher.queue.size == 0) return;
    this.dispatcher.service(this.queueHost, tables.current(), <f64>(nowNanos() / 1000000));
  }
}

/** The queue reaches held streams through their context ids. */
class StreamQueueHost extends QueueHost {
  metrics: QueueMetrics = new QueueMetrics();

  redispatch(r: QueuedRequest, nowMs: f64): Dispatch {
    const s = streamById(r.streamId);
    if (s === null || !(s instanceof GatewayStream)) return Dispatch.Done;
    setEffectiveContext(s.id);
    return changetype<GatewayStream>(s).redispatch();
  }

  reject(r: QueuedRequest, status: i32, message: string, code: string, reason: string): void {
    const s = streamById(r.streamId);
    if (s === null || !(s instanceof GatewayStream)) return;
    setEffectiveContext(s.id);
    changetype<GatewayStream>(s).replyQueued(status, message, code, reason);
  }

  counted(event: QueueEvent, poolId: string, waitedMs: f64): void {
    this.metrics.record(event, poolId, waitedMs);
  }
}
