// The scheduler and timing model of one simulated pod: continuous batching as vLLM v1 and SGLang
// do it, reduced to what changes routing outcomes.
//
// Time advances in engine steps (one forward pass each). Every step:
//  1. running requests that finished prefill decode one token each (1 token of budget each);
//  2. running requests still prefilling take prompt tokens from the step's token budget
//     (--max-num-batched-tokens; a long prompt is prefilled in chunks over several steps);
//  3. waiting requests are admitted first-come-first-served while there is budget, fewer than
//     --max-num-seqs are running, the KV cache has room for the request (prompt + max output,
//     counting evictable cached blocks as room) and, for a LoRA request, its adapter is already
//     in the batch or fewer than --max-loras adapters are (otherwise it is skipped, as vLLM does).
//     An admitted request looks up its prompt's prefix in the KV cache: cached blocks are not
//     prefilled. A request whose KV cannot fit blocks the queue head (no preemption modelled).
//  The step lasts
//     (any prefill ? prefill overhead : 0) + prefilled tokens x prefill time per token
//     + (any decode ? inter-token latency + decode time per extra sequence x (decoders - 1) : 0)
//  and at its end prefills that completed emit their first token and decoders emit one token.
//
// So a lone request sees TTFT = overhead + uncached prompt tokens x per-token prefill time, a
// request behind a full batch also waits in the queue, and inter-token latency grows with the
// batch. Timers are scheduled against the planned end of the previous step, so lateness of the
// Node event loop does not accumulate over a long generation.

import { blockHashes, type KvAllocation, PrefixKvCache } from "./kv-cache.js";

export interface EngineConfig {
  /** max concurrently running sequences (vLLM --max-num-seqs, SGLang --max-running-requests) */
  maxNumSeqs: number;
  /** token budget of one step (vLLM --max-num-batched-tokens) */
  maxNumBatchedTokens: number;
  /** tokens per KV block */
  blockSize: number;
  /** KV cache capacity in blocks */
  kvBlocks: number;
  /** fixed cost of a step that contains prefill, ms */
  prefillOverheadMs: number;
  /** prefill cost per uncached prompt token, ms */
  prefillTimePerTokenMs: number;
  /** cost of a decode step with one sequence, ms */
  interTokenLatencyMs: number;
  /** extra decode-step cost per additional running sequence, ms */
  decodeTimePerSeqMs: number;
  /** max distinct LoRA adapters in one batch */
  maxLoras: number;
}

export interface SeqTimes {
  arrival: number;
  admitted: number;
  firstToken: number;
  finished: number;
}

export type FinishReason = "length" | "stop" | "abort";

export interface SeqHandlers {
  /** the i-th output token (0-based) is ready */
  onToken?(seq: Sequence, index: number): void;
  onFinish?(seq: Sequence, reason: FinishReason): void;
}

export interface SubmitOptions {
  id: string;
  promptTokens: number[];
  maxTokens: number;
  adapter: string | null;
  /** stop reason to report when maxTokens is reached ("length" if the client set max_tokens) */
  finishReason: "length" | "stop";
  /** KV for the whole prompt arrived from elsewhere (P/D decode): no prefill compute */
  skipPrefill?: boolean;
  handlers: SeqHandlers;
}

export class Sequence {
  readonly id: string;
  readonly promptTokens: number[];
  readonly promptLen: number;
  readonly maxTokens: number;
  readonly adapter: string | null;
  readonly finishReason: "length" | "stop";
  readonly skipPrefill: boolean;
  readonly hashes: number[];
  handlers: SeqHandlers;
  state: "waiting" | "running" | "finished" = "waiting";
  prefillRemaining = 0;
  generated = 0;
  hitTokens = 0;
  alloc: KvAllocation | null = null;
  times: SeqTimes;

  constructor(o: SubmitOptions, blockSize: number, now: number) {
    this.id = o.id;
    this.promptTokens = o.promptTokens;
    this.promptLen = o.promptTokens.length;
    this.maxTokens = Math.max(1, o.maxTokens);
    this.adapter = o.adapter;
    this.finishReason = o.finishReason;
    this.skipPrefill = !!o.skipPrefill;
    this.handlers = o.handlers;
    this.hashes = blockHashes(o.promptTokens, blockSize, o.adapter ?? "");
    this.times = { arrival: now, admitted: -1, firstToken: -1, finished: -1 };
  }
}

/** What happened in the last step; the metrics exporters read it. */
export interface StepStats {
  iteration: number;
  contextRequests: number;
  generationRequests: number;
  prefillTokens: number;
  hitTokens: number;
  queriedTokens: number;
}

/** Cumulative counters the metrics exporters read. */
export interface EngineCounters {
  promptTokens: number;
  generationTokens: number;
  finished: { length: number; stop: number; abort: number };
  requestsSubmitted: number;
  iterations: number;
}

/** Observations the exporters turn into histograms (seconds / token counts). */
export interface RequestObservation {
  ttft: number;
  e2e: number;
  queue: number;
  prefill: number;
  decode: number;
  inference: number;
  promptTokens: number;
  generationTokens: number;
  maxTokens: number;
  reason: FinishReason;
  /** mean time per output token after the first, seconds (absent if only one token) */
  tpot?: number;
}

export class Engine {
  readonly cfg: EngineConfig;
  readonly kv: PrefixKvCache;
  readonly waiting: Sequence[] = [];
  readonly running: Sequence[] = [];
  readonly counters: EngineCounters = {
    promptTokens: 0,
    generationTokens: 0,
    finished: { length: 0, stop: 0, abort: 0 },
    requestsSubmitted: 0,
    iterations: 0,
  };
  lastStep: StepStats = {
    iteration: 0,
    contextRequests: 0,
    generationRequests: 0,
    prefillTokens: 0,
    hitTokens: 0,
    queriedTokens: 0,
  };
  /** hit/queried tokens of the last step that admitted requests (SGLang's cache_hit_rate) */
  lastPrefillBatch = { hitTokens: 0, queriedTokens: 0 };
  /** finished requests' timing, for histograms; the metrics module drains it */
  onObservation: ((o: RequestObservation) => void) | null = null;

  private timer: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private plannedEnd = 0;
  private plan: { prefill: Array<[Sequence, number]>; decode: Sequence[] } | null = null;

  constructor(cfg: EngineConfig) {
    this.cfg = cfg;
    this.kv = new PrefixKvCache(cfg.kvBlocks, cfg.blockSize);
  }

  /** Adapters of running requests (for max-loras and vllm:lora_requests_info). */
  runningAdapters(): Set<string> {
    const s = new Set<string>();
    for (const q of this.running) if (q.adapter) s.add(q.adapter);
    return s;
  }
  waitingAdapters(): Set<string> {
    const s = new Set<string>();
    for (const q of this.waiting) if (q.adapter) s.add(q.adapter);
    return s;
  }

  /** Whether a request of this size could ever run here (else the server answers 400). */
  fits(promptLen: number, maxTokens: number): boolean {
    return this.kv.blocksFor(promptLen + maxTokens) <= this.cfg.kvBlocks;
  }

  submit(o: SubmitOptions): Sequence {
    const seq = new Sequence(o, this.cfg.blockSize, performance.now());
    this.counters.requestsSubmitted++;
    this.waiting.push(seq);
    this.kick();
    return seq;
  }

  /** Drops a request (client went away): frees its KV, no more callbacks. */
  abort(seq: Sequence): void {
    if (seq.state === "finished") return;
    if (seq.state === "waiting") {
      const i = this.waiting.indexOf(seq);
      if (i >= 0) this.waiting.splice(i, 1);
    } else {
      const i = this.running.indexOf(seq);
      if (i >= 0) this.running.splice(i, 1);
      if (seq.alloc) this.kv.release(seq.alloc);
    }
    seq.state = "finished";
    seq.times.finished = performance.now();
    this.counters.finished.abort++;
    seq.handlers = {};
    this.kick();
  }

  /** Stops the step loop (server shutdown). */
  stop(): void {
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    this.timer = null;
  }

  /** Clears the prefix cache and counters (running requests keep their blocks). */
  resetCounters(): void {
    this.kv.reset();
    this.counters.promptTokens = this.counters.generationTokens = 0;
    this.counters.finished = { length: 0, stop: 0, abort: 0 };
    this.counters.requestsSubmitted = 0;
  }

  private kick(): void {
    if (this.timer === null) this.planStep();
  }

  /** Chooses the work of the next step and schedules its end. */
  private planStep(continuing = false): void {
    this.timer = null;
    const cfg = this.cfg;
    let budget = cfg.maxNumBatchedTokens;
    const decode: Sequence[] = [];
    const prefill: Array<[Sequence, number]> = [];
    for (const s of this.running) {
      if (s.prefillRemaining === 0) {
        decode.push(s);
        budget--;
      }
    }
    for (const s of this.running) {
      if (s.prefillRemaining > 0 && budget > 0) {
        const n = Math.min(s.prefillRemaining, budget);
        prefill.push([s, n]);
        budget -= n;
      }
    }
    // Admission.
    let queried = 0;
    let hit = 0;
    if (this.waiting.length > 0 && budget > 0) {
      const adapters = this.runningAdapters();
      const now = performance.now();
      for (let i = 0; i < this.waiting.length && budget > 0 && this.running.length < cfg.maxNumSeqs; ) {
        const s = this.waiting[i];
        if (s.adapter && !adapters.has(s.adapter) && adapters.size >= cfg.maxLoras) {
          i++; // skipped for now: its adapter cannot join this batch
          continue;
        }
        const look = this.kv.lookup(s.hashes, s.promptLen);
        const need = this.kv.blocksFor(s.promptLen + s.maxTokens);
        if (!this.kv.canAllocate(s.hashes, look.hitBlocks, need)) break; // head-of-line blocks
        this.waiting.splice(i, 1);
        s.alloc = this.kv.allocate(s.hashes, look.hitBlocks, need, s.promptLen);
        s.hitTokens = look.hitTokens;
        queried += s.promptLen;
        hit += look.hitTokens;
        s.state = "running";
        s.times.admitted = now;
        this.running.push(s);
        if (s.adapter) adapters.add(s.adapter);
        s.prefillRemaining = s.skipPrefill ? 0 : s.promptLen - s.hitTokens;
        if (s.prefillRemaining === 0) {
          decode.push(s); // KV handed over: straight to decoding
          budget--;
        } else {
          const n = Math.min(s.prefillRemaining, budget);
          prefill.push([s, n]);
          budget -= n;
        }
      }
    }
    if (prefill.length === 0 && decode.length === 0) {
      this.plan = null;
      return; // idle; submit() kicks the loop again
    }
    let prefillTokens = 0;
    for (const [, n] of prefill) prefillTokens += n;
    const ms =
      (prefill.length > 0 ? cfg.prefillOverheadMs + prefillTokens * cfg.prefillTimePerTokenMs : 0) +
      (decode.length > 0 ? cfg.interTokenLatencyMs + cfg.decodeTimePerSeqMs * (decode.length - 1) : 0);
    this.counters.iterations++;
    this.lastStep = {
      iteration: this.counters.iterations,
      contextRequests: prefill.length,
      generationRequests: decode.length,
      prefillTokens,
      hitTokens: hit,
      queriedTokens: queried,
    };
    this.plan = { prefill, decode };
    if (queried > 0) this.lastPrefillBatch = { hitTokens: hit, queriedTokens: queried };
    const now = performance.now();
    // A step that directly follows another starts at the previous step's planned end, so timer
    // lateness does not add up over a long generation (unless the loop fell far behind); a step
    // that starts an idle engine starts now.
    const start = continuing && now - this.plannedEnd < 50 ? Math.min(this.plannedEnd, now) : now;
    this.plannedEnd = start + ms;
    const delay = this.plannedEnd - now;
    if (delay < 0.5) this.timer = setImmediate(() => this.endStep());
    else this.timer = setTimeout(() => this.endStep(), delay);
  }

  /** Applies the planned step's results: tokens out, finished requests released. */
  private endStep(): void {
    const plan = this.plan;
    this.plan = null;
    if (plan) {
      const now = performance.now();
      for (const [s, n] of plan.prefill) {
        if (s.state !== "running") continue;
        s.prefillRemaining -= n;
        this.counters.promptTokens += n;
        if (s.prefillRemaining === 0) this.emit(s, now);
      }
      for (const s of plan.decode) {
        if (s.state !== "running") continue;
        this.emit(s, now);
      }
    }
    this.planStep(true);
  }

  private emit(s: Sequence, now: number): void {
    const i = s.generated++;
    this.counters.generationTokens++;
    if (i === 0) s.times.firstToken = now;
    s.handlers.onToken?.(s, i);
    if (s.generated >= s.maxTokens && s.state === "running") this.finish(s, s.finishReason, now);
  }

  private finish(s: Sequence, reason: FinishReason, now: number): void {
    const i = this.running.indexOf(s);
    if (i >= 0) this.running.splice(i, 1);
    if (s.alloc) this.kv.release(s.alloc);
    s.state = "finished";
    s.times.finished = now;
    this.counters.finished[reason]++;
    if (this.onObservation) {
      const t = s.times;
      this.onObservation({
        ttft: (t.firstToken - t.arrival) / 1000,
        e2e: (now - t.arrival) / 1000,
        queue: (t.admitted - t.arrival) / 1000,
        prefill: (t.firstToken - t.admitted) / 1000,
        decode: (now - t.firstToken) / 1000,
        inference: (now - t.admitted) / 1000,
        promptTokens: s.promptLen,
        generationTokens: s.generated,
        maxTokens: s.maxTokens,
        reason,
        tpot: s.generated > 1 ? (now - t.firstToken) / 1000 / (s.generated - 1) : undefined,
      });
    }
    const h = s.handlers;
    s.handlers = {};
    h.onFinish?.(s, reason);
  }
}
