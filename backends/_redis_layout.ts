// Key layout and entry encoding of the Redis backend (documented in
// references/backends.md). Every key of a namespace starts with
// "<prefix>:{<namespace>}:", so the namespace is the Cluster hash tag.
import { compareKeys, prefixEnd } from "../core/_keys.ts";
import { StateDamagedError, ValidationError } from "../errors.ts";
import { byteLength } from "../core/_validate.ts";
import type { StoredEntry } from "../types.ts";

/** Default key prefix. */
export const DEFAULT_PREFIX = "ms";

const PREFIX_RE = /^[A-Za-z0-9_.:\-\/]{1,64}$/;

/** Throws unless `prefix` is usable: no hash-tag braces, no glob characters. */
export function validatePrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string" || !PREFIX_RE.test(prefix)) {
    throw new ValidationError(
      `Redis key prefix ${
        JSON.stringify(prefix)
      } is invalid: use 1 to 64 letters, digits, ".", "_", "-", ":" or "/"`,
    );
  }
}

/** The Redis key names of one namespace. */
export class RedisLayout {
  /** "<prefix>:{<ns>}:" */
  readonly base: string;
  /** Prefix of data keys: base + "k:"; the rest is the key. */
  readonly data: string;
  /** Sorted set of all keys (score 0), for ordered listing. */
  readonly idx: string;
  /** Sorted set of keys that expire, scored by expiresAt. */
  readonly ttl: string;
  /** Change counter, INCR'd by every write. */
  readonly chg: string;
  /** Hash: checkpoint name -> "<keyCount>:<bytes>:<info JSON>" (createdAt, auto, metadata, parent). */
  readonly cps: string;
  /** Prefix of checkpoint hashes: base + "cp:"; the rest is the name. */
  readonly cp: string;
  /** Sorted set of applied request ids, scored by when they were applied (ms). */
  readonly req: string;
  /** Hash: the namespace's head (name, via, at). */
  readonly head: string;

  constructor(prefix: string, ns: string) {
    this.base = `${prefix}:{${ns}}:`;
    this.data = `${this.base}k:`;
    this.idx = `${this.base}idx`;
    this.ttl = `${this.base}ttl`;
    this.chg = `${this.base}chg`;
    this.cps = `${this.base}cps`;
    this.cp = `${this.base}cp:`;
    this.req = `${this.base}req`;
    this.head = `${this.base}head`;
  }
}

/** A SCAN pattern that finds the index and checkpoint list of every namespace. */
export function namespacePattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, "\\$&")}:{*}:[ic][dp][xs]`;
}

/** The namespace of a scanned key, if it is an index or checkpoint list; else null. */
export function namespaceOf(prefix: string, key: string): string | null {
  const head = `${prefix}:{`;
  if (!key.startsWith(head)) return null;
  const end = key.indexOf("}", head.length);
  if (end < 0) return null;
  const rest = key.slice(end);
  return rest === "}:idx" || rest === "}:cps" ? key.slice(head.length, end) : null;
}

/** Packs an entry: "1:<expiresAt>:<version bytes>:<version><value>". */
export function pack(version: string, expiresAt: number | null, value: string): string {
  return `1:${expiresAt ?? ""}:${byteLength(version)}:${version}${value}`;
}

/** Unpacks a stored entry; throws StateDamagedError if it is not one. */
export function unpack(key: string, text: string, where: string): StoredEntry {
  const a = text.indexOf(":", 2);
  const b = a < 0 ? -1 : text.indexOf(":", a + 1);
  const bytes = b < 0 ? NaN : Number(text.slice(a + 1, b));
  const exp = a < 0 ? "" : text.slice(2, a);
  if (!text.startsWith("1:") || !Number.isInteger(bytes) || (exp !== "" && !isFinite(+exp))) {
    throw new StateDamagedError(
      `Redis key ${JSON.stringify(where)} does not hold a managing-state entry ` +
        `(was it written by something else?): delete it or restore a checkpoint`,
    );
  }
  const end = b + 1 + charsForBytes(text, b + 1, bytes);
  return {
    key,
    value: text.slice(end),
    version: text.slice(b + 1, end),
    expiresAt: exp === "" ? null : Number(exp),
  };
}

/** How many UTF-16 code units from `start` make up `bytes` UTF-8 bytes. */
function charsForBytes(text: string, start: number, bytes: number): number {
  let i = start;
  let n = 0;
  while (n < bytes && i < text.length) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
    i++;
  }
  return i - start;
}

/** Splits a checkpoint info record "<keyCount>:<bytes>:<info JSON>". */
export function splitInfo(text: string): { keyCount: number; bytes: number; json: string } {
  const a = text.indexOf(":");
  const b = text.indexOf(":", a + 1);
  return {
    keyCount: Number(text.slice(0, a)),
    bytes: Number(text.slice(a + 1, b)),
    json: text.slice(b + 1),
  };
}

/** ZRANGEBYLEX bounds for keys with `prefix` after `cursor` (byte order). */
export function lexRange(prefix: string, cursor: string | undefined): [string, string] {
  const min = cursor !== undefined && compareKeys(cursor, prefix) >= 0
    ? `(${cursor}`
    : prefix === ""
    ? "-"
    : `[${prefix}`;
  const end = prefixEnd(prefix);
  return [min, end === null ? "+" : `(${end}`];
}
