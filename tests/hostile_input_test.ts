// Hostile input at the library's boundaries (issue 21, rows 1, 8, 12, 13 and
// 16): names from a source store, export lines holding line separators,
// values too large or too deep, numbers and strings JSON cannot hold, and
// library options that reach SQL.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { DatabaseSync } from "node:sqlite";
import { Redis } from "ioredis";
import { StateManager, ValidationError } from "../mod.ts";
import { exportState, importState, migrate } from "../migrate/mod.ts";
import { JsonBackend } from "../backends/json.ts";
import { KvBackend } from "../backends/kv.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { RedisBackend } from "../backends/redis.ts";
import { SqliteBackend } from "../backends/sqlite.ts";
import type { Backend } from "../types.ts";
import { run } from "../cli.ts";
import { deletePrefix, redisTarget, reportUnavailable } from "./_redis_server.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Every file and folder name under `dir`. */
function allNames(dir: string): string[] {
  return readdirSync(dir, { recursive: true }).map(String);
}

/** A SQLite store holding a good namespace, then a row planted in namespace `ns`. */
async function plantedSqlite(path: string, ns: string): Promise<void> {
  const s = await StateManager.open({ backend: "sqlite", path, namespace: "good" });
  await s.save("k", "fine");
  await s.close();
  const db = new DatabaseSync(path);
  db.prepare(
    "INSERT INTO ms_entries (ns, key, value, version, expires_at) VALUES (?, ?, ?, ?, NULL)",
  ).run(ns, "k", '"planted"', "v1");
  db.close();
}

test("hostile #1: migrate checks the namespaces a source store holds and never writes outside the target folder", async () => {
  const root = tempDir();
  try {
    const src = join(root, "src.db");
    await plantedSqlite(src, "../../../escaped");
    const target = join(root, "out", "state", "here");
    await assert.rejects(
      migrate({ from: { backend: "sqlite", path: src }, to: { backend: "json", dir: target } }),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.match(e.message, /sqlite source holds namespace "\.\.\/\.\.\/\.\.\/escaped"/);
        return true;
      },
    );
    assert.ok(!allNames(root).some((n) => n.includes("escaped")), allNames(root).join(", "));
    // The CLI says the same and exits 2.
    const err: string[] = [];
    const code = await run(
      ["migrate", "--from", "sqlite", "--to", "json", "--from-path", src, "--to-dir", target],
      {
        out: () => {},
        err: (t) => err.push(t),
        stdin: () => Promise.resolve(""),
        stderrIsTty: false,
      },
    );
    assert.equal(code, 2);
    assert.match(err.join("\n"), /escaped/);
    assert.ok(!allNames(root).some((n) => n.includes("escaped")));
  } finally {
    removeDir(root);
  }
});

const BAD_NAMESPACES = ["../x", "victim}:k:X", "", "a/b", "x\0"];

/** Every namespace-taking method of a backend, called with `ns`. */
function calls(b: Backend, ns: string): [string, () => Promise<unknown>][] {
  const info = {
    name: "cp",
    createdAt: 1,
    keyCount: 0,
    bytes: 0,
    auto: false,
    metadata: {},
    parent: null,
  };
  return [
    ["get", () => b.get(ns, ["k"])],
    ["commit", () => b.commit(ns, { id: "v", version: "v", checks: [], sets: [], deletes: [] })],
    ["list", () => b.list(ns, {})],
    ["checkpoint", () => b.checkpoint(ns, { ...info, overwrite: false, id: "r" })],
    ["listCheckpoints", () => b.listCheckpoints(ns)],
    ["readCheckpoint", () => b.readCheckpoint(ns, "cp")],
    ["restore", () => b.restore(ns, "cp", { id: "r" })],
    ["deleteCheckpoint", () => b.deleteCheckpoint(ns, "cp", { id: "r" })],
    ["importCheckpoint", () => b.importCheckpoint(ns, info, [])],
    ["clear", () => b.clear(ns, { id: "r" })],
  ];
}

test("hostile #1: every backend refuses an invalid namespace at its own boundary, whoever calls it", async () => {
  const dir = tempDir();
  try {
    const backends: Backend[] = [
      new MemoryBackend(),
      new JsonBackend({ dir: join(dir, "json") }),
      new SqliteBackend({ path: ":memory:" }),
      new KvBackend({ path: join(dir, "kv", "state.kv") }),
      // Checked before connecting: nothing listens on port 1.
      new RedisBackend({ url: "redis://127.0.0.1:1" }),
    ];
    for (const b of backends) {
      for (const ns of BAD_NAMESPACES) {
        for (const [method, call] of calls(b, ns)) {
          await assert.rejects(
            async () => await call(),
            ValidationError,
            `${b.name}.${method}(${JSON.stringify(ns)})`,
          );
        }
      }
      await b.close();
    }
    assert.deepEqual(readdirSync(dir), [], "nothing was created");
  } finally {
    removeDir(dir);
  }
});

const redis = await redisTarget();
if (typeof redis === "string") {
  reportUnavailable("hostile #1 (redis)", redis);
} else {
  after(() => redis.server?.stop());
  test("hostile #1: a namespace from a source store cannot write into another Redis namespace", async () => {
    const root = tempDir();
    const prefix = `mst-${crypto.randomUUID().slice(0, 8)}`;
    try {
      const src = join(root, "src.db");
      await plantedSqlite(src, "victim}:k:X");
      await assert.rejects(
        migrate({
          from: { backend: "sqlite", path: src },
          to: { backend: "redis", url: redis.url, prefix },
        }),
        /holds namespace "victim\}:k:X"/,
      );
      const raw = new Redis(redis.url);
      try {
        assert.deepEqual(await raw.keys(`${prefix}:*`), []);
      } finally {
        raw.disconnect();
      }
    } finally {
      await deletePrefix(redis.url, prefix);
      removeDir(root);
    }
  });
}

test("hostile #1: migrate checks keys, values and checkpoints a source store holds, before writing them", async () => {
  const root = tempDir();
  try {
    const src = join(root, "src.db");
    const s = await StateManager.open({ backend: "sqlite", path: src, namespace: "wf" });
    await s.save("k", 1);
    await s.close();
    const db = new DatabaseSync(src);
    // A value that is not JSON would be pasted into the JSON backend's files as it is.
    db.prepare("UPDATE ms_entries SET value = ? WHERE ns = 'wf'").run('1}, "x": {"value": 2');
    db.close();
    const dir = join(root, "json");
    await assert.rejects(
      migrate({ from: { backend: "sqlite", path: src }, to: { backend: "json", dir } }),
      /namespace "wf" key "k": its value is not JSON/,
    );
    assert.equal(existsSync(join(dir, "wf", "journal.jsonl")), false);
  } finally {
    removeDir(root);
  }
});

test("hostile #8: keys, values and metadata holding U+2028 and U+2029 survive export and import", async () => {
  const root = tempDir();
  try {
    const source = new MemoryBackend();
    const s = await StateManager.open({ backend: source, namespace: "wf" });
    await s.save("note\u2028", "a\u2028b\u2029c");
    await s.save("k", { "x\u2029": ["\u2028"] });
    await s.checkpoint("cp\u2029", { metadata: { m: "\u2028" } });
    const file = join(root, "export.jsonl");
    await exportState({ from: source, to: file });
    assert.ok(!/[\u2028\u2029]/.test(readFileSync(file, "utf8")), "separators are escaped");
    const dir = join(root, "state");
    const report = await importState({ from: file, to: { backend: "json", dir } });
    assert.equal(report.verified, true);
    const t = await StateManager.open({ backend: "json", dir, namespace: "wf" });
    assert.equal(await t.load("note\u2028"), "a\u2028b\u2029c");
    assert.deepEqual(await t.load("k"), { "x\u2029": ["\u2028"] });
    assert.deepEqual((await t.listCheckpoints()).map((c) => [c.name, c.metadata]), [
      ["cp\u2029", { m: "\u2028" }],
    ]);
    await t.close();
    // An export with them raw (as before this release) imports too: lines end at "\n" only.
    const raw = readFileSync(file, "utf8").replaceAll("\\u2028", "\u2028");
    writeFileSync(file, raw);
    const again = await importState({ from: file, to: new MemoryBackend() });
    assert.equal(again.keys, 2);
    // The CLI, as the issue did it.
    const io = {
      out: () => {},
      err: () => {},
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    };
    const cliDir = join(root, "cli");
    const cli = (...args: string[]) => run([...args, "--dir", cliDir], io);
    assert.equal(await cli("save", "--key", "note", "--value", '"a\u2028b"'), 0);
    assert.equal(await cli("export", "--file", join(root, "cli.jsonl")), 0);
    assert.equal(
      await run(["import", "--file", join(root, "cli.jsonl"), "--dir", join(root, "cli2")], io),
      0,
    );
    const u = await StateManager.open({ backend: "json", dir: join(root, "cli2") });
    assert.equal(await u.load("note"), "a\u2028b");
    await u.close();
  } finally {
    removeDir(root);
  }
});

const MIB = 1024 * 1024;

test("hostile #12: a value or metadata over 16 MiB is refused before anything is written, on every backend", async () => {
  const dir = tempDir();
  try {
    const big = "x".repeat(16 * MIB);
    // The manager refuses it, whatever the backend: every way in, on memory.
    const m = await StateManager.open({ backend: "memory", namespace: "wf" });
    await assert.rejects(m.saveMany({ a: 1, big }), ValidationError);
    await assert.rejects(m.update("big", () => big), ValidationError);
    await assert.rejects(async () => await m.atomic().set("big", big).commit(), ValidationError);
    await assert.rejects(m.checkpoint("cp", { metadata: { big } }), /metadata is .* bytes/);
    assert.deepEqual((await m.listKeys()).keys, []);
    assert.deepEqual(await m.listCheckpoints(), []);
    await m.close();
    // And on disk: refused before a byte is written; exactly the limit fits.
    const s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
    await assert.rejects(
      s.save("big", big),
      /value is 16777218 bytes as JSON; the limit is 16777216/,
    );
    assert.equal(existsSync(join(dir, "wf")), false);
    await s.save("fits", big.slice(2)); // 16 MiB as JSON, with its quotes
    assert.equal((await s.load<string>("fits")).length, 16 * MIB - 2);
    await s.close();
  } finally {
    removeDir(dir);
  }
});

test("hostile #12: an export line longer than any export line can be is refused, never read whole", async () => {
  const root = tempDir();
  try {
    const file = join(root, "export.jsonl");
    const header = JSON.stringify({ format: "managing-state/export", version: 1, createdAt: 1 });
    writeFileSync(file, `${header}\n{"type":"namespace","name":"wf"}\n${"x".repeat(40 * MIB)}\n`);
    const target = new MemoryBackend();
    await assert.rejects(importState({ from: file, to: target }), (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.match(e.message, /line 3 is longer than 34603008 bytes/);
      return true;
    });
    assert.deepEqual(await target.namespaces(), []);
  } finally {
    removeDir(root);
  }
});

/** An export file with one good key, then `line` as a key line of namespace "wf". */
function exportWith(file: string, line: string): void {
  const lines = [
    JSON.stringify({ format: "managing-state/export", version: 1, createdAt: 1 }),
    JSON.stringify({ type: "namespace", name: "wf" }),
    `{"type":"key","ns":"wf","key":"a","expiresAt":null,"value":1}`,
    line,
    JSON.stringify({ type: "end", namespaces: 1, keys: 2, checkpoints: 0 }),
  ];
  writeFileSync(file, lines.join("\n") + "\n");
}

test("hostile #13: import applies every check save applies, names the line, and writes nothing", async () => {
  const root = tempDir();
  try {
    const file = join(root, "export.jsonl");
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const cases: [string, RegExp][] = [
      [
        `{"type":"key","ns":"wf","key":"b","expiresAt":null,"value":${deep}}`,
        /nested more than 1000/,
      ],
      [
        `{"type":"key","ns":"wf","key":"b","expiresAt":null,"value":1e400}`,
        /Infinity, which JSON cannot hold/,
      ],
      [`{"type":"key","ns":"wf","key":"b","expiresAt":null,"value":"\\ud800"}`, /lone surrogate/],
      [`{"type":"key","ns":"wf","key":"\\udc00","expiresAt":null,"value":1}`, /lone surrogate/],
      [`{"type":"key","ns":"wf","key":"b","expiresAt":null,"value":{"n":-0}}`, /-0/],
    ];
    for (const [line, why] of cases) {
      exportWith(file, line);
      const dir = join(root, "state");
      await assert.rejects(
        importState({ from: file, to: { backend: "json", dir } }),
        (e: unknown) => {
          assert.ok(e instanceof ValidationError, String(e));
          assert.match(e.message, /line 4: /);
          assert.match(e.message, why);
          return true;
        },
      );
      assert.equal(existsSync(dir), false, "nothing was written, not even the good first key");
    }
    // A truncated file (no end line) writes nothing either.
    writeFileSync(file, readFileSync(file, "utf8").split("\n").slice(0, 3).join("\n") + "\n");
    const target = new MemoryBackend();
    await assert.rejects(importState({ from: file, to: target }), /ends early/);
    assert.deepEqual(await target.namespaces(), []);
  } finally {
    removeDir(root);
  }
});

test("hostile #13: save() of a value nested too deep is a ValidationError, never a stack overflow", async () => {
  await using s = await StateManager.open({ backend: "memory" });
  const nest = (n: number) => {
    let v: unknown = [];
    for (let i = 1; i < n; i++) v = [v];
    return v;
  };
  await s.save("ok", nest(1000));
  assert.deepEqual(await s.load("ok"), nest(1000));
  await assert.rejects(s.save("deep", nest(1001)), /nested more than 1000 levels deep/);
  await assert.rejects(s.save("deeper", nest(100_000)), ValidationError);
  let obj: Record<string, unknown> = {};
  for (let i = 0; i < 100_000; i++) obj = { a: obj };
  await assert.rejects(s.save("objects", obj), ValidationError);
  assert.equal(await s.has("deep"), false);
});

test("hostile #16: SQLite options that reach SQL are checked against an allow-list", () => {
  const db = new DatabaseSync(":memory:");
  try {
    db.exec("CREATE TABLE victim (x)");
    assert.throws(
      () => new SqliteBackend({ database: db, synchronous: "NORMAL; DROP TABLE victim" as "FULL" }),
      /synchronous must be one of NORMAL, FULL/,
    );
    assert.throws(
      () => new SqliteBackend({ database: db, busyTimeoutMs: "1; DROP TABLE victim" as never }),
      ValidationError,
    );
    assert.ok(db.prepare("SELECT name FROM sqlite_master WHERE name = 'victim'").get());
    const ok = new SqliteBackend({ database: db, synchronous: "FULL", busyTimeoutMs: 0 });
    void ok.close();
  } finally {
    db.close();
  }
});
