// Randomness from the host: WASI's random_get, which proxy-wasm hosts provide (Envoy fills it from
// BoringSSL's RAND_bytes). Kept in a file of its own because Biome cannot parse AssemblyScript's
// decorators.

@external("wasi_snapshot_preview1", "random_get")
declare function wasi_random_get(buf: usize, len: usize): u16;

const scratch = memory.data(8);

/** 64 bits from the host's entropy source; 0 when the host has none to give. */
export function entropy64(): u64 {
  if (wasi_random_get(scratch, 8) != 0) return 0;
  return load<u64>(scratch);
}
