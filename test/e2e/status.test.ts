// The status view against a running local gateway (real Envoy with the filter, the control plane,
// simulated pods): `infergate status` as a child process, and the HTML page in a real headless
// Chromium (Debian's, installed by scripts/get-chromium.sh, driven by playwright-core), with a
// screenshot written to build/test-output/status-page.png. What the view says is checked against
// what really happened: the requests each simulated pod served.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import type { StatusSnapshot } from "../../controlplane/status/status-view.js";
import { type LocalGateway, SEED_POOL, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { freePort } from "../../scripts/lib/ports.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { chat, eventually, post, servedCounts } from "./helpers.js";

const run = promisify(execFile);
const POOL = `default/${SEED_POOL}`;
const CHROMIUM = process.env.CHROMIUM_BIN ?? (existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : null);
const OUT_DIR = join(REPO_ROOT, "build/test-output");

let gw: LocalGateway;
let api: string;

async function snapshot(): Promise<StatusSnapshot> {
  return (await (await fetch(`${api}/status.json`)).json()) as StatusSnapshot;
}

/** Sends `n` requests, `concurrency` at a time, with prompts that differ (so PREFIX_CACHE spreads them). */
async function load(n: number, concurrency: number, tag: string): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const r = await post(
          gw.url,
          "/v1/chat/completions",
          chat(`${tag} ${i} ${"context ".repeat(40)}`, { max_tokens: 8 }),
        );
        assert.equal(r.status, 200, r.text);
      }
    }),
  );
}

/** Waits until the status view has counted every request each pod served and sees none in flight
 *  (the sampler reads Envoy every 250 ms). */
async function statusMatchesPods(): Promise<{ s: StatusSnapshot; served: Map<string, number> }> {
  let s: StatusSnapshot | null = null;
  let served = new Map<string, number>();
  await eventually(
    async () => {
      served = await servedCounts(gw.fleet);
      s = await snapshot();
      const pods = s.pools[0].pods;
      // Every answer is in: counted per pod, nothing left in flight, and each answer's prediction
      // checked (counted at the response's end, after the routing count; the sample may lag both).
      const total = [...served.values()].reduce((a, b) => a + b, 0);
      const pr = s.pools[0].prefix;
      return (
        pods.every((p) => p.recentRequests === (served.get(p.name) ?? 0) && p.inFlight === 0) &&
        pr.hit + pr.over + pr.under >= total
      );
    },
    10_000,
    100,
  ).catch(() => {
    /* the assertions below say what differs */
  });
  return { s: s!, served };
}

/** Runs a read of the page, again if the page's own refresh (every 2 s) navigated away during it. */
async function onPage<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      if (attempt >= 5 || !/context was destroyed|navigation/i.test((e as Error).message)) throw e;
    }
  }
}

before(async () => {
  gw = await startLocalGateway({
    fleet: { pods: 3 },
    pool: {
      annotations: {
        "inference.networking.x-k8s.io/routing-strategy": "PREFIX_CACHE",
        "inference.networking.x-k8s.io/queueing": "enabled",
        // Invalid on purpose: the view must list it with why, and the default stays in force.
        "inference-epp-env.networking.x-k8s.io/queue-ttl": "soon",
      },
    },
    controlPlane: { statusIntervalMs: 250 },
  });
  api = `http://${gw.controlPlane!.address}`;
});

after(async () => {
  await gw?.stop();
});

test("infergate status (a child process) shows each pod's share of the requests it really served, load, health and settings", async () => {
  await load(45, 6, "cli");
  const { s, served } = await statusMatchesPods();
  const pool = s.pools.find((p) => p.id === POOL)!;
  const total = [...served.values()].reduce((a, b) => a + b, 0);
  assert.ok(total >= 45, `pods served ${total}`);
  for (const p of pool.pods) {
    assert.equal(p.recentRequests, served.get(p.name) ?? 0, `${p.name}: requests counted vs served`);
    assert.ok(Math.abs((p.share ?? -1) - (served.get(p.name) ?? 0) / total) < 1e-9, `${p.name} share`);
    assert.equal(p.ready, true);
    assert.equal(p.envoy, "ok");
    assert.equal(p.inFlight, 0, "nothing in flight once every answer is in");
  }
  assert.ok(
    pool.prefix.hit + pool.prefix.over + pool.prefix.under >= 45,
    `feedback mode: every answer checked a prediction: ${JSON.stringify(pool.prefix)}`,
  );
  assert.ok(s.table && s.table.ageMs < 3000, "a fresh table");
  assert.ok(s.envoys[0].acceptedGeneration !== null, "Envoy accepted a table");
  // The filter's metrics, relayed from Envoy's loopback admin for Prometheus.
  const relayed = await (await fetch(`${api}/metrics/envoy`)).text();
  for (const p of pool.pods)
    assert.match(
      relayed,
      new RegExp(`^infergate_pod_requests_total\\{pool="${POOL}",pod="${p.name}"\\} ${served.get(p.name)}$`, "m"),
    );
  assert.ok(s.envoys[0].routingGeneration !== null, "the control listener says what it routes on");
  // Every routed request's decision time is in the histogram (recorded on the filter's tick, merged
  // by Envoy on its stats flush): its count equals the routed counter.
  await eventually(
    async () => {
      const text = await (await fetch(`${api}/metrics/envoy`)).text();
      const routed = text.match(
        new RegExp(`^infergate_requests_total\\{pool="${POOL}",outcome="routed"\\} (\\d+)$`, "m"),
      );
      const decided = text.match(new RegExp(`^infergate_decision_duration_us_count\\{pool="${POOL}"\\} (\\d+)$`, "m"));
      return routed !== null && Number(routed[1]) >= total && decided !== null && decided[1] === routed[1];
    },
    15_000,
    250,
  );

  const { stdout, stderr } = await run(process.execPath, [
    join(REPO_ROOT, "build/js/controlplane/main.js"),
    "status",
    "--url",
    api,
  ]);
  assert.equal(stderr, "");
  process.stdout.write(`# infergate status:\n${stdout.replace(/^/gm, "#   ")}\n`);
  assert.match(stdout, /^table generation \d+, built [\d.]+m?s ago$/m);
  assert.match(stdout, /pool default\/qwen-inference-pool {2}strategy PREFIX_CACHE/);
  assert.match(
    stdout,
    /INVALID metadata\.annotations\["inference-epp-env\.networking\.x-k8s\.io\/queue-ttl"\].*"soon"/,
  );
  assert.match(stdout, /queue enabled: held critical 0, standard 0, sheddable 0/);
  for (const p of pool.pods) {
    const line = stdout.split("\n").find((l) => l.trim().startsWith(`${p.name} `));
    assert.ok(line, `a line for ${p.name}`);
    const cols = line.trim().split(/\s+/);
    // POD ADDRESS ROLE READY ENVOY WAITING RUNNING KV INFLIGHT SHARE REQS SCRAPED
    assert.deepEqual(cols.slice(0, 5), [p.name, p.address, "both", "yes", "ok"]);
    assert.equal(cols[9], `${Math.round((p.share ?? 0) * 100)}%`);
    assert.equal(Number(cols[10]), served.get(p.name));
  }

  // No control plane there: a clear error and exit code 1, not a stack trace.
  const closed = await freePort();
  const bad = await run(process.execPath, [
    join(REPO_ROOT, "build/js/controlplane/main.js"),
    "status",
    "--url",
    `http://127.0.0.1:${closed}`,
  ]).then(
    () => null,
    (e: { code: number; stderr: string }) => e,
  );
  assert.equal(bad?.code, 1);
  assert.match(
    bad!.stderr,
    /^infergate status: cannot reach the control plane at http:\/\/127\.0\.0\.1:\d+\/status\.json: connect ECONNREFUSED 127\.0\.0\.1:\d+\n$/,
  );
});

test("the status page in headless Chromium: pods with shares and loads, the invalid annotation, and it refreshes itself", {
  skip: CHROMIUM ? false : "no Chromium (scripts/get-chromium.sh installs Debian's; make test does)",
}, async () => {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "infergate-chromium-"));
  // A fresh profile directory (playwright passes it to Chromium as --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM!,
    headless: true,
    viewport: { width: 1300, height: 860 },
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    await load(30, 4, "page");
    const { served } = await statusMatchesPods();
    const total = [...served.values()].reduce((a, b) => a + b, 0);
    await page.goto(`${api}/status`);
    assert.equal(await page.title(), "infergate status");
    const rows = await onPage(() =>
      page.$$eval("section.pool[data-pool] tr[data-pod]", (trs) =>
        trs.map((tr) => ({
          pod: tr.getAttribute("data-pod"),
          text: tr.textContent ?? "",
          share: (tr.querySelector('[data-col="share"]') as HTMLElement).textContent?.trim(),
          shareBar: (tr.querySelector('[data-col="share"] .bar > span') as HTMLElement).style.width,
          inflight: (tr.querySelector('[data-col="inflight"]') as HTMLElement).textContent?.trim(),
        })),
      ),
    );
    assert.deepEqual(rows.map((r) => r.pod).sort(), gw.fleet.pods.map((p) => p.name).sort());
    for (const r of rows) {
      const n = served.get(r.pod!) ?? 0;
      assert.equal(r.share, `${Math.round((n / total) * 100)} % (${n})`, `${r.pod}: ${r.text}`);
      // The browser normalizes the style ("25.0%" reads back as "25%"): compare the numbers.
      assert.ok(Math.abs(Number.parseFloat(r.shareBar) - (n / total) * 100) < 0.051, `${r.pod} bar ${r.shareBar}`);
      assert.equal(r.inflight, "0");
      assert.match(r.text, /ready/);
      assert.match(r.text, /envoy: ok/);
    }
    const invalid = (await onPage(() => page.locator("ul.invalid li").textContent())) ?? "";
    assert.match(invalid, /queue-ttl.*"soon"/);
    assert.match(
      (await onPage(() => page.locator('[data-col="prefix"]').textContent())) ?? "",
      /% of predictions confirmed by the pods/,
    );

    // Leave the page open: more traffic must show up without anyone reloading it (meta refresh).
    const before = rows.map((r) => r.share).join("|");
    await load(15, 3, "later");
    await eventually(
      async () => {
        const now = await onPage(() =>
          page.$$eval('tr[data-pod] [data-col="share"]', (cells) =>
            cells.map((c) => (c as HTMLElement).textContent?.trim()).join("|"),
          ),
        );
        return now !== before;
      },
      10_000,
      200,
    );
    mkdirSync(OUT_DIR, { recursive: true });
    const shot = join(OUT_DIR, "status-page.png");
    await page.screenshot({ path: shot, fullPage: true });
    process.stdout.write(`# status page screenshot: ${shot}\n`);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
});
