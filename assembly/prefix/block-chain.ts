// The chain of prompt block hashes: one pass of XXH64's four-lane stripe loop over the whole
// prompt, a hash taken at the end of every block. Hash i depends on blocks 0..i through the lanes,
// which is what makes a block's hash name its whole prefix.
//
// It replaced XXH64 of each block seeded with the previous block's hash: there every block ended in
// XXH64's merge (four dependent multiply rounds) and avalanche, and the next block could not start
// until that result existed, so 128 blocks ran ~30 dependent multiplies each (~3 us for an 8 KB
// prompt inside Envoy). Here the lanes carry the chain; the per-block hash (sum of the lanes,
// avalanche) is off that critical path, and a block costs its stripe rounds.
import { avalanche, P1, P2, round } from "./xxhash64";

export class BlockChain {
  private v1: u64 = 0;
  private v2: u64 = 0;
  private v3: u64 = 0;
  private v4: u64 = 0;

  /** Starts a chain (the seed names the model and block size: two chains never share hashes). */
  start(seed: u64): void {
    this.v1 = seed + P1 + P2;
    this.v2 = seed + P2;
    this.v3 = seed;
    this.v4 = seed - P1;
  }

  /**
   * Absorbs `blocks` consecutive blocks of `size` bytes from ptr, writing their hashes to
   * out[at, at + blocks). Every block of a chain has the same size, so the tail past the last whole
   * 32-byte stripe always has the same layout.
   */
  run(ptr: usize, size: usize, blocks: i32, out: StaticArray<u64>, at: i32): void {
    let v1 = this.v1,
      v2 = this.v2,
      v3 = this.v3,
      v4 = this.v4;
    let p = ptr;
    for (let b = 0; b < blocks; b++) {
      const end = p + size;
      while (p + 32 <= end) {
        v1 = round(v1, load<u64>(p));
        v2 = round(v2, load<u64>(p + 8));
        v3 = round(v3, load<u64>(p + 16));
        v4 = round(v4, load<u64>(p + 24));
        p += 32;
      }
      if (p < end) {
        // Under 32 bytes left: whole words into the lanes in order, the last bytes packed into v4.
        if (p + 8 <= end) {
          v1 = round(v1, load<u64>(p));
          p += 8;
        }
        if (p + 8 <= end) {
          v2 = round(v2, load<u64>(p));
          p += 8;
        }
        if (p + 8 <= end) {
          v3 = round(v3, load<u64>(p));
          p += 8;
        }
        if (p < end) {
          let w: u64 = 0;
          for (let s: u64 = 0; p < end; p++, s += 8) w |= (<u64>load<u8>(p)) << s;
          v4 = round(v4, w);
        }
      }
      unchecked((out[at + b] = avalanche(rotl<u64>(v1, 1) + rotl<u64>(v2, 7) + rotl<u64>(v3, 12) + rotl<u64>(v4, 18))));
    }
    this.v1 = v1;
    this.v2 = v2;
    this.v3 = v3;
    this.v4 = v4;
  }
}
