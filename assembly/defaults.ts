// The seed's defaults (004_*: "prefix-cache-hash-block-size" 64, "prefix-cache-max-prefix-blocks"
// 128, "prefix-cache-lru-capacity" 50000, "total-queue-capacity" 104857600 bytes, "queue-ttl" 30s),
// spelled once for the filter. The control plane's copy is controlplane/model/annotations.ts; the
// table carries the values in effect, so these only apply when a table leaves a field out.
export const DEFAULT_BLOCK_SIZE: i32 = 64;
export const DEFAULT_MAX_BLOCKS: i32 = 128;
export const DEFAULT_LRU_CAPACITY: i32 = 50000;
export const DEFAULT_QUEUE_CAPACITY_BYTES: f64 = 104857600;
export const DEFAULT_QUEUE_TTL_MS: f64 = 30000;
/** Ours, not the seed's: a streaming request's time to response headers before the next pod. */
export const DEFAULT_FIRST_BYTE_TIMEOUT_MS: f64 = 10000;
/** Ours: PREFIX_CACHE learns from responses ("feedback") or trusts what it routed ("estimate"). */
export const DEFAULT_PREFIX_MODE: string = "feedback";
