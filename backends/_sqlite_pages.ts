// Reading a damaged SQLite file page by page, as SQLite's own recovery does:
// the current image of every page (the main file, overlaid with the committed
// frames of its WAL), minus the freelist, parsed as b-tree pages. Every intact
// cell of an index b-tree (WITHOUT ROWID tables and indexes are those) is
// decoded as a record. This finds rows that SQL can no longer reach (a damaged
// interior page cuts its subtree off without an error) and names from index
// pages whose own tree is damaged. The file format is sqlite.org/fileformat.html.
import { fs } from "./_fs_platform.ts";

const { existsSync, readFileSync } = fs;

/** A decoded record: its column values. */
export type Record_ = (string | number | null)[];

/** What the pages hold, and how many could not be parsed. */
export interface PageScan {
  records: Record_[];
  /** Pages within the database that are neither free nor a parseable b-tree page. */
  damagedPages: number[];
  /** Whether the list of free pages could be read (else records may come from deleted rows). */
  freelistKnown: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function u16(b: Uint8Array, at: number): number {
  return (b[at]! << 8) | b[at + 1]!;
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
}

/** A varint at `at`: [value, bytes used]. */
function varint(b: Uint8Array, at: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const byte = b[at + i];
    if (byte === undefined) throw new Error("varint past the end");
    v = v * 128 + (byte & 0x7f);
    if (byte < 0x80) return [v, i + 1];
  }
  const last = b[at + 8];
  if (last === undefined) throw new Error("varint past the end");
  return [v * 256 + last, 9];
}

/** The page images of the WAL's committed frames (checked by their checksums), and the size they commit. */
function applyWal(walPath: string, pageSize: number) {
  const pages = new Map<number, Uint8Array>();
  let dbSize = 0;
  if (!existsSync(walPath)) return { pages, dbSize };
  const wal = new Uint8Array(readFileSync(walPath));
  if (wal.length < 32) return { pages, dbSize };
  const magic = u32(wal, 0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return { pages, dbSize };
  const big = magic === 0x377f0683;
  const size = u32(wal, 8);
  if (size !== pageSize) return { pages, dbSize };
  const word = (at: number) =>
    big
      ? u32(wal, at)
      : (wal[at]! | (wal[at + 1]! << 8) | (wal[at + 2]! << 16) | (wal[at + 3]! << 24)) >>> 0;
  let s0 = 0;
  let s1 = 0;
  const sum = (from: number, to: number) => {
    for (let i = from; i < to; i += 8) {
      s0 = (s0 + word(i) + s1) >>> 0;
      s1 = (s1 + word(i + 4) + s0) >>> 0;
    }
  };
  sum(0, 24);
  if (s0 !== u32(wal, 24) || s1 !== u32(wal, 28)) return { pages, dbSize };
  const pending = new Map<number, Uint8Array>();
  for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
    if (u32(wal, at + 8) !== u32(wal, 16) || u32(wal, at + 12) !== u32(wal, 20)) break;
    sum(at, at + 8);
    sum(at + 24, at + 24 + pageSize);
    if (s0 !== u32(wal, at + 16) || s1 !== u32(wal, at + 20)) break;
    pending.set(u32(wal, at), wal.subarray(at + 24, at + 24 + pageSize));
    const commit = u32(wal, at + 4);
    if (commit > 0) {
      for (const [p, img] of pending) pages.set(p, img);
      pending.clear();
      dbSize = commit;
    }
  }
  return { pages, dbSize };
}

/** Reads every record on the index b-tree pages of the database at `path` (and its `-wal`). */
export function scanPages(path: string, walPath: string): PageScan {
  const main = new Uint8Array(readFileSync(path));
  const header = main.subarray(0, 100);
  let pageSize = main.length >= 100 ? u16(header, 16) : 0;
  if (pageSize === 1) pageSize = 65536;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) pageSize = 4096;
  const wal = applyWal(walPath, pageSize);
  const page = (p: number): Uint8Array | undefined =>
    wal.pages.get(p) ??
      (p * pageSize <= main.length ? main.subarray((p - 1) * pageSize, p * pageSize) : undefined);
  const first = page(1);
  const reserved = first && first.length >= 100 ? first[20]! : 0;
  const usable = pageSize - (reserved < 64 ? reserved : 0);
  const inHeader = first && first.length >= 100 ? u32(first, 28) : 0;
  const filePages = Math.floor(main.length / pageSize);
  const dbSize = wal.dbSize ||
    (inHeader > 0 && inHeader <= filePages + wal.pages.size ? inHeader : filePages);

  // Free pages hold stale cells: leave them out.
  const free = new Set<number>();
  const freelistKnown = first !== undefined && first.length >= 100 &&
    String.fromCharCode(...first.subarray(0, 15)) === "SQLite format 3";
  if (freelistKnown) {
    let trunk = u32(first, 32);
    while (trunk > 1 && trunk <= dbSize && !free.has(trunk)) {
      free.add(trunk);
      const t = page(trunk);
      if (!t) break;
      const n = u32(t, 4);
      if (n > (usable - 8) / 4) break;
      for (let i = 0; i < n; i++) free.add(u32(t, 8 + 4 * i));
      trunk = u32(t, 0);
    }
  }

  const records: Record_[] = [];
  const damagedPages: number[] = [];
  const unknown: number[] = [];
  const overflow = new Set<number>();
  const maxLocal = Math.floor(((usable - 12) * 64) / 255) - 23;
  const minLocal = Math.floor(((usable - 12) * 32) / 255) - 23;
  for (let p = 1; p <= dbSize; p++) {
    if (free.has(p)) continue;
    const b = page(p);
    if (!b) continue;
    const h = p === 1 ? 100 : 0;
    const type = b[h];
    if (type === 5 || type === 13) continue; // table b-trees (the schema, rowid tables)
    if (type !== 2 && type !== 10) {
      unknown.push(p); // an overflow page, or damage: decided once every chain is known
      continue;
    }
    const interior = type === 2;
    const cells = u16(b, h + 3);
    const pointers = h + (interior ? 12 : 8);
    if (pointers + 2 * cells > usable) {
      damagedPages.push(p);
      continue;
    }
    let bad = 0;
    for (let i = 0; i < cells; i++) {
      try {
        let at = u16(b, pointers + 2 * i) + (interior ? 4 : 0);
        if (at >= usable) throw new Error("cell past the page");
        const [size, used] = varint(b, at);
        at += used;
        const local = size <= maxLocal ? size : (() => {
          const k = minLocal + ((size - minLocal) % (usable - 4));
          return k <= maxLocal ? k : minLocal;
        })();
        if (at + local > usable) throw new Error("payload past the page");
        if (local === size) {
          records.push(decodeRecord(b.subarray(at, at + size)));
          continue;
        }
        const payload = new Uint8Array(size);
        payload.set(b.subarray(at, at + local));
        let filled = local;
        let next = local < size ? u32(b, at + local) : 0;
        const seen = new Set<number>();
        while (filled < size) {
          if (next < 2 || next > dbSize || seen.has(next) || free.has(next)) {
            throw new Error("broken overflow chain");
          }
          seen.add(next);
          overflow.add(next);
          const o = page(next)!;
          const n = Math.min(usable - 4, size - filled);
          payload.set(o.subarray(4, 4 + n), filled);
          filled += n;
          next = u32(o, 0);
        }
        records.push(decodeRecord(payload));
      } catch {
        bad++;
      }
    }
    if (bad > 0) damagedPages.push(p);
  }
  damagedPages.push(...unknown.filter((p) => !overflow.has(p)));
  return { records, damagedPages: damagedPages.sort((a, b) => a - b), freelistKnown };
}

/** Decodes a record (sqlite.org/fileformat.html#record_format). */
export function decodeRecord(b: Uint8Array): Record_ {
  const [headerSize, first] = varint(b, 0);
  if (headerSize > b.length) throw new Error("record header past the payload");
  const types: number[] = [];
  for (let at = first; at < headerSize;) {
    const [t, used] = varint(b, at);
    types.push(t);
    at += used;
  }
  const out: Record_ = [];
  let at = headerSize;
  for (const t of types) {
    if (t === 0) out.push(null);
    else if (t >= 1 && t <= 6) {
      const n = [0, 1, 2, 3, 4, 6, 8][t]!;
      if (at + n > b.length) throw new Error("value past the payload");
      let v = 0;
      for (let i = 0; i < n; i++) v = v * 256 + b[at + i]!;
      if (b[at]! & 0x80) v -= 2 ** (8 * n); // two's complement (exact up to 2^53)
      out.push(v);
      at += n;
    } else if (t === 7) {
      if (at + 8 > b.length) throw new Error("value past the payload");
      out.push(new DataView(b.buffer, b.byteOffset + at, 8).getFloat64(0));
      at += 8;
    } else if (t === 8 || t === 9) out.push(t - 8);
    else if (t >= 12) {
      const n = Math.floor((t - (t % 2 === 0 ? 12 : 13)) / 2);
      if (at + n > b.length) throw new Error("value past the payload");
      if (t % 2 === 0) throw new Error("a blob: no column of ours holds one");
      out.push(decoder.decode(b.subarray(at, at + n)));
      at += n;
    } else throw new Error(`reserved serial type ${t}`);
  }
  if (at !== b.length) throw new Error("record size does not match its payload");
  return out;
}
