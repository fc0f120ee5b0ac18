// Fuzzes the filter's request parser, compiled to wasm alone (build/test/pure.wasm, the same modules
// the filter runs): generated and mutated bodies (test/fuzz/bodies.ts), each checked against
//  - no trap (a wasm trap throws a RuntimeError here);
//  - the answer is a status, 0 (route it) or 400 with a message;
//  - status 0 only for strict JSON (well-formed UTF-8, RFC 8259) whose object says what the filter
//    read: the same model (the last duplicate wins, as in Python's json and JSON.parse), the same
//    stream flag, and the model's byte span in the body is that very string;
//  - a body that is not strict JSON is a 400.
// Accepted UTF-8 bodies also go through the prefix hashing (it walks messages, content parts and
// escapes). Seeded and bounded: the same seed checks the same bodies.

import { pure } from "../unit/pure.js";
import { bodyGenerator } from "./bodies.js";

export interface ParserFuzzOptions {
  seed: number;
  count: number;
  /** Stop early (and say so) past this many seconds. */
  maxSeconds: number;
  seeds?: Buffer[];
  maxBytes?: number;
  /** Called every `every` bodies with the progress so far. */
  progress?: (done: number, ms: number) => void;
}

export interface Failure {
  kind: string;
  detail: string;
  /** Index of the body in the run (the same seed regenerates it). */
  index: number;
  completions: boolean;
  hex: string;
}

/** Failures counted by kind, the first few of each kept with their body (hex). */
export class FailureLog {
  byKind: Record<string, number> = {};
  kept: Failure[] = [];
  add(kind: string, detail: string, index: number, bytes: Buffer, completions: boolean): void {
    this.byKind[kind] = (this.byKind[kind] ?? 0) + 1;
    if (this.byKind[kind]! <= 3)
      this.kept.push({ kind, detail, index, completions, hex: bytes.subarray(0, 2048).toString("hex") });
  }
}

export interface ParserFuzzResult {
  seed: number;
  bodies: number;
  ms: number;
  timedOut: boolean;
  statuses: Record<string, number>;
  /** Bodies that went through the prefix hashing too. */
  hashed: number;
  failuresByKind: Record<string, number>;
  /** The first few failures of each kind. */
  failures: Failure[];
}

interface Parsed {
  status: number;
  message?: string;
  model?: string;
  stream?: boolean;
  modelStart?: number;
  modelEnd?: number;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The body as strict JSON, or undefined when it is not (bad UTF-8 or bad JSON). */
function strictJson(b: Buffer): { text: string; value: unknown } | undefined {
  let text: string;
  try {
    text = strictUtf8.decode(b);
  } catch {
    return undefined;
  }
  try {
    return { text, value: JSON.parse(text) };
  } catch {
    return undefined;
  }
}

/** What is wrong with the filter's answer for this body, or null. */
export function checkAnswer(bytes: Buffer, completions: boolean, answer: string): [string, string] | null {
  let r: Parsed;
  try {
    r = JSON.parse(answer) as Parsed;
  } catch {
    return ["answer not JSON", answer.slice(0, 200)];
  }
  if (r.status === 400) {
    if (typeof r.message !== "string" || r.message.length === 0) return ["400 without a message", answer];
    return null;
  }
  if (r.status !== 0) return ["status neither 0 nor 400", answer];
  const j = strictJson(bytes);
  if (!j) return ["accepted a body that is not strict JSON (UTF-8 or syntax)", answer];
  const v = j.value as Record<string, unknown>;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return ["accepted a non-object", answer];
  if (v.model !== r.model)
    return ["model differs from the JSON's (last duplicate)", `${JSON.stringify(v.model)} vs ${answer}`];
  if ((v.stream === true) !== r.stream)
    return ["stream differs from the JSON's", `${JSON.stringify(v.stream)} vs ${answer}`];
  let span: unknown;
  try {
    span = JSON.parse(strictUtf8.decode(bytes.subarray(r.modelStart, r.modelEnd)));
  } catch {
    span = undefined;
  }
  if (span !== r.model) return ["model byte span is not the model string", answer];
  if (!completions && !Array.isArray(v.messages)) return ["accepted chat without a messages array", answer];
  if (completions && v.prompt === undefined) return ["accepted completions without a prompt", answer];
  return null;
}

export function fuzzParser(o: ParserFuzzOptions): ParserFuzzResult {
  const next = bodyGenerator({ seed: o.seed, seeds: o.seeds, maxBytes: o.maxBytes });
  const statuses: Record<string, number> = {};
  const log = new FailureLog();
  const fail = log.add.bind(log);
  const t0 = Date.now();
  const deadline = t0 + o.maxSeconds * 1000;
  let hashed = 0;
  let i = 0;
  let timedOut = false;
  for (; i < o.count; i++) {
    if ((i & 1023) === 0) {
      if (Date.now() > deadline) {
        timedOut = true;
        break;
      }
      if (i > 0 && (i & 0x3ffff) === 0) o.progress?.(i, Date.now() - t0);
    }
    const { bytes, completions } = next();
    let answer: string;
    try {
      // A fresh copy: the bindings read the ArrayBuffer as given.
      answer = pure.requestBytes(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length), completions);
    } catch (e) {
      fail("trap", String((e as Error).message ?? e), i, bytes, completions);
      continue;
    }
    const status = answer.startsWith('{"status":0') ? "0" : answer.startsWith('{"status":400') ? "400" : "other";
    statuses[status] = (statuses[status] ?? 0) + 1;
    const problem = checkAnswer(bytes, completions, answer);
    if (problem) fail(problem[0], problem[1], i, bytes, completions);
    if (!problem && status === "0") {
      const text = strictJson(bytes)?.text;
      if (text !== undefined) {
        try {
          const h = pure.blocks(text, !completions, 64, 128, "m") as string;
          if (h.startsWith("error")) fail("hashing refused a body the parser accepted", h, i, bytes, completions);
          hashed++;
        } catch (e) {
          fail("trap in prefix hashing", String((e as Error).message ?? e), i, bytes, completions);
        }
      }
    }
  }
  return {
    seed: o.seed,
    bodies: i,
    ms: Date.now() - t0,
    timedOut,
    statuses,
    hashed,
    failuresByKind: log.byKind,
    failures: log.kept,
  };
}
