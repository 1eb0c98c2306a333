// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// Peer: lowdb 7 (one JSON document, rewritten whole on every write).
import { Low } from "npm:lowdb@7.0.1";
import { JSONFile } from "npm:lowdb@7.0.1/node";
import { join } from "node:path";
import { caseArgs, keyOf, makeValue, run, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const dir = tempDir();
type Data = Record<string, unknown>;
const db = new Low<Data>(new JSONFile<Data>(join(dir, "db.json")), {});
await db.read();
for (let i = 0; i < n; i++) db.data[keyOf(i, n)] = makeValue(-1 - i);
await db.write();
syncDisk(dir);
const impl = "lowdb 7";
await run(
  { group: "json", impl, op: "save", n },
  async (i) => {
    db.data[keyOf(i, n)] = makeValue(i);
    await db.write();
  },
  { ...args, maxOps: Math.min(args.maxOps, 2000) },
  5,
);
await run({ group: "json", impl, op: "load", n }, (i) => {
  // lowdb reads from its in-memory copy; a copy is taken so callers cannot mutate it, like ours.
  return structuredClone(db.data[keyOf(i, n)]);
}, args);
