// What a pod says it had cached for a request: OpenAI's `usage.prompt_tokens` and
// `usage.prompt_tokens_details.cached_tokens` (vLLM with --enable-prompt-tokens-details, SGLang with
// --enable-cache-report), read from the last bytes of the response: the end of a JSON body, or the
// usage chunk a stream sends before `data: [DONE]` when the client asked for it. A scan for the
// two keys, not a JSON parse: the response is the pod's, already valid, and only its tail is kept.

export class Usage {
  promptTokens: i64 = -1;
  cachedTokens: i64 = -1;
  /** "prompt_tokens_details":null: SGLang's way of saying zero (it omits a zero count); vLLM's of
   *  saying it does not report (--enable-prompt-tokens-details off). The caller knows which. */
  detailsNull: bool = false;
  get known(): bool {
    return this.promptTokens > 0 && this.cachedTokens >= 0;
  }
}

const PROMPT_KEY = '"prompt_tokens":';
const CACHED_KEY = '"cached_tokens":';

/** The integer after the LAST occurrence of `key` in [ptr, ptr+len), or -1. */
function lastNumberAfter(ptr: usize, len: i32, key: string): i64 {
  const k = key.length;
  for (let at = len - k; at >= 0; at--) {
    let hit = true;
    for (let i = 0; i < k; i++) {
      if (<i32>load<u8>(ptr + <usize>(at + i)) != key.charCodeAt(i)) {
        hit = false;
        break;
      }
    }
    if (!hit) continue;
    let i = at + k;
    while (i < len && load<u8>(ptr + <usize>i) == 0x20) i++;
    let n: i64 = 0;
    let digits = 0;
    while (i < len && digits < 15) {
      const c = <i32>load<u8>(ptr + <usize>i);
      if (c < 0x30 || c > 0x39) break;
      n = n * 10 + <i64>(c - 0x30);
      digits++;
      i++;
    }
    return digits > 0 ? n : -1;
  }
  return -1;
}

const NULL_DETAILS = '"prompt_tokens_details":null';

export function readUsage(ptr: usize, len: i32, out: Usage): Usage {
  out.promptTokens = lastNumberAfter(ptr, len, PROMPT_KEY);
  out.cachedTokens = lastNumberAfter(ptr, len, CACHED_KEY);
  out.detailsNull = out.cachedTokens < 0 && contains(ptr, len, NULL_DETAILS);
  return out;
}

function contains(ptr: usize, len: i32, s: string): bool {
  const k = s.length;
  for (let at = len - k; at >= 0; at--) {
    let hit = true;
    for (let i = 0; i < k; i++) {
      if (<i32>load<u8>(ptr + <usize>(at + i)) != s.charCodeAt(i)) {
        hit = false;
        break;
      }
    }
    if (hit) return true;
  }
  return false;
}

/**
 * The pod's cached prefix in this prompt's blocks: cached tokens converted with the prompt's own
 * bytes-per-token ratio (the gateway hashes bytes of its rendering of the prompt; the pod counts
 * its tokenizer's tokens of the real template: the ratio carries over, the absolute numbers not).
 */
export function cachedBlocks(u: Usage, promptBytes: i32, blockSize: i32): i32 {
  if (!u.known || blockSize <= 0) return -1;
  const cached = u.cachedTokens > u.promptTokens ? u.promptTokens : u.cachedTokens;
  return <i32>(((<f64>cached / <f64>u.promptTokens) * <f64>promptBytes) / <f64>blockSize);
}

/** The last TAIL_BYTES of a response body, fed chunk by chunk (only the end holds the usage). */
export const TAIL_BYTES: i32 = 1024;

export class UsageTail {
  private buf: StaticArray<u8> = new StaticArray<u8>(TAIL_BYTES);
  private len: i32 = 0;

  /** Appends [ptr, ptr+n), keeping the last TAIL_BYTES bytes. */
  append(ptr: usize, n: i32): void {
    const base = changetype<usize>(this.buf);
    if (n >= TAIL_BYTES) {
      memory.copy(base, ptr + <usize>(n - TAIL_BYTES), <usize>TAIL_BYTES);
      this.len = TAIL_BYTES;
      return;
    }
    const keep = min(this.len, TAIL_BYTES - n);
    if (keep < this.len) memory.copy(base, base + <usize>(this.len - keep), <usize>keep);
    memory.copy(base + <usize>keep, ptr, <usize>n);
    this.len = keep + n;
  }

  read(out: Usage): Usage {
    return readUsage(changetype<usize>(this.buf), this.len, out);
  }
}
