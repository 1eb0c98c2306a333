// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// Peer: unstorage 1.17 with its fs driver (one file per key).
import { createStorage } from "npm:unstorage@1.17.6";
import fsDriver from "npm:unstorage@1.17.6/drivers/fs";
import { caseArgs, keyOf, makeValue, run, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const dir = tempDir();
const storage = createStorage({ driver: fsDriver({ base: dir }) });
for (let i = 0; i < n; i += 100) {
  await Promise.all(
    Array.from(
      { length: Math.min(100, n - i) },
      (_, j) => storage.setItem(keyOf(i + j, n), makeValue(-1 - i - j)),
    ),
  );
}
syncDisk(dir);
const impl = "unstorage fs";
await run(
  { group: "json", impl, op: "save", n, note: "no fsync" },
  (i) => storage.setItem(keyOf(i, n), makeValue(i)),
  args,
);
await run({ group: "json", impl, op: "load", n }, async (i) => {
  if ((await storage.getItem(keyOf(i, n))) === null) throw new Error("missing");
}, args);
await storage.dispose();
