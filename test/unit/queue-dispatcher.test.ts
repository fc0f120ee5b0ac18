// The gateway queue across workers (assembly/core/queue-dispatcher.ts): two dispatchers over one
// mock of shared data stand in for two Envoy workers; a recording host for their paused streams.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chat, decide, ep, gateway, POOL, pure, tableJson } from "./pure.js";

// The seed's criticalities on the priority scale (schema.ts CRITICALITY_PRIORITY).
const CRITICAL = 1;
const STANDARD = 0;
const SHEDDABLE = -1;

function queueGateway(queue: Record<string, unknown>) {
  gateway({}, tableJson([ep(0, "a")], {}, { queue: { enabled: true, ...queue } }));
  pure.queueReset(2);
}

test("dispatch order: most critical first, then oldest, across workers (the seed's classes as priorities 1/0/-1)", () => {
  queueGateway({});
  assert.equal(pure.queueHold(0, 1, "m", STANDARD, 10, 1000), true);
  assert.equal(pure.queueHold(0, 2, "m", STANDARD, 10, 1001), true);
  assert.equal(pure.queueHold(1, 3, "m", CRITICAL, 10, 1002), true);
  assert.equal(pure.queueLedger("m"), "bytes=30 debt=0 waiting=1/2/0");
  // Worker 0 has room but a Critical request waits on worker 1: it must not dispatch yet.
  assert.equal(pure.queueService(0, 1100, 5), "");
  assert.equal(pure.queueService(1, 1100, 5), "sent:3");
  // Now worker 0 dispatches its own, oldest first, as far as room allows.
  assert.equal(pure.queueService(0, 1100, 1), "sent:1");
  assert.equal(pure.queueService(0, 1100, 1), "sent:2");
  assert.equal(pure.queueLedger("m"), "bytes=0 debt=0 waiting=0/0/0");
});

test("capacity overflow drops the oldest held requests first, whichever worker holds them", () => {
  queueGateway({ capacityBytes: 100 });
  pure.queueHold(1, 1, "m", CRITICAL, 40, 1000); // oldest, on worker 1
  pure.queueHold(0, 2, "m", STANDARD, 40, 1001);
  pure.queueHold(0, 3, "m", STANDARD, 40, 1002); // 120 > 100: 20 bytes of debt
  assert.equal(pure.queueLedger("m"), "bytes=120 debt=20 waiting=1/2/0");
  // Worker 0 may not pay: its oldest is younger than worker 1's.
  assert.equal(pure.queueService(0, 1010, 0), "");
  assert.equal(pure.queueService(1, 1010, 0), "capacity:1:429");
  assert.equal(pure.queueLedger("m"), "bytes=80 debt=0 waiting=0/2/0");
  // A request larger than the whole capacity is refused, not held.
  assert.equal(pure.queueHold(0, 4, "m", STANDARD, 101, 1011), false);
  assert.equal(pure.queueSize(0), 2);
});

test("many workers (Envoy runs one per hardware thread): every one's held bytes count, the oldest anywhere goes first", () => {
  // 40 workers, each holding one 20-byte request, worker w's the w-th oldest: a ledger of 16 fixed
  // entries let the 17th worker overwrite a live one, whose bytes and oldest request vanished.
  queueGateway({ capacityBytes: 1000 });
  pure.queueReset(40);
  for (let w = 0; w < 40; w++) assert.equal(pure.queueHold(w, 100 + w, "m", STANDARD, 20, 1000 + w), true);
  assert.equal(pure.queueLedger("m"), "bytes=800 debt=0 waiting=0/40/0");
  assert.equal(pure.queueTop("m", 1100), "held=40 top=0");
  // 300 more bytes on worker 39: 100 bytes over, paid by the five oldest requests (workers 0-4).
  assert.equal(pure.queueHold(39, 200, "m", STANDARD, 300, 1050), true);
  assert.equal(pure.queueLedger("m"), "bytes=1100 debt=100 waiting=0/41/0");
  for (let w = 39; w >= 5; w--) assert.equal(pure.queueService(w, 1060, 0), "", `worker ${w} holds no oldest request`);
  for (let w = 0; w < 5; w++) assert.equal(pure.queueService(w, 1060, 0), `capacity:${100 + w}:429`);
  assert.equal(pure.queueLedger("m"), "bytes=1000 debt=0 waiting=0/36/0");
  // Drained: the workers' entries go with their last request.
  for (let w = 5; w < 40; w++) pure.queueService(w, 1070, 2);
  assert.equal(pure.queueLedger("m"), "bytes=0 debt=0 waiting=0/0/0");
  assert.equal(pure.queueTop("m", 1100), "held=0 top=none");
});

test("TTL expiry, abandoned clients, vanished streams and pools leave the ledger clean", () => {
  queueGateway({ ttlMs: 500 });
  pure.queueHold(0, 1, "m", STANDARD, 10, 1000);
  pure.queueHold(0, 2, "m", SHEDDABLE, 10, 1400);
  pure.queueHold(0, 3, "m", STANDARD, 10, 1450);
  assert.equal(pure.queueService(0, 1500, 0), "ttl_expired:1:503");
  pure.queueAbandon(0, 2);
  assert.equal(pure.queueLedger("m"), "bytes=10 debt=0 waiting=0/1/0");
  // A stream that ended without telling the queue is forgotten when offered.
  pure.queueStreamGone(3);
  assert.equal(pure.queueService(0, 1600, 1), "");
  assert.equal(pure.queueSize(0), 0);
  assert.equal(pure.queueLedger("m"), "bytes=0 debt=0 waiting=0/0/0");
  // Held requests of a pool that leaves the table are answered 503.
  pure.queueHold(0, 4, "m", STANDARD, 10, 1700);
  const gone = JSON.parse(tableJson([ep(0, "a")], { generation: 11 }, { id: "other/pool" }));
  assert.equal(pure.loadTable(JSON.stringify(gone)), "");
  assert.equal(pure.queueService(0, 1800, 1), "pool_gone:4:503");
});

test("integer priorities across workers: highest first, oldest first within one; a worker waits while another holds higher", () => {
  queueGateway({});
  pure.queueHold(0, 1, "m", 5, 10, 1000);
  pure.queueHold(0, 2, "m", 0, 10, 1001);
  pure.queueHold(1, 3, "m", 10, 10, 1002);
  pure.queueHold(1, 4, "m", 7, 10, 1003);
  pure.queueHold(1, 5, "m", 10, 10, 1004);
  assert.equal(pure.queueTop("m", 1100), "held=5 top=10");
  assert.equal(pure.queueLedger("m"), "bytes=50 debt=0 waiting=4/1/0", "per class: > 0, 0, < 0");
  // Worker 0's best is 5; 10 waits on worker 1.
  assert.equal(pure.queueService(0, 1100, 5), "");
  assert.equal(pure.queueService(1, 1100, 1), "sent:3");
  assert.equal(pure.queueService(0, 1100, 5), "", "another 10 still waits on worker 1");
  assert.equal(pure.queueService(1, 1100, 2), "sent:5 sent:4");
  assert.equal(pure.queueTop("m", 1100), "held=2 top=5");
  assert.equal(pure.queueService(0, 1100, 5), "sent:1 sent:2");
  assert.equal(pure.queueTop("m", 1100), "held=0 top=none");
  assert.equal(pure.queueLedger("m"), "bytes=0 debt=0 waiting=0/0/0");
});

test("a dead worker's entry (older than the TTL) neither blocks dispatch nor outlives the next write", () => {
  queueGateway({ ttlMs: 500 });
  pure.queueHold(1, 1, "m", 10, 10, 1000); // worker 1 then never runs again (a restarted VM)
  assert.equal(pure.queueTop("m", 1200), "held=1 top=10");
  // Past its TTL + 1 s nothing can still be held there: ignored, and cleared by worker 0's write.
  assert.equal(pure.queueTop("m", 2600), "held=0 top=none");
  pure.queueHold(0, 2, "m", 0, 10, 2600);
  assert.equal(pure.queueLedger("m"), "bytes=10 debt=0 waiting=0/1/0");
  assert.equal(pure.queueService(0, 2600, 1), "sent:2");
});

test("a new request queues behind waiters of at least its priority, not behind lower ones", () => {
  const queued = JSON.parse(tableJson([ep(0, "a")], {}, { queue: { enabled: true } }));
  queued.objectives = [{ name: "gold", pool: POOL, priority: 10 }];
  gateway({}, JSON.stringify(queued));
  pure.queueReset(2);
  pure.queueHold(1, 7, "m", 1, 100, 1500); // a Critical request waits on worker 1
  // "m" is Critical (1): behind it. With the gold objective (10): ahead, routed now.
  assert.equal(decide(chat(), { inflight: "0" }).kind, "hold");
  const gold = decide(chat(), { inflight: "0", headers: { "x-gateway-inference-objective": "gold" } });
  assert.deepEqual([gold.kind, gold.priority], ["routed", 10]);
  // Only lower priorities waiting: a Critical arrival is not held behind them.
  gateway({}, JSON.stringify(queued));
  pure.queueReset(2);
  pure.queueHold(1, 8, "m", 0, 100, 1500);
  assert.equal(decide(chat(), { inflight: "0" }).kind, "routed");
});
