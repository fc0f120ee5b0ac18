// One simulated model-server pod: the OpenAI-compatible HTTP API of vLLM / SGLang / Triton's
// OpenAI frontend in front of the batching engine (engine.ts) and prefix KV cache (kv-cache.ts).
//
// Run as a process (one per pod):
//   node build/js/test/sim/server.js --name pod-a --port 0 --runtime vllm
// prints one JSON line {"name","address","port","url","pid","runtime","role","bootstrapPort"} on
// stdout once listening, and exits cleanly on SIGTERM / SIGINT. Or in-process:
//   const pod = await startSimServer(simConfig({ name: "pod-a", port: 0 }));  ...  await pod.stop();
//
// Endpoints:
//   POST /v1/chat/completions, POST /v1/completions   (stream or not; usage as the runtime writes it)
//   GET  /v1/models
//   GET  /health, /health_generate (SGLang), /v2/health/ready, /v2/health/live (Triton)
//   GET  /metrics                                       (names of --runtime; see metrics.ts)
//   GET  /debug/requests[?since=SEQ&limit=N], DELETE /debug/requests   (what this pod served)
//   GET  /debug/state                                   (queue, running, KV blocks, hits)
//   GET|POST|PUT|DELETE /admin/faults, POST /admin/reset (see faults.ts)
//   POST /reset_prefix_cache (vllm), GET|POST /flush_cache (sglang)   (the engines' cache resets)
// Every response carries `x-sim-pod: <name>`.

import http from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { parseSimArgs, type SimConfig, simConfig } from "./config.js";
import { Engine, type FinishReason, type Sequence } from "./engine.js";
import { closeAfterTokens, type Faults, makeRng, mergeFaults, noFaults } from "./faults.js";
import { SimMetrics } from "./metrics.js";
import { awaitHandover, BootstrapServer, HandoverError } from "./pd.js";
import { type ChatMessage, encode, outputText, outputToken, renderChat } from "./tokens.js";
import { type StreamOptions, WireFormat } from "./wire-format.js";

export { parseSimArgs, type SimConfig, simConfig };

/** One line of /debug/requests. */
export interface RequestRecord {
  seq: number;
  id: string;
  pod: string;
  path: string;
  model: string | null;
  adapter: string | null;
  stream: boolean;
  status: number;
  /** served | error | hang | aborted | closed (fault) */
  outcome: string;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  finishReason: string | null;
  bootstrapRoom: string | null;
  role: string;
  arrivedAt: number;
  queueMs: number | null;
  ttftMs: number | null;
  e2eMs: number | null;
  error?: string;
  headers: Record<string, string>;
}

export interface SimServer {
  readonly config: SimConfig;
  readonly port: number;
  readonly address: string;
  readonly url: string;
  readonly bootstrapPort: number | null;
  readonly engine: Engine;
  stop(): Promise<void>;
}

const MAX_BODY = 64 * 1024 * 1024;

class HttpError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  constructor(status: number, message: string, param: string | null = null) {
    super(message);
    this.status = status;
    this.param = param;
    this.type =
      status === 404
        ? "NotFoundError"
        : status === 429
          ? "RateLimitError"
          : status >= 500
            ? "InternalServerError"
            : "BadRequestError";
  }
}

function errorBody(status: number, message: string, type?: string, param: string | null = null): string {
  // The shape of current vLLM / SGLang / OpenAI errors: {"error": {message, type, param, code}}.
  return JSON.stringify({
    error: {
      message,
      type:
        type ??
        (status === 404
          ? "NotFoundError"
          : status === 429
            ? "RateLimitError"
            : status >= 500
              ? "InternalServerError"
              : "BadRequestError"),
      param,
      code: status,
    },
  });
}

interface ParsedRequest {
  kind: "chat" | "completion";
  model: string;
  adapter: string | null;
  promptTokens: number[];
  maxTokens: number;
  maxTokensSet: boolean;
  stream: boolean;
  streamOptions: StreamOptions;
  bootstrap: { host: string; port: number; room: string } | null;
}

function textOfContent(c: unknown, i: number): string {
  if (c === null || c === undefined) return "";
  if (typeof c === "string") return c;
  if (Array.isArray(c)) {
    let s = "";
    for (const part of c) {
      if (typeof part !== "object" || part === null)
        throw new HttpError(400, `messages[${i}].content: parts must be objects`, "messages");
      const p = part as Record<string, unknown>;
      if (p.type === "text" && typeof p.text === "string") s += p.text;
      else
        throw new HttpError(400, `messages[${i}].content: only text parts are supported by the simulator`, "messages");
    }
    return s;
  }
  throw new HttpError(400, `messages[${i}].content must be a string or an array of parts`, "messages");
}

export async function startSimServer(cfg: SimConfig): Promise<SimServer> {
  const engine = new Engine({
    maxNumSeqs: cfg.maxNumSeqs,
    maxNumBatchedTokens: cfg.maxNumBatchedTokens,
    blockSize: cfg.blockSize,
    kvBlocks: cfg.kvBlocks,
    prefillOverheadMs: cfg.prefillOverheadMs,
    prefillTimePerTokenMs: cfg.prefillTimePerTokenMs,
    interTokenLatencyMs: cfg.interTokenLatencyMs,
    decodeTimePerSeqMs: cfg.decodeTimePerSeqMs,
    maxLoras: cfg.maxLoras,
  });
  const wire = new WireFormat(cfg.runtime, cfg.enablePromptTokensDetails || cfg.enableCacheReport);
  let faults: Faults = { ...cfg.faults };
  const rng = makeRng(cfg.seed);
  const adapters = new Set(cfg.loraModules);
  const baseNames = new Set(cfg.servedModelNames.length ? cfg.servedModelNames : [cfg.model]);
  const primaryName = [...baseNames][0];
  const podHeader = { "x-sim-pod": cfg.name };
  const jsonHeaders = { "content-type": "application/json", "x-sim-pod": cfg.name };
  const pdStats = { decodeTransferQueue: 0, bootstrapFailed: 0, transferFailed: 0, transferLatencyMs: 0 };
  let failures = 0;
  // Requests whose body has been read (before any latency fault): lets a test see that a request
  // reached this pod while it is still being held, which no completion log can show.
  let arrived = 0;
  const bootstrap = cfg.role === "prefill" && cfg.bootstrapPort >= 0 ? new BootstrapServer(cfg.name) : null;
  const metrics = new SimMetrics({
    runtime: cfg.runtime,
    engine,
    servedModelName: primaryName,
    loraEnabled: adapters.size > 0,
    maxLoras: cfg.maxLoras,
    maxModelLen: cfg.maxModelLen,
    engineType: cfg.role === "both" ? "unified" : cfg.role,
    pd: () => ({ prefillInflight: bootstrap?.inflight ?? 0, ...pdStats }),
    failures: () => failures,
  });

  // /debug/requests ring
  const log: RequestRecord[] = [];
  let nextSeq = 1;
  let idCounter = 0;
  const record = (r: RequestRecord) => {
    if (cfg.requestLogSize <= 0) return;
    log.push(r);
    if (log.length > cfg.requestLogSize) log.splice(0, log.length - cfg.requestLogSize);
  };
  // connections held open by the hang fault; closed on stop/reset
  const hung = new Set<http.ServerResponse>();
  const liveSeqs = new Set<Sequence>();
  const aborters = new Set<AbortController>();

  function parseInference(kind: "chat" | "completion", body: unknown): ParsedRequest {
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new HttpError(400, "request body must be a JSON object");
    const b = body as Record<string, unknown>;
    if (typeof b.model !== "string" || b.model === "")
      throw new HttpError(400, "`model` must be a non-empty string", "model");
    let adapter: string | null = null;
    if (!baseNames.has(b.model)) {
      if (adapters.has(b.model)) adapter = b.model;
      else throw new HttpError(404, `The model \`${b.model}\` does not exist.`, "model");
    }
    let text: string | null = null;
    let ids: number[] | null = null;
    if (kind === "chat") {
      if (!Array.isArray(b.messages) || b.messages.length === 0)
        throw new HttpError(400, "`messages` must be a non-empty array", "messages");
      const msgs: ChatMessage[] = [];
      b.messages.forEach((m: unknown, i: number) => {
        if (typeof m !== "object" || m === null)
          throw new HttpError(400, `messages[${i}] must be an object`, "messages");
        const mm = m as Record<string, unknown>;
        if (typeof mm.role !== "string") throw new HttpError(400, `messages[${i}].role must be a string`, "messages");
        msgs.push({ role: mm.role, content: textOfContent(mm.content, i) });
      });
      text = renderChat(msgs);
    } else {
      let p = b.prompt;
      if (Array.isArray(p) && p.length === 1 && (typeof p[0] === "string" || Array.isArray(p[0]))) p = p[0];
      if (typeof p === "string") text = p;
      else if (Array.isArray(p) && p.length > 0 && p.every((t) => Number.isInteger(t) && (t as number) >= 0))
        ids = p as number[];
      else if (Array.isArray(p) && p.length > 1)
        throw new HttpError(400, "the simulator serves one prompt per request", "prompt");
      else throw new HttpError(400, "`prompt` must be a string or an array of token ids", "prompt");
    }
    const promptTokens = ids ?? encode(text ?? "");
    if (promptTokens.length === 0)
      throw new HttpError(400, "the prompt is empty", kind === "chat" ? "messages" : "prompt");
    const mt = b.max_completion_tokens ?? b.max_tokens;
    let maxTokens = cfg.outputLen;
    const maxTokensSet = mt !== undefined && mt !== null;
    if (maxTokensSet) {
      if (typeof mt !== "number" || !Number.isInteger(mt) || mt < 1)
        throw new HttpError(400, "`max_tokens` must be an integer >= 1", "max_tokens");
      maxTokens = mt;
    } else {
      maxTokens = Math.max(1, Math.min(cfg.outputLen, cfg.maxModelLen - promptTokens.length));
    }
    if (promptTokens.length + maxTokens > cfg.maxModelLen) {
      throw new HttpError(
        400,
        `This model's maximum context length is ${cfg.maxModelLen} tokens. However, you requested ${promptTokens.length + maxTokens} tokens (${promptTokens.length} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`,
        "messages",
      );
    }
    if (!engine.fits(promptTokens.length, maxTokens)) {
      throw new HttpError(
        400,
        `request needs ${Math.ceil((promptTokens.length + maxTokens) / cfg.blockSize)} KV blocks; this server has ${cfg.kvBlocks}`,
        "max_tokens",
      );
    }
    if (b.stream !== undefined && b.stream !== null && typeof b.stream !== "boolean")
      throw new HttpError(400, "`stream` must be a boolean", "stream");
    const stream = b.stream === true;
    const streamOptions: StreamOptions = { includeUsage: false, continuousUsageStats: false };
    if (b.stream_options !== undefined && b.stream_options !== null) {
      if (!stream) throw new HttpError(400, "Stream options can only be defined when `stream=True`.", "stream_options");
      if (typeof b.stream_options !== "object" || Array.isArray(b.stream_options))
        throw new HttpError(400, "`stream_options` must be an object", "stream_options");
      const so = b.stream_options as Record<string, unknown>;
      for (const k of ["include_usage", "continuous_usage_stats"] as const)
        if (so[k] !== undefined && so[k] !== null && typeof so[k] !== "boolean")
          throw new HttpError(400, `\`stream_options.${k}\` must be a boolean`, "stream_options");
      streamOptions.includeUsage = so.include_usage === true;
      streamOptions.continuousUsageStats = so.continuous_usage_stats === true;
    }
    if (b.n !== undefined && b.n !== null && b.n !== 1)
      throw new HttpError(400, "the simulator supports only n = 1", "n");
    let bootstrapInfo: ParsedRequest["bootstrap"] = null;
    const hasPd = b.bootstrap_room !== undefined || b.bootstrap_host !== undefined || b.bootstrap_port !== undefined;
    if (hasPd && cfg.role !== "both") {
      const room = b.bootstrap_room;
      if (!((typeof room === "number" && Number.isInteger(room)) || (typeof room === "string" && /^\d+$/.test(room)))) {
        throw new HttpError(400, "`bootstrap_room` must be an integer", "bootstrap_room");
      }
      const port = b.bootstrap_port;
      const host = b.bootstrap_host;
      if (cfg.role === "decode") {
        if (typeof host !== "string" || host === "")
          throw new HttpError(400, "`bootstrap_host` must be a string", "bootstrap_host");
        if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535)
          throw new HttpError(400, "`bootstrap_port` must be a port number", "bootstrap_port");
      }
      bootstrapInfo = {
        host: typeof host === "string" ? host : "",
        port: typeof port === "number" ? port : 0,
        room: String(room),
      };
    }
    if (cfg.role === "decode" && !bootstrapInfo) {
      throw new HttpError(
        400,
        "this server runs in decode mode (--role decode): requests need bootstrap_host, bootstrap_port and bootstrap_room",
        "bootstrap_room",
      );
    }
    return {
      kind,
      model: b.model,
      adapter,
      promptTokens,
      maxTokens,
      maxTokensSet,
      stream,
      streamOptions,
      bootstrap: bootstrapInfo,
    };
  }

  function readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(new HttpError(413, "request body too large"));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on("end", () =>
        resolve(chunks.length === 1 ? chunks[0].toString("utf8") : Buffer.concat(chunks).toString("utf8")),
      );
      req.on("error", reject);
    });
  }

  function sendJson(res: http.ServerResponse, status: number, body: string, extra?: Record<string, string>): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, extra ? { ...jsonHeaders, ...extra } : jsonHeaders);
    res.end(body);
  }

  function pickHeaders(req: http.IncomingMessage): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (k.startsWith("x-") && typeof v === "string") out[k] = v;
    return out;
  }

  async function handleInference(
    kind: "chat" | "completion",
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
  ): Promise<void> {
    const t0 = performance.now();
    const rec: RequestRecord = {
      seq: nextSeq++,
      id:
        (typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"]) ||
        `${cfg.name}-${++idCounter}`,
      pod: cfg.name,
      path,
      model: null,
      adapter: null,
      stream: false,
      status: 0,
      outcome: "served",
      promptTokens: 0,
      cachedTokens: 0,
      completionTokens: 0,
      finishReason: null,
      bootstrapRoom: null,
      role: cfg.role,
      arrivedAt: Date.now(),
      queueMs: null,
      ttftMs: null,
      e2eMs: null,
      headers: pickHeaders(req),
    };
    const fail = (e: unknown) => {
      const he = e instanceof HttpError ? e : new HttpError(500, (e as Error)?.message ?? String(e));
      rec.status = he.status;
      rec.outcome = "error";
      rec.error = he.message;
      rec.e2eMs = performance.now() - t0;
      if (he.status >= 500) failures++;
      sendJson(res, he.status, errorBody(he.status, he.message, he.type, he.param));
      record(rec);
    };
    // The client may go away while we wait (latency fault, P/D hand-over): then serve nothing.
    let clientGone = false;
    res.once("close", () => {
      clientGone = true;
    });
    let raw: string;
    try {
      raw = await readBody(req);
    } catch (e) {
      fail(e);
      return;
    }
    arrived++;
    const f = faults;
    if (f.latencyMs > 0) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (clientGone) return;
    if (f.hang) {
      rec.outcome = "hang";
      record(rec);
      hung.add(res);
      res.on("close", () => hung.delete(res));
      return;
    }
    if (f.errorRate > 0 && rng() < f.errorRate) {
      const status = f.errorStatus;
      fail(new HttpError(status, `injected fault: error ${status} from ${cfg.name}`));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
      keepExactRoom(body, raw);
    } catch {
      fail(new HttpError(400, "request body is not valid JSON"));
      return;
    }
    let p: ParsedRequest;
    try {
      p = parseInference(kind, body);
    } catch (e) {
      if (typeof body === "object" && body !== null && typeof (body as { model?: unknown }).model === "string")
        rec.model = (body as { model: string }).model;
      fail(e);
      return;
    }
    rec.model = p.model;
    rec.adapter = p.adapter;
    rec.stream = p.stream;
    rec.promptTokens = p.promptTokens.length;
    rec.bootstrapRoom = p.bootstrap?.room ?? null;

    // P/D decode: wait for the room's KV before anything is sent.
    let skipPrefill = false;
    if (p.bootstrap && cfg.role === "decode") {
      const ac = new AbortController();
      aborters.add(ac);
      const onClose = () => ac.abort();
      res.on("close", onClose);
      pdStats.decodeTransferQueue++;
      const tw = performance.now();
      try {
        const h = await awaitHandover(
          p.bootstrap.host,
          p.bootstrap.port,
          p.bootstrap.room,
          cfg.bootstrapTimeoutMs,
          ac.signal,
        );
        engine.kv.insertCached(h.blockHashes);
        pdStats.transferLatencyMs = performance.now() - tw;
        skipPrefill = true;
      } catch (e) {
        if (ac.signal.aborted) {
          rec.outcome = "aborted";
          record(rec);
          return;
        }
        if (e instanceof HandoverError && e.kind === "bootstrap") pdStats.bootstrapFailed++;
        else pdStats.transferFailed++;
        fail(new HttpError(500, (e as Error).message));
        return;
      } finally {
        pdStats.decodeTransferQueue--;
        aborters.delete(ac);
        res.off("close", onClose);
      }
    }
    if (clientGone) {
      rec.outcome = "aborted";
      record(rec);
      return;
    }
    const prefillRoom = p.bootstrap && cfg.role === "prefill" ? p.bootstrap.room : null;
    // The prefill half of a P/D pair finishes with its first token, as SGLang's prefill server does.
    const maxTokens = prefillRoom !== null ? 1 : p.maxTokens;
    if (prefillRoom !== null) bootstrap?.begin(prefillRoom);

    const id = (p.kind === "chat" ? "chatcmpl-" : "cmpl-") + rec.id;
    const created = Math.floor(Date.now() / 1000);
    const cutAfter = closeAfterTokens(f);
    let sent = 0;
    let firstAt = -1;
    const counts = (s: Sequence) => ({ prompt: s.promptLen, completion: s.generated, cached: s.hitTokens });
    const finishRecord = (s: Sequence, reason: string, outcome: string) => {
      rec.cachedTokens = s.hitTokens;
      rec.completionTokens = s.generated;
      rec.finishReason = reason;
      rec.outcome = outcome;
      rec.queueMs = s.times.admitted >= 0 ? s.times.admitted - s.times.arrival : null;
      rec.ttftMs = firstAt >= 0 ? firstAt - t0 : null;
      rec.e2eMs = performance.now() - t0;
      record(rec);
    };
    const handOver = (s: Sequence) => {
      if (prefillRoom === null || !bootstrap) return;
      const h = {
        room: prefillRoom,
        prefillPod: cfg.name,
        promptTokens: s.promptLen,
        blockHashes: s.promptBlockHashes(),
      };
      if (cfg.kvTransferMs > 0) setTimeout(() => bootstrap.complete(h), cfg.kvTransferMs);
      else bootstrap.complete(h);
    };

    /** Submits to the engine (first token hands over P/D KV) and cleans up if the client leaves. */
    const run = (onToken: (s: Sequence, i: number) => void, onFinish: (s: Sequence, reason: FinishReason) => void) => {
      const seq = engine.submit({
        id: rec.id,
        promptTokens: p.promptTokens,
        maxTokens,
        adapter: p.adapter,
        finishReason: p.maxTokensSet || prefillRoom !== null ? "length" : "stop",
        skipPrefill,
        handlers: {
          onToken: (s, i) => {
            if (i === 0) {
              firstAt = performance.now();
              handOver(s);
            }
            onToken(s, i);
          },
          onFinish,
        },
      });
      liveSeqs.add(seq);
      res.on("close", () => {
        if (seq.state !== "finished") {
          liveSeqs.delete(seq);
          engine.abort(seq);
          if (prefillRoom !== null) bootstrap?.fail(prefillRoom);
          finishRecord(seq, "abort", "aborted");
        }
      });
    };

    if (p.stream) {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", ...podHeader });
      rec.status = 200;
      const su = wire.streamUsage(p.streamOptions);
      const object = p.kind === "chat" ? "chat.completion.chunk" : "text_completion";
      const sse = (choices: unknown[], extra?: Record<string, unknown>) =>
        `data: ${JSON.stringify({ id, object, created, model: p.model, choices, ...extra })}\n\n`;
      /** usage (continuous stats) or its absence, as this runtime writes a chunk */
      const chunkUsage = (completion: number) =>
        su.continuous
          ? { usage: wire.continuousUsage(p.kind, p.promptTokens.length, completion) }
          : wire.chunkUsageWhenNone(p.kind);
      const extras = wire.choiceExtras(p.kind);
      const ownFinishChunk = wire.finishInOwnChunk(p.kind);
      if (p.kind === "chat")
        res.write(
          sse(
            [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null, ...extras }],
            su.continuous && wire.continuousUsageOnRoleChunk ? chunkUsage(0) : undefined,
          ),
        );
      run(
        (s, i) => {
          const last = s.generated >= s.maxTokens;
          const reason = last && !ownFinishChunk ? s.finishReason : null;
          const tok = outputToken(i);
          const choice =
            p.kind === "chat"
              ? { index: 0, delta: { content: tok }, logprobs: null, finish_reason: reason, ...extras }
              : { index: 0, text: tok, logprobs: null, finish_reason: reason, ...extras };
          const data = sse([choice], chunkUsage(s.generated));
          sent++;
          if (cutAfter >= 0 && sent >= cutAfter && !last) {
            // fault: the connection drops mid-stream (after this chunk is flushed): no final
            // chunk, no [DONE]
            liveSeqs.delete(s);
            engine.abort(s);
            finishRecord(s, "abort", "closed");
            res.write(data, () => res.destroy());
            return;
          }
          res.write(data);
        },
        (s, reason) => {
          liveSeqs.delete(s);
          if (ownFinishChunk)
            res.write(sse([{ index: 0, delta: {}, logprobs: null, finish_reason: reason, ...extras }]));
          if (su.final) res.write(sse([], { usage: wire.finalChunkUsage(p.kind, counts(s)) }));
          res.end("data: [DONE]\n\n");
          finishRecord(s, reason, "served");
        },
      );
      return;
    }

    run(
      () => {},
      (s, reason: FinishReason) => {
        liveSeqs.delete(s);
        const text = outputText(s.generated);
        const choice =
          p.kind === "chat"
            ? { index: 0, message: { role: "assistant", content: text }, logprobs: null, finish_reason: reason }
            : { index: 0, text, logprobs: null, finish_reason: reason, stop_reason: null };
        const out = JSON.stringify({
          id,
          object: p.kind === "chat" ? "chat.completion" : "text_completion",
          created,
          model: p.model,
          choices: [choice],
          usage: wire.responseUsage(counts(s)),
        });
        rec.status = 200;
        if (cutAfter >= 0) {
          // fault: announce the full body, send half of it, drop the connection
          const buf = Buffer.from(out);
          res.writeHead(200, { ...jsonHeaders, "content-length": String(buf.length) });
          finishRecord(s, reason, "closed");
          res.write(buf.subarray(0, buf.length >> 1), () => res.destroy());
          return;
        }
        sendJson(res, 200, out);
        finishRecord(s, reason, "served");
      },
    );
  }

  function healthy(res: http.ServerResponse): void {
    if (faults.healthDown) sendJson(res, 503, errorBody(503, `injected fault: ${cfg.name} unhealthy`));
    else {
      res.writeHead(200, podHeader);
      res.end();
    }
  }

  function models(): string {
    const data: unknown[] = [...baseNames].map((n) => ({
      id: n,
      object: "model",
      created: 0,
      owned_by: cfg.runtime,
      root: cfg.model,
      parent: null,
      max_model_len: cfg.maxModelLen,
      permission: [],
    }));
    for (const a of adapters)
      data.push({
        id: a,
        object: "model",
        created: 0,
        owned_by: cfg.runtime,
        root: a,
        parent: primaryName,
        max_model_len: cfg.maxModelLen,
        permission: [],
      });
    return JSON.stringify({ object: "list", data });
  }

  function state(): string {
    const kv = engine.kv;
    return JSON.stringify({
      name: cfg.name,
      runtime: cfg.runtime,
      role: cfg.role,
      arrived,
      running: engine.running.length,
      waiting: engine.waiting.length,
      runningAdapters: [...engine.runningAdapters()],
      waitingAdapters: [...engine.waitingAdapters()],
      kv: {
        capacity: kv.capacity,
        blockSize: kv.blockSize,
        used: kv.usedBlocks,
        cachedFree: kv.cachedFreeBlocks,
        usage: kv.usage,
        evicted: kv.evictedBlocksTotal,
      },
      prefixCache: { queriesTokens: kv.queriesTokens, hitsTokens: kv.hitsTokens },
      counters: engine.counters,
      faults,
    });
  }

  function reset(): void {
    engine.resetCounters();
    metrics.reset();
    log.length = 0;
    failures = 0;
    pdStats.bootstrapFailed = pdStats.transferFailed = 0;
    for (const r of hung) r.destroy();
    hung.clear();
    bootstrap?.clear();
  }

  /** vLLM's POST /reset_prefix_cache[?reset_running_requests=true] (vllm/entrypoints/serve/cache/
   *  api_router.py; vLLM mounts it only with VLLM_SERVER_DEV_MODE=1, we always do). It answers 200
   *  with no body whether or not the reset happened: with running requests holding blocks the
   *  block pool refuses (logs "Failed to reset prefix cache because some blocks are not freed
   *  yet"), unless reset_running_requests preempts them first. */
  function resetPrefixCache(url: string, res: http.ServerResponse): void {
    const q = new URL(url, "http://x").searchParams;
    const preempt = q.get("reset_running_requests") === "true";
    const ok = engine.resetPrefixCache(preempt);
    if (!ok) process.stderr.write(`${cfg.name}: failed to reset prefix cache because some blocks are not freed yet\n`);
    res.writeHead(200, { ...podHeader, "content-length": "0" });
    res.end();
  }

  /** SGLang's GET|POST /flush_cache[?timeout=SECONDS] (python/sglang/srt/entrypoints/http_server.py):
   *  flushes only when no request is running or waiting (waiting up to `timeout` for that); 200 or
   *  400 with SGLang's plain-text message. */
  async function flushCache(url: string, res: http.ServerResponse): Promise<void> {
    const t = Number(new URL(url, "http://x").searchParams.get("timeout") ?? "0");
    if (!Number.isFinite(t) || t < 0) return sendJson(res, 400, errorBody(400, "timeout must be a number >= 0"));
    const deadline = performance.now() + t * 1000;
    while (!engine.idle && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const ok = engine.idle && engine.resetPrefixCache(false);
    res.writeHead(ok ? 200 : 400, { ...podHeader, "content-type": "text/plain; charset=utf-8" });
    res.end(
      ok
        ? "Cache flushed.\nPlease check backend logs for more details. (When there are running or waiting requests, the operation will not be performed.)\n"
        : "Flush cache failed.\n",
    );
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q >= 0 ? url.slice(0, q) : url;
    const method = req.method ?? "GET";
    try {
      if (method === "POST" && path === "/v1/chat/completions") return await handleInference("chat", req, res, path);
      if (method === "POST" && path === "/v1/completions") return await handleInference("completion", req, res, path);
      if (method === "GET" || method === "HEAD") {
        switch (path) {
          case "/health":
          case "/health_generate":
          case "/v2/health/ready":
          case "/v2/health/live":
            return healthy(res);
          case "/metrics": {
            const f = faults;
            if (f.metricsDelayMs > 0) await new Promise((r) => setTimeout(r, f.metricsDelayMs));
            if (f.metricsDown === "reset") {
              res.destroy();
              return;
            }
            if (f.metricsDown) return sendJson(res, 503, errorBody(503, `injected fault: ${cfg.name} metrics down`));
            res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", ...podHeader });
            res.end(metrics.render());
            return;
          }
          case "/v1/models":
            return sendJson(res, 200, models());
          case "/debug/requests": {
            const sp = new URL(url, "http://x").searchParams;
            const since = Number(sp.get("since") ?? "0") || 0;
            const limit = Number(sp.get("limit") ?? "0") || 0;
            let out = since > 0 ? log.filter((r) => r.seq > since) : log;
            if (limit > 0 && out.length > limit) out = out.slice(out.length - limit);
            return sendJson(res, 200, JSON.stringify({ pod: cfg.name, requests: out }));
          }
          case "/debug/state":
            return sendJson(res, 200, state());
          case "/admin/faults":
            return sendJson(res, 200, JSON.stringify(faults));
        }
      }
      if (path === "/debug/requests" && method === "DELETE") {
        log.length = 0;
        res.writeHead(204, podHeader).end();
        return;
      }
      if (path === "/admin/faults" && (method === "POST" || method === "PUT" || method === "DELETE")) {
        if (method === "DELETE") {
          faults = noFaults();
          for (const r of hung) r.destroy();
          hung.clear();
          return sendJson(res, 200, JSON.stringify(faults));
        }
        const raw = await readBody(req);
        let patch: unknown;
        try {
          patch = raw.trim() === "" ? {} : JSON.parse(raw);
        } catch {
          return sendJson(res, 400, errorBody(400, "faults: body is not valid JSON"));
        }
        const merged = mergeFaults(method === "PUT" ? noFaults() : faults, patch);
        if (typeof merged === "string") return sendJson(res, 400, errorBody(400, merged));
        faults = merged;
        if (!faults.hang) {
          for (const r of hung) r.destroy();
          hung.clear();
        }
        return sendJson(res, 200, JSON.stringify(faults));
      }
      if (path === "/admin/reset" && method === "POST") {
        await readBody(req);
        reset();
        return sendJson(res, 200, state());
      }
      // The engines' own prefix-cache resets (each runtime has only its own).
      if (path === "/reset_prefix_cache" && cfg.runtime === "vllm" && method === "POST") {
        await readBody(req);
        return resetPrefixCache(url, res);
      }
      if (path === "/flush_cache" && cfg.runtime === "sglang" && (method === "POST" || method === "GET")) {
        await readBody(req);
        return await flushCache(url, res);
      }
      const known = [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
        "/health",
        "/health_generate",
        "/metrics",
        "/debug/requests",
        "/debug/state",
        "/admin/faults",
        "/admin/reset",
        ...(cfg.runtime === "vllm" ? ["/reset_prefix_cache"] : []),
        ...(cfg.runtime === "sglang" ? ["/flush_cache"] : []),
        "/v2/health/ready",
        "/v2/health/live",
      ];
      if (known.includes(path)) return sendJson(res, 405, errorBody(405, `method ${method} not allowed on ${path}`));
      sendJson(res, 404, errorBody(404, `no route ${method} ${path}`));
    } catch (e) {
      const he = e instanceof HttpError ? e : new HttpError(500, (e as Error)?.message ?? String(e));
      sendJson(res, he.status, errorBody(he.status, he.message, he.type));
    }
  }

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    void handle(req, res);
  });
  server.headersTimeout = 66_000;
  server.requestTimeout = 0; // streams and hang faults can be long
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.port, cfg.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let bootstrapPort: number | null = null;
  if (bootstrap) bootstrapPort = await bootstrap.listen(cfg.bootstrapPort, cfg.host);

  const host = cfg.host.includes(":") ? `[${cfg.host}]` : cfg.host;
  let stopped: Promise<void> | null = null;
  return {
    config: cfg,
    port,
    address: `${host}:${port}`,
    url: `http://${host}:${port}`,
    bootstrapPort,
    engine,
    stop() {
      if (stopped) return stopped;
      stopped = (async () => {
        engine.stop();
        for (const ac of aborters) ac.abort();
        for (const s of liveSeqs) engine.abort(s);
        for (const r of hung) r.destroy();
        await bootstrap?.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return stopped;
    },
  };
}

// ---- process entry point ----------------------------------------------------------------------

async function main(): Promise<void> {
  let cfg: SimConfig;
  try {
    cfg = parseSimArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(2);
  }
  const pod = await startSimServer(cfg);
  process.stdout.write(
    `${JSON.stringify({
      name: cfg.name,
      address: pod.address,
      port: pod.port,
      url: pod.url,
      pid: process.pid,
      runtime: cfg.runtime,
      role: cfg.role,
      bootstrapPort: pod.bootstrapPort,
      adapters: cfg.loraModules,
    })}\n`,
  );
  let exiting = false;
  const exit = () => {
    if (exiting) return;
    exiting = true;
    const force = setTimeout(() => process.exit(0), 2_000);
    force.unref();
    void pod.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", exit);
  process.on("SIGINT", exit);
  // Started by the fleet launcher: it holds our stdin open, so when it dies (even by SIGKILL) our
  // stdin ends and we do not outlive it.
  if (process.env.INFERGATE_SIM_EXIT_ON_STDIN_END === "1") {
    process.stdin.on("end", exit);
    process.stdin.on("error", exit);
    process.stdin.resume();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) void main();

/**
 * SGLang reads bodies with Python's json, where a bootstrap_room is an exact integer (routers draw
 * 63-bit rooms); JSON.parse would round one past 2^53. The room is kept as the body's digits (the
 * last bootstrap_room key, as JSON.parse keeps the last duplicate), so the pod's records name the
 * room the router sent.
 */
function keepExactRoom(body: unknown, raw: string): void {
  if (typeof body !== "object" || body === null) return;
  const b = body as Record<string, unknown>;
  if (typeof b.bootstrap_room !== "number" || Number.isSafeInteger(b.bootstrap_room)) return;
  const all = [...raw.matchAll(/"bootstrap_room"\s*:\s*(\d+)\s*[,}]/g)];
  if (all.length > 0) b.bootstrap_room = all[all.length - 1][1];
}
