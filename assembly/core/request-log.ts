// The "Request Handled" line: one JSON object per routed request, what operators grep for
// (the seed's verification step reads it). One typed record, one formatter.
import { jsonQuote } from "../json/quote";

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

  format(): string {
    let s =
      'Request Handled {"requestId":' +
      jsonQuote(this.requestId) +
      ',"model":' +
      jsonQuote(this.model) +
      ',"targetModel":' +
      jsonQuote(this.targetModel) +
      ',"pool":' +
      jsonQuote(this.pool) +
      ',"pod":' +
      jsonQuote(this.pod) +
      ',"address":' +
      jsonQuote(this.address) +
      ',"strategy":"' +
      this.strategy +
      '","criticality":' +
      this.criticality.toString() +
      ',"priority":' +
      this.priority.toString() +
      ',"candidates":' +
      this.candidates.toString() +
      ',"eligible":' +
      this.eligible.toString() +
      ',"stream":' +
      (this.stream ? "true" : "false") +
      ',"loadFresh":' +
      (this.loadFresh ? "true" : "false") +
      ',"decisionUs":' +
      this.decisionUs.toString();
    if (this.route.length > 0) s += ',"route":' + jsonQuote(this.route);
    if (this.fallbacks.length > 0) {
      s += ',"fallbacks":[';
      for (let i = 0; i < this.fallbacks.length; i++) s += (i > 0 ? "," : "") + jsonQuote(this.fallbacks[i]);
      s += "]";
    }
    if (this.hasPrefix) {
      const score = this.totalBlocks > 0 ? <f64>this.matchedBlocks / <f64>this.totalBlocks : 0;
      s +=
        ',"matchedBlocks":' +
        this.matchedBlocks.toString() +
        ',"totalBlocks":' +
        this.totalBlocks.toString() +
        ',"prefixScore":' +
        (Math.round(score * 1000) / 1000).toString() +
        ',"bestMatch":' +
        this.bestMatch.toString() +
        ',"recordUs":' +
        this.recordUs.toString();
      if (this.indexedBlocks >= 0) s += ',"indexedBlocks":' + this.indexedBlocks.toString();
      if (this.realBlocks >= 0)
        s +=
          ',"realBlocks":' +
          this.realBlocks.toString() +
          ',"cachedTokens":' +
          this.cachedTokens.toString() +
          ',"promptTokens":' +
          this.promptTokens.toString();
      if (this.affinityPod.length > 0)
        s +=
          ',"affinityPod":' +
          jsonQuote(this.affinityPod) +
          ',"affinityYield":"' +
          this.affinityYield +
          '","affinityInflight":' +
          this.affinityInflight.toString();
    }
    if (this.prefillPod.length > 0) s += this.formatPd();
    if (this.queueWaitMs >= 0) s += ',"queueWaitMs":' + this.queueWaitMs.toString();
    if (this.scores.length > 0) s += ',"scores":{' + this.scores + "}";
    return s + "}";
  }

  private formatPd(): string {
    let s =
      ',"prefillPod":' +
      jsonQuote(this.prefillPod) +
      ',"prefillAddress":' +
      jsonQuote(this.prefillAddress) +
      ',"prefillStrategy":"' +
      this.prefillStrategy +
      '","prefillEligible":' +
      this.prefillEligible.toString() +
      // A string: rooms are 63-bit, past what JSON readers like JavaScript's keep exactly.
      ',"bootstrapRoom":"' +
      this.bootstrapRoom +
      '"' +
      ',"bootstrapPort":' +
      this.bootstrapPort.toString();
    if (this.prefillTotalBlocks >= 0)
      s +=
        ',"prefillMatchedBlocks":' +
        this.prefillMatchedBlocks.toString() +
        ',"prefillTotalBlocks":' +
        this.prefillTotalBlocks.toString();
    if (this.prefillStatus >= 0)
      s += ',"prefillStatus":' + this.prefillStatus.toString() + ',"prefillMs":' + this.prefillMs.toString();
    if (this.prefillCancelled) s += ',"prefillCancelled":true';
    if (this.prefillPromptTokens >= 0)
      s +=
        ',"prefillPromptTokens":' +
        this.prefillPromptTokens.toString() +
        ',"prefillCachedTokens":' +
        this.prefillCachedTokens.toString();
    return s;
  }
}
