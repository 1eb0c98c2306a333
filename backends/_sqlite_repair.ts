// Repair of a damaged SQLite database file: the damaged file and its WAL are
// kept aside (a hard link and a rename: never copied over, never written),
// every row SQLite can still read from them goes into a fresh database built
// next to it, which then takes the file's place in one rename. The report
// names every key and checkpoint that could not be read; where a row and
// every copy of its name were lost together, it names the key range.
import {
  basenamePath as basename,
  dirnamePath as dirname,
  joinPath as join,
} from "./_sys_platform.ts";
import { DatabaseSync } from "node:sqlite";
import { fs } from "./_fs_platform.ts";
import type { LostData, RecoveryReport } from "../types.ts";
import type { SqliteDatabase, SqliteStatement } from "./_sqlite_driver.ts";
import { createPrivateFile } from "./_create.ts";
import { fsyncDir, tempPathFor } from "./_files.ts";
import { type Record_, scanPages } from "./_sqlite_pages.ts";
import {
  describeSchema,
  invalid,
  JSON_COLUMNS,
  q,
  type Row,
  type Table,
} from "./_sqlite_schema.ts";
import { Btree, compareKey, inGaps, intersectGaps, type Key, scanKeys } from "./_sqlite_salvage.ts";

const {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} = fs;

/** Rows and names of one table found by reading the file's pages. */
interface FromPages {
  rows: Map<string, Row[]>;
  names: Key[];
  /** Whether free pages were left out (else a row from the pages may have been deleted). */
  trusted: boolean;
}

/** What was read from one table. */
interface Salvaged {
  table: Table;
  rows: Row[];
  /** Keys named by some copy whose row could not be read (or was not valid). */
  missing: { key: Key; why: string }[];
  /** Key ranges where nothing could be read, not even a name. */
  ranges: { after: Key | null; before: Key | null }[];
  /** Keys of rows carried over that no copy of the name index holds. */
  unverified: Key[];
  /** Rows read from pages that SQL could not reach. */
  fromPages: number;
}

/** Reads everything one table still yields: through SQL first, then from its pages. */
function salvageTable(
  db: SqliteDatabase,
  table: Table,
  present: Set<string> | null,
  pages: FromPages,
): Salvaged {
  const out: Salvaged = { table, rows: [], fromPages: 0, missing: [], ranges: [], unverified: [] };
  // A table or index the file never had (an older version of the schema) is not damage.
  const has = (name: string) => !present || present.has(name);
  const names = table.namesIndex !== undefined && has(table.namesIndex)
    ? scanKeys(new Btree(db, table.name, table.pk, table.namesIndex))
    : undefined;
  const rows = has(table.name)
    ? scanKeys(new Btree(db, table.name, table.pk, table.pkIndex), names?.keys)
    : { keys: [], gaps: [] };
  out.ranges = names ? intersectGaps(rows.gaps, names.gaps) : rows.gaps;
  const all = new Map<string, Key>();
  for (const k of [...rows.keys, ...names?.keys ?? [], ...pages.names]) {
    all.set(JSON.stringify(k), k);
  }
  const indexed = names && new Set([...names.keys, ...pages.names].map((k) => JSON.stringify(k)));
  const select = `SELECT ${table.columns.map((c) => q(c.name)).join(", ")} FROM ${
    q(table.name)
  } INDEXED BY ${q(table.pkIndex)}`;
  // Every row at once when the table reads cleanly; else row by row, by key.
  const bulk = new Map<string, Row>();
  try {
    for (const r of has(table.name) ? db.prepare(select).all() as Row[] : []) {
      bulk.set(JSON.stringify(table.pk.map((c) => r[c] ?? null)), r);
    }
  } catch {
    bulk.clear();
  }
  let get: SqliteStatement | undefined;
  try {
    if (has(table.name)) {
      get = db.prepare(`${select} WHERE ${table.pk.map((c) => `${q(c)} = ?`).join(" AND ")}`);
    }
  } catch { /* the schema cannot be read: only the pages are left */ }
  for (const [id, key] of [...all].sort((a, b) => compareKey(a[1], b[1]))) {
    let row: Row | undefined;
    let why: string | undefined;
    try {
      row = bulk.get(id) ?? get?.get(...key) as Row | undefined;
      why = row ? invalid(table, row) : "its row is gone (only its name was found)";
    } catch (error) {
      why = (error as Error).message;
    }
    if (why) {
      // SQL cannot reach it: a copy on a page cut off from the tree may still be there.
      const copies = new Map(
        (pages.rows.get(id) ?? []).filter((r) => !invalid(table, r))
          .map((r) => [JSON.stringify(r), r]),
      );
      if (copies.size === 1) {
        row = [...copies.values()][0]!;
        out.fromPages++;
        if (!pages.trusted) out.unverified.push(key);
      } else {
        out.missing.push({ key, why: copies.size > 1 ? "its pages hold differing copies" : why });
        continue;
      }
    }
    out.rows.push({ ...row });
    if (indexed && !indexed.has(id) && !inGaps(key, names!.gaps) && !out.unverified.includes(key)) {
      out.unverified.push(key);
    }
  }
  return out;
}

/** Sorts the records found on the file's pages into tables, by their shape. */
function sortRecords(
  tables: Table[],
  records: Record_[],
  trusted: boolean,
): Map<string, FromPages> {
  type Shape = { table: Table; names: boolean; cols: { type: string; notnull: boolean }[] };
  const shapes: Shape[] = [];
  const byName = (t: Table, c: string) => t.columns.find((x) => x.name === c)!;
  for (const t of tables) {
    shapes.push({ table: t, names: false, cols: t.recordOrder.map((c) => byName(t, c)) });
    if (t.namesIndex) shapes.push({ table: t, names: true, cols: t.pk.map((c) => byName(t, c)) });
  }
  const fits = (r: Record_, s: Shape) =>
    r.length === s.cols.length && s.cols.every((c, i) => {
      const v = r[i];
      if (v === null) return !c.notnull;
      return c.type === "INTEGER" ? Number.isSafeInteger(v) : typeof v === "string";
    });
  const out = new Map(
    tables.map((t) => [t.name, { rows: new Map(), names: [], trusted } as FromPages]),
  );
  for (const r of records) {
    const matches = shapes.filter((s) => fits(r, s));
    if (matches.length !== 1) continue; // no table of ours, or more than one could be meant
    const { table, names } = matches[0]!;
    const found = out.get(table.name)!;
    const key = r.slice(0, table.pk.length);
    found.names.push(key);
    if (names) continue;
    const row: Row = Object.fromEntries(table.recordOrder.map((c, i) => [c, r[i] ?? null]));
    const id = JSON.stringify(key);
    found.rows.set(id, [...found.rows.get(id) ?? [], row]);
  }
  return out;
}

/** The tables and indexes the damaged file's own schema lists, or null when it cannot be read. */
function presentObjects(db: SqliteDatabase): Set<string> | null {
  try {
    const rows = db.prepare("SELECT name FROM sqlite_schema").all() as { name: string }[];
    return new Set(rows.map((r) => r.name));
  } catch {
    return null;
  }
}

/**
 * Checkpoint details must match the entries carried over: a checkpoint that
 * lost keys is counted again, and entries whose details were lost get new
 * ones (time 0, no metadata). Returns the names of both kinds.
 */
function fixCheckpoints(
  infos: Salvaged | undefined,
  entries: Salvaged | undefined,
): { recreated: Key[]; recounted: Key[] } {
  const result = { recreated: [] as Key[], recounted: [] as Key[] };
  if (!infos || !entries) return result;
  const stats = new Map<string, { ns: string; name: string; n: number; bytes: number }>();
  const encoder = new TextEncoder();
  for (const e of entries.rows) {
    const id = JSON.stringify([e.ns, e.name]);
    const s = stats.get(id) ?? { ns: e.ns as string, name: e.name as string, n: 0, bytes: 0 };
    s.n++;
    s.bytes += encoder.encode(e.key as string).length + encoder.encode(e.value as string).length;
    stats.set(id, s);
  }
  const known = new Set<string>();
  for (const info of infos.rows) {
    const id = JSON.stringify([info.ns, info.name]);
    known.add(id);
    const s = stats.get(id) ?? { n: 0, bytes: 0 };
    if (Number(info.key_count) !== s.n || Number(info.bytes) !== s.bytes) {
      info.key_count = s.n;
      info.bytes = s.bytes;
      result.recounted.push([info.ns!, info.name!]);
    }
  }
  for (const [id, s] of stats) {
    if (known.has(id)) continue;
    const row: Row = {};
    for (const c of infos.table.columns) {
      row[c.name] = c.notnull
        ? (c.type === "INTEGER" ? 0 : JSON_COLUMNS.has(c.name) ? "{}" : "")
        : null;
    }
    Object.assign(row, { ns: s.ns, name: s.name, key_count: s.n, bytes: s.bytes });
    infos.rows.push(row);
    result.recreated.push([s.ns, s.name]);
  }
  return result;
}

/** Writes the salvaged rows into a new database file at `path`. */
function writeFresh(path: string, schema: string, salvaged: Salvaged[]): void {
  createPrivateFile(path);
  const db = new DatabaseSync(path);
  try {
    db.exec(schema);
    db.exec("BEGIN");
    for (const { table, rows } of salvaged) {
      const cols = table.columns.map((c) => c.name);
      const insert = db.prepare(
        `INSERT OR REPLACE INTO ${q(table.name)} (${cols.map(q).join(", ")}) VALUES (${
          cols.map(() => "?").join(", ")
        })`,
      );
      for (const row of rows) insert.run(...cols.map((c) => row[c] ?? null));
    }
    db.exec("COMMIT");
  } finally {
    db.close();
  }
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Where the damaged file is kept: a new hard link next to it, unless an
 * interrupted repair already made one (same file), whose WAL was moved with it.
 */
function keepAside(path: string): { aside: string; wal: string } {
  const dir = dirname(path);
  const base = basename(path);
  const inode = statSync(path).ino;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${base}.damaged-`) || name.endsWith("-wal") || name.endsWith("-shm")) {
      continue;
    }
    const aside = join(dir, name);
    if (statSync(aside).ino === inode) return { aside, wal: `${aside}-wal` };
  }
  const stamp = new Date().toISOString().replace(/[-:.]/g, "");
  const rand = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0");
  const aside = join(dir, `${base}.damaged-${stamp}-${rand}`);
  linkSync(path, aside); // fails rather than follow anything already there
  if (existsSync(`${path}-wal`)) renameSync(`${path}-wal`, `${aside}-wal`);
  rmSync(`${path}-shm`, { force: true });
  return { aside, wal: `${aside}-wal` };
}

const show = (key: Key | null) => key === null ? "the end" : JSON.stringify(key);

/**
 * Repairs the database file at `path` (which no connection may have open) and
 * reports what it could not carry over. The damaged file and its WAL stay
 * aside, named in `quarantined`.
 */
export function repairDatabase(path: string, schema: string): RecoveryReport {
  const tables = describeSchema(schema);
  const { aside, wal } = keepAside(path);
  const fresh = tempPathFor(path);
  try {
    const db = new DatabaseSync(aside, { readOnly: true }) as unknown as SqliteDatabase;
    const pages = scanPages(aside, wal);
    const found = sortRecords(tables, pages.records, pages.freelistKnown);
    let salvaged: Salvaged[];
    try {
      const present = presentObjects(db);
      salvaged = tables.map((t) => salvageTable(db, t, present, found.get(t.name)!));
    } finally {
      db.close();
    }
    rmSync(`${aside}-shm`, { force: true }); // made by the read-only connection
    const fixed = fixCheckpoints(
      salvaged.find((s) => s.table.name === "ms_checkpoints"),
      salvaged.find((s) => s.table.name === "ms_checkpoint_entries"),
    );
    writeFresh(fresh, schema, salvaged);
    renameSync(fresh, path);
    fsyncDir(dirname(path));
    return report(path, aside, wal, salvaged, fixed, pages.damagedPages);
  } catch (error) {
    // Nothing replaced the damaged file: give it its WAL back.
    rmSync(fresh, { force: true });
    if (existsSync(wal) && !existsSync(`${path}-wal`)) renameSync(wal, `${path}-wal`);
    rmSync(aside, { force: true });
    throw error;
  }
}

function report(
  path: string,
  aside: string,
  wal: string,
  salvaged: Salvaged[],
  fixed: { recreated: Key[]; recounted: Key[] },
  damagedPages: number[],
): RecoveryReport {
  const lost: LostData = {
    keys: [],
    checkpointKeys: [],
    checkpoints: [],
    rows: [],
    ranges: [],
    unverified: [],
  };
  const actions = [
    `the database ${JSON.stringify(path)} was damaged: kept it aside as ${JSON.stringify(aside)}` +
    `${existsSync(wal) ? " (with its WAL)" : ""} and rebuilt it from what could be read`,
  ];
  if (damagedPages.length) {
    actions.push(`pages that could not be read: ${damagedPages.join(", ")}`);
  }
  for (const s of salvaged) {
    const t = s.table.name;
    actions.push(
      `${t}: carried over ${s.rows.length} rows` +
        (s.fromPages ? ` (${s.fromPages} read from pages cut off from their table)` : ""),
    );
    for (const { key, why } of s.missing) {
      if (t === "ms_entries") lost.keys.push({ namespace: String(key[0]), key: String(key[1]) });
      else if (t === "ms_checkpoint_entries") {
        lost.checkpointKeys.push({
          namespace: String(key[0]),
          checkpoint: String(key[1]),
          key: String(key[2]),
        });
      } else if (t === "ms_checkpoints") {
        lost.checkpoints.push({ namespace: String(key[0]), checkpoint: String(key[1]) });
      } else lost.rows.push({ table: t, key });
      actions.push(`${t}: could not read ${JSON.stringify(key)}: ${why}`);
    }
    for (const r of s.ranges) {
      lost.ranges.push({ table: t, after: r.after, before: r.before });
      actions.push(
        `${t}: rows between ${r.after === null ? "the start" : JSON.stringify(r.after)} and ` +
          `${show(r.before)} could not be read, nor their names`,
      );
    }
    for (const key of s.unverified) {
      lost.unverified.push({ table: t, key });
      actions.push(`${t}: ${JSON.stringify(key)} is not in the name index: its key may be damaged`);
    }
  }
  for (const k of fixed.recounted) {
    actions.push(`checkpoint ${JSON.stringify(k)} lost keys: its key count and size are recounted`);
  }
  for (const k of fixed.recreated) {
    actions.push(`checkpoint ${JSON.stringify(k)} lost its details: recreated with time 0`);
  }
  return {
    actions,
    quarantined: existsSync(wal) ? [aside, wal] : [aside],
    ok: true,
    lost,
  };
}
