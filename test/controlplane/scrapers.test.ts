// Runtime scrapers and the scrape loop against real HTTP servers on loopback serving exposition text
// in each server's real format (fixtures/metrics/*.txt, shaped after vLLM's loggers.py, SGLang's
// collector.py and the Triton TensorRT-LLM backend's custom metrics).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { memoryLogger } from "../../controlplane/log.js";
import { MetricsError, parseExposition } from "../../controlplane/scrapers/prometheus-text.js";
import { ScrapeLoop } from "../../controlplane/scrapers/scrape-loop.js";
import { sglangScraper } from "../../controlplane/scrapers/sglang.js";
import { trtllmScraper } from "../../controlplane/scrapers/trtllm.js";
import { vllmScraper } from "../../controlplane/scrapers/vllm.js";
import { metricsServer, SRC_DIR, sleep, waitFor } from "./helpers.js";

const fixture = (n: string) => readFileSync(join(SRC_DIR, "fixtures/metrics", n), "utf8");

test("prometheus text: library quirks are handled (no trailing newline, split families, Inf/NaN)", () => {
  const s = parseExposition('# TYPE a gauge\na{x="1"} 3\nb 5\na{x="2"} 4');
  assert.deepEqual(s.get("a"), [
    { labels: { x: "1" }, value: 3 },
    { labels: { x: "2" }, value: 4 },
  ]);
  assert.deepEqual(s.get("b"), [{ labels: {}, value: 5 }]);
  const inf = parseExposition("a +Inf\nb -Inf\nc NaN\n");
  assert.equal(inf.get("a")![0].value, Infinity);
  assert.equal(inf.get("b")![0].value, -Infinity);
  assert.ok(Number.isNaN(inf.get("c")![0].value));
  assert.throws(() => parseExposition("a{x=1} 2\n"), MetricsError);
  assert.throws(() => parseExposition("a abc\n"), /not a number/);
});

test("vllm: waiting, running, kv_cache_usage_perc (preferred over the deprecated name), latest LoRA info", () => {
  assert.deepEqual(vllmScraper.extract(parseExposition(fixture("vllm.txt"))), {
    waiting: 3,
    running: 7,
    kvUsage: 0.4375,
    loras: ["chat-lora", "sql-lora", "tool-lora"],
  });
});

test("vllm: falls back to gpu_cache_usage_perc, sums data-parallel engines, no LoRA info = []", () => {
  const text = `
vllm:num_requests_running{engine="0",model_name="m"} 2
vllm:num_requests_running{engine="1",model_name="m"} 3
vllm:num_requests_waiting{engine="0",model_name="m"} 1
vllm:num_requests_waiting{engine="1",model_name="m"} 0
vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.2
vllm:gpu_cache_usage_perc{engine="1",model_name="m"} 0.4
`;
  const l = vllmScraper.extract(parseExposition(text));
  assert.equal(l.waiting, 1);
  assert.equal(l.running, 5);
  assert.ok(Math.abs(l.kvUsage - 0.3) < 1e-12);
  assert.deepEqual(l.loras, []);
});

test("vllm: a missing required metric is an error naming it", () => {
  assert.throws(
    () => vllmScraper.extract(parseExposition("vllm:num_requests_running 1\nvllm:kv_cache_usage_perc 0.1\n")),
    /vllm:num_requests_waiting is missing/,
  );
  assert.throws(
    () => vllmScraper.extract(parseExposition("vllm:num_requests_running 1\nvllm:num_requests_waiting 1\n")),
    /kv_cache_usage_perc/,
  );
  assert.throws(
    () =>
      vllmScraper.extract(
        parseExposition("vllm:num_requests_running NaN\nvllm:num_requests_waiting 1\nvllm:kv_cache_usage_perc 0\n"),
      ),
    /NaN/,
  );
});

test("sglang: num_queue_reqs, num_running_reqs, token_usage", () => {
  assert.deepEqual(sglangScraper.extract(parseExposition(fixture("sglang.txt"))), {
    waiting: 5,
    running: 12,
    kvUsage: 0.28,
    loras: [],
  });
  assert.throws(
    () => sglangScraper.extract(parseExposition("sglang:num_queue_reqs 1\nsglang:num_running_reqs 1\n")),
    /sglang:token_usage is missing/,
  );
});

test("trt-llm: waiting and active requests, KV used/max blocks; fraction as fallback", () => {
  assert.deepEqual(trtllmScraper.extract(parseExposition(fixture("trtllm.txt"))), {
    waiting: 4,
    running: 9,
    kvUsage: 0.25,
    loras: [],
  });
  const fractionOnly = `
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="waiting",version="1"} 0
nv_trt_llm_request_metrics{model="tensorrt_llm",request_type="scheduled",version="1"} 2
nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",model="tensorrt_llm",version="1"} 0.5
`;
  assert.deepEqual(trtllmScraper.extract(parseExposition(fractionOnly)), {
    waiting: 0,
    running: 2,
    kvUsage: 0.5,
    loras: [],
  });
  assert.throws(
    () => trtllmScraper.extract(parseExposition('nv_trt_llm_request_metrics{request_type="active"} 1\n')),
    /request_type="waiting"/,
  );
});

test("scrape loop: each runtime over real HTTP, keeps age, marks not-ready after 3 failures, recovers", async () => {
  let vllmPage: string | { status: number; body: string } = fixture("vllm.txt");
  const vllm = await metricsServer(() => vllmPage);
  const sglang = await metricsServer(() => fixture("sglang.txt"));
  const trt = await metricsServer(() => fixture("trtllm.txt"));
  const logger = memoryLogger();
  const updates: string[] = [];
  const observed: (string | null)[] = [];
  const loop = new ScrapeLoop({
    intervalMs: 20,
    timeoutMs: 500,
    logger,
    onUpdate: (as) => updates.push(...as),
    observer: { scraped: (_r, _s, f) => observed.push(f) },
  });
  try {
    loop.setTargets([
      { address: vllm.address, runtime: "vllm" },
      { address: sglang.address, runtime: "sglang" },
      { address: trt.address, runtime: "trt-llm" },
    ]);
    await loop.scrapeAll();
    assert.deepEqual(loop.state(vllm.address)!.load, {
      waiting: 3,
      running: 7,
      kvUsage: 0.4375,
      loras: ["chat-lora", "sql-lora", "tool-lora"],
    });
    assert.equal(loop.state(sglang.address)!.load!.waiting, 5);
    assert.equal(loop.state(trt.address)!.load!.kvUsage, 0.25);
    for (const a of [vllm.address, sglang.address, trt.address]) assert.ok(updates.includes(a), `update for ${a}`);
    const firstSuccess = loop.state(vllm.address)!.lastSuccessAtMs!;

    loop.start();
    vllmPage = { status: 500, body: "engine dead" };
    const s = await waitFor("vllm endpoint marked unhealthy", () =>
      loop.state(vllm.address)!.healthy ? null : loop.state(vllm.address)!,
    );
    assert.ok(s.consecutiveFailures >= 3);
    assert.match(s.lastError!, /HTTP 500/);
    assert.deepEqual(
      s.load,
      { waiting: 3, running: 7, kvUsage: 0.4375, loras: ["chat-lora", "sql-lora", "tool-lora"] },
      "the last good load is kept",
    );
    assert.ok(s.lastSuccessAtMs! >= firstSuccess, "and its time, so its age keeps growing");
    assert.ok(logger.lines.some((l) => l.level === "warn" && /not ready/.test(l.msg)));
    assert.ok(observed.includes("http_status"));
    assert.ok(loop.state(sglang.address)!.healthy, "other endpoints are unaffected");

    vllmPage = fixture("vllm.txt").replace(
      'model_name="/models/Qwen3-32B"} 3.0',
      'model_name="/models/Qwen3-32B"} 11.0',
    );
    await waitFor("vllm endpoint recovered", () => loop.state(vllm.address)!.healthy);
    assert.equal(loop.state(vllm.address)!.load!.waiting, 11);
    assert.equal(loop.state(vllm.address)!.consecutiveFailures, 0);
  } finally {
    loop.stop();
    await Promise.all([vllm.close(), sglang.close(), trt.close()]);
  }
});

test("scrape loop: timeouts, refused connections and bad pages are failures with a reason", async () => {
  const hang = await metricsServer(() => "hang");
  const garbage = await metricsServer(() => "this is { not prometheus\n");
  const missing = await metricsServer(() => "some_other_metric 1\n");
  const dead = await metricsServer(() => "");
  const deadAddress = dead.address;
  await dead.close(); // nothing listens there any more
  const observed: (string | null)[] = [];
  const loop = new ScrapeLoop({
    intervalMs: 1000,
    // Long enough that the healthy-but-wrong servers answer in time on a loaded machine.
    timeoutMs: 500,
    failureThreshold: 1,
    logger: memoryLogger(),
    observer: { scraped: (_r, _s, f) => observed.push(f) },
  });
  try {
    loop.setTargets([
      { address: hang.address, runtime: "vllm" },
      { address: garbage.address, runtime: "vllm" },
      { address: missing.address, runtime: "sglang" },
      { address: deadAddress, runtime: "trt-llm" },
    ]);
    const t0 = Date.now();
    await loop.scrapeAll();
    assert.ok(Date.now() - t0 < 3000, "the hung server costs one timeout, not more");
    assert.match(loop.state(hang.address)!.lastError!, /no answer within 500 ms/);
    assert.match(
      loop.state(garbage.address)!.lastError!,
      /vllm metrics: (not Prometheus text format|sample value "is" is not a number)/,
    );
    assert.match(loop.state(missing.address)!.lastError!, /sglang:num_queue_reqs is missing/);
    assert.match(loop.state(deadAddress)!.lastError!, /ECONNREFUSED/);
    for (const a of [hang.address, garbage.address, missing.address, deadAddress]) {
      const st = loop.state(a)!;
      assert.equal(st.healthy, false, a);
      assert.equal(st.lastSuccessAtMs, null);
      assert.equal(st.load, null);
    }
    assert.deepEqual([...observed].sort(), ["connect", "parse", "parse", "timeout"]);
  } finally {
    loop.stop();
    await Promise.all([hang.close(), garbage.close(), missing.close()]);
  }
});

test("scrape loop: bounded concurrency and one scrape per target at a time", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const servers = await Promise.all(Array.from({ length: 6 }, () => metricsServer(() => "hang")));
  for (const s of servers) {
    s.server.removeAllListeners("request");
    s.server.on("request", (_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end(fixture("sglang.txt"));
      }, 60);
    });
  }
  const loop = new ScrapeLoop({ intervalMs: 10, timeoutMs: 1000, concurrency: 2, logger: memoryLogger() });
  try {
    loop.setTargets(servers.map((s) => ({ address: s.address, runtime: "sglang" as const })));
    loop.start();
    // Every target scraped despite the bound (6 x 60 ms over 2 at a time: 180 ms on an idle machine).
    const deadline = Date.now() + 5000;
    while (!servers.every((s) => loop.state(s.address)!.load !== null) && Date.now() < deadline) await sleep(20);
    assert.ok(
      servers.every((s) => loop.state(s.address)!.load !== null),
      "every target got scraped despite the bound",
    );
    assert.equal(maxInFlight, 2);
  } finally {
    loop.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
});

test("scrape loop: one report per round (one table push), and a slow target holds no other load back", async () => {
  // Every page differs from the last (waiting grows), so every scrape changes its endpoint's load.
  let n = 0;
  const changing = () =>
    fixture("vllm.txt").replace('model_name="/models/Qwen3-32B"} 3.0', `model_name="/models/Qwen3-32B"} ${++n}.0`);
  const fast = await Promise.all(Array.from({ length: 8 }, () => metricsServer(changing)));
  let slowAnswered = false;
  const slow = await metricsServer(() => "hang");
  slow.server.removeAllListeners("request");
  slow.server.on("request", (_req, res) =>
    setTimeout(() => {
      slowAnswered = true;
      res.end(changing());
    }, 800),
  );
  const reports: { atMs: number; addresses: string[]; slowAnswered: boolean }[] = [];
  const intervalMs = 100;
  const loop = new ScrapeLoop({
    intervalMs,
    timeoutMs: 2000,
    logger: memoryLogger(),
    onUpdate: (addresses) => reports.push({ atMs: Date.now(), addresses, slowAnswered }),
  });
  try {
    loop.setTargets([...fast, slow].map((s) => ({ address: s.address, runtime: "vllm" as const })));
    const t0 = Date.now();
    loop.start();
    await waitFor("the slow target's answer reported", () => reports.some((r) => r.addresses.includes(slow.address)));
    await sleep(300);
    const elapsedMs = Date.now() - t0;
    const ticks = Math.floor(elapsedMs / intervalMs) + 1;
    // Per-endpoint reports would be about 8 per tick here.
    assert.ok(reports.length <= ticks + 1, `${reports.length} reports over ${ticks} ticks`);
    const whole = reports.filter((r) => fast.every((s) => r.addresses.includes(s.address)));
    assert.ok(whole.length >= reports.length / 2, "a round's changes go out together");
    // The first round waits on the slow target (800 ms); its fast loads went out at the next tick.
    const first = reports[0];
    assert.ok(!first.slowAnswered, "the fast targets' loads were reported before the slow one answered");
    assert.ok(fast.every((s) => first.addresses.includes(s.address)));
    assert.ok(reports.filter((r) => !r.slowAnswered).length >= 3, "later rounds report without waiting for it");
  } finally {
    loop.stop();
    await Promise.all([...fast, slow].map((s) => s.close()));
  }
});

test("scrape loop: rounds longer than the interval still report at each tick, not a round later", async () => {
  // Every target answers after 250 ms: each scrape outlives two ticks, so no round ever ends while
  // it is the current one; what a finished scrape changed goes out at the next tick.
  let n = 0;
  let lastAnswerMs = 0;
  const servers = await Promise.all(Array.from({ length: 4 }, () => metricsServer(() => "hang")));
  for (const s of servers) {
    s.server.removeAllListeners("request");
    s.server.on("request", (_req, res) =>
      setTimeout(() => {
        lastAnswerMs = Date.now();
        res.end(
          fixture("vllm.txt").replace(
            'model_name="/models/Qwen3-32B"} 3.0',
            `model_name="/models/Qwen3-32B"} ${++n}.0`,
          ),
        );
      }, 250),
    );
  }
  const reports: { atMs: number; lagMs: number }[] = [];
  const loop = new ScrapeLoop({
    intervalMs: 100,
    timeoutMs: 2000,
    logger: memoryLogger(),
    onUpdate: () => reports.push({ atMs: Date.now(), lagMs: Date.now() - lastAnswerMs }),
  });
  try {
    loop.setTargets(servers.map((s) => ({ address: s.address, runtime: "vllm" as const })));
    loop.start();
    await waitFor("a report", () => reports.length > 0);
    // The next tick is at most 100 ms after the answers; the next round would end 250 ms after them.
    assert.ok(reports[0].lagMs < 200, `reported ${reports[0].lagMs} ms after the answers`);
  } finally {
    loop.stop();
    await Promise.all(servers.map((s) => s.close()));
  }
});
