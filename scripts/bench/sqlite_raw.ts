// The floor for SQLite: node:sqlite with prepared statements, WAL and
// synchronous=NORMAL (the library's setting), JSON encoded and decoded.
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { caseArgs, keyOf, makeValue, run, runFew, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const dir = tempDir();
const db = new DatabaseSync(join(dir, "raw.db"));
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000");
db.exec("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
db.exec("CREATE TABLE kv_copy (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID");
const upsert = db.prepare(
  "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
);
const select = db.prepare("SELECT value FROM kv WHERE key = ?");
db.exec("BEGIN");
for (let i = 0; i < n; i++) upsert.run(keyOf(i, n), JSON.stringify(makeValue(-1 - i)));
db.exec("COMMIT");
syncDisk(dir);

const impl = "raw node:sqlite";
await run({ group: "sqlite", impl, op: "save", n }, (i) => {
  upsert.run(keyOf(i, n), JSON.stringify(makeValue(i)));
}, args);
await run({ group: "sqlite", impl, op: "load", n }, (i) => {
  return JSON.parse((select.get(keyOf(i, n)) as { value: string }).value);
}, args);
// The copy floor for checkpoint and restore: every row into another table, in one transaction.
await runFew({ group: "sqlite", impl, op: "copy all keys", n }, () => {
  db.exec("BEGIN IMMEDIATE");
  db.exec("DELETE FROM kv_copy");
  db.exec("INSERT INTO kv_copy SELECT key, value FROM kv");
  db.exec("COMMIT");
});
db.close();
