// What this process last saw of records and namespace heads, so that a
// commit can skip reading them and check their versionstamps instead: one
// Deno KV call per save, like a raw set. A guess that went stale (another
// process wrote meanwhile) only fails those checks, and the commit then reads
// and runs again. Nothing is decided on a guess that a check does not verify.
import type { KvRecord } from "./_kv_store.ts";

/** Entries kept (least recently used go first). */
const MAX_RECORDS = 10_000;

/** Record states and unlocked head versionstamps seen by this process. */
export class Known {
  readonly #records = new Map<string, KvRecord | null>();
  readonly #heads = new Map<string, string | null>();

  /** The record last seen (null: absent), or undefined when unknown. */
  record(ns: string, key: string): KvRecord | null | undefined {
    const id = `${ns}\0${key}`;
    const rec = this.#records.get(id);
    if (rec !== undefined) {
      this.#records.delete(id);
      this.#records.set(id, rec);
    }
    return rec;
  }

  /** Notes a record as read or written (null: absent); only its header and versionstamp are kept. */
  setRecord(ns: string, key: string, rec: KvRecord | null): void {
    const id = `${ns}\0${key}`;
    this.#records.delete(id);
    this.#records.set(id, rec && { meta: rec.meta, inline: null, vs: rec.vs });
    if (this.#records.size > MAX_RECORDS) {
      this.#records.delete(this.#records.keys().next().value!);
    }
  }

  /** The head versionstamp last seen with no lock held, or undefined. */
  head(ns: string): string | null | undefined {
    return this.#heads.get(ns);
  }

  /** Notes the head's versionstamp, seen with no lock held. */
  setHead(ns: string, vs: string | null): void {
    this.#heads.set(ns, vs);
  }
}
