// How the LangGraph saver stores what the saver's serde produces: the
// serde's type and its bytes, as UTF-8 text when they are (JSON always is)
// and base64 otherwise, so nothing the serde wrote is lost. Channel values
// that grow by appending (a message list) are stored as a delta of an older
// version: the length of the prefix they share, plus the new tail.
import type { SerializerProtocol } from "@langchain/langgraph-checkpoint";

/** Serde output as stored: text when the bytes are UTF-8, else base64. */
export type Typed = { t: string; s: string } | { t: string; b: string };

/** A channel value stored as a delta: the first `keep` characters of version `base`, then `s`. */
export interface Delta {
  t: string;
  s: string;
  base: string;
  keep: number;
  depth: number;
}

/** A stored channel value: whole, or a delta of the value at an older version. */
export type Blob = Typed | Delta;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Serialises `value` with `serde` into its stored form. */
export async function encode(serde: SerializerProtocol, value: unknown): Promise<Typed> {
  const [t, bytes] = await serde.dumpsTyped(value);
  try {
    return { t, s: utf8.decode(bytes) };
  } catch {
    return { t, b: toBase64(bytes) };
  }
}

/** The inverse of {@linkcode encode}. */
export function decode(serde: SerializerProtocol, typed: Typed): Promise<unknown> {
  return serde.loadsTyped(typed.t, "s" in typed ? typed.s : fromBase64(typed.b));
}

/** Whether a stored blob is a delta. */
export function isDelta(blob: Blob): blob is Delta {
  return "base" in blob;
}

/** Deltas are written only when they keep at least this much of the base. */
const MIN_KEEP = 256;

/** At most this many deltas in a row: a cold read follows at most this many links. */
export const MAX_DEPTH = 16;

/**
 * A delta of `text` (version `version`) against `base`, the same channel's
 * value at an older version, or undefined when a whole copy is the better
 * choice: the two share little, the tail would be most of the value, or the
 * chain of deltas is long enough already. A delta's base is always an older
 * version, so deltas never form a cycle.
 */
export function delta(
  text: string,
  t: string,
  version: string,
  base: { version: string; t: string; text: string; depth: number },
): Delta | undefined {
  if (base.depth >= MAX_DEPTH || base.t !== t || !isOlder(base.version, version)) return undefined;
  const keep = commonPrefix(base.text, text);
  if (keep < MIN_KEEP || text.length - keep > text.length / 2) return undefined;
  return { t, s: text.slice(keep), base: base.version, keep, depth: base.depth + 1 };
}

/** Whether channel version `a` comes before `b` (numbers by value, else as LangGraph orders strings). */
export function isOlder(a: string, b: string): boolean {
  const x = Number(a);
  const y = Number(b);
  if (a !== "" && b !== "" && Number.isFinite(x) && Number.isFinite(y)) return x < y;
  return a.localeCompare(b) < 0;
}

/** The text of a delta, given its base's text. */
export function applyDelta(blob: { s: string; keep: number }, baseText: string): string {
  return baseText.slice(0, blob.keep) + blob.s;
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  // Compare in chunks first: the shared prefix is usually almost everything.
  let i = 0;
  for (const step of [4096, 256, 16]) {
    while (i + step <= n && a.slice(i, i + step) === b.slice(i, i + step)) i += step;
  }
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  // Never split a surrogate pair: the tail must stay well-formed text.
  if (i > 0 && i < n && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800) i--;
  return i;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
