// A failed open leaves nothing behind: the database file a backend creates
// comes with an undo that removes exactly what was created.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { createPrivateFile } from "../backends/_create.ts";
import { removeDir, tempDir } from "./_runtime.ts";

test("createPrivateFile() creates folders 0700 and the file 0600; undo removes just those", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "a", "b", "state.db");
    const undo = createPrivateFile(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, "a")).mode & 0o777, 0o700);
    writeFileSync(`${path}-wal`, "");
    undo();
    assert.equal(existsSync(join(dir, "a")), false, "the folders it made are gone");
    assert.equal(existsSync(dir), true, "the folder that was there stays");
  } finally {
    removeDir(dir);
  }
});

test("createPrivateFile(): undo leaves a file that was there and folders holding others", () => {
  const dir = tempDir();
  try {
    const path = join(dir, "a", "state.db");
    mkdirSync(join(dir, "a"));
    writeFileSync(path, "data");
    createPrivateFile(path)();
    assert.equal(existsSync(path), true, "not created by it: kept");
    const other = join(dir, "b", "c", "state.db");
    const undo = createPrivateFile(other);
    writeFileSync(join(dir, "b", "someone-else"), "x");
    undo();
    assert.equal(existsSync(join(dir, "b", "c")), false);
    assert.equal(existsSync(join(dir, "b", "someone-else")), true, "a folder in use stays");
  } finally {
    removeDir(dir);
  }
});
