// The gateway's queue, across Envoy workers: holds requests while every pod of their pool is
// saturated, drops the oldest when the pool's total capacity overflows, expires them past the
// TTL, and offers them back to routing highest priority first (oldest first within a priority)
// as pods free up. Each worker holds its own paused streams (RequestQueue); what all workers hold
// together is in the shared QueueLedger: each worker's bytes, count, highest priority and oldest
// request, and the drop debt, so a worker dispatches only when no higher priority waits elsewhere
// and drops only what is the oldest anywhere.
// Pure: the streams are reached through a QueueHost, shared data through the ledger's store.
import { PoolHoldings, QueuedRequest, RequestQueue } from "../queue/request-queue";
import { LedgerState, QueueLedger } from "../state/queue-ledger";
import { Pool, Table } from "../table/table";

/** Ledger entries whose oldest request is older than the TTL by this much are a dead worker's. */
const STALE_AFTER_TTL_MS: f64 = 1000;

/** Requests enqueued before this cannot be held by a live worker any more (see the ledger). */
export function liveSinceMs(pool: Pool, nowMs: f64): f64 {
  return nowMs - pool.queueTtlMs - STALE_AFTER_TTL_MS;
}

export enum Dispatch {
  /** Routed: the stream continues to its pod. */
  Sent = 0,
  /** No pod has room yet: it stays held. */
  NoRoom = 1,
  /** The stream is gone or was answered: forget it. */
  Done = 2,
}

/** Held adds one to the queue; every other event is a request leaving it. */
export enum QueueEvent {
  Held = 0,
  Dispatched = 1,
  Expired = 2,
  Dropped = 3,
  Abandoned = 4,
  /** Its pool left the table. */
  PoolGone = 5,
  /** Its stream ended or was answered before it could be dispatched. */
  Gone = 6,
}

export abstract class QueueHost {
  /** Offers a held request to routing again. */
  abstract redispatch(r: QueuedRequest, nowMs: f64): Dispatch;
  /** Answers a held request with a queue error (it has already left the queue). */
  abstract reject(r: QueuedRequest, status: i32, message: string, code: string, reason: string): void;
  /** Bookkeeping for metrics: an event of the pool's queue, and for Dispatched how long it waited (ms). */
  abstract counted(event: QueueEvent, poolId: string, waitedMs: f64): void;
}

export class QueueDispatcher {
  readonly queue: RequestQueue = new RequestQueue();
  private holdings: PoolHoldings = new PoolHoldings();

  constructor(
    private ledger: QueueLedger,
    /** This worker's identity in the ledger (random per VM, never 0). */
    private workerId: f64,
  ) {}

  /**
   * Holds a paused request; on overflow the oldest held requests are dropped (here, or as debt
   * other workers pay). False (nothing held) when the request alone exceeds the capacity.
   */
  hold(host: QueueHost, streamId: u32, pool: Pool, model: string, priority: i32, bytes: i32, nowMs: f64): bool {
    if (<f64>bytes > pool.queueCapacityBytes) return false;
    const r = new QueuedRequest(streamId, pool.id, model, priority, nowMs, bytes);
    this.queue.push(r);
    host.counted(QueueEvent.Held, pool.id, 0);
    const live = liveSinceMs(pool, nowMs);
    const st = this.publish(pool.id, 0, live);
    const over = st.bytes - st.debt - pool.queueCapacityBytes;
    if (over > 0) {
      this.ledger.apply(pool.id, over, 0, null, live);
      this.payDebt(host, pool, nowMs);
    }
    return true;
  }

  /** The client went away while held: free its place and bytes. */
  abandon(host: QueueHost, streamId: u32): void {
    const r = this.queue.remove(streamId);
    if (r === null) return;
    this.publish(r.poolId, 0, -Infinity); // no clock here: stale entries wait for the next writer
    host.counted(QueueEvent.Abandoned, r.poolId, 0);
  }

  /**
   * Expires, drops (capacity debt) and dispatches this worker's held requests. Run from the tick
   * and whenever a request of this worker finishes (capacity just freed).
   */
  service(host: QueueHost, table: Table | null, nowMs: f64): void {
    if (this.queue.size == 0 || table === null) return;
    const pools = this.queue.pools();
    for (let i = 0; i < pools.length; i++) {
      const poolId = pools[i];
      const pool = table.findPool(poolId);
      if (pool === null) {
        this.failAll(host, poolId);
        continue;
      }
      this.expire(host, pool, nowMs);
      this.payDebt(host, pool, nowMs);
      this.dispatch(host, pool, nowMs);
    }
  }

  /** Dispatch in priority order while some pod has room; with queueing turned off, release all. */
  private dispatch(host: QueueHost, pool: Pool, nowMs: f64): void {
    while (true) {
      const next = this.queue.peekFor(pool.id);
      if (next === null) return;
      // A higher priority waits on another worker: it goes first.
      if (pool.queueEnabled && this.ledger.read(pool.id).topPriority(liveSinceMs(pool, nowMs)) > <f64>next.priority)
        return;
      const d = host.redispatch(next, nowMs);
      if (d == Dispatch.NoRoom) return;
      this.forget(next, liveSinceMs(pool, nowMs));
      if (d == Dispatch.Sent) host.counted(QueueEvent.Dispatched, pool.id, nowMs - next.enqueuedMs);
      else host.counted(QueueEvent.Gone, pool.id, 0);
    }
  }

  private expire(host: QueueHost, pool: Pool, nowMs: f64): void {
    const expired = this.queue.expiredFor(pool.id, nowMs, pool.queueTtlMs);
    for (let k = 0; k < expired.length; k++) {
      const r = expired[k];
      this.forget(r, liveSinceMs(pool, nowMs));
      host.counted(QueueEvent.Expired, pool.id, 0);
      host.reject(
        r,
        503,
        "request waited " +
          (<i64>(nowMs - r.enqueuedMs)).toString() +
          " ms in the gateway queue, past the queue TTL of " +
          (<i64>pool.queueTtlMs).toString() +
          " ms",
        "queue_ttl_expired",
        "ttl_expired",
      );
    }
  }

  /**
   * Capacity overflowed somewhere: drop held requests oldest first across all workers. This
   * worker drops its oldest only while it is the oldest anywhere; the others pay on their tick.
   */
  private payDebt(host: QueueHost, pool: Pool, nowMs: f64): void {
    let st = this.ledger.read(pool.id);
    while (st.debt > 0) {
      const mine = this.queue.oldestFor(pool.id);
      if (mine === null) return;
      // Workers' entries older than the TTL (+1 s) are a restarted worker's leftovers: ignored.
      if (mine.enqueuedMs > st.oldest(liveSinceMs(pool, nowMs))) return;
      this.forget(mine, liveSinceMs(pool, nowMs), mine.bytes);
      host.counted(QueueEvent.Dropped, pool.id, 0);
      host.reject(
        mine,
        429,
        "dropped from the gateway queue: total queue capacity of " +
          (<i64>pool.queueCapacityBytes).toString() +
          " bytes exceeded, oldest requests are discarded first",
        "queue_capacity_exceeded",
        "capacity",
      );
      st = this.ledger.read(pool.id);
    }
  }

  private failAll(host: QueueHost, poolId: string): void {
    while (true) {
      const r = this.queue.peekFor(poolId);
      if (r === null) return;
      this.forget(r, -Infinity);
      host.counted(QueueEvent.PoolGone, poolId, 0);
      host.reject(
        r,
        503,
        "pool " + poolId + " left the routing table while the request waited",
        "pool_gone",
        "pool_gone",
      );
    }
  }

  /** Removes a request from this worker's queue and the shared ledger (debtPaid: its bytes
   *  settle that much overflow). */
  private forget(r: QueuedRequest, liveSince: f64, debtPaid: i32 = 0): void {
    if (this.queue.remove(r.streamId) === null) return;
    this.publish(r.poolId, -(<f64>debtPaid), liveSince);
  }

  /** Publishes what this worker now holds of a pool (its whole ledger entry), clearing entries
   *  of requests enqueued before liveSince (a dead worker's). */
  private publish(poolId: string, dDebt: f64, liveSince: f64): LedgerState {
    return this.ledger.apply(poolId, dDebt, this.workerId, this.queue.holdingsFor(poolId, this.holdings), liveSince);
  }
}
