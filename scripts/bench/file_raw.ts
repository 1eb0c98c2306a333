// The floor for file storage: one small file written to a temp file,
// fsynced and renamed over the old one; and the copy floor for checkpoints:
// a file of N entries copied, fsynced and renamed.
import { closeSync, copyFileSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { caseArgs, keyOf, makeValue, run, runFew, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const dir = tempDir();
const impl = "raw file";

function writeDurably(path: string, text: string): void {
  const temp = `${path}.tmp`;
  const fd = openSync(temp, "w", 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

syncDisk(dir);
await run(
  { group: "json", impl, op: "save", n, note: "one small file: temp + fsync + rename" },
  (i) => writeDurably(join(dir, "value.json"), JSON.stringify(makeValue(i))),
  { ...args, maxOps: Math.min(args.maxOps, 2000) },
  20,
);
const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ [keyOf(i, n)]: makeValue(i) }));
writeDurably(join(dir, "state.json"), lines.join("\n"));
await runFew(
  { group: "json", impl, op: "copy all keys", n },
  () => {
    const temp = join(dir, "copy.json.tmp");
    copyFileSync(join(dir, "state.json"), temp);
    const fd = openSync(temp, "r+");
    fsyncSync(fd);
    closeSync(fd);
    renameSync(temp, join(dir, "copy.json"));
  },
  5,
  () => syncDisk(dir),
);
