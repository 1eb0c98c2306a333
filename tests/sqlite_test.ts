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

test("sqlite: a file made with the request-id name index loses it on open; its ids still answer replays", async () => {
  const { DatabaseSync } = await import("node:sqlite");
  const dir = tempDir();
  try {
    const path = join(dir, "state.db");
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE ms_entries (
      ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
      version TEXT NOT NULL, expires_at INTEGER, PRIMARY KEY (ns, key)) WITHOUT ROWID;
    CREATE TABLE ms_requests (
      ns TEXT NOT NULL, id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (ns, id)) WITHOUT ROWID;
    CREATE INDEX ms_requests_names ON ms_requests (ns, id);
    INSERT INTO ms_entries VALUES ('wf', 'k', '1', 'r-1', NULL);
    INSERT INTO ms_requests VALUES ('wf', 'r-1', ${Date.now()});`);
    old.close();
    const backend = new SqliteBackend({ path });
    const set = (value: string) => ({ key: "k", value, expiresAt: null });
    // r-1 was applied before: its replay changes nothing.
    assert.deepEqual(
      await backend.commit("wf", {
        id: "r-1",
        version: "r-1",
        checks: [],
        sets: [set("2")],
        deletes: [],
      }),
      { ok: true, version: "r-1" },
    );
    assert.equal((await backend.get("wf", ["k"]))[0]?.value, "1");
    // A failed check records nothing: the same id commits once the check holds.
    const stale = { key: "k", version: "nope" };
    assert.deepEqual(
      await backend.commit("wf", {
        id: "r-2",
        version: "r-2",
        checks: [stale],
        sets: [set("3")],
        deletes: [],
      }),
      { ok: false },
    );
    const held = { key: "k", version: "r-1" };
    assert.deepEqual(
      await backend.commit("wf", {
        id: "r-2",
        version: "r-2",
        checks: [held],
        sets: [set("3")],
        deletes: [],
      }),
      { ok: true, version: "r-2" },
    );
    assert.equal((await backend.get("wf", ["k"]))[0]?.value, "3");
    await backend.close();
    const db = new DatabaseSync(path);
    const indexes = db.prepare("SELECT name FROM sqlite_schema WHERE name = 'ms_requests_names'")
      .all();
    const ids = db.prepare("SELECT id FROM ms_requests ORDER BY id").all() as { id: string }[];
    db.close();
    assert.deepEqual(indexes, []);
    assert.deepEqual(ids.map((r) => r.id), ["r-1", "r-2"]);
  } finally {
    removeDir(dir);
  }
});
