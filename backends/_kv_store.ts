// Low-level storage of the Deno KV backend: the key layout, the record
// format, Deno KV's per-call limits, batched writes and error mapping.
import { compareKeys, prefixEnd } from "../core/_keys.ts";
import { StateDamagedError } from "../errors.ts";
import { isTransient } from "../core/_retry.ts";
import { mapKvError as mapError } from "./_errors_kv.ts";
import type { KvAtomic, KvDatabase, KvEntry, KvKey, KvSelector } from "./_kv_platform.ts";

/** Deno KV's limits, with a margin under the documented ones. */
export const LIMITS = {
  /** Checks per commit (Deno KV Connect allows 10). */
  checks: 10,
  /** Mutations per commit. */
  mutations: 1000,
  /** Bytes of keys and values per commit (the limit is 819,200). */
  payload: 780_000,
  /** Bytes of written keys per commit (the limit is 81,920). */
  keyBytes: 78_000,
  /** Keys per `getMany`. */
  getMany: 10,
  /** Largest value (the limit is 65,536 bytes). */
  value: 65_000,
  /** Bytes of value text per chunk of a large value. */
  chunk: 64_000,
} as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of a string. */
export const utf8 = (text: string): Uint8Array => encoder.encode(text);
/** Text of UTF-8 bytes. */
export const text = (bytes: Uint8Array): string => decoder.decode(bytes);

// deno-lint-ignore no-control-regex -- matching ASCII without NUL is the point
const ASCII_NO_NUL = /^[\x01-\x7f]*$/;

/** Size of a key as Deno KV counts it (its tuple encoding). */
export function keySize(key: KvKey): number {
  let n = 0;
  for (const part of key) {
    if (typeof part === "number") n += 9;
    else if (ASCII_NO_NUL.test(part)) n += 2 + part.length; // the common case, without encoding
    else {
      const bytes = utf8(part);
      n += 2 + bytes.length + bytes.filter((b) => b === 0).length;
    }
  }
  return n;
}

/** A record's header: the manager's version, expiry, and where a large value lives. */
export interface Meta {
  /** The version (the manager's commit id). */
  v: string;
  /** Expiry in ms since the epoch, or null. */
  x: number | null;
  /** Blob id of a value stored in chunks. */
  b?: string;
  /** Number of chunks. */
  n?: number;
}

/** A decoded record. */
export interface KvRecord {
  /** Its header. */
  meta: Meta;
  /** The value text when stored inline, else null (read the chunks). */
  inline: string | null;
  /** The KV versionstamp of the record key. */
  vs: string;
}

/** A value to write: the header plus the value text. */
export interface NewRecord {
  /** The key. */
  key: string;
  /** The header (without a blob id yet). */
  meta: Meta;
  /** The value text. */
  value: string;
}

/** Encodes a record: header JSON, a newline, then the inline value text (if any). */
export function encodeRecord(meta: Meta, inline: string | null): Uint8Array {
  return utf8(`${JSON.stringify(meta)}\n${inline ?? ""}`);
}

/** Decodes a record read from Deno KV; null when absent. */
export function decodeRecord(entry: KvEntry, where: string): KvRecord | null {
  if (entry.versionstamp === null) return null;
  const bytes = entry.value;
  const at = bytes instanceof Uint8Array ? bytes.indexOf(10) : -1;
  if (at < 0) {
    throw new StateDamagedError(`Deno KV record ${where} is not in this backend's format`);
  }
  // One decode of the whole record; the header's JSON holds no raw newline.
  const all = text(bytes as Uint8Array);
  const end = all.indexOf("\n");
  const meta = JSON.parse(all.slice(0, end)) as Meta;
  return { meta, inline: meta.b === undefined ? all.slice(end + 1) : null, vs: entry.versionstamp };
}

/** Whether a record has expired at `now`. */
export const expired = (meta: Meta, now: number): boolean => meta.x !== null && meta.x <= now;

/** Milliseconds to pass as `expireIn` so Deno KV purges the key eventually. */
export function expireIn(meta: Meta): { expireIn?: number } {
  return meta.x === null ? {} : { expireIn: Math.max(1, meta.x - Date.now()) };
}

/** A fresh id that sorts by creation time. */
export function timeId(now = Date.now()): string {
  const rand = crypto.getRandomValues(new Uint8Array(6));
  return `${now.toString(36).padStart(9, "0")}-${
    [...rand].map((b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** When a {@linkcode timeId} was made. */
export const timeOf = (id: string): number => parseInt(id.slice(0, 9), 36);

/** Keys of one namespace. An "area" is where records and their chunks live: the live one or a checkpoint's. */
export class KvLayout {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }
  ns = (ns: string): KvKey => [this.root, ns];
  head = (ns: string): KvKey => [this.root, ns, "head"];
  changed = (ns: string): KvKey => [this.root, ns, "changed"];
  live = (ns: string): KvKey => [this.root, ns];
  checkpoint = (ns: string, name: string): KvKey => [this.root, ns, "checkpoints", name];
  checkpoints = (ns: string): KvKey => [this.root, ns, "checkpoints"];
  snapshot = (ns: string, id: string): KvKey => [this.root, ns, "snapshots", id];
  snapshots = (ns: string): KvKey => [this.root, ns, "snapshots"];
  txn = (ns: string, id: string): KvKey => [this.root, ns, "txn", id];
  txns = (ns: string): KvKey => [this.root, ns, "txn"];
  waiters = (ns: string): KvKey => [this.root, ns, "waiters"];
  /** The namespace's lineage head (JSON), not to be confused with `head`, the transaction lock. */
  lineage = (ns: string): KvKey => [this.root, ns, "lineage"];
  request = (ns: string, id: string): KvKey => [this.root, ns, "requests", id];
  requests = (ns: string): KvKey => [this.root, ns, "requests"];
}

/** The record key of `key` in an area. */
export const recordKey = (area: KvKey, key: string): KvKey => [...area, "keys", key];
/** The prefix of all record keys of an area. */
export const recordsOf = (area: KvKey): KvKey => [...area, "keys"];
/** The prefix of one blob's chunks. */
export const blobKey = (
  area: KvKey,
  key: string,
  blob: string,
): KvKey => [...area, "blobs", key, blob];
/** The prefix of all chunks of an area. */
export const blobsOf = (area: KvKey): KvKey => [...area, "blobs"];

/**
 * Runs one Deno KV call. A failure becomes a StateError at once, through the
 * backend's one classifier: "database is locked" (the call did not happen)
 * is a transient BackendError, which the manager's retry policy retries. No
 * retry loop here, so no loop runs inside the manager's.
 */
export async function kvCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw mapError(error, what);
  }
}

/** Attempts of {@linkcode kvCleanup} and its longest pause: at most ~0.6 s of waiting in all. */
export const CLEANUP = { attempts: 8, maxDelayMs: 100 } as const;

/**
 * Runs work that must not be left undone when the operation around it fails:
 * releasing a namespace lock, leaving the lock queue, finishing a committed
 * transaction. Failing there leaves the namespace locked for the lock's lease
 * (30 s by default) for every process, so a transient fault ("database is
 * locked", a network fault) is retried here, a bounded few times
 * ({@linkcode CLEANUP}), before the error goes to the caller. The only retry
 * loop of the backend besides its contention loops.
 */
export async function kvCleanup<T>(what: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const mapped = mapError(error, what);
      if (!isTransient(mapped) || attempt >= CLEANUP.attempts) throw mapped;
      await sleep(Math.random() * Math.min(CLEANUP.maxDelayMs, 5 * 2 ** attempt));
    }
  }
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Reads keys (any number) in batches of 10, a few batches at once; each batch is one snapshot. */
export async function getAll(kv: KvDatabase, keys: KvKey[]): Promise<KvEntry[]> {
  if (keys.length <= LIMITS.getMany) return await kvCall("read keys", () => kv.getMany(keys));
  const batches: KvKey[][] = [];
  for (let i = 0; i < keys.length; i += LIMITS.getMany) {
    batches.push(keys.slice(i, i + LIMITS.getMany));
  }
  const out: KvEntry[] = [];
  for (let i = 0; i < batches.length; i += 16) {
    const results = await Promise.all(
      batches.slice(i, i + 16).map((batch) => kvCall("read keys", () => kv.getMany(batch))),
    );
    for (const r of results) out.push(...r);
  }
  return out;
}

/** Lists a range completely. */
export async function listAll(
  kv: KvDatabase,
  selector: KvSelector,
  limit?: number,
): Promise<KvEntry[]> {
  return await kvCall("list keys", async () => {
    const out: KvEntry[] = [];
    const options = limit === undefined
      ? { batchSize: 500 }
      : { limit, batchSize: Math.min(limit, 500) };
    for await (const entry of kv.list(selector, options)) out.push(entry);
    return out;
  });
}

/** Checks every batch of a {@linkcode BatchWriter} carries. */
export type Checks = { key: KvKey; versionstamp: string | null }[];

/**
 * Writes any number of mutations in as many commits as Deno KV's limits
 * need. Each commit carries the same checks; `flush()` returns false as soon
 * as one fails (earlier batches stay written).
 */
export class BatchWriter {
  readonly #kv: KvDatabase;
  readonly #checks: Checks;
  readonly #what: string;
  #ops: ((a: KvAtomic) => void)[] = [];
  #landed: ((vs: string) => void)[] = [];
  #payload = 0;
  #keyBytes = 0;
  #failed = false;

  constructor(kv: KvDatabase, checks: Checks, what: string) {
    this.#kv = kv;
    this.#checks = checks;
    this.#what = what;
  }

  #base(): number {
    return this.#checks.reduce((n, c) => n + keySize(c.key), 0);
  }

  async #add(
    payload: number,
    keyBytes: number,
    op: (a: KvAtomic) => void,
    landed?: (vs: string) => void,
  ): Promise<void> {
    if (
      this.#ops.length > 0 &&
      (this.#ops.length + 1 > LIMITS.mutations - 1 ||
        this.#payload + payload > LIMITS.payload - this.#base() ||
        this.#keyBytes + keyBytes > LIMITS.keyBytes)
    ) await this.flush();
    this.#ops.push(op);
    if (landed) this.#landed.push(landed);
    this.#payload += payload;
    this.#keyBytes += keyBytes;
  }

  /** Queues a write of bytes; `landed` gets the versionstamp of the commit that wrote it. */
  set(
    key: KvKey,
    value: Uint8Array,
    options: { expireIn?: number } = {},
    landed?: (vs: string) => void,
  ): Promise<void> {
    const size = keySize(key);
    return this.#add(2 * size + value.length, size, (a) => a.set(key, value, options), landed);
  }

  /** Queues a delete; `landed` is called once it is committed. */
  delete(key: KvKey, landed?: (vs: string) => void): Promise<void> {
    return this.#add(keySize(key), 0, (a) => a.delete(key), landed);
  }

  /** Commits what is queued; false if a check failed (now or in an earlier batch). */
  async flush(): Promise<boolean> {
    const ops = this.#ops;
    const landed = this.#landed;
    this.#ops = [];
    this.#landed = [];
    this.#payload = 0;
    this.#keyBytes = 0;
    if (this.#failed || ops.length === 0) return !this.#failed;
    const result = await kvCall(this.#what, () => {
      const atomic = this.#kv.atomic();
      if (this.#checks.length > 0) atomic.check(...this.#checks);
      for (const op of ops) op(atomic);
      return atomic.commit();
    });
    if (!result.ok) this.#failed = true;
    else for (const fn of landed) fn(result.versionstamp!);
    return result.ok;
  }
}

/**
 * Splits value text into chunks and queues them under a new blob id; returns
 * the header. Chunks of live keys expire with them; a checkpoint's (`keep`) never do.
 */
export async function writeBlob(
  writer: BatchWriter,
  area: KvKey,
  record: NewRecord,
  keep = false,
): Promise<{ meta: Meta; inline: string | null }> {
  const bytes = utf8(record.value);
  if (bytes.length <= LIMITS.chunk) return { meta: record.meta, inline: record.value };
  const blob = timeId();
  const n = Math.ceil(bytes.length / LIMITS.chunk);
  const prefix = blobKey(area, record.key, blob);
  for (let i = 0; i < n; i++) {
    const chunk = bytes.subarray(i * LIMITS.chunk, (i + 1) * LIMITS.chunk);
    await writer.set([...prefix, i], chunk, keep ? {} : expireIn(record.meta));
  }
  return { meta: { v: record.meta.v, x: record.meta.x, b: blob, n }, inline: null };
}

/** Reads a record's value text; null when its chunks are gone (the record was replaced meanwhile). */
export async function readKvValue(
  kv: KvDatabase,
  area: KvKey,
  key: string,
  rec: KvRecord,
): Promise<string | null> {
  if (rec.inline !== null) return rec.inline;
  const chunks = await listAll(kv, { prefix: blobKey(area, key, rec.meta.b!) });
  if (chunks.length !== rec.meta.n) return null;
  const parts = chunks.map((c) => c.value as Uint8Array);
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return text(all);
}

/** Queues deletion of a record's chunks (if it has any). */
export async function deleteBlob(
  writer: BatchWriter,
  area: KvKey,
  key: string,
  meta: Meta,
): Promise<void> {
  if (meta.b === undefined) return;
  for (let i = 0; i < (meta.n ?? 0); i++) await writer.delete([...blobKey(area, key, meta.b), i]);
}

/**
 * The record keys of `area` after `cursor` and starting with `prefix`, or
 * null when the range is empty.
 */
export function keyRange(
  area: KvKey,
  prefix: string,
  cursor: string | undefined,
): KvSelector | null {
  const base = recordsOf(area);
  // No key contains NUL, so cursor + "\0" is the first possible key after the cursor.
  const from = cursor !== undefined && compareKeys(cursor, prefix) >= 0 ? cursor + "\0" : prefix;
  const end = prefixEnd(prefix);
  if (end !== null) {
    return compareKeys(from, end) >= 0 ? null : { start: [...base, from], end: [...base, end] };
  }
  return from === "" ? { prefix: base } : { prefix: base, start: [...base, from] };
}
