// Plugin configuration (the wasm filter's `configuration` string), validated once at load.
//   {"mode":"gateway"|"control"|"prefill-leg", "token":"…", "maxBodyBytes":8388608, "fallbacks":2,
//    "weights":{"queue-scorer":2,"kv-cache-utilization-scorer":2,"in-flight-scorer":2,"prefix-cache-scorer":3},
//    "saturation":{"queueDepth":5,"kvUsage":0.8,"inFlightLimit":0,"metricsStalenessMs":2000},
//    "balanceBound":1.5, "imbalance":{"abs":32,"rel":1.5}, "rendezvousTolerance":1, "affinityThreshold":0.5,
//    "logScores":false, "handledLog":"envoy-log"|"access-log"}
// Weights name scorer plugins; the names are checked against the registry when the routing is
// built (routing/factory.ts), which lists the known ones in its error.
// "gateway" serves the public listener; "control" serves the loopback-only listener that
// accepts table pushes and requires the bearer token (at least 16 characters); "prefill-leg" the
// internal listener P/D prefill calls pass through (gateway/prefill-leg.ts).
import { JsonParser } from "./json/parser";
import { fmtNum, JsonValue, kindName } from "./json/value";

export enum Mode {
  Gateway = 0,
  Control = 1,
  PrefillLeg = 2,
}

export class PluginConfig {
  mode: Mode = Mode.Gateway;
  token: string = "";
  /** Long-context prompts and a few base64 images fit (issue: 1 MiB refused 200k-token prompts). */
  maxBodyBytes: i32 = 8388608;
  /** Pods listed after the chosen one, in order, for Envoy to retry on (override_host walks them). */
  fallbacks: i32 = 2;
  /** Scorer name -> weight, as configured (a scorer not named keeps its registered default). */
  weights: Map<string, f64> = new Map();
  /** A pod at or above these (fresh scrape) is saturated: never picked for prefix affinity alone. */
  saturationQueueDepth: f64 = 5;
  saturationKvUsage: f64 = 0.8;
  /** Gateway in-flight requests per pod at which it counts as saturated; 0 = no limit. */
  saturationInFlightLimit: i32 = 0;
  /** Metrics older than this (scrape age + table age) make a pod saturated for queueing. */
  saturationStalenessMs: f64 = 2000;
  /** Affinity yields when a pod has more than this times its fair share of in-flight requests.
   *  1.5, not 1.25: a spill costs the prefix's whole prefill on another pod; on the cache-pressure
   *  ramp at 60 QPS 1.25 spilled twice as often (27 vs 13 in 939 requests) for TTFT p90 436 vs
   *  97 ms, and with one prompt carrying half of 48 QPS it gave p90 1.6 vs 1.2 s. */
  balanceBound: f64 = 1.5;
  /** Affinity yields when the pod's waiting queue is at least imbalanceAbs deeper and imbalanceRel
   *  times as deep as the shortest candidate's. Close to sglang-router's balance thresholds (64,
   *  1.5): on the cache-pressure ramp at 60 QPS, 8 / 2 moved prefixes on queue noise (TTFT p90
   *  204 ms, hit 95.7 %) where 32 / 1.5 kept them (127 ms, 98.4 %). */
  imbalanceAbs: f64 = 32;
  imbalanceRel: f64 = 1.5;
  /** New prefixes: pods within this scraped-load score of the least loaded are rendezvous
   *  candidates. 1 of that score's range of 4 (queue 2 + KV cache 2): a pod clearly busier by what
   *  every replica scrapes alike gets no new prefix, whose first request is a whole prefill (a pod
   *  half as fast holds its longer-lived requests' KV cache: at 4, by hash alone, it took a quarter
   *  of the misses; uneven fleet, 3 rounds each: hit 64.4-68.6 -> 70.4 %, TTFT p90 0.9-3.0 -> 0.95-1.16
   *  s). Replicas still agree (two-replica hit rate 1.00-1.01x one replica's, 0.98-1.01x at 4); in-flight
   *  counts, which each replica has its own of, are not part of this score. */
  rendezvousTolerance: f64 = 1;
  /** A known prefix matched for at least this fraction of the prompt goes to its holder unless a
   *  guard objects (sglang-router's cache_threshold); a weaker match is weighed by the scorers. */
  affinityThreshold: f64 = 0.5;
  /** Add each scorer's weighted score for the chosen pod to `Request Handled` ("scores"). */
  logScores: bool = false;
  /** "Request Handled" lines through the listener's access log (filter state, buffered by Envoy;
   *  gateway/handled-log.ts) instead of Envoy's own log. */
  handledToAccessLog: bool = false;
  /** P/D: longest the prefill pod may take to answer before the request fails (ms). */
  prefillTimeoutMs: i32 = 60000;

  /** The configured weight of a scorer, or `fallback` when none was configured. */
  weightOf(name: string, fallback: f64): f64 {
    return this.weights.has(name) ? this.weights.get(name) : fallback;
  }
}

export class ConfigResult {
  config: PluginConfig | null = null;
  error: string = "";
}

function num(v: JsonValue, name: string, min: f64, max: f64, out: ConfigResult): f64 {
  if (!v.isNumber) {
    out.error = `${name} must be a number, got ${kindName(v.kind)}`;
    return 0;
  }
  if (!(v.n >= min && v.n <= max)) {
    out.error = `${name} must be in [${fmtNum(min)}, ${fmtNum(max)}]`;
    return 0;
  }
  return v.n;
}

export function parseConfig(text: string): ConfigResult {
  const out = new ConfigResult();
  const c = new PluginConfig();
  if (text.length == 0) {
    out.config = c;
    return out;
  }
  const p = new JsonParser();
  const root = p.parse(String.UTF8.encode(text));
  if (root === null) {
    out.error = `configuration is not valid JSON: ${p.error}`;
    return out;
  }
  if (!root.isObject) {
    out.error = "configuration must be a JSON object";
    return out;
  }
  const keys = root.keys!;
  for (let i = 0; i < keys.length && out.error.length == 0; i++) {
    const k = keys[i];
    const v = root.vals![i];
    if (k == "mode") {
      if (v.isString && v.s == "gateway") c.mode = Mode.Gateway;
      else if (v.isString && v.s == "control") c.mode = Mode.Control;
      else if (v.isString && v.s == "prefill-leg") c.mode = Mode.PrefillLeg;
      else out.error = 'mode must be "gateway", "control" or "prefill-leg"';
    } else if (k == "token") {
      if (!v.isString) out.error = "token must be a string";
      else c.token = v.s;
    } else if (k == "maxBodyBytes") {
      c.maxBodyBytes = <i32>num(v, "maxBodyBytes", 1024, 1073741824, out);
    } else if (k == "fallbacks") {
      c.fallbacks = <i32>num(v, "fallbacks", 0, 16, out);
    } else if (k == "weights") {
      if (!v.isObject) {
        out.error = "weights must be an object";
        break;
      }
      const wk = v.keys!;
      for (let j = 0; j < wk.length && out.error.length == 0; j++)
        c.weights.set(wk[j], num(v.vals![j], `weights.${wk[j]}`, 0, 1000, out));
    } else if (k == "saturation") {
      if (!v.isObject) {
        out.error = "saturation must be an object";
        break;
      }
      const sk = v.keys!;
      for (let j = 0; j < sk.length && out.error.length == 0; j++) {
        if (sk[j] == "queueDepth") c.saturationQueueDepth = num(v.vals![j], "saturation.queueDepth", 0, 1e9, out);
        else if (sk[j] == "kvUsage") c.saturationKvUsage = num(v.vals![j], "saturation.kvUsage", 0, 1, out);
        else if (sk[j] == "inFlightLimit")
          c.saturationInFlightLimit = <i32>num(v.vals![j], "saturation.inFlightLimit", 0, 1000000, out);
        else if (sk[j] == "metricsStalenessMs")
          c.saturationStalenessMs = num(v.vals![j], "saturation.metricsStalenessMs", 1, 3600000, out);
        else
          out.error = `unknown saturation key "${sk[j]}" (known: queueDepth, kvUsage, inFlightLimit, metricsStalenessMs)`;
      }
    } else if (k == "balanceBound") {
      c.balanceBound = num(v, "balanceBound", 0, 1000, out);
      if (out.error.length == 0 && c.balanceBound != 0 && c.balanceBound < 1)
        out.error = "balanceBound must be 0 (off) or at least 1";
    } else if (k == "imbalance") {
      if (!v.isObject) {
        out.error = "imbalance must be an object";
        break;
      }
      const ik = v.keys!;
      for (let j = 0; j < ik.length && out.error.length == 0; j++) {
        if (ik[j] == "abs") c.imbalanceAbs = num(v.vals![j], "imbalance.abs", 0, 1e9, out);
        else if (ik[j] == "rel") c.imbalanceRel = num(v.vals![j], "imbalance.rel", 1, 1e9, out);
        else out.error = `unknown imbalance key "${ik[j]}" (known: abs, rel)`;
      }
    } else if (k == "rendezvousTolerance") {
      c.rendezvousTolerance = num(v, "rendezvousTolerance", 0, 1000, out);
    } else if (k == "affinityThreshold") {
      c.affinityThreshold = num(v, "affinityThreshold", 0, 1, out);
    } else if (k == "prefillTimeoutMs") {
      c.prefillTimeoutMs = <i32>num(v, "prefillTimeoutMs", 1, 3600000, out);
    } else if (k == "handledLog") {
      if (v.isString && v.s == "envoy-log") c.handledToAccessLog = false;
      else if (v.isString && v.s == "access-log") c.handledToAccessLog = true;
      else out.error = 'handledLog must be "envoy-log" or "access-log"';
    } else if (k == "logScores") {
      if (!v.isBool) out.error = "logScores must be a boolean";
      else c.logScores = v.b;
    } else out.error = `unknown configuration key "${k}"`;
  }
  if (out.error.length == 0 && c.mode == Mode.Control && c.token.length < 16)
    out.error = "control mode needs a token of at least 16 characters";
  if (out.error.length == 0) out.config = c;
  return out;
}
