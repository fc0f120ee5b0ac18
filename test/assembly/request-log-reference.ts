// The "Request Handled" line as the filter built it before it wrote bytes into a reused buffer
// (string concatenation, then String.UTF8.encode for the host): kept as the reference the byte
// writer (assembly/core/request-log.ts write) is compared with, over varied records
// (test/unit/request-log.test.ts).

import { RequestLog } from "../../assembly/core/request-log";
import { jsonQuote } from "../../assembly/json/quote";

export function referenceFormat(l: RequestLog): string {
  let s =
    'Request Handled {"requestId":' +
    jsonQuote(l.requestId) +
    ',"model":' +
    jsonQuote(l.model) +
    ',"targetModel":' +
    jsonQuote(l.targetModel) +
    ',"pool":' +
    jsonQuote(l.pool) +
    ',"pod":' +
    jsonQuote(l.pod) +
    ',"address":' +
    jsonQuote(l.address) +
    ',"strategy":"' +
    l.strategy +
    '","criticality":' +
    l.criticality.toString() +
    ',"priority":' +
    l.priority.toString() +
    ',"candidates":' +
    l.candidates.toString() +
    ',"eligible":' +
    l.eligible.toString() +
    ',"stream":' +
    (l.stream ? "true" : "false") +
    ',"loadFresh":' +
    (l.loadFresh ? "true" : "false") +
    ',"decisionUs":' +
    l.decisionUs.toString();
  if (l.route.length > 0) s += ',"route":' + jsonQuote(l.route);
  if (l.fallbacks.length > 0) {
    s += ',"fallbacks":[';
    for (let i = 0; i < l.fallbacks.length; i++) s += (i > 0 ? "," : "") + jsonQuote(l.fallbacks[i]);
    s += "]";
  }
  if (l.answeredBy.length > 0) s += ',"answeredBy":' + jsonQuote(l.answeredBy);
  if (l.hasPrefix) {
    const score = l.totalBlocks > 0 ? <f64>l.matchedBlocks / <f64>l.totalBlocks : 0;
    s +=
      ',"matchedBlocks":' +
      l.matchedBlocks.toString() +
      ',"totalBlocks":' +
      l.totalBlocks.toString() +
      ',"prefixScore":' +
      (Math.round(score * 1000) / 1000).toString() +
      ',"bestMatch":' +
      l.bestMatch.toString() +
      ',"recordUs":' +
      l.recordUs.toString();
    if (l.indexedBlocks >= 0) s += ',"indexedBlocks":' + l.indexedBlocks.toString();
    if (l.realBlocks >= 0)
      s +=
        ',"realBlocks":' +
        l.realBlocks.toString() +
        ',"cachedTokens":' +
        l.cachedTokens.toString() +
        ',"promptTokens":' +
        l.promptTokens.toString();
    if (l.affinityPod.length > 0)
      s +=
        ',"affinityPod":' +
        jsonQuote(l.affinityPod) +
        ',"affinityYield":"' +
        l.affinityYield +
        '","affinityInflight":' +
        l.affinityInflight.toString();
  }
  if (l.prefillPod.length > 0) s += referencePd(l);
  if (l.queueWaitMs >= 0) s += ',"queueWaitMs":' + l.queueWaitMs.toString();
  if (l.scores.length > 0) s += ',"scores":{' + l.scores + "}";
  return s + "}";
}

function referencePd(l: RequestLog): string {
  let s =
    ',"prefillPod":' +
    jsonQuote(l.prefillPod) +
    ',"prefillAddress":' +
    jsonQuote(l.prefillAddress) +
    ',"prefillStrategy":"' +
    l.prefillStrategy +
    '","prefillEligible":' +
    l.prefillEligible.toString() +
    // A string: rooms are 63-bit, past what JSON readers like JavaScript's keep exactly.
    ',"bootstrapRoom":"' +
    l.bootstrapRoom +
    '"' +
    ',"bootstrapPort":' +
    l.bootstrapPort.toString();
  if (l.prefillTotalBlocks >= 0)
    s +=
      ',"prefillMatchedBlocks":' +
      l.prefillMatchedBlocks.toString() +
      ',"prefillTotalBlocks":' +
      l.prefillTotalBlocks.toString();
  if (l.prefillStatus >= 0)
    s += ',"prefillStatus":' + l.prefillStatus.toString() + ',"prefillMs":' + l.prefillMs.toString();
  if (l.prefillCancelled) s += ',"prefillCancelled":true';
  if (l.prefillPromptTokens >= 0)
    s +=
      ',"prefillPromptTokens":' +
      l.prefillPromptTokens.toString() +
      ',"prefillCachedTokens":' +
      l.prefillCachedTokens.toString();
  return s;
}
