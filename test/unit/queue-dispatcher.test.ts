// The gateway queue across workers (assembly/core/queue-dispatcher.ts): two dispatchers over one
// mock of shared data stand in for two Envoy workers; a recording host for their paused streams.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ep, gateway, pure, tableJson } from "./pure.js";

const CRITICAL = 0;
const STANDARD = 1;
const SHEDDABLE = 2;

function queueGateway(queue: Record<string, unknown>) {
  gateway({}, tableJson([ep(0, "a")], {}, { queue: { enabled: true, ...queue } }));
  pure.queueReset(2);
}

test("dispatch order: most critical first, then oldest, across workers", () => {
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
