// Data written by the Python reference implementation in the seed spec: its
// JSON layout (<dir>/<ns>/state.json + checkpoints/<name>.json) and its
// SQLite layout (<dir>/<ns>/state.db with tables state and checkpoints). The
// fixtures are written byte for byte as Python's json module and sqlite3 do.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { DatabaseSync } from "node:sqlite";
import { exportState, importState, migrate, StateDamagedError, StateManager } from "../mod.ts";
import { run } from "../cli.ts";
import { snapshot, stopRedis, type Store, STORES, withStores } from "./_migrate_stores.ts";
import { pyDumps } from "./_python.ts";
import { removeDir, tempDir } from "./_runtime.ts";

after(() => stopRedis());

const STAMP = "2024-01-01T10:00:00.123456"; // datetime.utcnow().isoformat()
const VALUES: Record<string, unknown> = {
  current_phase: "building",
  completed_tasks: ["scout", "plan"],
  metadata: { timestamp: "2024-01-01", user: "dév" },
  "café": 2.5,
  retries: 0,
  done: false,
  nothing: null,
};
const PLANNED: Record<string, unknown> = { current_phase: "planning", completed_tasks: ["scout"] };
const dict = (values: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { value: v, timestamp: STAMP }]));

/** The JSON layout, as the seed's JSONBackend writes it (json.dump(..., indent=2)). */
function writeJsonLayout(dir: string, ns: string): number {
  const root = join(dir, ns);
  mkdirSync(join(root, "checkpoints"), { recursive: true });
  writeFileSync(join(root, "state.json"), pyDumps(dict(VALUES), 2));
  const cp = join(root, "checkpoints", "after_planning.json");
  writeFileSync(cp, pyDumps(dict(PLANNED), 2));
  const auto = join(root, "checkpoints", "auto_20240101_100000.json");
  writeFileSync(auto, pyDumps({}, 2));
  const mtime = new Date("2024-01-01T10:05:00Z");
  utimesSync(cp, mtime, mtime);
  utimesSync(auto, mtime, mtime);
  return mtime.getTime();
}

/** The SQLite layout, as the seed's SQLiteBackend writes it. */
function writeSqliteLayout(dir: string, ns: string): void {
  mkdirSync(join(dir, ns), { recursive: true });
  const db = new DatabaseSync(join(dir, ns, "state.db"));
  db.exec("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT, timestamp TEXT)");
  db.exec(
    "CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, state TEXT, created_at TEXT)",
  );
  const insert = db.prepare(
    "INSERT OR REPLACE INTO state (key, value, timestamp) VALUES (?, ?, ?)",
  );
  for (const [k, v] of Object.entries(PLANNED)) insert.run(k, pyDumps(v), STAMP);
  // checkpoint(): json.dumps of `SELECT * FROM state` rows.
  const rows = db.prepare("SELECT * FROM state").all().map((r) => Object.values(r));
  const cp = db.prepare(
    "INSERT OR REPLACE INTO checkpoints (name, state, created_at) VALUES (?, ?, ?)",
  );
  cp.run("after_planning", pyDumps(rows), STAMP);
  cp.run("auto_20240101_110000", pyDumps([]), "2024-01-01T11:00:00"); // isoformat() drops zero µs
  db.exec("DELETE FROM state");
  for (const [k, v] of Object.entries(VALUES)) insert.run(k, pyDumps(v), STAMP);
  db.close();
}

async function assertImported(store: Store, ns: string, kind: string, cpTimes: number[]) {
  const s = await store.open(ns);
  try {
    assert.deepEqual(await s.loadMany(Object.keys(VALUES)), VALUES);
    assert.deepEqual((await s.listKeys()).keys.length, Object.keys(VALUES).length);
    const cps = await s.listCheckpoints();
    assert.deepEqual(
      cps.map((c) => [c.name, c.createdAt, c.auto, c.keyCount, c.metadata]),
      [
        ["auto_20240101_" + (kind === "legacy-json" ? "100000" : "110000"), cpTimes[1], true, 0, {
          importedFrom: kind,
        }],
        ["after_planning", cpTimes[0], false, 2, { importedFrom: kind }],
      ].sort((a, b) =>
        (b[1] as number) - (a[1] as number) || String(b[0]).localeCompare(String(a[0]))
      ),
    );
    const planned = cps.find((c) => c.name === "after_planning")!;
    assert.equal(
      planned.bytes,
      new TextEncoder().encode(
        Object.entries(PLANNED).map(([k, v]) => k + JSON.stringify(v)).join(""),
      ).length,
    );
    await s.restoreCheckpoint("after_planning");
    assert.deepEqual((await s.listKeys()).keys, ["completed_tasks", "current_phase"]);
    assert.deepEqual(await s.loadMany(Object.keys(PLANNED)), PLANNED);
  } finally {
    await s.close();
  }
}

test("legacy: the Python JSON layout imports exactly, and re-runs write nothing", () =>
  withStores(["sqlite"], async (dst) => {
    const dir = tempDir();
    try {
      const mtime = writeJsonLayout(dir, "workflow-123");
      mkdirSync(join(dir, "not-a-namespace")); // no state.json: not listed
      const before = readFileSync(join(dir, "workflow-123", "state.json"));
      const from = { backend: "legacy-json", dir } as const;
      const report = await migrate({ from, to: dst.endpoint });
      assert.equal(report.verified, true);
      assert.equal(report.from, "legacy-json");
      assert.deepEqual(report.namespaces.map((n) => n.namespace), ["workflow-123"]);
      assert.equal(report.keys, Object.keys(VALUES).length);
      assert.equal((await migrate({ from, to: dst.endpoint })).written, 0);
      assert.deepEqual(readFileSync(join(dir, "workflow-123", "state.json")), before);
      await assertImported(dst, "workflow-123", "legacy-json", [mtime, mtime]);
    } finally {
      removeDir(dir);
    }
  }));

test("legacy: the Python SQLite layout imports exactly, its times read as UTC", () =>
  withStores(["json"], async (dst) => {
    const dir = tempDir();
    try {
      writeSqliteLayout(dir, "workflow-456");
      const db = join(dir, "workflow-456", "state.db");
      const before = [readFileSync(db), statSync(db).mtimeMs];
      const report = await migrate({ from: { backend: "legacy-sqlite", dir }, to: dst.endpoint });
      assert.equal(report.verified, true);
      assert.deepEqual([readFileSync(db), statSync(db).mtimeMs], before, "the source is untouched");
      await assertImported(dst, "workflow-456", "legacy-sqlite", [
        Date.parse("2024-01-01T10:00:00.123Z"),
        Date.parse("2024-01-01T11:00:00Z"),
      ]);
    } finally {
      removeDir(dir);
    }
  }));

test("legacy: both layouts reach every backend, and through an export file", async () => {
  const dir = tempDir();
  try {
    writeJsonLayout(dir, "wf-json");
    writeSqliteLayout(dir, "wf-sqlite");
    for (const kind of Object.keys(STORES)) {
      await withStores([kind, "sqlite"], async (dst, viaFile) => {
        for (
          const [backend, ns] of [["legacy-json", "wf-json"], [
            "legacy-sqlite",
            "wf-sqlite",
          ]] as const
        ) {
          const r = await migrate({ from: { backend, dir }, to: dst.endpoint });
          assert.equal(r.verified, true, `${backend} -> ${kind}`);
          assert.deepEqual(r.namespaces.map((n) => n.namespace), [ns]);
        }
        const file = join(dir, `${kind}.jsonl`);
        await exportState({ from: { backend: "legacy-json", dir }, to: file });
        assert.equal((await importState({ from: file, to: viaFile.endpoint })).verified, true);
        const [a, b] = [await snapshot(dst, "wf-json"), await snapshot(viaFile, "wf-json")];
        // Values and checkpoints match; versions and the file-time createdAt are the same too.
        assert.deepEqual(b, a);
      });
    }
  } finally {
    removeDir(dir);
  }
});

test("legacy: damaged legacy files are refused, naming the file", async () => {
  const dir = tempDir();
  try {
    mkdirSync(join(dir, "wf"));
    writeFileSync(join(dir, "wf", "state.json"), '{"a": {"value": 1, "timestamp": ');
    await assert.rejects(
      migrate({ from: { backend: "legacy-json", dir }, to: { backend: "memory" } }),
      (e: unknown) => e instanceof StateDamagedError && e.message.includes("state.json"),
    );
    writeFileSync(join(dir, "wf", "state.json"), pyDumps([1, 2]));
    await assert.rejects(
      migrate({ from: { backend: "legacy-json", dir }, to: { backend: "memory" } }),
      /state\.json is not a \{key: \{value, timestamp\}\} object/,
    );
    const db = new DatabaseSync(join(dir, "wf", "state.db"));
    db.exec("CREATE TABLE other (x)");
    db.close();
    await assert.rejects(
      migrate({ from: { backend: "legacy-sqlite", dir }, to: { backend: "memory" } }),
      (e: unknown) => e instanceof StateDamagedError && /state\.db.*no such table/.test(e.message),
    );
  } finally {
    removeDir(dir);
  }
});

test("cli: migrate --from legacy-json / legacy-sqlite with --from-dir", async () => {
  const dir = tempDir();
  try {
    writeJsonLayout(join(dir, "old"), "workflow-123");
    writeSqliteLayout(join(dir, "old"), "workflow-456");
    const io = {
      out: () => {},
      err: () => {},
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    };
    for (const kind of ["legacy-json", "legacy-sqlite"]) {
      const args = ["migrate", "--from", kind, "--from-dir", join(dir, "old"), "--to", "sqlite"];
      const code = await run([...args, "--to-path", join(dir, "new.db")], io);
      assert.equal(code, 0);
    }
    const path = join(dir, "new.db");
    const store: Store = {
      endpoint: { backend: "sqlite", path },
      open: (namespace) => StateManager.open({ backend: "sqlite", path, namespace }),
      cleanup: () => Promise.resolve(),
    };
    await assertImported(store, "workflow-123", "legacy-json", [
      Date.parse("2024-01-01T10:05:00Z"),
      Date.parse("2024-01-01T10:05:00Z"),
    ]);
    await assertImported(store, "workflow-456", "legacy-sqlite", [
      Date.parse("2024-01-01T10:00:00.123Z"),
      Date.parse("2024-01-01T11:00:00Z"),
    ]);
  } finally {
    removeDir(dir);
  }
});
