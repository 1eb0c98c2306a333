// Verification of a copied namespace, key by key. While copying, the ledger
// keeps a 64-bit digest of each source entry (value and expiry); afterwards the
// target is read back and each of its entries is compared with the ledger.
// Keys that expired during the run are excused on both sides, so a short TTL
// cannot fail a correct copy, and a failure names the keys that differ.
import { createHash } from "node:crypto";
import { compareKeys } from "../core/_keys.ts";
import { keyPages } from "./_source.ts";
import type { Backend } from "../types.ts";

/** What the key-by-key comparison found. */
export interface KeyCheck {
  /** Live source keys at the end of the run. */
  sourceKeys: number;
  /** Live target keys at the end of the run. */
  targetKeys: number;
  /** SHA-256 over the source's live keys and 64-bit entry digests, in UTF-8 key order. */
  sourceHash: string;
  /** The same over the target's. */
  targetHash: string;
  /** Live source keys absent from the target. */
  missing: string[];
  /** Keys whose value or expiry differs between the two sides. */
  differing: string[];
  /** Live target keys absent from the source. */
  extra: string[];
  /** Source keys that expired during the run (not compared). */
  expired: number;
}

/**
 * Writes a 64-bit digest of one entry's value and expiry at `out[at]` and
 * `out[at + 1]`: two 32-bit multiply-xorshift lanes over the UTF-16 code
 * units, mixed at the end (the cyrb53 construction). Not cryptographic: it
 * detects accidental differences (a chance of 2^-64 per differing entry to
 * miss one), at a fraction of the cost of a SHA-256 per entry.
 */
function digestInto(e: Entry, out: Uint32Array, at: number): void {
  const v = e.value;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  // The expiry as two 32-bit words (all ones for none). `^` takes the low 32 bits of `x / 2 ** 32`.
  const x = e.expiresAt;
  const lo = x === null ? 0xffffffff : x >>> 0;
  const hi = x === null ? 0xffffffff : x / 2 ** 32;
  h1 = Math.imul(Math.imul(h1 ^ lo, 2654435761) ^ hi, 2654435761);
  h2 = Math.imul(Math.imul(h2 ^ lo, 1597334677) ^ hi, 1597334677);
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[at] = h1 >>> 0;
  out[at + 1] = h2 >>> 0;
}

type Entry = { key: string; value: string; expiresAt: number | null };

const SOURCE = 1;
const TARGET = 2;
/** A source key that expired before its value was read. */
const GONE = 4;

/**
 * Per-key digests of one namespace's source entries, then of its target
 * entries. Compact, as it holds every key of the namespace: a key's name plus
 * about 40 bytes in typed arrays.
 */
export class Ledger {
  readonly #index = new Map<string, number>();
  #flags = new Uint8Array(1024);
  /** Source digest words at 4i, 4i+1; target digest words at 4i+2, 4i+3. */
  #digests = new Uint32Array(4 * 1024);
  /** Source expiry at 2i, target expiry at 2i+1; NaN for none. */
  #expiry = new Float64Array(2 * 1024);
  #last: string | null = null;
  #ordered = true;

  #slot(key: string): number {
    let i = this.#index.get(key);
    if (i !== undefined) return i;
    i = this.#index.size;
    if (i === this.#flags.length) {
      const grow = <T extends Uint8Array | Uint32Array | Float64Array>(a: T): T => {
        const b = new (a.constructor as new (n: number) => T)(a.length * 2);
        b.set(a);
        return b;
      };
      this.#flags = grow(this.#flags);
      this.#digests = grow(this.#digests);
      this.#expiry = grow(this.#expiry);
    }
    this.#index.set(key, i);
    return i;
  }

  /** Records a source entry. */
  addSource(e: Entry): void {
    if (this.#last !== null && compareKeys(this.#last, e.key) >= 0) this.#ordered = false;
    this.#last = e.key;
    const i = this.#slot(e.key);
    this.#flags[i]! |= SOURCE;
    digestInto(e, this.#digests, 4 * i);
    this.#expiry[2 * i] = e.expiresAt ?? NaN;
  }

  /**
   * Records a source key that expired before it could be read: whatever the
   * target holds under it counts on neither side (an earlier run's copy stays).
   */
  addGone(key: string): void {
    const i = this.#slot(key);
    this.#flags[i]! |= SOURCE | GONE;
  }

  /** Whether the source holds `key`. */
  has(key: string): boolean {
    const i = this.#index.get(key);
    return i !== undefined && (this.#flags[i]! & SOURCE) !== 0;
  }

  /** Records an entry read back from the target. */
  addTarget(e: Entry): void {
    if (!this.has(e.key)) this.#ordered = false;
    const i = this.#slot(e.key);
    this.#flags[i]! |= TARGET;
    digestInto(e, this.#digests, 4 * i + 2);
    this.#expiry[2 * i + 1] = e.expiresAt ?? NaN;
  }

  /** Compares both sides; entries that expired by `cutoff` count on neither. */
  compare(cutoff: number): KeyCheck {
    const live = (x: number) => Number.isNaN(x) || x > cutoff;
    const source = createHash("sha256");
    const target = createHash("sha256");
    const check: KeyCheck = {
      sourceKeys: 0,
      targetKeys: 0,
      sourceHash: "",
      targetHash: "",
      missing: [],
      differing: [],
      extra: [],
      expired: 0,
    };
    let keys: Iterable<[string, number]> = this.#index;
    if (!this.#ordered) keys = [...this.#index].sort((a, b) => compareKeys(a[0], b[0]));
    const d = this.#digests;
    for (const [key, i] of keys) {
      if (this.#flags[i]! & GONE) {
        check.expired++;
        continue;
      }
      const inS = (this.#flags[i]! & SOURCE) !== 0;
      const inT = (this.#flags[i]! & TARGET) !== 0;
      const liveS = inS && live(this.#expiry[2 * i]!);
      const liveT = inT && live(this.#expiry[2 * i + 1]!);
      if (inS && !liveS) check.expired++;
      if (liveS) {
        check.sourceKeys++;
        source.update(`${JSON.stringify(key)}\t${d[4 * i]},${d[4 * i + 1]}\n`);
      }
      if (liveT) {
        check.targetKeys++;
        target.update(`${JSON.stringify(key)}\t${d[4 * i + 2]},${d[4 * i + 3]}\n`);
      }
      const same = d[4 * i] === d[4 * i + 2] && d[4 * i + 1] === d[4 * i + 3];
      if (inS && inT && !same) check.differing.push(key);
      else if (liveS && !inT) check.missing.push(key);
      else if (liveT && !inS) check.extra.push(key);
    }
    check.sourceHash = source.digest("hex");
    check.targetHash = target.digest("hex");
    return check;
  }
}

/** Reads the target namespace back into the ledger and compares; the cutoff is taken after the read. */
export async function verifyKeys(target: Backend, ns: string, ledger: Ledger): Promise<KeyCheck> {
  for await (const keys of keyPages(target, ns)) {
    for (const e of await target.get(ns, keys)) if (e) ledger.addTarget(e);
  }
  return ledger.compare(Date.now());
}
