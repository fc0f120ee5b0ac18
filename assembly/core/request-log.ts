// The "Request Handled" line: one JSON object per routed request, what operators grep for
// (the seed's verification step reads it). One typed record, one formatter writing UTF-8 bytes
// into a reused buffer (json-line-writer.ts).
import { JsonLineWriter } from "./json-line-writer";

export class RequestLog {
  requestId: string = "";
  model: string = "";
  targetModel: string = "";
  pool: string = "";
  pod: string = "";
  address: string = "";
  strategy: string = "";
  /** The request's priority (higher is served first from the queue; negative is sheddable). */
  priority: i32 = 0;
  /** The priority's class, for lines read before priorities: 0 Critical (> 0), 1 Standard (0), 2 Sheddable (< 0). */
  criticality: i32 = 1;
  /** Version-2 tables: the route entry the request matched, "namespace/name#rule.match" ("" = none). */
  route: string = "";
  candidates: i32 = 0;
  eligible: i32 = 0;
  stream: bool = false;
  loadFresh: bool = true;
  /** Time in the filter from the full body to the decision, parse included (µs). */
  decisionUs: i64 = 0;
  /** Pods to try next if the chosen one fails, in order. */
  fallbacks: string[] = [];
  /** The pod that answered when it was not the chosen one (Envoy retried on a fallback), else "". */
  answeredBy: string = "";

  // PREFIX_CACHE
  hasPrefix: bool = false;
  matchedBlocks: i32 = 0;
  totalBlocks: i32 = 0;
  bestMatch: i32 = 0;
  /** Recording the prompt's blocks in the index (µs). */
  recordUs: i64 = 0;
  /** Feedback mode: blocks the index held for the pod (matchedBlocks is what was credited of
   *  them), and what the pod then reported: its cached prefix in blocks, from its cached tokens. */
  indexedBlocks: i32 = -1;
  realBlocks: i32 = -1;
  cachedTokens: i64 = -1;
  promptTokens: i64 = -1;
  /** The pod holding the longest match, when it was not chosen ("" otherwise), and why. */
  affinityPod: string = "";
  affinityYield: string = "";
  affinityInflight: i32 = 0;

  // P/D (prefillPod non-empty): the prefill pod, its stage's strategy and candidates left after
  // filtering, the room and bootstrap port the two pods met with, with PREFIX_CACHE on the prefill
  // stage the blocks credited to the prefill pod, and what the prefill pod answered: its HTTP
  // status (0: no answer, the connection failed or timed out), how long it took, and its usage.
  prefillPod: string = "";
  prefillAddress: string = "";
  prefillStrategy: string = "";
  prefillEligible: i32 = 0;
  bootstrapRoom: string = "";
  bootstrapPort: i32 = 0;
  prefillMatchedBlocks: i32 = -1;
  prefillTotalBlocks: i32 = -1;
  prefillStatus: i32 = -1;
  prefillMs: i64 = -1;
  prefillPromptTokens: i64 = -1;
  prefillCachedTokens: i64 = -1;
  /** The client went away first: the prefill was cancelled (its leg closed). */
  prefillCancelled: bool = false;

  /** Held in the gateway's queue first: how long (ms); -1 when not held. */
  queueWaitMs: i64 = -1;
  /** logScores: each scorer's weighted score for the chosen pod, as `"name":v,...` ("" = off). */
  scores: string = "";

  /** The line, written into `w` (reset first): what the host logs, byte for byte. */
  write(w: JsonLineWriter): void {
    w.reset();
    w.ascii('Request Handled {"requestId":');
    w.quoted(this.requestId);
    w.ascii(',"model":');
    w.quoted(this.model);
    w.ascii(',"targetModel":');
    w.quoted(this.targetModel);
    w.ascii(',"pool":');
    w.quoted(this.pool);
    w.ascii(',"pod":');
    w.quoted(this.pod);
    w.ascii(',"address":');
    w.quoted(this.address);
    w.ascii(',"strategy":"');
    w.raw(this.strategy);
    w.ascii('","criticality":');
    w.int(this.criticality);
    w.ascii(',"priority":');
    w.int(this.priority);
    w.ascii(',"candidates":');
    w.int(this.candidates);
    w.ascii(',"eligible":');
    w.int(this.eligible);
    w.ascii(',"stream":');
    w.bool(this.stream);
    w.ascii(',"loadFresh":');
    w.bool(this.loadFresh);
    w.ascii(',"decisionUs":');
    w.int(this.decisionUs);
    if (this.route.length > 0) {
      w.ascii(',"route":');
      w.quoted(this.route);
    }
    const fallbacks = this.fallbacks;
    if (fallbacks.length > 0) {
      w.ascii(',"fallbacks":[');
      for (let i = 0; i < fallbacks.length; i++) {
        if (i > 0) w.byte(0x2c);
        w.quoted(unchecked(fallbacks[i]));
      }
      w.byte(0x5d);
    }
    if (this.answeredBy.length > 0) {
      w.ascii(',"answeredBy":');
      w.quoted(this.answeredBy);
    }
    if (this.hasPrefix) this.writePrefix(w);
    if (this.prefillPod.length > 0) this.writePd(w);
    if (this.queueWaitMs >= 0) {
      w.ascii(',"queueWaitMs":');
      w.int(this.queueWaitMs);
    }
    if (this.scores.length > 0) {
      w.ascii(',"scores":{');
      w.raw(this.scores);
      w.byte(0x7d);
    }
    w.byte(0x7d);
  }

  /** The line as a string (tests). */
  format(): string {
    const w = new JsonLineWriter(256);
    this.write(w);
    const s = w.toString();
    w.free();
    return s;
  }

  private writePrefix(w: JsonLineWriter): void {
    const score = this.totalBlocks > 0 ? <f64>this.matchedBlocks / <f64>this.totalBlocks : 0;
    w.ascii(',"matchedBlocks":');
    w.int(this.matchedBlocks);
    w.ascii(',"totalBlocks":');
    w.int(this.totalBlocks);
    w.ascii(',"prefixScore":');
    w.thousandths(score);
    w.ascii(',"bestMatch":');
    w.int(this.bestMatch);
    w.ascii(',"recordUs":');
    w.int(this.recordUs);
    if (this.indexedBlocks >= 0) {
      w.ascii(',"indexedBlocks":');
      w.int(this.indexedBlocks);
    }
    if (this.realBlocks >= 0) {
      w.ascii(',"realBlocks":');
      w.int(this.realBlocks);
      w.ascii(',"cachedTokens":');
      w.int(this.cachedTokens);
      w.ascii(',"promptTokens":');
      w.int(this.promptTokens);
    }
    if (this.affinityPod.length > 0) {
      w.ascii(',"affinityPod":');
      w.quoted(this.affinityPod);
      w.ascii(',"affinityYield":"');
      w.raw(this.affinityYield);
      w.ascii('","affinityInflight":');
      w.int(this.affinityInflight);
    }
  }

  private writePd(w: JsonLineWriter): void {
    w.ascii(',"prefillPod":');
    w.quoted(this.prefillPod);
    w.ascii(',"prefillAddress":');
    w.quoted(this.prefillAddress);
    w.ascii(',"prefillStrategy":"');
    w.raw(this.prefillStrategy);
    w.ascii('","prefillEligible":');
    w.int(this.prefillEligible);
    // A string: rooms are 63-bit, past what JSON readers like JavaScript's keep exactly.
    w.ascii(',"bootstrapRoom":"');
    w.raw(this.bootstrapRoom);
    w.ascii('","bootstrapPort":');
    w.int(this.bootstrapPort);
    if (this.prefillTotalBlocks >= 0) {
      w.ascii(',"prefillMatchedBlocks":');
      w.int(this.prefillMatchedBlocks);
      w.ascii(',"prefillTotalBlocks":');
      w.int(this.prefillTotalBlocks);
    }
    if (this.prefillStatus >= 0) {
      w.ascii(',"prefillStatus":');
      w.int(this.prefillStatus);
      w.ascii(',"prefillMs":');
      w.int(this.prefillMs);
    }
    if (this.prefillCancelled) w.ascii(',"prefillCancelled":true');
    if (this.prefillPromptTokens >= 0) {
      w.ascii(',"prefillPromptTokens":');
      w.int(this.prefillPromptTokens);
      w.ascii(',"prefillCachedTokens":');
      w.int(this.prefillCachedTokens);
    }
  }
}
