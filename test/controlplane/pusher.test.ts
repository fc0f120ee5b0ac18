// TablePusher against a stand-in for Envoy's control listener on loopback (see envoy-standin.ts).

import assert from "node:assert/strict";
import { test } from "node:test";
import { memoryLogger } from "../../controlplane/log.js";
import { GenerationClock } from "../../controlplane/table/generation.js";
import { generationFrom409, TablePusher, tableUrl } from "../../controlplane/table/pusher.js";
import { TABLE_VERSION, type Table } from "../../controlplane/table/schema.js";
import { startEnvoyStandIn } from "./envoy-standin.js";
import { sleep, waitFor } from "./helpers.js";

const TOKEN = "s3cret-token";

function tableFactory(clock: GenerationClock) {
  return (): Table => ({
    version: TABLE_VERSION,
    generation: clock.next(),
    builtAtMs: Date.now(),
    stalenessMs: 3000,
    pools: [],
    models: [],
    objectives: [],
  });
}

test("target URLs: table path appended, loopback and http only", () => {
  assert.equal(tableUrl("http://127.0.0.1:9901"), "http://127.0.0.1:9901/infergate/v1/table");
  assert.equal(tableUrl("http://[::1]:9901/"), "http://[::1]:9901/infergate/v1/table");
  assert.equal(tableUrl("http://localhost:1/custom"), "http://localhost:1/custom");
  assert.throws(() => tableUrl("http://10.0.0.1:9901"), /loopback/);
  assert.throws(() => tableUrl("https://127.0.0.1:9901"), /only http/);
  assert.throws(() => tableUrl("127.0.0.1:9901"), /not a URL|only http/);
});

test("409 bodies: the filter's current generation is read from JSON or text", () => {
  assert.equal(generationFrom409('{"error":{"message":"stale"},"current":42}'), 42);
  assert.equal(generationFrom409('{"error":{"message":"stale","generation":7}}'), 7);
  assert.equal(generationFrom409("stale table: generation 12 <= current generation 99"), 99);
  assert.equal(generationFrom409("nope"), null);
});

test("pushes with bearer token and JSON, heartbeats fresh generations, per-target state", async () => {
  const envoy = await startEnvoyStandIn({ token: TOKEN });
  const clock = new GenerationClock();
  const rebuild = tableFactory(clock);
  const pusher = new TablePusher({
    targets: [envoy.url],
    token: TOKEN,
    clock,
    rebuild,
    logger: memoryLogger(),
    heartbeatMs: 100,
  });
  try {
    assert.equal(pusher.anyAccepted(), false);
    pusher.publish(rebuild());
    pusher.start();
    await waitFor("first table accepted", () => pusher.anyAccepted());
    assert.equal(envoy.received[0].auth, `Bearer ${TOKEN}`);
    assert.equal(envoy.received[0].contentType, "application/json");
    await sleep(450);
    const accepted = envoy.received.filter((r) => r.status === 204).map((r) => r.generation!);
    assert.ok(accepted.length >= 4, `heartbeat pushes (got ${accepted.length})`);
    for (let i = 1; i < accepted.length; i++)
      assert.ok(accepted[i] > accepted[i - 1], "strictly increasing generations");
    const st = pusher.targets()[0];
    assert.equal(st.lastAcceptedGeneration, envoy.table!.generation);
    assert.equal(st.lastStatus, 204);
    assert.equal(st.lastError, null);
    assert.ok(st.lastLatencyMs !== null && st.lastLatencyMs >= 0);
  } finally {
    pusher.stop();
    await envoy.close();
  }
});

test("401: logged loudly, never counted as accepted", async () => {
  const envoy = await startEnvoyStandIn({ token: "the-real-token" });
  const clock = new GenerationClock();
  const logger = memoryLogger();
  const pusher = new TablePusher({
    targets: [envoy.url],
    token: "wrong",
    clock,
    rebuild: tableFactory(clock),
    logger,
    heartbeatMs: 50,
  });
  try {
    pusher.publish(tableFactory(clock)());
    pusher.start();
    await waitFor("a 401", () => envoy.received.some((r) => r.status === 401));
    await sleep(150);
    assert.equal(pusher.anyAccepted(), false);
    assert.match(pusher.targets()[0].lastError!, /401/);
    const loud = logger.lines.filter((l) => l.level === "error" && /TOKEN \(401\)/.test(l.msg));
    assert.ok(loud.length >= 1);
    assert.ok(loud.length < envoy.received.length || envoy.received.length === 1, "not one log line per attempt");
  } finally {
    pusher.stop();
    await envoy.close();
  }
});

test("400: the filter's reason is logged", async () => {
  const envoy = await startEnvoyStandIn({ token: TOKEN });
  const clock = new GenerationClock();
  const logger = memoryLogger();
  const bad = (): Table => ({ ...tableFactory(clock)(), version: 99 as unknown as 1 });
  const pusher = new TablePusher({
    targets: [envoy.url],
    token: TOKEN,
    clock,
    rebuild: bad,
    logger,
    heartbeatMs: 1000,
  });
  try {
    pusher.publish(bad());
    await waitFor("a 400", () => envoy.received.some((r) => r.status === 400));
    await waitFor("the reason logged", () =>
      logger.lines.find((l) => l.level === "error" && /malformed \(400\)/.test(l.msg)),
    );
    const line = logger.lines.find((l) => /malformed \(400\)/.test(l.msg))!;
    assert.match(String(line.fields!.reason), /version must be 1/);
    assert.match(pusher.targets()[0].lastError!, /400 table refused: .*version must be 1/);
    assert.equal(pusher.anyAccepted(), false);
  } finally {
    pusher.stop();
    await envoy.close();
  }
});

test("409: the clock moves past the filter's generation and the table is re-pushed at once", async () => {
  const ahead = Date.now() + 10_000_000;
  const envoy = await startEnvoyStandIn({ token: TOKEN, initialGeneration: ahead });
  const clock = new GenerationClock();
  const pusher = new TablePusher({
    targets: [envoy.url],
    token: TOKEN,
    clock,
    rebuild: tableFactory(clock),
    logger: memoryLogger(),
    heartbeatMs: 5000,
  });
  try {
    pusher.publish(tableFactory(clock)());
    await waitFor("accepted after a 409", () => pusher.anyAccepted(), 2000);
    assert.equal(envoy.received[0].status, 409);
    assert.ok(envoy.table!.generation > ahead);
    assert.equal(envoy.received.length, 2, "one refused push, one accepted: no heartbeat needed");
  } finally {
    pusher.stop();
    await envoy.close();
  }
});

test("coalescing: a slow Envoy gets the latest table, not every intermediate one", async () => {
  const envoy = await startEnvoyStandIn({ token: TOKEN });
  envoy.delayMs = 80;
  const clock = new GenerationClock();
  const rebuild = tableFactory(clock);
  const pusher = new TablePusher({
    targets: [envoy.url],
    token: TOKEN,
    clock,
    rebuild,
    logger: memoryLogger(),
    heartbeatMs: 10_000,
  });
  try {
    let last = 0;
    for (let i = 0; i < 20; i++) {
      const t = rebuild();
      last = t.generation;
      pusher.publish(t);
      await sleep(5);
    }
    await waitFor("latest accepted", () => envoy.table?.generation === last, 3000);
    assert.ok(envoy.received.length <= 4, `pushes coalesced (got ${envoy.received.length} for 20 tables)`);
  } finally {
    pusher.stop();
    await envoy.close();
  }
});

test("Envoy restart: a new Envoy on the same port gets the table again; a dead target does not block another", async () => {
  let envoy = await startEnvoyStandIn({ token: TOKEN });
  const other = await startEnvoyStandIn({ token: TOKEN });
  const deadPort = await startEnvoyStandIn({ token: TOKEN }).then(async (e) => {
    await e.close();
    return e.port;
  });
  const clock = new GenerationClock();
  const rebuild = tableFactory(clock);
  const logger = memoryLogger();
  const pusher = new TablePusher({
    targets: [envoy.url, other.url, `http://127.0.0.1:${deadPort}`],
    token: TOKEN,
    clock,
    rebuild,
    logger,
    heartbeatMs: 200,
    backoffInitialMs: 20,
    backoffMaxMs: 100,
  });
  try {
    pusher.publish(rebuild());
    pusher.start();
    await waitFor("both live targets accept", () => envoy.table && other.table);
    const port = envoy.port;
    await envoy.close();
    envoy = await startEnvoyStandIn({ token: TOKEN, port });
    assert.equal(envoy.table, null, "a restarted Envoy holds no table");
    await waitFor("the restarted Envoy has a table again", () => envoy.table, 2000);
    const states = pusher.targets();
    assert.equal(states[2].lastAcceptedGeneration, null);
    assert.match(states[2].lastError!, /ECONNREFUSED/);
    assert.ok(states[2].consecutiveFailures >= 2, "retried with backoff");
    assert.ok(states[1].lastAcceptedGeneration! > 0);
    assert.ok(logger.lines.some((l) => /retrying with backoff/.test(l.msg)));
  } finally {
    pusher.stop();
    await Promise.all([envoy.close(), other.close()]);
  }
});
