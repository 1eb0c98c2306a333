import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SqliteBackend } from "../backends/sqlite.ts";
import { StateDamagedError, StateManager } from "../mod.ts";
import { testBackend } from "./conformance.ts";
import { removeDir, tempDir } from "./_runtime.ts";

await testBackend("sqlite", () => {
  const dir = tempDir();
  const path = join(dir, "state.db");
  return Promise.resolve({
    open: (options = {}) => StateManager.open({ ...options, backend: "sqlite", path }),
    childOptions: { backend: "sqlite", path },
    cleanup: () => Promise.resolve(removeDir(dir)),
  });
});

test("sqlite: a damaged database file gives StateDamagedError, not a crash or an empty start", async () => {
  const dir = tempDir();
  try {
    const path = join(dir, "state.db");
    const s = await StateManager.open({ backend: "sqlite", path, namespace: "wf" });
    await s.save("k", 1);
    await s.close();
    const bytes = readFileSync(path);
    bytes.fill(0x41, 0, 100); // the header
    writeFileSync(path, bytes);
    await assert.rejects(
      StateManager.open({ backend: "sqlite", path, namespace: "wf" }),
      (e: unknown) => e instanceof StateDamagedError && /damaged/.test(e.message),
    );
  } finally {
    removeDir(dir);
  }
});

test("sqlite: uses a database object the caller opened and leaves it open", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(":memory:");
  const backend = new SqliteBackend({ database: db });
  const s = await StateManager.open({ backend, namespace: "wf" });
  await s.save("k", { v: 1 });
  assert.deepEqual(await s.load("k"), { v: 1 });
  await s.close();
  await backend.close();
  // Still open: the caller owns it.
  assert.equal(
    (db.prepare("SELECT count(*) AS n FROM ms_entries").get() as { n: number }).n,
    1,
  );
  db.close();
});

test("sqlite: recover() purges expired keys and reports the integrity check", async () => {
  const dir = tempDir();
  try {
    const s = await StateManager.open({
      backend: "sqlite",
      path: join(dir, "s.db"),
      namespace: "wf",
    });
    await s.save("short", 1, { ttlMs: 20 });
    await s.save("keep", 2);
    await new Promise((r) => setTimeout(r, 60));
    const report = await s.recover();
    assert.equal(report.ok, true);
    assert.deepEqual(report.actions, ["integrity_check: ok", "purged 1 expired keys"]);
    assert.deepEqual((await s.listKeys()).keys, ["keep"]);
    await s.close();
  } finally {
    removeDir(dir);
  }
});
