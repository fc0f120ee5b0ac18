// Faults a gateway test can switch on in a simulated pod, by flag at start or at run time with
//   POST   /admin/faults   {"latencyMs":..,"errorRate":..,...}   (merges into the current set)
//   PUT    /admin/faults   {...}                                  (replaces the current set)
//   GET    /admin/faults                                          (current set)
//   DELETE /admin/faults                                          (all off)
// They apply to the inference endpoints (/v1/chat/completions, /v1/completions) unless noted.

export interface Faults {
  /** extra delay before the request is handled at all (added to TTFT), ms */
  latencyMs: number;
  /** fraction 0..1 of inference requests answered with an error (status errorStatus) */
  errorRate: number;
  /** HTTP status of injected errors (500 unless set; 429 and 503 are useful too) */
  errorStatus: number;
  /** accept inference requests and never answer (until the client gives up) */
  hang: boolean;
  /** cut the connection after this many output tokens were sent (streaming), or mid-body
   *  (non-streaming); true means after the first token. */
  closeMidStream: boolean | number;
  /** GET /metrics answers 503 (true) or resets the connection ("reset") */
  metricsDown: boolean | "reset";
  /** extra delay before GET /metrics answers, ms */
  metricsDelayMs: number;
  /** GET /health (and the other health paths) answer 503 */
  healthDown: boolean;
}

export function noFaults(): Faults {
  return {
    latencyMs: 0,
    errorRate: 0,
    errorStatus: 500,
    hang: false,
    closeMidStream: false,
    metricsDown: false,
    metricsDelayMs: 0,
    healthDown: false,
  };
}

/** Validates a JSON fault spec; returns the merged set or an error message. */
export function mergeFaults(base: Faults, patch: unknown): Faults | string {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return "faults must be a JSON object";
  const out: Faults = { ...base };
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    switch (k) {
      case "latencyMs":
      case "metricsDelayMs":
        if (typeof v !== "number" || !(v >= 0)) return `${k} must be a number >= 0`;
        out[k] = v;
        break;
      case "errorRate":
        if (typeof v !== "number" || !(v >= 0 && v <= 1)) return "errorRate must be a number in [0, 1]";
        out.errorRate = v;
        break;
      case "errorStatus":
        if (typeof v !== "number" || !Number.isInteger(v) || v < 400 || v > 599)
          return "errorStatus must be an HTTP error status (400..599)";
        out.errorStatus = v;
        break;
      case "hang":
      case "healthDown":
        if (typeof v !== "boolean") return `${k} must be a boolean`;
        out[k] = v;
        break;
      case "closeMidStream":
        if (typeof v !== "boolean" && !(typeof v === "number" && Number.isInteger(v) && v >= 0))
          return "closeMidStream must be a boolean or a token count";
        out.closeMidStream = v;
        break;
      case "metricsDown":
        if (typeof v !== "boolean" && v !== "reset") return 'metricsDown must be a boolean or "reset"';
        out.metricsDown = v;
        break;
      default:
        return `unknown fault "${k}"`;
    }
  }
  return out;
}

/** Tokens after which a stream is cut, or -1 for never. */
export function closeAfterTokens(f: Faults): number {
  if (f.closeMidStream === false) return -1;
  if (f.closeMidStream === true) return 1;
  return f.closeMidStream;
}

/** A small deterministic PRNG (mulberry32) so error-rate faults are reproducible with --seed. */
export function makeRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
