// Highest score first; exact ties are broken uniformly at random (reservoir sampling), so equal
// pods share traffic instead of the first one taking it all.
import { Candidate, Picker, SchedulingContext } from "../framework";

export class MaxScorePicker extends Picker {
  constructor() {
    super("max-score-picker");
  }
  pick(ctx: SchedulingContext, out: Candidate[], max: i32): void {
    rankByScore(ctx, ctx.candidates, out, max);
  }
}

/**
 * Appends up to `max` of `from` to `out`, best score first (partial selection: O(max * n)),
 * skipping any already in `out`.
 */
export function rankByScore(ctx: SchedulingContext, from: Candidate[], out: Candidate[], max: i32): void {
  while (out.length < max) {
    let best: Candidate | null = null;
    let bestScore: f64 = 0;
    let ties = 0;
    const taken = out.length;
    for (let i = 0; i < from.length; i++) {
      const c = unchecked(from[i]);
      const s = c.score;
      // Below the best so far: neither better nor tied, whether taken or not (most candidates of a
      // large pool, skipped before the scan of the picks so far).
      if (best !== null && s < bestScore - 1e-9) continue;
      if (taken > 0 && isTaken(out, taken, c)) continue;
      if (best === null || s > bestScore + 1e-9) {
        best = c;
        bestScore = s;
        ties = 1;
      } else if (s >= bestScore - 1e-9) {
        ties++;
        if (ctx.rng.below(ties) == 0) {
          best = c;
          bestScore = s;
        }
      }
    }
    if (best === null) return;
    out.push(best);
  }
}

/** Whether `c` is among out[0, taken) (a few: the picks so far). */
function isTaken(out: Candidate[], taken: i32, c: Candidate): bool {
  for (let k = 0; k < taken; k++) if (unchecked(out[k]) === c) return true;
  return false;
}
