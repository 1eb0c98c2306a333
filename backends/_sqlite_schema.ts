// The SQLite backend's schema as the repair sees it (tables, keys, name
// indexes, record layout, read from a fresh in-memory database built with it),
// the check for damage that `recover()` runs, and what makes a row read back
// from a damaged file fit to carry over.
import { DatabaseSync } from "node:sqlite";
import { validateKey, validateNamespace } from "../core/_validate.ts";
import type { SqliteDatabase, SqliteParam } from "./_sqlite_driver.ts";

/** A row as read: column -> value. */
export type Row = Record<string, SqliteParam>;

/** One table of the schema, as the fresh database defines it. */
export interface Table {
  name: string;
  columns: { name: string; type: string; notnull: boolean }[];
  pk: string[];
  /** The b-tree of the primary key (for WITHOUT ROWID tables, the table itself). */
  pkIndex: string;
  /** An index on exactly the primary key: a second copy of every key's name. */
  namesIndex: string | undefined;
  /** Column order in the table's records: the key first (WITHOUT ROWID), then the rest. */
  recordOrder: string[];
}

/** Columns that hold JSON text. */
export const JSON_COLUMNS = new Set(["value", "metadata"]);
const NAME_COLUMNS = new Set(["key", "name"]);
/** An SQL identifier, quoted. */
export const q = (name: string) => `"${name.replaceAll('"', '""')}"`;

const described = new Map<string, Table[]>();

/** The tables and indexes that `schema` creates. */
export function describeSchema(schema: string): Table[] {
  const known = described.get(schema);
  if (known) return known;
  const db = new DatabaseSync(":memory:");
  try {
    db.exec(schema);
    const names = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY rootpage",
    ).all() as { name: string }[];
    const tables = names.map(({ name }): Table => {
      const info = db.prepare(`PRAGMA table_info(${q(name)})`).all() as {
        name: string;
        type: string;
        notnull: number;
        pk: number;
      }[];
      const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      const indexes = db.prepare(`PRAGMA index_list(${q(name)})`).all() as {
        name: string;
        origin: string;
      }[];
      const columnsOf = (index: string) =>
        (db.prepare(`PRAGMA index_info(${q(index)})`).all() as { name: string }[])
          .map((c) => c.name).join(",");
      return {
        name,
        columns: info.map((c) => ({ name: c.name, type: c.type, notnull: c.notnull === 1 })),
        pk,
        recordOrder: [...pk, ...info.map((c) => c.name).filter((c) => !pk.includes(c))],
        pkIndex: indexes.find((i) => i.origin === "pk")!.name,
        namesIndex: indexes.find((i) => i.origin === "c" && columnsOf(i.name) === pk.join(","))
          ?.name,
      };
    });
    described.set(schema, tables);
    return tables;
  } finally {
    db.close();
  }
}

/**
 * Checks a database for damage: SQLite's `integrity_check` (every page, and
 * every index against its table), then every row's content (types, and JSON
 * where JSON is stored), which SQLite does not look at. Returns what is wrong,
 * or undefined; throws errors that are not damage (`isDamage` tells them apart).
 */
export function checkDatabase(
  db: SqliteDatabase,
  schema: string,
  isDamage: (error: unknown) => boolean,
): string | undefined {
  try {
    const rows = db.prepare("PRAGMA integrity_check(10)").all() as Record<string, string>[];
    const result = rows.map((r) => Object.values(r)[0]).join("; ");
    if (result !== "ok") return `integrity_check: ${result}`;
    for (const t of describeSchema(schema)) {
      const bad = t.columns.map((c) => {
        const types = [
          c.type === "INTEGER" ? "'integer'" : "'text'",
          ...c.notnull ? [] : ["'null'"],
        ];
        const json = JSON_COLUMNS.has(c.name) ? ` OR NOT json_valid(${q(c.name)})` : "";
        return `typeof(${q(c.name)}) NOT IN (${types.join(", ")})${json}`;
      });
      const row = db.prepare(
        `SELECT ${t.pk.map(q).join(", ")} FROM ${q(t.name)} WHERE ${bad.join(" OR ")} LIMIT 1`,
      ).get() as Row | undefined;
      if (row) return `${t.name}: the row ${JSON.stringify(Object.values(row))} is damaged`;
    }
    return undefined;
  } catch (error) {
    if (isDamage(error)) return (error as Error).message;
    throw error;
  }
}

/** Why a row read back cannot be carried over, or undefined when it can. */
export function invalid(table: Table, row: Row): string | undefined {
  for (const c of table.columns) {
    const v = row[c.name];
    if (v === null || v === undefined) {
      if (c.notnull) return `${c.name} is missing`;
      continue;
    }
    if (c.type === "INTEGER" && !Number.isSafeInteger(v)) return `${c.name} is not an integer`;
    if (c.type === "TEXT" && typeof v !== "string") return `${c.name} is not text`;
    try {
      if (c.name === "ns") validateNamespace(v);
      if (NAME_COLUMNS.has(c.name)) validateKey(v, c.name);
      if (JSON_COLUMNS.has(c.name)) JSON.parse(v as string);
    } catch (error) {
      return `${c.name} is damaged (${(error as Error).message})`;
    }
  }
  return undefined;
}
