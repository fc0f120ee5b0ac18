// xorshift64*: a fast, allocation-free PRNG for tie-breaking. Not for anything security-related.
export class Random {
  private s: u64;
  constructor(seed: u64) {
    this.s = seed != 0 ? seed : 0x9e3779b97f4a7c15;
  }
  reseed(seed: u64): void {
    this.s = seed != 0 ? seed : 0x9e3779b97f4a7c15;
  }
  next(): u64 {
    let x = this.s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    this.s = x;
    return x * 0x2545f4914f6cdd1d;
  }
  /** Uniform integer in [0, n). */
  below(n: i32): i32 {
    return <i32>((this.next() >> 33) % <u64>n);
  }
  /** Uniform in [0, 1). */
  unit(): f64 {
    return <f64>(this.next() >> 11) * (1.0 / 9007199254740992.0);
  }
}
