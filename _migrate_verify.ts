// Verification of a copied namespace, key by key. While copying, the ledger
// keeps a digest of each source entry (value and expiry); afterwards the
// target is read back and each of its entries is compared with the ledger.
// Keys that expired during the run are excused on both sides, so a short TTL
// cannot fail a correct copy, and a failure names the keys that differ.
import { createHash } from "node:crypto";
import { compareKeys } from "./_keys.ts";
import { keyPages } from "./_migrate_source.ts";
import type { Backend } from "./types.ts";

/** What one key looks like on each side: entry digests and expiries. */
interface Mark {
  /** Source digest, or null when the key is only in the target. */
  d: string | null;
  /** Source expiry. */
  x: number | null;
  /** Target digest, once read back. */
  t?: string;
  /** Target expiry. */
  tx?: number | null;
}

/** What the key-by-key comparison found. */
export interface KeyCheck {
  /** Live source keys at the end of the run. */
  sourceKeys: number;
  /** Live target keys at the end of the run. */
  targetKeys: number;
  /** SHA-256 over the source's live keys and entry digests, in UTF-8 key order. */
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

/** The digest of one entry: SHA-256 of its value text and expiry (128 bits, base64). */
export function entryDigest(value: string, expiresAt: number | null): string {
  return createHash("sha256").update(`${value}\t${expiresAt}`).digest("base64").slice(0, 22);
}

/** Per-key digests of one namespace's source entries, then of its target entries. */
export class Ledger {
  readonly #marks = new Map<string, Mark>();
  #last: string | null = null;
  #ordered = true;

  /** Records a source entry. */
  addSource(e: { key: string; value: string; expiresAt: number | null }): void {
    if (this.#last !== null && compareKeys(this.#last, e.key) >= 0) this.#ordered = false;
    this.#last = e.key;
    this.#marks.set(e.key, { d: entryDigest(e.value, e.expiresAt), x: e.expiresAt });
  }

  /** Whether the source holds `key`. */
  has(key: string): boolean {
    return this.#marks.get(key)?.d != null;
  }

  /** Records an entry read back from the target. */
  addTarget(e: { key: string; value: string; expiresAt: number | null }): void {
    let mark = this.#marks.get(e.key);
    if (!mark) {
      mark = { d: null, x: null };
      this.#marks.set(e.key, mark);
      this.#ordered = false;
    }
    mark.t = entryDigest(e.value, e.expiresAt);
    mark.tx = e.expiresAt;
  }

  /** Compares both sides; entries that expired by `cutoff` count on neither. */
  compare(cutoff: number): KeyCheck {
    const live = (x: number | null | undefined) => x === null || x === undefined || x > cutoff;
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
    let entries: Iterable<[string, Mark]> = this.#marks;
    if (!this.#ordered) entries = [...this.#marks].sort((a, b) => compareKeys(a[0], b[0]));
    for (const [key, m] of entries) {
      const inSource = m.d !== null && live(m.x);
      const inTarget = m.t !== undefined && live(m.tx);
      if (m.d !== null && !inSource) check.expired++;
      if (inSource) {
        check.sourceKeys++;
        source.update(`${JSON.stringify(key)}\t${m.d}\n`);
      }
      if (inTarget) {
        check.targetKeys++;
        target.update(`${JSON.stringify(key)}\t${m.t}\n`);
      }
      if (m.d !== null && m.t !== undefined && m.d !== m.t) check.differing.push(key);
      else if (inSource && m.t === undefined) check.missing.push(key);
      else if (inTarget && m.d === null) check.extra.push(key);
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
