// Key ordering and paging shared by the in-process backends. Keys are listed
// in UTF-8 byte order on every backend (SQLite, Redis and Deno KV order that
// way), which is code point order, not JavaScript's UTF-16 code unit order.
import type { KeyPage, ListOptions } from "../types.ts";

/** Compares two strings by UTF-8 bytes (code points). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (astral code points) sort after U+E000..U+FFFF in UTF-8.
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** A code unit where UTF-16 order and UTF-8 byte order can disagree (surrogates and what follows). */
const HIGH = /[\ud800-\uffff]/;

/**
 * Sorts keys in place in UTF-8 byte order. Without surrogates or characters
 * past them, that is UTF-16 order, so the built-in sort (several times
 * faster than a comparator) gives it.
 */
export function sortKeys(keys: string[]): string[] {
  for (const key of keys) if (HIGH.test(key)) return keys.sort(compareKeys);
  return keys.sort();
}

/** Index of the first element of `sorted` that is greater than (or, unless `strict`, equal to) `key`. */
function lowerBound(sorted: string[], key: string, strict: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(sorted[mid]!, key);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * One page from an already sorted key list. `isLive` filters out keys that
 * expired but are not purged yet.
 */
export function pageSorted(
  sorted: string[],
  options: ListOptions,
  isLive: (key: string) => boolean = () => true,
): KeyPage {
  const prefix = options.prefix ?? "";
  const limit = options.limit ?? Infinity;
  let i = options.cursor !== undefined && compareKeys(options.cursor, prefix) >= 0
    ? lowerBound(sorted, options.cursor, true)
    : lowerBound(sorted, prefix, false);
  const keys: string[] = [];
  for (; i < sorted.length && keys.length < limit; i++) {
    const key = sorted[i]!;
    if (!key.startsWith(prefix)) break;
    if (isLive(key)) keys.push(key);
  }
  // A full page might be followed by more; only a page that stopped early is the last.
  const more = keys.length === limit && i < sorted.length &&
    sorted[i]!.startsWith(prefix);
  return { keys, cursor: more ? keys[keys.length - 1]! : null };
}

/** The smallest string greater than every string that starts with `prefix` (byte order), or null. */
export function prefixEnd(prefix: string): string | null {
  const chars = [...prefix];
  while (chars.length > 0) {
    const cp = chars.pop()!.codePointAt(0)!;
    if (cp < 0x10ffff) {
      const next = cp + 1 === 0xd800 ? 0xe000 : cp + 1;
      return chars.join("") + String.fromCodePoint(next);
    }
  }
  return null;
}
