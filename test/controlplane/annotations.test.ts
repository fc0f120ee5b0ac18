import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ANNOTATION,
  DEFAULT_POOL_SETTINGS,
  parseInt64,
  parsePoolAnnotations,
} from "../../controlplane/model/annotations.js";

test("no annotations: the seed's defaults", () => {
  const { settings, problems } = parsePoolAnnotations(undefined);
  assert.deepEqual(problems, []);
  assert.deepEqual(settings, {
    strategy: "DEFAULT",
    runtime: "vllm",
    prefix: { blockSize: 64, maxBlocks: 128, lruCapacity: 50000, mode: "feedback" },
    queue: { enabled: false, capacityBytes: 104857600, ttlMs: 30000 },
    firstByteTimeoutMs: 10000,
    eppOverlay: null,
  });
});

test("every seed annotation is read", () => {
  const { settings, problems } = parsePoolAnnotations({
    [ANNOTATION.routingStrategy]: "PREFIX_CACHE",
    [ANNOTATION.hashBlockSize]: "32",
    [ANNOTATION.maxPrefixBlocks]: "256",
    [ANNOTATION.lruCapacity]: "1000",
    [ANNOTATION.queueing]: "enabled",
    [ANNOTATION.totalQueueCapacity]: "2048",
    [ANNOTATION.queueTtl]: "2h45m",
    [ANNOTATION.modelServerRuntime]: "trt-llm",
    [ANNOTATION.eppOverlay]: "custom-epp",
    [ANNOTATION.firstByteTimeout]: "2.5s",
    [ANNOTATION.prefixCacheMode]: "feedback",
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(settings, {
    strategy: "PREFIX_CACHE",
    runtime: "trt-llm",
    prefix: { blockSize: 32, maxBlocks: 256, lruCapacity: 1000, mode: "feedback" },
    queue: { enabled: true, capacityBytes: 2048, ttlMs: 9_900_000 },
    firstByteTimeoutMs: 2500,
    eppOverlay: "custom-epp",
  });
});

test("queue-ttl takes Go durations: fractions, µs/μs, sub-millisecond rounds up", () => {
  const ttl = (v: string) => parsePoolAnnotations({ [ANNOTATION.queueTtl]: v });
  assert.equal(ttl("1.5h").settings.queue.ttlMs, 5_400_000);
  assert.equal(ttl("300ms").settings.queue.ttlMs, 300);
  assert.equal(ttl("1500\u00b5s").settings.queue.ttlMs, 2);
  assert.equal(ttl("1500\u03bcs").settings.queue.ttlMs, 2);
  assert.equal(ttl("1ns").settings.queue.ttlMs, 1);
  for (const bad of ["30", "30 s", "-5s", "0s", "1d", "abc"]) {
    const r = ttl(bad);
    assert.equal(r.settings.queue.ttlMs, 30000, bad);
    assert.equal(r.problems.length, 1, bad);
    assert.equal(r.problems[0].annotation, ANNOTATION.queueTtl);
    assert.equal(r.problems[0].value, bad);
  }
});

test("first-byte-timeout (ours): a Go duration, 0s turns it off, negative or unitless refused", () => {
  const fbt = (v: string) => parsePoolAnnotations({ [ANNOTATION.firstByteTimeout]: v });
  assert.equal(fbt("0s").settings.firstByteTimeoutMs, 0);
  assert.equal(fbt("750ms").settings.firstByteTimeoutMs, 750);
  for (const bad of ["10", "-1s", "soon"]) {
    const r = fbt(bad);
    assert.equal(r.settings.firstByteTimeoutMs, 10000, bad);
    assert.equal(r.problems[0].annotation, "infergate.dev/first-byte-timeout");
  }
});

test("an invalid value keeps the last good value of that setting only, with a problem naming it", () => {
  const first = parsePoolAnnotations({
    [ANNOTATION.queueTtl]: "10s",
    [ANNOTATION.hashBlockSize]: "16",
    [ANNOTATION.routingStrategy]: "PREFIX_CACHE",
  });
  assert.deepEqual(first.problems, []);
  const second = parsePoolAnnotations(
    {
      [ANNOTATION.queueTtl]: "ten seconds",
      [ANNOTATION.hashBlockSize]: "32",
      [ANNOTATION.routingStrategy]: "ROUND_ROBIN",
    },
    first.settings,
  );
  assert.equal(second.settings.queue.ttlMs, 10000, "kept the last good TTL");
  assert.equal(second.settings.prefix.blockSize, 32, "the valid change still applies");
  assert.equal(second.settings.strategy, "PREFIX_CACHE", "kept the last good strategy");
  assert.equal(second.problems.length, 2);
  const p = second.problems.find((x) => x.annotation === ANNOTATION.routingStrategy)!;
  assert.match(p.message, /DEFAULT, PREFIX_CACHE/);
  assert.match(p.kept, /last good value "PREFIX_CACHE"/);
  // Without a previous value, the default is kept.
  const fresh = parsePoolAnnotations({ [ANNOTATION.routingStrategy]: "ROUND_ROBIN" });
  assert.equal(fresh.settings.strategy, "DEFAULT");
  assert.match(fresh.problems[0].kept, /default "DEFAULT"/);
  // Removing the annotation reverts to the default (absent is valid).
  assert.equal(parsePoolAnnotations({}, second.settings).settings.strategy, "DEFAULT");
});

test("int64 annotations follow strconv.ParseInt and must be positive", () => {
  assert.equal(parseInt64("64"), 64);
  assert.equal(parseInt64("+7"), 7);
  assert.equal(parseInt64("-7"), -7);
  for (const bad of ["", " 64", "64 ", "6.4", "1e3", "0x40", "1_000", "sixty"])
    assert.throws(() => parseInt64(bad), Error, bad);
  assert.throws(() => parseInt64("9223372036854775808"), /int64/);
  assert.throws(() => parseInt64("9007199254740993"), /too large/);
  for (const key of [
    ANNOTATION.hashBlockSize,
    ANNOTATION.maxPrefixBlocks,
    ANNOTATION.lruCapacity,
    ANNOTATION.totalQueueCapacity,
  ]) {
    const r = parsePoolAnnotations({ [key]: "0" });
    assert.equal(r.problems.length, 1, key);
    assert.match(r.problems[0].message, /at least 1/);
  }
});

test("enumerations: case-insensitive values, clear errors otherwise", () => {
  assert.equal(
    parsePoolAnnotations({ [ANNOTATION.routingStrategy]: "prefix_cache" }).settings.strategy,
    "PREFIX_CACHE",
  );
  assert.equal(parsePoolAnnotations({ [ANNOTATION.modelServerRuntime]: "SGLang" }).settings.runtime, "sglang");
  assert.equal(parsePoolAnnotations({ [ANNOTATION.queueing]: "Enabled" }).settings.queue.enabled, true);
  const bad = parsePoolAnnotations({
    [ANNOTATION.modelServerRuntime]: "tgi",
    [ANNOTATION.queueing]: "on",
    [ANNOTATION.eppOverlay]: "Not_A_Name",
  });
  assert.equal(bad.problems.length, 3);
  assert.equal(bad.settings.runtime, DEFAULT_POOL_SETTINGS.runtime);
  assert.match(
    bad.problems.find((p) => p.annotation === ANNOTATION.modelServerRuntime)!.message,
    /vllm, sglang, trt-llm/,
  );
});
