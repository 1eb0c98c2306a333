// On-disk formats of the JSON backend: the snapshot (state.json), the
// append-only journal (journal.jsonl) and checkpoint files. Values are
// embedded as JSON, so every file stays human-readable.
import { fs } from "./_fs_platform.ts";
import { StateDamagedError } from "../errors.ts";
import type { CheckpointInfo, Head, StoredEntry } from "../types.ts";
import { openFile, openRead, readAll, readText } from "./_files.ts";
import { RequestLog } from "./_requests.ts";
import { byteLength } from "../core/_validate.ts";

const { closeSync, fstatSync, readSync } = fs;

/** A stored value as the JSON backend keeps it in memory. */
export interface JournalRecord {
  value: string;
  version: string;
  expiresAt: number | null;
}

/** Most a namespace may hold, in characters of keys, values and versions (128 MiB). */
export const MAX_NAMESPACE_BYTES = 128 * 1024 * 1024;
/**
 * Largest state file read: a snapshot of a full namespace in UTF-8 (up to 3
 * bytes a character) plus room. Anything bigger is damage, not read into memory.
 */
export const MAX_FILE_BYTES = 3 * MAX_NAMESPACE_BYTES + 1024 * 1024;

/** What an entry counts towards the namespace limit: about its size in the snapshot. */
export function entryCost(key: string, r: JournalRecord): number {
  return key.length + r.value.length + r.version.length + 64;
}

/**
 * A namespace's entries that keep count of their size ({@linkcode entryCost}),
 * with the record of applied request ids and the lineage head, which travel
 * with them through the snapshot and the journal.
 */
export class Entries extends Map<string, JournalRecord> {
  /** The sum of the entries' costs. */
  bytes = 0;
  /** Applied request ids (see Backend in types.ts). */
  requests: RequestLog = new RequestLog();
  /** The lineage head: the checkpoint last taken or restored. */
  head: Head | null = null;

  /** Entries from `init` (added after the count is set up). */
  constructor(init?: Iterable<[string, JournalRecord]>) {
    super();
    if (init) { for (const [key, r] of init) this.set(key, r); }
  }

  override set(key: string, r: JournalRecord): this {
    const old = super.get(key);
    if (old !== undefined) this.bytes -= entryCost(key, old);
    this.bytes += entryCost(key, r);
    return super.set(key, r);
  }

  override delete(key: string): boolean {
    const old = super.get(key);
    if (old === undefined) return false;
    this.bytes -= entryCost(key, old);
    return super.delete(key);
  }

  override clear(): void {
    this.bytes = 0;
    super.clear();
  }
}

/** File names inside a namespace folder. */
export const FILES = {
  snapshot: "state.json",
  journal: "journal.jsonl",
  snapshotBackup: "state.bak.json",
  journalBackup: "journal.bak.jsonl",
  lock: "lock",
  checkpoints: "checkpoints",
} as const;

/** The snapshot's format tag. */
export const SNAPSHOT_FORMAT = "managing-state/json@1";
/** The journal header's format tag. */
export const JOURNAL_FORMAT = "managing-state/journal@1";
/** The checkpoint header's format tag. */
export const CHECKPOINT_FORMAT = "managing-state/checkpoint@1";

/** Serialises a snapshot; one entry per line, values embedded as JSON. */
export function formatSnapshot(
  generation: number,
  entries: Map<string, JournalRecord>,
  state: { requests: RequestLog; head: Head | null },
): string {
  const version = quoter();
  const lines: string[] = [];
  for (const [key, r] of entries) {
    lines.push(
      `    ${JSON.stringify(key)}: {"value": ${r.value}, "version": ${
        version(r.version)
      }, "expiresAt": ${r.expiresAt}}`,
    );
  }
  const body = lines.length ? `{\n${lines.join(",\n")}\n  }` : "{}";
  const ids = JSON.stringify(state.requests.entries());
  const head = JSON.stringify(state.head);
  return `{\n  "format": "${SNAPSHOT_FORMAT}",\n  "generation": ${generation},\n  "head": ${head},\n  "requests": ${ids},\n  "entries": ${body}\n}\n`;
}

/** A parsed snapshot. */
export interface Snapshot {
  generation: number;
  entries: Entries;
  bytes: number;
}

/** Reads a snapshot; null if the file does not exist; StateDamagedError if it cannot be parsed. */
export function readSnapshot(path: string): Snapshot | null {
  const file = openFile(path);
  if (file === null) return null;
  let raw: Uint8Array;
  try {
    raw = readAll(file.fd, path, 0, MAX_FILE_BYTES, file.st.size);
  } finally {
    closeSync(file.fd);
  }
  const text = new TextDecoder().decode(raw);
  try {
    const doc = JSON.parse(text);
    if (doc?.format !== SNAPSHOT_FORMAT || !Number.isInteger(doc.generation)) {
      throw new Error("not a managing-state snapshot");
    }
    const entries = new Entries();
    for (const [key, r] of Object.entries(doc.entries as Record<string, Record<string, unknown>>)) {
      entries.set(key, toRec(r));
    }
    entries.head = toHead(doc.head);
    if (Array.isArray(doc.requests)) {
      for (const [id, at] of doc.requests as [string, number][]) entries.requests.add(id, at);
    }
    return { generation: doc.generation, entries, bytes: raw.length };
  } catch (error) {
    throw damaged(path, error);
  }
}

/** A head as read from a file: null unless it has the shape of one. */
function toHead(h: unknown): Head | null {
  const r = h as Head | null | undefined;
  if (typeof r?.name !== "string") return null;
  return { name: r.name, via: r.via === "restore" ? "restore" : "checkpoint", at: Number(r.at) };
}

function toRec(r: Record<string, unknown>): JournalRecord {
  if (typeof r?.version !== "string" || !("value" in r)) throw new Error("malformed entry");
  const expiresAt = r.expiresAt === null ? null : Number(r.expiresAt);
  return { value: JSON.stringify(r.value), version: r.version, expiresAt };
}

/** The journal's first line. */
export function formatJournalHeader(generation: number): string {
  return `${JSON.stringify({ format: JOURNAL_FORMAT, generation })}\n`;
}

/**
 * One journal line: a request's id and time, a commit's sets and deletes
 * (none for other requests), and a new lineage head when `head` is given.
 */
export function formatCommit(
  request: { id: string; at: number },
  version: string,
  sets: { key: string; value: string; expiresAt: number | null }[],
  deletes: string[],
  head?: Head | null,
): string {
  const parts = sets.map((s) =>
    `${JSON.stringify(s.key)}: {"value": ${s.value}, "expiresAt": ${s.expiresAt}}`
  );
  const moved = head === undefined ? "" : `, "head": ${JSON.stringify(head)}`;
  return `{"id": ${JSON.stringify(request.id)}, "at": ${request.at}, "version": ${
    JSON.stringify(version)
  }${moved}, "set": {${parts.join(", ")}}, "delete": ${JSON.stringify(deletes)}}\n`;
}

/** What reading journal bytes found. */
export interface JournalRead {
  /** Generation from the header (only when the bytes start at offset 0). */
  generation?: number;
  /** Bytes of complete lines consumed. */
  consumed: number;
  /** Complete lines that could not be parsed (damage), with their 1-based line numbers. */
  bad: number[];
}

/**
 * Applies complete journal lines from `bytes` to `entries`. A last line
 * without its newline is a write in progress or torn by a crash: not consumed.
 */
export function applyJournal(
  bytes: Uint8Array,
  entries: Map<string, JournalRecord>,
  fromStart: boolean,
  firstLine = 1,
): JournalRead {
  const decoder = new TextDecoder();
  const result: JournalRead = { consumed: 0, bad: [] };
  let start = 0;
  let line = firstLine;
  for (let nl = bytes.indexOf(10, start); nl !== -1; nl = bytes.indexOf(10, start)) {
    const text = decoder.decode(bytes.subarray(start, nl));
    try {
      const rec = JSON.parse(text);
      if (fromStart && start === 0) {
        if (rec?.format !== JOURNAL_FORMAT || !Number.isInteger(rec.generation)) {
          throw new Error("bad header");
        }
        result.generation = rec.generation;
      } else {
        if (typeof rec?.version !== "string" || typeof rec.set !== "object") {
          throw new Error("bad record");
        }
        if (entries instanceof Entries) {
          if (typeof rec.id === "string") entries.requests.add(rec.id, Number(rec.at) || 0);
          if ("head" in rec) entries.head = toHead(rec.head);
        }
        for (const key of rec.delete as string[]) entries.delete(key);
        for (const [key, s] of Object.entries(rec.set as Record<string, Record<string, unknown>>)) {
          entries.set(key, toRec({ ...s, version: rec.version }));
        }
      }
    } catch {
      result.bad.push(line);
    }
    start = nl + 1;
    line++;
  }
  result.consumed = start;
  return result;
}

/** What was read from a journal. */
export interface JournalBytes {
  /** The bytes from the offset asked for to the end of the file. */
  bytes: Uint8Array;
  /** The file's inode number. */
  ino: number;
  /** The generation its header names (undefined if the header is unreadable). */
  generation: number | undefined;
}

/**
 * Reads a journal from `offset` to its end, with its inode and the generation
 * its header names; null when there is no file.
 */
export function readBytes(path: string, offset = 0): JournalBytes | null {
  const file = openFile(path);
  if (file === null) return null;
  try {
    return readJournalFd(file.fd, path, offset, true, file.st);
  } finally {
    closeSync(file.fd);
  }
}

/** Reads an open journal from `offset` to its end (see {@linkcode readBytes}); `st` is its fstat when known. */
export function readJournalFd(
  fd: number,
  path: string,
  offset = 0,
  header = true,
  st: { ino: number; size: number } = fstatSync(fd),
): JournalBytes {
  const bytes = readAll(fd, path, offset, MAX_FILE_BYTES, st.size);
  let generation: number | undefined;
  if (header) {
    const head = new Uint8Array(Math.min(256, st.size));
    const n = readSync(fd, head, 0, head.length, 0);
    const nl = head.subarray(0, n).indexOf(10);
    generation = nl === -1
      ? undefined
      : applyJournal(head.subarray(0, nl + 1), new Map(), true).generation;
  }
  return { bytes, ino: st.ino, generation };
}

/** Serialises a checkpoint: a header line, then one line per entry. */
export function formatCheckpoint(info: CheckpointInfo, entries: StoredEntry[]): string {
  return checkpointHeader(info) + checkpointLines(entries.map((e) => e.key), entries);
}

/** A checkpoint's header line. */
function checkpointHeader(info: CheckpointInfo): string {
  return `${JSON.stringify({ format: CHECKPOINT_FORMAT, ...info })}\n`;
}

/** One checkpoint line per key of `keys` with its record in `records`, each ending in a newline. */
function checkpointLines(keys: string[], records: JournalRecord[]): string {
  const version = quoter();
  const lines: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const r = records[i]!;
    lines.push(
      `{"key": ${JSON.stringify(key)}, "value": ${r.value}, "version": ${
        version(r.version)
      }, "expiresAt": ${r.expiresAt}}\n`,
    );
  }
  return lines.join("");
}

/**
 * A checkpoint of `keys` (in byte order) of `entries`: its header line and
 * its entry lines encoded as UTF-8, with its info (`base` plus the key count and their bytes, counted as
 * `checkpointInfo` counts them). When the entry lines are all ASCII, as they
 * usually are, their encoding (made anyway) shows it, and the bytes are the
 * keys' and values' lengths; only other text is counted character by character.
 */
export function encodeCheckpoint(
  base: CheckpointInfo,
  keys: string[],
  entries: Map<string, JournalRecord>,
): { info: CheckpointInfo; parts: [string, Uint8Array] } {
  const records = keys.map((key) => entries.get(key)!);
  const body = checkpointLines(keys, records);
  const encoded = new TextEncoder().encode(body);
  // JSON text escapes a lone surrogate as \udXXX: ASCII in the file, 3 bytes in the contract's count.
  const ascii = encoded.length === body.length && !body.includes("\\ud");
  let bytes = 0;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const value = records[i]!.value;
    bytes += ascii ? key.length + value.length : byteLength(key) + byteLength(value);
  }
  const info = { ...base, keyCount: keys.length, bytes };
  // Two parts, written one after the other: no copy of the body to put the header first.
  return { info, parts: [checkpointHeader(info), encoded] };
}

/**
 * JSON.stringify for versions, remembering the last one: versions come in
 * runs (every key of a commit, a restore or an import shares one).
 */
function quoter(): (text: string) => string {
  let last: string | undefined;
  let quoted = "";
  return (text) => {
    if (text !== last) {
      last = text;
      quoted = JSON.stringify(text);
    }
    return quoted;
  };
}

/** Reads a checkpoint's header; StateDamagedError when unreadable. */
export function readCheckpointInfo(path: string): CheckpointInfo {
  const fd = openRead(path);
  if (fd === null) throw damaged(path, new Error("missing"));
  try {
    const chunk = new Uint8Array(64 * 1024);
    const parts: Uint8Array[] = [];
    let pos = 0;
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, pos);
      const nl = chunk.subarray(0, n).indexOf(10);
      parts.push(chunk.slice(0, nl === -1 ? n : nl));
      if (nl !== -1 || n === 0) break;
      pos += n;
      if (pos > MAX_FILE_BYTES) throw damaged(path, new Error("no end to its header line"));
    }
    const text = new TextDecoder().decode(concat(parts));
    return parseCheckpointHeader(path, text);
  } finally {
    closeSync(fd);
  }
}

/** Reads a whole checkpoint; StateDamagedError when any line is unreadable. */
export function readCheckpointFile(path: string): { info: CheckpointInfo; entries: StoredEntry[] } {
  const text = readText(path, MAX_FILE_BYTES);
  if (text === null) throw damaged(path, new Error("missing"));
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw damaged(path, new Error("truncated"));
  const info = parseCheckpointHeader(path, lines[0]!);
  const entries: StoredEntry[] = [];
  for (let i = 1; i < lines.length - 1; i++) {
    try {
      const e = JSON.parse(lines[i]!);
      const r = toRec(e);
      entries.push({
        key: String(e.key),
        value: r.value,
        version: r.version,
        expiresAt: r.expiresAt,
      });
    } catch (error) {
      throw damaged(`${path} line ${i + 1}`, error);
    }
  }
  if (entries.length !== info.keyCount) {
    throw damaged(path, new Error(`${entries.length} entries, header says ${info.keyCount}`));
  }
  return { info, entries };
}

function parseCheckpointHeader(path: string, text: string): CheckpointInfo {
  try {
    const h = JSON.parse(text);
    if (h?.format !== CHECKPOINT_FORMAT || typeof h.name !== "string") {
      throw new Error("not a managing-state checkpoint");
    }
    return {
      name: h.name,
      createdAt: Number(h.createdAt),
      keyCount: Number(h.keyCount),
      bytes: Number(h.bytes),
      auto: h.auto === true,
      metadata: h.metadata ?? {},
      parent: typeof h.parent === "string" ? h.parent : null,
    };
  } catch (error) {
    throw damaged(path, error);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** The error for a file that cannot be parsed. */
export function damaged(what: string, cause: unknown): StateDamagedError {
  return new StateDamagedError(
    `State file ${what} is damaged (${
      (cause as Error)?.message ?? cause
    }): run recover() (CLI: "recover") to restore it from its last good copy`,
    { cause },
  );
}
