// The scheduler and timing model of one simulated pod: continuous batching as vLLM v1 does it
// (vllm/v1/core/sched/scheduler.py), reduced to what changes routing outcomes.
//
// Time advances in engine steps (one forward pass each). Every step:
//  1. running requests, in the order they were admitted, each get their next tokens from the step's
//     token budget (--max-num-batched-tokens): the rest of their prompt (a long prompt is prefilled
//     in chunks over several steps) or one decode token. Each first needs KV blocks for every token
//     it will then have computed; when the free queue cannot supply them, the most recently admitted
//     running request is preempted (its blocks freed, tail first; it waits at the head of the queue
//     and later recomputes its prompt and the output so far, reusing whatever of it is still
//     cached), until the request fits or was itself the one preempted (vllm:num_preemptions_total);
//  2. if nobody was preempted, waiting requests are admitted first-come-first-served while there is
//     budget and fewer than --max-num-seqs run: an admitted request looks up its prefix in the KV
//     cache (cached blocks are not prefilled) and takes blocks for the tokens scheduled now only,
//     not for its whole output; a request whose blocks do not fit blocks the queue. A LoRA request
//     whose adapter is not in the batch while --max-loras adapters are is skipped, as vLLM does.
//  A block of tokens becomes reusable by others as soon as its last token is scheduled, output
//  tokens included (a later turn of a conversation hits the earlier turn's answer). The step lasts
//     (any prefill ? prefill overhead : 0) + prefilled tokens x prefill time per token
//     + (any decode ? inter-token latency + decode time per extra sequence x (decoders - 1) : 0)
//  and at its end every request whose tokens are all computed emits its next token.
//
// So a lone request sees TTFT = overhead + uncached prompt tokens x per-token prefill time, a
// request behind a full batch also waits in the queue, and inter-token latency grows with the
// batch. Timers are scheduled against the planned end of the previous step, so lateness of the
// Node event loop does not accumulate over a long generation.

import { extendBlockHashes, KvBlocks, PrefixKvCache } from "./kv-cache.js";
import { outputTokenId } from "./tokens.js";

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
  /** prompt then generated token ids */
  readonly tokens: number[];
  /** chained hashes of the full blocks of `tokens` computed so far (see ensureHashes) */
  readonly hashes: number[] = [];
  readonly blockSize: number;
  handlers: SeqHandlers;
  state: "waiting" | "running" | "finished" = "waiting";
  /** tokens whose KV is computed (vLLM num_computed_tokens; 0 again after a preemption) */
  numComputed = 0;
  generated = 0;
  /** prompt tokens found in the prefix cache at the first admission (usage cached_tokens) */
  hitTokens = 0;
  admissions = 0;
  readonly kv = new KvBlocks();
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
    this.tokens = o.promptTokens.slice();
    this.blockSize = blockSize;
    this.times = { arrival: now, admitted: -1, firstToken: -1, finished: -1 };
  }

  /** Hashes of the full blocks among the first `numTokens` tokens (computed on demand). */
  ensureHashes(numTokens: number): number[] {
    extendBlockHashes(this.hashes, this.tokens, numTokens, this.blockSize, this.adapter ?? "");
    return this.hashes;
  }

  /** The prompt's full-block hashes (what a P/D prefill hands over). */
  promptBlockHashes(): number[] {
    return this.ensureHashes(this.promptLen).slice(0, Math.floor(this.promptLen / this.blockSize));
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
  preemptions: number;
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
    preemptions: 0,
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
  /** the step in flight: each scheduled request, its tokens, and whether that is a decode */
  private plan: Array<{ s: Sequence; n: number; decode: boolean }> | null = null;

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
      this.kv.free(seq.kv);
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
    this.counters.preemptions = 0;
  }

  /** Nothing running and nothing waiting. */
  get idle(): boolean {
    return this.running.length === 0 && this.waiting.length === 0;
  }

  /** vLLM's reset_prefix_cache: drops every cached prefix, which fails (returns false, changes
   *  nothing) while running requests hold blocks, unless they are preempted first. */
  resetPrefixCache(preemptRunning: boolean): boolean {
    if (preemptRunning) {
      while (this.running.length > 0) this.preempt(this.running[this.running.length - 1]);
      this.kick();
    }
    return this.kv.resetPrefixCache();
  }

  private kick(): void {
    if (this.timer === null) this.planStep();
  }

  /** Chooses the work of the next step and schedules its end. */
  private planStep(continuing = false): void {
    this.timer = null;
    const cfg = this.cfg;
    let budget = cfg.maxNumBatchedTokens;
    const plan: Array<{ s: Sequence; n: number; decode: boolean }> = [];
    // 1. Running requests, in order; preempt from the back when blocks run out.
    let preempted = false;
    for (let i = 0; i < this.running.length && budget > 0; i++) {
      const s = this.running[i];
      const n = Math.min(s.tokens.length - s.numComputed, budget);
      let fits = this.kv.allocateSlots(s.kv, s.numComputed + n);
      while (!fits) {
        const victim = this.running[this.running.length - 1];
        this.preempt(victim);
        preempted = true;
        if (victim === s) break;
        fits = this.kv.allocateSlots(s.kv, s.numComputed + n);
      }
      if (!fits) break; // this request was the last one left to preempt
      this.schedule(plan, s, n);
      budget -= n;
    }
    // 2. Admission, first come first served (none in a step that had to preempt).
    let queried = 0;
    let hit = 0;
    if (!preempted && this.waiting.length > 0 && budget > 0) {
      const adapters = this.runningAdapters();
      const now = performance.now();
      for (let i = 0; i < this.waiting.length && budget > 0 && this.running.length < cfg.maxNumSeqs; ) {
        const s = this.waiting[i];
        if (s.adapter && !adapters.has(s.adapter) && adapters.size >= cfg.maxLoras) {
          i++; // skipped for now: its adapter cannot join this batch
          continue;
        }
        const hitBlocks = this.kv.findHit(s.ensureHashes(s.tokens.length), s.tokens.length - 1);
        let computed = hitBlocks.length * cfg.blockSize;
        // P/D decode: the prompt's KV was handed over; only the last token is left to run
        if (s.skipPrefill && s.admissions === 0) computed = Math.max(computed, s.tokens.length - 1);
        const n = Math.min(s.tokens.length - computed, budget);
        if (!this.kv.allocateSlots(s.kv, computed + n, hitBlocks)) break; // head-of-line blocks
        this.waiting.splice(i, 1);
        if (s.admissions++ === 0) {
          // cached_tokens and the prefix-cache counters describe the first admission only
          s.hitTokens = hitBlocks.length * cfg.blockSize;
          this.kv.recordQuery(s.promptLen, s.hitTokens);
          queried += s.promptLen;
          hit += s.hitTokens;
          s.times.admitted = now;
        }
        s.numComputed = computed;
        s.state = "running";
        this.running.push(s);
        if (s.adapter) adapters.add(s.adapter);
        this.schedule(plan, s, n);
        budget -= n;
      }
    }
    if (plan.length === 0) {
      this.plan = null;
      return; // idle; submit() kicks the loop again
    }
    let prefillTokens = 0;
    let prefills = 0;
    let decodes = 0;
    for (const e of plan) {
      if (e.decode) decodes++;
      else {
        prefills++;
        prefillTokens += e.n;
      }
    }
    const ms =
      (prefills > 0 ? cfg.prefillOverheadMs + prefillTokens * cfg.prefillTimePerTokenMs : 0) +
      (decodes > 0 ? cfg.interTokenLatencyMs + cfg.decodeTimePerSeqMs * (decodes - 1) : 0);
    this.counters.iterations++;
    this.lastStep = {
      iteration: this.counters.iterations,
      contextRequests: prefills,
      generationRequests: decodes,
      prefillTokens,
      hitTokens: hit,
      queriedTokens: queried,
    };
    this.plan = plan;
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

  /** Puts `n` tokens of `s` into the step; the blocks they complete become reusable now. */
  private schedule(plan: Array<{ s: Sequence; n: number; decode: boolean }>, s: Sequence, n: number): void {
    // a decode computes just the last sampled token of a request that already emitted one (or
    // whose prompt KV was handed over); anything else is (re)prefill
    const decode = n === 1 && s.numComputed === s.tokens.length - 1 && (s.generated > 0 || s.skipPrefill);
    plan.push({ s, n, decode });
    const upTo = s.numComputed + n;
    this.kv.cacheFullBlocks(s.kv, s.ensureHashes(upTo), Math.floor(upTo / this.cfg.blockSize));
  }

  /** Frees a running request's blocks and puts it back at the head of the queue (recompute). */
  private preempt(s: Sequence): void {
    const i = this.running.indexOf(s);
    if (i >= 0) this.running.splice(i, 1);
    this.kv.free(s.kv);
    s.numComputed = 0;
    s.state = "waiting";
    this.waiting.unshift(s);
    this.counters.preemptions++;
  }

  /** Applies the planned step's results: tokens out, finished requests released. */
  private endStep(): void {
    const plan = this.plan;
    this.plan = null;
    if (plan) {
      const now = performance.now();
      for (const { s, n, decode } of plan) {
        if (s.state !== "running") continue; // aborted (or preempted by a reset) meanwhile
        s.numComputed += n;
        if (!decode && s.generated === 0) this.counters.promptTokens += n;
        if (s.numComputed === s.tokens.length) this.emit(s, now);
      }
    }
    this.planStep(true);
  }

  private emit(s: Sequence, now: number): void {
    const i = s.generated++;
    s.tokens.push(outputTokenId(i));
    this.counters.generationTokens++;
    if (i === 0) s.times.firstToken = now;
    s.handlers.onToken?.(s, i);
    if (s.generated >= s.maxTokens && s.state === "running") this.finish(s, s.finishReason, now);
  }

  private finish(s: Sequence, reason: FinishReason, now: number): void {
    const i = this.running.indexOf(s);
    if (i >= 0) this.running.splice(i, 1);
    this.kv.free(s.kv);
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
