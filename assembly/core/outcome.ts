// What the decision core tells the host layer to do with a request: send it to a pod, hold it in
// the gateway's queue, or answer it with an error.
import { RoutedChain } from "../prefix/routed-chain";
import { Endpoint, Pool } from "../table/table";
import { RequestLog } from "./request-log";

export enum OutcomeKind {
  /** Send the request to `endpoint` (then `fallbacks`), the body rewritten if `rewrite`. */
  Routed = 0,
  /** Keep it paused in the queue until a pod has room (or its TTL passes). */
  Hold = 1,
  /** Answer with `status` and an OpenAI-shaped error. */
  Reject = 2,
}

/** What PREFIX_CACHE predicted for the chosen pod, for checking against the pod's answer. */
export class PrefixPrediction {
  /** Feedback mode: the response's cached tokens correct the index. */
  feedback: bool = false;
  slot: i32 = -1;
  /** Blocks the index held for the pod, blocks credited of them, and the prompt's blocks. */
  indexed: i32 = 0;
  credited: i32 = 0;
  blocks: i32 = 0;
  /** Age of the held chain's last entry at the decision (ms), -1 when nothing was held. */
  tipAgeMs: f64 = -1;
  /** The prompt's bytes as hashed (the body's size when longer than the hashed blocks). */
  promptBytes: i32 = 0;
  blockSize: i32 = 0;

  copyFrom(o: PrefixPrediction): void {
    this.feedback = o.feedback;
    this.slot = o.slot;
    this.indexed = o.indexed;
    this.credited = o.credited;
    this.blocks = o.blocks;
    this.tipAgeMs = o.tipAgeMs;
    this.promptBytes = o.promptBytes;
    this.blockSize = o.blockSize;
  }
}

export class Outcome {
  kind: OutcomeKind = OutcomeKind.Reject;

  // Reject
  status: i32 = 0;
  message: string = "";
  /** Stable machine-readable reason (the error's "code"). */
  code: string = "";
  param: string = "";
  /** Ask the client to retry shortly (Retry-After: 1): the condition is transient. */
  retryAfter: bool = false;
  /** For answers about the queue: x-infergate-queue-reason (capacity, ttl_expired, sheddable). */
  queueReason: string = "";

  // Routed and Hold
  pool: Pool | null = null;
  /** The request's priority (its objective's, else its model's, else 0): the queue's order. */
  priority: i32 = 0;

  // Routed
  endpoint: Endpoint | null = null;
  fallbacks: Endpoint[] = [];
  /** The request's "model" must be replaced by `target` in the body (a weighted targetModel). */
  rewrite: bool = false;
  target: string = "";
  /** The client asked for a final usage chunk on its stream. */
  includeUsage: bool = false;
  /** Byte span of the "model" string value, quotes included, in the body. */
  modelStart: i32 = 0;
  modelEnd: i32 = 0;
  /** P/D: the pod that prefills (the request goes to it and to `endpoint`, which decodes), the
   *  port of its bootstrap server, the room both meet in, and the byte offset of the body's closing
   *  brace (the bootstrap fields go in front of it). prefill null: a whole request. */
  prefill: Endpoint | null = null;
  bootstrapPort: i32 = 0;
  bootstrapRoom: u64 = 0;
  bodyEnd: i32 = -1;
  /** A new record per routed request: the stream keeps it until the response ends. */
  log: RequestLog = new RequestLog();
  prediction: PrefixPrediction = new PrefixPrediction();
  /** PREFIX_CACHE with fallbacks: the prompt's chain, recorded for a fallback that answers. */
  chain: RoutedChain | null = null;

  reset(): void {
    this.kind = OutcomeKind.Reject;
    this.status = 0;
    this.message = "";
    this.code = "";
    this.param = "";
    this.retryAfter = false;
    this.queueReason = "";
    this.pool = null;
    this.endpoint = null;
    this.fallbacks.length = 0;
    this.prefill = null;
    this.bodyEnd = -1;
    this.rewrite = false;
    this.log = new RequestLog();
    this.prediction.feedback = false;
    this.prediction.slot = -1;
    this.chain = null;
  }

  reject(status: i32, message: string, code: string, param: string = "", retryAfter: bool = false): Outcome {
    this.kind = OutcomeKind.Reject;
    this.status = status;
    this.message = message;
    this.code = code;
    this.param = param;
    this.retryAfter = retryAfter;
    return this;
  }

  /** A refusal about the queue: carries x-infergate-queue-reason and Retry-After. */
  rejectQueued(status: i32, message: string, code: string, reason: string): Outcome {
    this.reject(status, message, code, "", true);
    this.queueReason = reason;
    return this;
  }

  hold(pool: Pool, priority: i32): Outcome {
    this.kind = OutcomeKind.Hold;
    this.pool = pool;
    this.priority = priority;
    return this;
  }
}
