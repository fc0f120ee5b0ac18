// Workloads generated from a seed: the same spec + seed gives byte-identical requests and the same
// arrival schedule for every contender. The load generator process regenerates the workload from
// the spec it is handed (it is never sent per-contender data), so no contender can see a different
// workload.
//
// Oracle prefix-cache hit rate (what an ideal router could have served from cache):
//   Every request's prompt is tokenised exactly as the simulator does (ChatML rendering +
//   test/sim/tokens.ts) and cut into whole blocks of BLOCK_SIZE (16) tokens, each identified by a
//   chained hash (a block's identity covers every token before it, as vLLM's block hashes do).
//   Requests are taken in arrival order. For each request, hit = the number of its leading whole
//   blocks whose chained hash occurred in ANY earlier request (= the longest prefix it shares with
//   an earlier request, in whole blocks) x 16 tokens, capped as the simulator caps it: at least one
//   prompt token is always recomputed, so a fully matched prompt hits one block less.
//   Oracle = sum(hit) / sum(prompt tokens).
//   This assumes an unbounded cache and a router that always finds the pod holding the prefix, with
//   no load constraint: an upper bound no real router reaches exactly (a pod's KV cache is finite,
//   and a request that arrives while its prefix is still being prefilled elsewhere cannot hit).

import { makeRng } from "../test/sim/faults.js";
import { type ChatMessage, encode, fnv1a32, outputText, renderChat } from "../test/sim/tokens.js";

export const SEED_MODEL = "/models/Qwen3-32B";
export const BLOCK_SIZE = 16;

export type WorkloadSpec =
  | { kind: "tiny"; seed: number; requests: number }
  | {
      kind: "shared-prefix";
      seed: number;
      /** distinct system prompts, each ~systemTokens tokens */
      systemPrompts: number;
      systemTokens: number;
      /** conversations per system prompt (users) */
      usersPerPrompt: number;
      /** turns per conversation: uniform in [minTurns, maxTurns] */
      minTurns: number;
      maxTurns: number;
      /** words in each user message */
      userWords: number;
      /** output tokens per answer */
      maxTokens: number;
      /** target mean arrival rate of requests (req/s) over the schedule */
      rate: number;
      /** mean think time between a conversation's turns (ms, exponential) */
      thinkMs: number;
      /** requests arriving after this are not generated */
      durationMs: number;
    }
  | {
      /**
       * llm-d's shared-prefix benchmark shape (inference-perf's shared_prefix data): `groups` system
       * prompts of `systemTokens` tokens, `promptsPerGroup` questions of `questionTokens` tokens each;
       * every request is one system prompt + one of its questions, drawn at random (group 0 with
       * probability hotShare when set: the hot-spot workload), Poisson arrivals at each stage's rate,
       * stages back to back (the QPS ramp).
       */
      kind: "field-shared-prefix";
      seed: number;
      groups: number;
      promptsPerGroup: number;
      systemTokens: number;
      questionTokens: number;
      maxTokens: number;
      stages: { rate: number; durationMs: number }[];
      hotShare?: number;
    }
  | {
      kind: "no-sharing";
      seed: number;
      promptTokens: number;
      maxTokens: number;
      rate: number;
      durationMs: number;
    }
  | {
      /** closed-loop prompts of a given size: one of `prefixes` shared halves + a unique half */
      kind: "sized";
      seed: number;
      requests: number;
      promptBytes: number;
      prefixes: number;
      /** The text as lines of about this many bytes, as documents and code are (each line break is
       *  an escape in the JSON body); plain words without breaks when left out. */
      lineBytes?: number;
    }
  | {
      kind: "burst";
      seed: number;
      /** request rate (req/s) during the burst, Poisson */
      rate: number;
      durationMs: number;
      promptWords: number;
      maxTokens: number;
      /** model name per criticality class and its share of requests */
      classes: { model: string; criticality: string; share: number }[];
    };

export interface WorkloadRequest {
  i: number;
  /** arrival time, ms from the start of the run (open loop); 0 for closed-loop workloads */
  atMs: number;
  path: "/v1/chat/completions";
  body: {
    model: string;
    messages: ChatMessage[];
    max_tokens: number;
    stream?: boolean;
    stream_options?: { include_usage: boolean };
    temperature: number;
  };
  /** prompt tokens by the simulator's approximation (chat template included) */
  promptTokens: number;
  conversation?: number;
  turn?: number;
  criticality?: string;
  /** field-shared-prefix: index of the stage (QPS step) the request arrives in */
  stage?: number;
  /** field-shared-prefix: the system prompt (group) it shares */
  group?: number;
}

export interface Workload {
  spec: WorkloadSpec;
  requests: WorkloadRequest[];
}

/** mulberry32: small, fast, good enough for workloads; deterministic per seed. */
/** Seeded mulberry32, the simulator's own (test/sim/faults.ts): one PRNG for workloads and faults. */
export const prng = makeRng;

const exp = (rnd: () => number, mean: number) => -Math.log(1 - rnd()) * mean;

// Words of at most 5 ASCII letters: each " word" is exactly one simulator token.
const WORDS =
  "the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part over new sound take only little work know place year live me back give most very after thing our just name good sent man think say great where help thro much line right too mean old any same tell boy follow came want show also around form three small set put end does anoth well large must big even such becau turn here why ask went men read need land diffe home us move try kind hand pictu again chang off play spell air away animal house point page lett mother answ found study still learn should world high every near add food betw own below count tree never start city earth eye light thoug head under story saw left few while along might close somet seem next hard open examp begin life alway those both paper toget got group often run impor until child side feet car mile night walk white sea began grow took river four carry state once book hear stop witho second later miss idea enoug eat face watch far india real almost let above girl somet mount cut young talk soon list song being leave famil".split(
    " ",
  );

function words(rnd: () => number, n: number): string {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = WORDS[Math.floor(rnd() * WORDS.length)];
  return out.join(" ");
}

/** A ~n-token system prompt (one token per word, plus a few for punctuation). */
function systemPrompt(rnd: () => number, id: number, tokens: number): string {
  return `You are assistant number ${id}. Follow these rules.\n${words(rnd, Math.max(1, tokens - 12))}.`;
}

const chatTokens = (messages: ChatMessage[]) => encode(renderChat(messages)).length;

function req(
  i: number,
  atMs: number,
  model: string,
  messages: ChatMessage[],
  maxTokens: number,
  extra: Partial<WorkloadRequest> = {},
): WorkloadRequest {
  return {
    i,
    atMs,
    path: "/v1/chat/completions",
    body: { model, messages: messages.map((m) => ({ ...m })), max_tokens: maxTokens, temperature: 0 },
    promptTokens: chatTokens(messages),
    ...extra,
  };
}

export function generateWorkload(spec: WorkloadSpec): Workload {
  const rnd = prng(spec.seed);
  const requests: WorkloadRequest[] = [];
  switch (spec.kind) {
    case "tiny": {
      for (let i = 0; i < spec.requests; i++)
        requests.push(req(i, 0, SEED_MODEL, [{ role: "user", content: `hi ${i}` }], 1));
      break;
    }
    case "shared-prefix": {
      const prompts = Array.from({ length: spec.systemPrompts }, (_, k) => systemPrompt(rnd, k, spec.systemTokens));
      const convs = spec.systemPrompts * spec.usersPerPrompt;
      const meanTurns = (spec.minTurns + spec.maxTurns) / 2;
      // Conversation starts are Poisson at rate/meanTurns; turns follow after think times.
      const convRate = spec.rate / meanTurns;
      // Conversation order: interleave prompts so every prompt is in use early.
      const order = Array.from({ length: convs }, (_, c) => c);
      for (let k = order.length - 1; k > 0; k--) {
        const j = Math.floor(rnd() * (k + 1));
        [order[k], order[j]] = [order[j], order[k]];
      }
      // Starts begin one mean conversation length before 0 so the arrival process is already stationary
      // at t = 0 (turns scheduled before 0 are dropped; later turns of those conversations stay).
      let t = -meanTurns * (1500 + spec.thinkMs);
      const pending: { atMs: number; r: Omit<WorkloadRequest, "i"> }[] = [];
      for (const c of order) {
        t += exp(rnd, 1000 / convRate);
        if (t > spec.durationMs) break;
        const p = c % spec.systemPrompts;
        const turns = spec.minTurns + Math.floor(rnd() * (spec.maxTurns - spec.minTurns + 1));
        const msgs: ChatMessage[] = [{ role: "system", content: prompts[p] }];
        let at = t;
        for (let turn = 0; turn < turns; turn++) {
          if (at > spec.durationMs) break;
          const skip = at < 0;
          msgs.push({ role: "user", content: `User ${c} turn ${turn}: ${words(rnd, spec.userWords)}?` });
          const r = req(0, at, SEED_MODEL, msgs, spec.maxTokens, { conversation: c, turn });
          if (!skip) pending.push({ atMs: at, r });
          // The simulator's answer is deterministic (test/sim/tokens.ts outputText), so the next
          // turn carries exactly what every contender's pod returned.
          msgs.push({ role: "assistant", content: outputText(spec.maxTokens) });
          at += 1500 + exp(rnd, spec.thinkMs);
        }
      }
      pending.sort((a, b) => a.atMs - b.atMs);
      pending.forEach((p, i) => requests.push({ ...p.r, i, atMs: Math.round(p.atMs) }));
      break;
    }
    case "field-shared-prefix": {
      const systems = Array.from({ length: spec.groups }, (_, g) => systemPrompt(rnd, g, spec.systemTokens));
      const questions = Array.from({ length: spec.groups }, (_, g) =>
        Array.from(
          { length: spec.promptsPerGroup },
          (_, q) => `Question ${g}.${q}: ${words(rnd, Math.max(1, spec.questionTokens - 6))}?`,
        ),
      );
      let start = 0;
      let i = 0;
      spec.stages.forEach((st, stage) => {
        let t = start;
        for (;;) {
          t += exp(rnd, 1000 / st.rate);
          if (t >= start + st.durationMs) break;
          const hot = spec.hotShare !== undefined && rnd() < spec.hotShare;
          const g = hot
            ? 0
            : spec.hotShare !== undefined
              ? 1 + Math.floor(rnd() * (spec.groups - 1))
              : Math.floor(rnd() * spec.groups);
          const q = Math.floor(rnd() * spec.promptsPerGroup);
          const m: ChatMessage[] = [
            { role: "system", content: systems[g] },
            { role: "user", content: questions[g][q] },
          ];
          requests.push(req(i++, Math.round(t), SEED_MODEL, m, spec.maxTokens, { stage, group: g }));
        }
        start += st.durationMs;
      });
      break;
    }
    case "no-sharing": {
      let t = 0;
      for (let i = 0; ; i++) {
        t += exp(rnd, 1000 / spec.rate);
        if (t > spec.durationMs) break;
        const m: ChatMessage[] = [
          {
            role: "user",
            content: `Request ${i} ${rnd().toString(36).slice(2)}: ${words(rnd, spec.promptTokens - 20)}`,
          },
        ];
        requests.push(req(i, Math.round(t), SEED_MODEL, m, spec.maxTokens));
      }
      break;
    }
    case "sized": {
      const line = spec.lineBytes ?? 0;
      const text = (n: number) => {
        let x = "";
        while (x.length < n)
          x += line > 0 ? `${words(rnd, Math.max(1, Math.round(line / 6)))}\n` : ` ${words(rnd, 64)}`;
        return x.slice(0, n);
      };
      const half = Math.floor(spec.promptBytes / 2);
      const shared = Array.from({ length: spec.prefixes }, () => text(half));
      for (let i = 0; i < spec.requests; i++) {
        const m: ChatMessage[] = [
          { role: "system", content: shared[i % spec.prefixes] },
          { role: "user", content: `q${i}${text(spec.promptBytes - half - 8)}` },
        ];
        requests.push(req(i, 0, SEED_MODEL, m, 1));
      }
      break;
    }
    case "burst": {
      let t = 0;
      const total = spec.classes.reduce((a, c) => a + c.share, 0);
      for (let i = 0; ; i++) {
        t += exp(rnd, 1000 / spec.rate);
        if (t > spec.durationMs) break;
        let x = rnd() * total;
        let cls = spec.classes[spec.classes.length - 1];
        for (const c of spec.classes) {
          if (x < c.share) {
            cls = c;
            break;
          }
          x -= c.share;
        }
        const m: ChatMessage[] = [{ role: "user", content: `Burst ${i}: ${words(rnd, spec.promptWords)}` }];
        requests.push(req(i, Math.round(t), cls.model, m, spec.maxTokens, { criticality: cls.criticality }));
      }
      break;
    }
  }
  return { spec, requests };
}

/** Chained block hashes of a request's prompt, as the simulator computes its prefix blocks. */
export function blockChain(r: WorkloadRequest, blockSize = BLOCK_SIZE): string[] {
  const ids = encode(renderChat(r.body.messages));
  const out: string[] = [];
  let h1 = 0x811c9dc5,
    h2 = 0x1234567;
  for (let b = 0; (b + 1) * blockSize <= ids.length; b++) {
    for (let k = b * blockSize; k < (b + 1) * blockSize; k++) {
      h1 = fnv1a32(String(ids[k]), h1);
      h2 = fnv1a32(String(ids[k]), h2 ^ 0x5bd1e995);
    }
    out.push(`${h1.toString(36)}.${h2.toString(36)}`);
  }
  return out;
}

export interface OracleResult {
  /** sum(hit tokens) / sum(prompt tokens) over all requests, in arrival order */
  hitRate: number;
  promptTokens: number;
  hitTokens: number;
  requests: number;
  blockSize: number;
}

/** The oracle hit rate defined at the top of this file. */
export function oracleHitRate(w: Workload, blockSize = BLOCK_SIZE): OracleResult {
  const seen = new Set<string>();
  let prompt = 0,
    hit = 0;
  const ordered = [...w.requests].sort((a, b) => a.atMs - b.atMs || a.i - b.i);
  for (const r of ordered) {
    const chain = blockChain(r, blockSize);
    let m = 0;
    while (m < chain.length && seen.has(chain[m])) m++;
    // at least one token is recomputed: a prompt matched in full hits one block less
    if (m * blockSize >= r.promptTokens) m = Math.max(0, m - 1);
    hit += m * blockSize;
    prompt += r.promptTokens;
    for (const h of chain) seen.add(h);
  }
  return {
    hitRate: prompt ? hit / prompt : 0,
    promptTokens: prompt,
    hitTokens: hit,
    requests: w.requests.length,
    blockSize,
  };
}
