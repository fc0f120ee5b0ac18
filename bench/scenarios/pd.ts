// P/D scenario (issue 13): SGLang prefill/decode disaggregation on a simulated P/D fleet (two prefill
// and two decode SGLang-flavoured pods, default timing, cached-token reports on), the same
// multi-turn shared-prefix conversations through each contender, each on a fresh fleet:
//   - infergate with the seed's P/D manifest (both stages by load),
//   - infergate with the seed's "P/D with prefix cache" manifest (prefix affinity on both stages),
//   - sglang-router and smg in P/D mode (--pd-disaggregation --prefill URL BOOTSTRAP_PORT --decode URL,
//     their default cache_aware policy), from .venv-bench (bench/setup-peers.sh); one that cannot run
//     is reported with its exact error, never dropped;
//   - a direct P/D client (this process sends both halves itself, round robin): no gateway at all,
//     the baseline for the latency a gateway adds.
// Per contender: TTFT p50/p90 (first content chunk of a stream), end-to-end p50, throughput, errors,
// the prefill pods' real prefix hit rate (their cached / prompt tokens, from the pods' own records),
// and, at concurrency 1 on an idle fleet, each gateway's added latency over the direct client.
// Self-contained (its own small load loop and SVG): the bench's shared machinery is being reworked.

import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type LocalGateway, startLocalGateway } from "../../scripts/lib/local-gateway.js";
import { freePort } from "../../scripts/lib/ports.js";
import { REPO_ROOT } from "../../scripts/lib/repo.js";
import { type Fleet, startFleet } from "../../test/sim/fleet.js";
import type { RequestRecord } from "../../test/sim/server.js";
import { spawnProc, VENV_BENCH, waitServing } from "../contenders/util.js";

const MODEL = "/models/Qwen3-32B";
const fixture = (name: string) => readFileSync(join(REPO_ROOT, "test/kube/fixtures", name), "utf8");

export interface PdConfig {
  prefill: number;
  decode: number;
  systemPrompts: number;
  usersPerPrompt: number;
  turns: number;
  /** Words of the shared system prompt (~1.3 tokens each in the simulator's tokenizer). */
  systemWords: number;
  userWords: number;
  maxTokens: number;
  thinkMs: number;
  /** Conversations start spread over this window. */
  rampMs: number;
  /** Sequential requests per contender for the added-latency measurement. */
  overheadRequests: number;
  seed: number;
  outDir?: string;
}

interface Started {
  url: string;
  version: string;
  flags: string[];
  /** infergate: the filter's decision times (µs) from Request Handled. */
  decisionUs?: () => number[];
  /** How a request is sent (default: a streaming chat request to url). */
  send?: (body: Record<string, unknown>, signal: AbortSignal) => Promise<Outcome>;
  stop(): Promise<void>;
}

interface PdContender {
  id: string;
  label: string;
  unavailable(): string | null;
  start(fleet: Fleet): Promise<Started>;
}

function infergatePd(id: string, label: string, manifest: string): PdContender {
  return {
    id,
    label,
    unavailable: () => null,
    async start(fleet) {
      const gw: LocalGateway = await startLocalGateway({
        existingFleet: fleet,
        pool: { pd: { manifests: fixture(manifest) } },
      });
      return {
        url: gw.url,
        version: "infergate (this tree)",
        flags: [`test/kube/fixtures/${manifest}`],
        decisionUs: () => gw.envoys[0].handled().map((h) => h.decisionUs),
        stop: () => gw.stop(),
      };
    },
  };
}

/** sglang-router (python -m sglang_router.launch_router) or smg (smg launch), in P/D mode. */
function peerPd(pkg: "sglang-router" | "smg"): PdContender {
  const py = join(VENV_BENCH, "bin/python");
  const smg = join(VENV_BENCH, "bin/smg");
  const cmd = pkg === "smg" ? smg : py;
  const pre = pkg === "smg" ? ["launch"] : ["-m", "sglang_router.launch_router"];
  return {
    id: `${pkg}-pd`,
    label: `${pkg} P/D cache_aware`,
    unavailable() {
      if (!existsSync(cmd)) return `${pkg}: ${cmd} missing (bench/setup-peers.sh installs it into .venv-bench)`;
      return null;
    },
    async start(fleet) {
      const port = await freePort();
      const prom = await freePort();
      const args = [
        ...pre,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--prometheus-host",
        "127.0.0.1",
        "--prometheus-port",
        String(prom),
        "--pd-disaggregation",
        ...fleet.pods.filter((p) => p.role === "prefill").flatMap((p) => ["--prefill", p.url, String(p.bootstrapPort)]),
        ...fleet.pods.filter((p) => p.role === "decode").flatMap((p) => ["--decode", p.url]),
        "--policy",
        "cache_aware",
        "--log-level",
        "warn",
      ];
      const proc = spawnProc(cmd, args, { RUST_LOG: "warn" });
      const url = `http://127.0.0.1:${port}`;
      try {
        await waitServing(url, 60_000, proc.child, proc.log);
      } catch (e) {
        await proc.stop();
        throw e;
      }
      let version = "?";
      try {
        const meta = JSON.parse(readFileSync(join(VENV_BENCH, "peers.json"), "utf8")) as {
          package: string;
          version?: string;
        }[];
        version = meta.find((m) => m.package === pkg)?.version ?? "?";
      } catch {
        /* no record */
      }
      return {
        url,
        version: `${pkg} ${version}`,
        flags: [pkg === "smg" ? "smg" : "python", ...args.map((a) => (a.startsWith("http://") ? "<pod>" : a))],
        stop: () => proc.stop(),
      };
    },
  };
}

/** No gateway: this process sends the prefill and the decode half itself, round robin, as a router would. */
const directPd: PdContender = {
  id: "direct-pd",
  label: "direct P/D client (no gateway)",
  unavailable: () => null,
  async start(fleet) {
    const prefills = fleet.pods.filter((p) => p.role === "prefill");
    const decodes = fleet.pods.filter((p) => p.role === "decode");
    let n = 0;
    return {
      url: "",
      version: "-",
      flags: [],
      send: (body, signal) => {
        const i = n++;
        return sendDirect(prefills[i % prefills.length], decodes[i % decodes.length], body, signal);
      },
      stop: async () => {},
    };
  },
};

interface Outcome {
  ok: boolean;
  status: number;
  ttftMs: number;
  e2eMs: number;
  outputTokens: number;
  error?: string;
}

/** One streaming chat request (a JSON body); TTFT is the first chunk carrying content. */
async function streamChat(url: string, body: string, signal: AbortSignal): Promise<Outcome> {
  const t0 = performance.now();
  try {
    const r = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      signal,
    });
    if (r.status !== 200 || !r.body) {
      const text = await r.text();
      return {
        ok: false,
        status: r.status,
        ttftMs: NaN,
        e2eMs: performance.now() - t0,
        outputTokens: 0,
        error: text.slice(0, 300),
      };
    }
    let ttft = NaN;
    let buf = "";
    let out = 0;
    const dec = new TextDecoder();
    for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
      buf += dec.decode(chunk, { stream: true });
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        nl = buf.indexOf("\n");
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        const j = JSON.parse(line.slice(6));
        if (Number.isNaN(ttft) && j.choices?.[0]?.delta?.content) ttft = performance.now() - t0;
        if (j.usage?.completion_tokens) out = j.usage.completion_tokens;
      }
    }
    return { ok: true, status: 200, ttftMs: ttft, e2eMs: performance.now() - t0, outputTokens: out };
  } catch (e) {
    return {
      ok: false,
      status: 0,
      ttftMs: NaN,
      e2eMs: performance.now() - t0,
      outputTokens: 0,
      error: (e as Error).message,
    };
  }
}

/** The direct client's request: both halves with the bootstrap fields, the decode half's stream read. */
async function sendDirect(
  p: Fleet["pods"][number],
  d: Fleet["pods"][number],
  body: Record<string, unknown>,
  signal: AbortSignal,
): Promise<Outcome> {
  const room = randomBytes(8).readBigUInt64BE() >> 1n; // 63-bit, written as exact digits
  const raw = JSON.stringify(body).replace(
    /}$/,
    `,"bootstrap_host":"127.0.0.1","bootstrap_port":${p.bootstrapPort},"bootstrap_room":${room}}`,
  );
  const prefill = fetch(`${p.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw,
    signal,
  })
    .then((r) => r.text())
    .catch(() => "");
  const [, out] = await Promise.all([prefill, streamChat(d.url, raw, signal)]);
  return out;
}

/** Deterministic words for prompts (a seeded xorshift over a fixed vocabulary). */
function words(seed: number, n: number): string {
  const vocab =
    "cache prefix route decode prefill token model server gateway pool queue latency batch memory block hash request answer stream policy".split(
      " ",
    );
  let s = seed >>> 0 || 1;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out.push(vocab[(s >>> 0) % vocab.length]);
  }
  return out.join(" ");
}

interface RunFigures {
  requests: number;
  errors: number;
  errorSamples: string[];
  ttftMs: { p50: number; p90: number };
  e2eMs: { p50: number };
  throughputRps: number;
  outputTokS: number;
  prefillHitRate: number;
  /** Prefill requests per prefill pod (balance). */
  prefillSpread: Record<string, number>;
}

const pct = (xs: number[], p: number) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const r1 = (x: number) => Math.round(x * 10) / 10;

async function records(fleet: Fleet): Promise<Map<string, RequestRecord[]>> {
  const m = new Map<string, RequestRecord[]>();
  for (const p of fleet.pods) {
    const j = (await (await fetch(`${p.url}/debug/requests`)).json()) as { requests: RequestRecord[] };
    m.set(
      p.name,
      j.requests.filter((r) => r.path.startsWith("/v1/")),
    );
  }
  return m;
}

async function clearRecords(fleet: Fleet): Promise<void> {
  await Promise.all(fleet.pods.map((p) => fetch(`${p.url}/debug/requests`, { method: "DELETE" })));
}

/** The conversations: each user's turns in order, think time between; all bounded by count. */
async function conversations(
  send: (body: Record<string, unknown>) => Promise<Outcome>,
  c: PdConfig,
): Promise<Outcome[]> {
  const out: Outcome[] = [];
  const users: Promise<void>[] = [];
  const n = c.systemPrompts * c.usersPerPrompt;
  for (let u = 0; u < n; u++) {
    const sys = u % c.systemPrompts;
    users.push(
      (async () => {
        await sleep((c.rampMs * u) / n);
        const msgs: { role: string; content: string }[] = [
          { role: "system", content: `System prompt ${sys}: ${words(c.seed * 1000 + sys, c.systemWords)}` },
        ];
        for (let t = 0; t < c.turns; t++) {
          msgs.push({
            role: "user",
            content: `User ${u} turn ${t}: ${words(c.seed * 7919 + u * 31 + t, c.userWords)}`,
          });
          const o = await send({
            model: MODEL,
            messages: msgs,
            max_tokens: c.maxTokens,
            stream: true,
            stream_options: { include_usage: true },
          });
          out.push(o);
          msgs.push({ role: "assistant", content: o.ok ? "ok" : "error" });
          await sleep(c.thinkMs);
        }
      })(),
    );
  }
  await Promise.all(users);
  return out;
}

async function measure(
  fleet: Fleet,
  send: (b: Record<string, unknown>) => Promise<Outcome>,
  c: PdConfig,
): Promise<RunFigures> {
  await clearRecords(fleet);
  const t0 = performance.now();
  const outs = await conversations(send, c);
  const elapsedS = (performance.now() - t0) / 1000;
  const recs = await records(fleet);
  let prompt = 0;
  let cached = 0;
  const spread: Record<string, number> = {};
  for (const p of fleet.pods.filter((x) => x.role === "prefill")) {
    const rs = (recs.get(p.name) ?? []).filter((r) => r.bootstrapRoom !== null && r.status === 200);
    spread[p.name] = rs.length;
    for (const r of rs) {
      prompt += r.promptTokens;
      cached += r.cachedTokens;
    }
  }
  const ok = outs.filter((o) => o.ok);
  return {
    requests: outs.length,
    errors: outs.length - ok.length,
    errorSamples: [...new Set(outs.filter((o) => !o.ok).map((o) => `${o.status} ${o.error ?? ""}`))].slice(0, 3),
    ttftMs: {
      p50: r1(
        pct(
          ok.map((o) => o.ttftMs),
          50,
        ),
      ),
      p90: r1(
        pct(
          ok.map((o) => o.ttftMs),
          90,
        ),
      ),
    },
    e2eMs: {
      p50: r1(
        pct(
          ok.map((o) => o.e2eMs),
          50,
        ),
      ),
    },
    throughputRps: r1(ok.length / elapsedS),
    outputTokS: r1(ok.reduce((a, o) => a + o.outputTokens, 0) / elapsedS),
    prefillHitRate: prompt > 0 ? Math.round((cached / prompt) * 1000) / 1000 : NaN,
    prefillSpread: spread,
  };
}

/** TTFT at concurrency 1 on an idle fleet, short distinct prompts (no cache effect): p50 ms. */
async function idleTtft(send: (b: Record<string, unknown>) => Promise<Outcome>, c: PdConfig): Promise<number> {
  const ttfts: number[] = [];
  for (let i = 0; i < c.overheadRequests; i++) {
    const o = await send({
      model: MODEL,
      messages: [{ role: "user", content: `idle ${i} ${words(c.seed + i, 12)}` }],
      max_tokens: 2,
      stream: true,
    });
    if (o.ok) ttfts.push(o.ttftMs);
  }
  return r1(pct(ttfts, 50));
}

export async function pdScenario(c: PdConfig) {
  const contenders = [
    directPd,
    infergatePd("infergate-pd", "infergate P/D (seed manifest)", "seed-000-pd-sglang.yaml"),
    infergatePd(
      "infergate-pd-prefix",
      "infergate P/D + prefix cache (seed manifest)",
      "seed-000-pd-prefix-cache-sglang.yaml",
    ),
    peerPd("sglang-router"),
    peerPd("smg"),
  ];
  const rows: Record<string, unknown>[] = [];
  for (const k of contenders) {
    const why = k.unavailable();
    if (why) {
      rows.push({ contender: k.id, label: k.label, unavailable: why });
      continue;
    }
    const fleet = await startFleet({
      runtime: "sglang",
      model: MODEL,
      cacheReport: true,
      pods: [
        { count: c.prefill, role: "prefill", namePrefix: "prefill" },
        { count: c.decode, role: "decode", namePrefix: "decode" },
      ],
    });
    let inst: Started | null = null;
    try {
      inst = await k.start(fleet);
      const started = inst;
      const send = (b: Record<string, unknown>) => {
        const signal = AbortSignal.timeout(120_000);
        return started.send ? started.send(b, signal) : streamChat(started.url, JSON.stringify(b), signal);
      };
      const idle = await idleTtft(send, c);
      const figures = await measure(fleet, send, c);
      const dec = inst.decisionUs?.() ?? [];
      rows.push({
        contender: k.id,
        label: k.label,
        version: inst.version,
        flags: inst.flags,
        idleTtftP50Ms: idle,
        ...figures,
        ...(dec.length ? { filterDecisionUs: { p50: pct(dec, 50), p90: pct(dec, 90) } } : {}),
      });
    } catch (e) {
      rows.push({ contender: k.id, label: k.label, error: (e as Error).message.slice(0, 2000) });
    } finally {
      await inst?.stop();
      await fleet.stop();
    }
  }
  const direct = rows.find((r) => r.contender === "direct-pd")?.idleTtftP50Ms as number | undefined;
  for (const r of rows)
    if (direct !== undefined && typeof r.idleTtftP50Ms === "number" && r.contender !== "direct-pd")
      r.addedLatencyMs = r1((r.idleTtftP50Ms as number) - direct);
  const result = { config: c, rows };
  if (c.outDir) {
    writeFileSync(join(c.outDir, "pd.json"), JSON.stringify(result, null, 1));
    writeFileSync(join(c.outDir, "pd-ttft.svg"), ttftSvg(rows));
  }
  return result;
}

/** TTFT p50 and p90 per contender, as bars. */
function ttftSvg(rows: Record<string, unknown>[]): string {
  const data = rows.filter((r) => r.ttftMs) as { label: string; ttftMs: { p50: number; p90: number } }[];
  const max = Math.max(1, ...data.map((d) => d.ttftMs.p90));
  const w = 760;
  const rowH = 34;
  const left = 300;
  const h = 40 + data.length * rowH + 20;
  const scale = (v: number) => ((w - left - 60) * v) / max;
  const bars = data
    .map((d, i) => {
      const y = 40 + i * rowH;
      return [
        `<text x="${left - 8}" y="${y + 14}" text-anchor="end" font-size="12">${d.label}</text>`,
        `<rect x="${left}" y="${y}" width="${scale(d.ttftMs.p90)}" height="10" fill="#f4a582"/>`,
        `<rect x="${left}" y="${y + 12}" width="${scale(d.ttftMs.p50)}" height="10" fill="#2166ac"/>`,
        `<text x="${left + scale(d.ttftMs.p90) + 4}" y="${y + 10}" font-size="11">p90 ${d.ttftMs.p90} ms</text>`,
        `<text x="${left + scale(d.ttftMs.p50) + 4}" y="${y + 22}" font-size="11">p50 ${d.ttftMs.p50} ms</text>`,
      ].join("");
    })
    .join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif"><text x="10" y="20" font-size="14">P/D: time to first token, multi-turn shared-prefix conversations (2 prefill + 2 decode SGLang sim pods)</text>${bars}</svg>`;
}

/** The scenario's sizes for `make bench` (full) and `make bench QUICK=1`. */
export function pdConfig(quick: boolean, seed: number): PdConfig {
  return {
    prefill: 2,
    decode: 2,
    systemPrompts: quick ? 4 : 8,
    usersPerPrompt: quick ? 3 : 4,
    turns: quick ? 3 : 5,
    systemWords: 900,
    userWords: 30,
    maxTokens: 16,
    thinkMs: 500,
    rampMs: quick ? 4000 : 8000,
    overheadRequests: quick ? 20 : 60,
    seed,
  };
}
