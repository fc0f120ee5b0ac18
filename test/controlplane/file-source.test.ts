// The file source: the example fleet file loads as is; edits hot-reload; broken saves keep the last
// good model; atomic replace (rename) is seen.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { memoryLogger } from "../../controlplane/log.js";
import { ModelStore } from "../../controlplane/model/store.js";
import { FileSource, FileSourceError } from "../../controlplane/sources/file.js";
import { SRC_DIR, waitFor } from "./helpers.js";

const EXAMPLE = join(SRC_DIR, "../../controlplane/examples/local-fleet.yaml");

test("the example local fleet (seed vLLM pool + model verbatim, static endpoints) loads without problems", async () => {
  const store = new ModelStore({ defaultNamespace: "default" });
  const src = new FileSource({ path: EXAMPLE, store, logger: memoryLogger() });
  try {
    await src.start();
    const m = store.resolved();
    assert.deepEqual(m.problems, []);
    assert.equal(m.pools.length, 1);
    assert.equal(m.pools[0].id, "default/qwen-inference-pool");
    assert.equal(m.pools[0].runtime, "vllm");
    assert.equal(m.pools[0].strategy, "DEFAULT");
    assert.deepEqual(
      m.pools[0].endpoints.map((e) => e.address),
      ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"],
    );
    assert.deepEqual(
      m.models.map((x) => [x.name, x.criticality, x.targets]),
      [["/models/Qwen3-32B", "Critical", [{ name: "/models/Qwen3-32B", weight: 100 }]]],
    );
  } finally {
    src.stop();
  }
});

test("hot reload: an annotation edit applies, a broken save keeps the last good model, a fix applies", async () => {
  const dir = mkdtempSync(join(tmpdir(), "infergate-file-"));
  const path = join(dir, "fleet.yaml");
  const base = readFileSync(EXAMPLE, "utf8");
  writeFileSync(path, base);
  const store = new ModelStore({ defaultNamespace: "default" });
  const logger = memoryLogger();
  const src = new FileSource({ path, store, logger, pollIntervalMs: 200, debounceMs: 10 });
  try {
    await src.start();
    const v0 = store.version;
    // An edit that switches routing to PREFIX_CACHE (the seed's annotation).
    writeFileSync(
      path,
      base.replace(
        "metadata:\n  name: qwen-inference-pool\n",
        'metadata:\n  name: qwen-inference-pool\n  annotations:\n    inference.networking.x-k8s.io/routing-strategy: "PREFIX_CACHE"\n',
      ),
    );
    await waitFor("strategy reloaded", () => store.resolved().pools[0]?.strategy === "PREFIX_CACHE", 3000);
    assert.ok(store.version > v0);

    // A broken save: YAML syntax error. The model stays, the reason is logged and reported.
    const before = store.version;
    writeFileSync(path, `${base}\n---\nkind: [oops\n`);
    await waitFor("error reported", () => src.status.lastError, 3000);
    assert.match(src.status.lastError!, /fleet\.yaml: YAML error in document #4/);
    assert.equal(store.version, before, "the store was not touched");
    assert.equal(store.resolved().pools[0].strategy, "PREFIX_CACHE");
    assert.ok(logger.lines.some((l) => l.level === "error" && /keeping the last good model/.test(l.msg)));

    // Deleted, then replaced atomically by rename (what editors and config tools do).
    rmSync(path);
    await waitFor("deletion reported", () => /no such file/.test(src.status.lastError ?? ""), 3000);
    assert.equal(store.resolved().pools.length, 1);
    writeFileSync(join(dir, "fleet.yaml.tmp"), base.replace('address: "127.0.0.1:8003"', 'address: "127.0.0.1:8004"'));
    renameSync(join(dir, "fleet.yaml.tmp"), path);
    await waitFor(
      "renamed file loaded",
      () => store.resolved().pools[0].endpoints.some((e) => e.address === "127.0.0.1:8004"),
      3000,
    );
    assert.equal(src.status.lastError, null);
    assert.equal(store.resolved().pools[0].strategy, "DEFAULT", "the new content has no annotation");
  } finally {
    src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file with too many aliases is a broken file: kept out on reload (no crash), refused at start", async () => {
  const dir = mkdtempSync(join(tmpdir(), "infergate-file-"));
  const path = join(dir, "fleet.yaml");
  writeFileSync(path, readFileSync(EXAMPLE, "utf8"));
  const aliases = `x: &p 1\ny: [${Array(120).fill("*p").join(",")}]\n`;
  const store = new ModelStore({ defaultNamespace: "default" });
  const src = new FileSource({ path, store, logger: memoryLogger(), pollIntervalMs: 50, debounceMs: 10 });
  try {
    await src.start();
    const before = store.version;
    // Picked up by the watch and the poll (timers: a rejection there would end the process).
    writeFileSync(path, aliases);
    await waitFor("error reported", () => src.status.lastError, 3000);
    assert.match(src.status.lastError!, /^fleet\.yaml: YAML error in document #1: .*alias.* \(at most 100 aliases\)$/);
    await src.reload(); // resolves: the problem is in the status, not thrown
    assert.equal(store.version, before, "the last good model stays");
    assert.equal(store.resolved().pools.length, 1);
    await assert.rejects(
      new FileSource({ path, store: new ModelStore({ defaultNamespace: "default" }), logger: memoryLogger() }).start(),
      (e: Error) => e instanceof FileSourceError && /fleet\.yaml: YAML error in document #1: .*alias/.test(e.message),
    );
  } finally {
    src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file written in place in two steps: its first half (valid YAML, no endpoints) is never applied", async () => {
  // Shells and some editors truncate the file and write it anew; a read between the two writes sees
  // half the file. The source applies a file only once it has not changed for the debounce window.
  const dir = mkdtempSync(join(tmpdir(), "infergate-file-"));
  const path = join(dir, "fleet.yaml");
  const full = readFileSync(EXAMPLE, "utf8");
  const firstHalf = full.slice(0, full.lastIndexOf("\n---"));
  writeFileSync(path, full);
  const store = new ModelStore({ defaultNamespace: "default" });
  const src = new FileSource({ path, store, logger: memoryLogger(), pollIntervalMs: 5, debounceMs: 300 });
  try {
    await src.start();
    const endpoints = store.resolved().pools[0].endpoints.length;
    assert.ok(endpoints > 0);
    const seen: number[] = [];
    const sampler = setInterval(() => seen.push(store.resolved().pools[0]?.endpoints.length ?? -1), 2);
    const edited = full.replace("criticality: Critical", "criticality: Sheddable");
    writeFileSync(path, firstHalf);
    await sleep(40); // polled every 5 ms meanwhile
    writeFileSync(path, edited);
    await waitFor("edit applied", () => store.resolved().models.some((m) => m.criticality === "Sheddable"), 3000);
    clearInterval(sampler);
    assert.ok(seen.length > 20, `${seen.length} samples`);
    assert.deepEqual([...new Set(seen)], [endpoints], "the half-written file was applied");
  } finally {
    src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("polling alone picks up changes (no fs.watch events needed)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "infergate-file-"));
  const path = join(dir, "fleet.yaml");
  writeFileSync(path, readFileSync(EXAMPLE, "utf8"));
  const store = new ModelStore({ defaultNamespace: "default" });
  const src = new FileSource({ path, store, logger: memoryLogger(), pollIntervalMs: 50 });
  try {
    await src.start();
    // Disable the watcher to prove the polling fallback works by itself.
    (src as unknown as { watcher: { close(): void } | null }).watcher?.close();
    writeFileSync(path, readFileSync(EXAMPLE, "utf8").replace("criticality: Critical", "criticality: Sheddable"));
    await waitFor("poll reload", () => store.resolved().models[0]?.criticality === "Sheddable", 3000);
  } finally {
    src.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("start fails clearly on a missing or broken file (there is no last good model yet)", async () => {
  const dir = mkdtempSync(join(tmpdir(), "infergate-file-"));
  try {
    const store = new ModelStore({ defaultNamespace: "default" });
    await assert.rejects(
      new FileSource({ path: join(dir, "nope.yaml"), store, logger: memoryLogger() }).start(),
      (e: Error) => e instanceof FileSourceError && /nope\.yaml: cannot read: no such file/.test(e.message),
    );
    writeFileSync(join(dir, "bad.yaml"), "kind: InferencePool\n  bad: indent\n");
    await assert.rejects(
      new FileSource({ path: join(dir, "bad.yaml"), store, logger: memoryLogger() }).start(),
      /bad\.yaml: YAML error in document #1 at line 1, column 7: Nested mappings are not allowed in compact mappings$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
