// A deterministic stand-in for a real tokenizer (no tokenizer download, no model files).
//
// What routing needs from tokens is: a prompt length that grows with the text, and a token
// sequence whose prefix is stable when text is appended (so that a later turn of a conversation
// shares leading KV blocks with an earlier one). The approximation below has both properties.
//
// Rules (see README.md, "Token approximation"):
//  - Chat requests are first rendered with a ChatML template (the Qwen family's):
//      <|im_start|>{role}\n{content}<|im_end|>\n   for every message, then
//      <|im_start|>assistant\n                      (the generation prompt).
//  - Special markers `<|...|>` are one token each.
//  - Otherwise a token is an optional single leading space followed by one of:
//      a run of at most 5 ASCII letters; a run of at most 3 digits; one other non-space character
//      (punctuation, symbols, non-ASCII code points);
//    a run of whitespace that is not a single space before such a piece (newlines, indentation)
//    is one token.
//  English prose comes out near 1.3 tokens per word / ~4 characters per token, close to BPE
//  tokenizers. Token ids are a 32-bit FNV-1a hash of the token's text: equal text, equal id.
//
// Output text is generated from a fixed word list, one token per word (" the", " model", ...),
// so completion_tokens equals the number of generated words.

const TOKEN_RE = /<\|[a-z_]{1,24}\|>| ?[A-Za-z]{1,5}| ?[0-9]{1,3}| ?[^\sA-Za-z0-9]|\s+?(?=\S)|\s+/gu;

/** Splits text into token strings. Deterministic; concatenating the pieces gives back the text. */
export function tokenize(text: string): string[] {
  return text.match(TOKEN_RE) ?? [];
}

/** 32-bit FNV-1a of a string (UTF-16 code units). */
export function fnv1a32(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Token ids of a text (one 32-bit id per token piece). */
export function encode(text: string): number[] {
  const pieces = tokenize(text);
  const ids = new Array<number>(pieces.length);
  for (let i = 0; i < pieces.length; i++) ids[i] = fnv1a32(pieces[i]);
  return ids;
}

/** Number of tokens of a text, without materialising ids. */
export function countTokens(text: string): number {
  TOKEN_RE.lastIndex = 0;
  let n = 0;
  while (TOKEN_RE.exec(text) !== null) n++;
  TOKEN_RE.lastIndex = 0;
  return n;
}

export interface ChatMessage {
  role: string;
  content: string;
}

/** Renders chat messages with the ChatML template plus the assistant generation prompt. */
export function renderChat(messages: ChatMessage[]): string {
  let s = "";
  for (const m of messages) s += `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`;
  return `${s}<|im_start|>assistant\n`;
}

// The generated text: a fixed cycle of common words, one token each (all at most 5 letters, so
// each " word" is exactly one token under the rules above).
const OUTPUT_WORDS = [
  "The",
  " model",
  " reads",
  " the",
  " query",
  " and",
  " gives",
  " a",
  " short",
  " reply",
  ".",
  " It",
  " is",
  " made",
  " by",
  " a",
  " simul",
  "ator",
  " for",
  " tests",
  " of",
  " the",
  " gate",
  " way",
  ",",
  " not",
  " by",
  " a",
  " real",
  " model",
  ".",
  " Each",
  " word",
  " here",
  " is",
  " one",
  " token",
  ".",
];

/** The i-th generated token's text (0-based). */
export function outputToken(i: number): string {
  return OUTPUT_WORDS[i % OUTPUT_WORDS.length];
}

const OUTPUT_IDS = OUTPUT_WORDS.map((w) => fnv1a32(w));

/** The i-th generated token's id (what encode() gives for its text). */
export function outputTokenId(i: number): number {
  return OUTPUT_IDS[i % OUTPUT_IDS.length];
}

/** The text of the first n generated tokens. */
export function outputText(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += outputToken(i);
  return s;
}
