// Answers Envoy makes itself are OpenAI-shaped JSON (local_reply_config in envoy/bootstrap.yaml), and
// Envoy drains gracefully (controlplane/envoy-drain.ts, the chart's preStop): streams in flight
// finish, keep-alive clients are told to go, new connections are refused. Real Envoy, simulated pods.

import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, test } from "node:test";
import { drainEnvoy } from "../../controlplane/envoy-drain.js";
import { type LocalGateway, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { filterWritesFallbacks, NEEDS_FILTER_FALLBACKS, request } from "./failover-helpers.js";
import { chat, setFaults, sleep } from "./helpers.js";

const FAST = ["--prefill-overhead-ms", "1", "--inter-token-latency-ms", "1", "--prefill-time-per-token-ms", "0.01"];

function assertOpenAiError(text: string, type: string): { message: string; type: string; code: string } {
  let j: { error?: { message: string; type: string; code: string; param: unknown } };
  try {
    j = JSON.parse(text);
  } catch {
    assert.fail(`not JSON: ${text.slice(0, 300)}`);
  }
  assert.ok(j.error, text);
  assert.equal(typeof j.error.message, "string", text);
  assert.equal(j.error.type, type, text);
  assert.ok(j.error.code, text);
  assert.ok("param" in j.error, text);
  return j.error;
}

/** Sends raw bytes on a fresh connection and returns what came back until the server closed or 3 s. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (d) => {
      out += d.toString();
    });
    s.on("error", reject);
    s.on("close", () => resolve(out));
    s.setTimeout(3000, () => s.destroy());
    s.write(bytes);
  });
}

function httpBody(response: string): { status: number; headers: string; body: string } {
  const i = response.indexOf("\r\n\r\n");
  const head = response.slice(0, i);
  let body = response.slice(i + 4);
  if (/transfer-encoding: chunked/i.test(head)) {
    let out = "";
    for (;;) {
      const nl = body.indexOf("\r\n");
      const n = Number.parseInt(body.slice(0, nl), 16);
      if (!(n > 0)) break;
      out += body.slice(nl + 2, nl + 2 + n);
      body = body.slice(nl + 2 + n + 2);
    }
    body = out;
  }
  return { status: Number(head.split(" ")[1]), headers: head, body };
}

describe("Envoy's own answers", { timeout: 90_000 }, () => {
  let gw: LocalGateway;
  before(async () => {
    // The filter would accept 64 MiB, Envoy's buffer is sized for 256 KiB: Envoy answers first.
    gw = await startLocalGateway({
      fleet: { pods: 2, args: FAST },
      envoy: { maxBodyBytes: 256 * 1024, gatewayConfig: { maxBodyBytes: 64 * 1024 * 1024 } },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  test("413 from Envoy's buffer limit is JSON", async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("x".repeat(1024 * 1024))),
    });
    assert.equal(r.status, 413);
    assert.match(r.headers.get("content-type") ?? "", /application\/json/);
    const e = assertOpenAiError(await r.text(), "invalid_request_error");
    assert.equal(e.code, "request_too_large");
  });

  test("malformed HTTP (bad or lying Content-Length) gets a 400 JSON answer", async () => {
    const port = Number(new URL(gw.url).port);
    const cases = [
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 30\r\n\r\n{}",
    ];
    for (const c of cases) {
      const res = httpBody(await raw(port, c));
      assert.equal(res.status, 400, `${JSON.stringify(c)} -> ${res.headers}`);
      assertOpenAiError(res.body, "invalid_request_error");
    }
  });

  test("a body shorter than its Content-Length: no answer until the body is complete, and Envoy keeps serving", async () => {
    const port = Number(new URL(gw.url).port);
    const out = await raw(
      port,
      'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"model":',
    );
    // The client holds the connection until the 3 s timer; Envoy waits for the rest of the body.
    assert.equal(out, "");
    const ok = await request(gw.url, false, "still serving");
    assert.ok(ok.complete, ok.detail);
  });

  test("504 JSON when no pod sends its first byte in time (the pool's first-byte timeout)", async (t) => {
    if (!(await filterWritesFallbacks(gw)))
      return t.skip(`${NEEDS_FILTER_FALLBACKS}, and the per-try first-byte timeout`);
    for (const p of gw.fleet.pods) await setFaults(p.url, { hang: true });
    try {
      const o = await request(gw.url, true, "hung", 60_000);
      assert.equal(o.status, 504, o.detail);
      assertOpenAiError(o.detail, "service_unavailable");
    } finally {
      for (const p of gw.fleet.pods) await setFaults(p.url, null);
    }
  });
});

test("overload: past the heap budget Envoy answers 503 JSON with Retry-After", { timeout: 60_000 }, async () => {
  // A heap budget below what Envoy already uses: the overload manager refuses every new request.
  const gw = await startLocalGateway({
    fleet: { pods: 1, args: FAST },
    envoy: { maxHeapBytes: 1 << 20 },
    waitReady: false,
  });
  try {
    await sleep(600); // the overload manager refreshes every 250 ms
    const o = await request(gw.url, false, "overloaded");
    assert.equal(o.status, 503, o.detail);
    assert.equal(o.retryAfter, "1");
    const e = assertOpenAiError(o.detail, "service_unavailable");
    assert.match(e.code, /overload/);
  } finally {
    await gw.stop();
  }
});

test("drain: readiness fails at once, streams in flight finish, keep-alive clients are told to go, then new connections are refused", {
  timeout: 60_000,
}, async () => {
  // Streams of ~1.5 s (12 tokens, 120 ms apart).
  const gw = await startLocalGateway({
    fleet: { pods: 2, args: ["--prefill-overhead-ms", "1", "--inter-token-latency-ms", "120"] },
  });
  try {
    const envoy = gw.envoys[0]!;
    const streams = Array.from({ length: 6 }, (_, i) =>
      fetch(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(chat(`drain ${i}`, { stream: true, max_tokens: 12 })),
      }).then(async (r) => ({ status: r.status, text: await r.text() })),
    );
    await sleep(300);
    const t0 = Date.now();
    const drained = drainEnvoy({ admin: envoy.adminUrl, propagationMs: 0, maxWaitMs: 20_000, pollMs: 50 });
    await sleep(200);
    const ready = await fetch(`${gw.url}/infergate/envoy-ready`);
    assert.equal(ready.status, 503, "readiness fails once the drain began");
    // A keep-alive client during the drain is served but told to close.
    const during = await fetch(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(chat("during drain")),
    });
    assert.equal(during.status, 200);
    assert.equal(during.headers.get("connection"), "close");
    await during.text();
    const r = await drained;
    assert.equal(r.leftInFlight, 0);
    for (const s of await Promise.all(streams)) {
      assert.equal(s.status, 200);
      assert.ok(s.text.includes("data: [DONE]"), `a stream in flight was cut: ${s.text.slice(-200)}`);
    }
    // Envoy's drain time (--drain-time-s 5) over, the listener is closed.
    await sleep(Math.max(0, 5600 - (Date.now() - t0)));
    const refused = await new Promise<string>((res) => {
      const s = net.connect(envoy.port, "127.0.0.1");
      s.on("connect", () => {
        s.destroy();
        res("connected");
      });
      s.on("error", (e: NodeJS.ErrnoException) => res(e.code ?? e.message));
    });
    assert.equal(refused, "ECONNREFUSED");
  } finally {
    await gw.stop();
  }
});
