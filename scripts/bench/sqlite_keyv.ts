// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// The peer a user would pick instead: keyv 6 with @keyv/sqlite (node:sqlite
// driver, WAL), as configured by default (SQLite's synchronous=FULL), and
// with synchronous=NORMAL like ours, for a like-for-like durability setting.
import Keyv from "npm:keyv@6.1.0";
import KeyvSqlite from "npm:@keyv/sqlite@6.0.0-beta.4";
import { join } from "node:path";
import { caseArgs, keyOf, makeValue, run, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;

for (const synchronous of ["FULL", "NORMAL"]) {
  const dir = tempDir();
  const store = new KeyvSqlite({
    uri: `sqlite://${join(dir, "keyv.db")}`,
    driver: "node:sqlite",
    wal: true,
  });
  const keyv = new Keyv({ store, namespace: "wf" });
  // @keyv/sqlite exposes its query function; the pragma applies to its one connection.
  if (synchronous === "NORMAL") {
    await (store as unknown as { query(sql: string): Promise<unknown> }).query(
      "PRAGMA synchronous = NORMAL",
    );
  }
  const entries = Array.from(
    { length: n },
    (_, i) => ({ key: keyOf(i, n), value: makeValue(-1 - i) }),
  );
  for (let i = 0; i < n; i += 500) await keyv.setMany(entries.slice(i, i + 500));
  syncDisk(dir);
  const impl = `keyv + @keyv/sqlite${synchronous === "FULL" ? " (defaults)" : " (sync=NORMAL)"}`;
  await run({ group: "sqlite", impl, op: "save", n }, (i) => keyv.set(keyOf(i, n), makeValue(i)), {
    ...args,
    maxOps: synchronous === "FULL" ? Math.min(args.maxOps, 2000) : args.maxOps,
  }, 20);
  await run({ group: "sqlite", impl, op: "load", n }, async (i) => {
    if ((await keyv.get(keyOf(i, n))) === undefined) throw new Error("missing");
  }, args);
  await keyv.disconnect();
}
