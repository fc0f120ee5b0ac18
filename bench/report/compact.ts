// The committed results JSON: the run's setup, goals and per-step / per-contender aggregates, without
// the per-request samples (TTFT and latency arrays) that only the pictures need. Those stay in the
// run's raw.json (git-ignored), so the repository does not grow by megabytes per run.

/** Arrays of more than this many numbers are per-request samples. */
const MAX_SAMPLES = 64;

export function compactResults<T>(r: T): T {
  return JSON.parse(
    JSON.stringify(r, (_k, v) =>
      Array.isArray(v) && v.length > MAX_SAMPLES && v.every((x) => typeof x === "number" || x === null) ? undefined : v,
    ),
  ) as T;
}
