// Migration between every pair of backends, export/import, legacy data from
// the Python reference implementation, and a migration killed half-way.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import {
  type BackendLocation,
  exportState,
  importState,
  migrate,
  StateManager,
  ValidationError,
  VerificationError,
} from "../mod.ts";
import { run } from "../cli.ts";
import { deletePrefix, redisTarget } from "./_redis_server.ts";
import { removeDir, runtimeCommand, tempDir } from "./_runtime.ts";

type Loc = BackendLocation & { backend: string };

const redis = await redisTarget();
after(() => typeof redis === "object" ? redis.server?.stop() : undefined);

/** A fresh, empty store of each backend: its endpoint and a cleanup. */
const stores: Record<
  string,
  () => { endpoint: Loc; cleanup(): Promise<void> }
> = {
  json: () => {
    const dir = tempDir();
    return { endpoint: { backend: "json", dir }, cleanup: () => Promise.resolve(removeDir(dir)) };
  },
  sqlite: () => {
    const dir = tempDir();
    return {
      endpoint: { backend: "sqlite", path: join(dir, "s.db") },
      cleanup: () => Promise.resolve(removeDir(dir)),
    };
  },
  kv: () => {
    const dir = tempDir();
    return {
      endpoint: { backend: "kv", path: join(dir, "s.kv") },
      cleanup: () => Promise.resolve(removeDir(dir)),
    };
  },
};
if (typeof redis === "object") {
  stores.redis = () => {
    const prefix = `msm-${crypto.randomUUID().slice(0, 8)}`;
    return {
      endpoint: { backend: "redis", url: redis.url, prefix },
      cleanup: () => deletePrefix(redis.url, prefix),
    };
  };
}

const open = (endpoint: Loc, namespace: string) => StateManager.open({ ...endpoint, namespace });

/** Two namespaces with keys, a TTL, and checkpoints with metadata. */
async function populate(endpoint: Loc) {
  const a = await open(endpoint, "wf-a");
  await a.saveMany({ phase: "plan", tasks: ["scout", "plan"], "ü-key": { n: 1 } });
  await a.save("lease", "worker-1", { ttlMs: 600_000 });
  await a.checkpoint("after_planning", { metadata: { phase: "plan", run: 7 } });
  await a.save("phase", "build");
  await a.checkpoint();
  await a.close();
  const b = await open(endpoint, "wf-b");
  await b.save("only", 1);
  await b.close();
}

/** Everything observable about a namespace, for comparing two stores. */
async function snapshot(endpoint: Loc, namespace: string) {
  const s = await open(endpoint, namespace);
  const keys = (await s.listKeys()).keys;
  const entries = [];
  for (const key of keys) {
    const e = (await s.getEntry(key))!;
    entries.push({ key, value: e.value, expiresAt: e.expiresAt });
  }
  const checkpoints = (await s.listCheckpoints()).map((c) => ({
    name: c.name,
    createdAt: c.createdAt,
    auto: c.auto,
    metadata: c.metadata,
    keyCount: c.keyCount,
  }));
  await s.close();
  return { entries, checkpoints };
}

for (const from of Object.keys(stores)) {
  for (const to of Object.keys(stores)) {
    if (from === to) continue;
    test(`migrate: ${from} -> ${to} copies keys, TTLs, checkpoints and metadata, verified`, async () => {
      const src = stores[from]!();
      const dst = stores[to]!();
      try {
        await populate(src.endpoint);
        const report = await migrate({ from: src.endpoint, to: dst.endpoint });
        assert.equal(report.verified, true);
        assert.equal(report.keys, 5);
        assert.equal(report.checkpoints, 2);
        for (const ns of ["wf-a", "wf-b"]) {
          assert.deepEqual(await snapshot(dst.endpoint, ns), await snapshot(src.endpoint, ns));
        }
        const again = await migrate({ from: src.endpoint, to: dst.endpoint });
        assert.equal(again.written, 0, "a re-run writes nothing");
        assert.equal(again.verified, true);
        const t = await open(dst.endpoint, "wf-a");
        await t.restoreCheckpoint("after_planning");
        assert.equal(await t.load("phase"), "plan");
        await t.close();
      } finally {
        await src.cleanup();
        await dst.cleanup();
      }
    });
  }
}

test("migrate: a dry run reports and writes nothing", async () => {
  const src = stores.json!();
  const dst = stores.sqlite!();
  try {
    await populate(src.endpoint);
    const report = await migrate({ from: src.endpoint, to: dst.endpoint, dryRun: true });
    assert.equal(report.dryRun, true);
    assert.equal(report.written, 5);
    const t = await open(dst.endpoint, "wf-a");
    assert.deepEqual(await t.listNamespaces(), []);
    await t.close();
  } finally {
    await src.cleanup();
    await dst.cleanup();
  }
});

test("migrate: differing target data is kept and reported unless overwrite", async () => {
  const src = stores.json!();
  const dst = stores.sqlite!();
  try {
    await populate(src.endpoint);
    const t = await open(dst.endpoint, "wf-a");
    await t.save("phase", "theirs");
    await t.save("extra", true);
    await assert.rejects(migrate({ from: src.endpoint, to: dst.endpoint }), (e: unknown) => {
      assert.ok(e instanceof VerificationError);
      assert.equal(e.code, "VERIFICATION");
      assert.match(
        e.message,
        /namespace "wf-a": 1 differing keys kept \("phase"\); 1 keys only in the target \("extra"\)/,
      );
      assert.deepEqual(e.report.namespaces[0]!.skippedKeys, ["phase"]);
      return true;
    });
    assert.equal(await t.load("phase"), "theirs", "not overwritten");
    const report = await migrate({ from: src.endpoint, to: dst.endpoint, overwrite: true });
    assert.equal(report.verified, true);
    assert.equal(await t.load("phase"), "build");
    assert.equal(await t.has("extra"), false);
    await t.close();
  } finally {
    await src.cleanup();
    await dst.cleanup();
  }
});

test("migrate: only the chosen namespaces, and the source is never changed", async () => {
  const src = stores.sqlite!();
  const dst = stores.json!();
  try {
    await populate(src.endpoint);
    const before = await snapshot(src.endpoint, "wf-a");
    const report = await migrate({ from: src.endpoint, to: dst.endpoint, namespaces: ["wf-b"] });
    assert.deepEqual(report.namespaces.map((n) => n.namespace), ["wf-b"]);
    const t = await open(dst.endpoint, "wf-b");
    assert.deepEqual(await t.listNamespaces(), ["wf-b"]);
    await t.close();
    assert.deepEqual(await snapshot(src.endpoint, "wf-a"), before);
    await assert.rejects(
      migrate({ from: src.endpoint, to: dst.endpoint, namespaces: ["../x"] }),
      ValidationError,
    );
  } finally {
    await src.cleanup();
    await dst.cleanup();
  }
});

test("export/import: json -> file -> sqlite gives an identical namespace", async () => {
  const src = stores.json!();
  const dst = stores.sqlite!();
  const dir = tempDir();
  try {
    await populate(src.endpoint);
    const file = join(dir, "state.jsonl");
    const totals = await exportState({ from: src.endpoint, to: file });
    assert.deepEqual(totals, { namespaces: 2, keys: 5, checkpoints: 2 });
    const lines = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines[0].format, "managing-state/export");
    assert.equal(lines.at(-1).type, "end");
    const report = await importState({ from: file, to: dst.endpoint });
    assert.equal(report.verified, true);
    for (const ns of ["wf-a", "wf-b"]) {
      assert.deepEqual(await snapshot(dst.endpoint, ns), await snapshot(src.endpoint, ns));
    }
  } finally {
    await src.cleanup();
    await dst.cleanup();
    removeDir(dir);
  }
});

test("export/import: a damaged export file is refused, naming the line", async () => {
  const src = stores.json!();
  const dir = tempDir();
  try {
    await populate(src.endpoint);
    const file = join(dir, "state.jsonl");
    await exportState({ from: src.endpoint, to: file });
    const lines = readFileSync(file, "utf8").split("\n");
    const cases: [string, RegExp][] = [
      [
        [...lines.slice(0, 3), '{"type": "key", "ns"', ...lines.slice(4)].join("\n"),
        /line 4: not valid JSON/,
      ],
      [lines.slice(0, 5).join("\n") + "\n", /ends early/],
      [lines.slice(1).join("\n"), /line 1: no managing-state export header/],
      [lines.join("\n").replace('"version":1', '"version":9'), /format version 9 is not supported/],
    ];
    for (const [text, message] of cases) {
      const bad = join(dir, "bad.jsonl");
      writeFileSync(bad, text);
      const target = stores.sqlite!();
      await assert.rejects(importState({ from: bad, to: target.endpoint }), message);
      await target.cleanup();
    }
  } finally {
    await src.cleanup();
    removeDir(dir);
  }
});

test("legacy: the Python implementation's JSON and SQLite layouts import exactly", async () => {
  const dir = tempDir();
  const dst = stores.sqlite!();
  try {
    // The JSON layout, as the seed's JSONBackend writes it.
    const ns = join(dir, "workflow-123");
    mkdirSync(join(ns, "checkpoints"), { recursive: true });
    const stamp = "2024-01-01T10:00:00.123456";
    const state = {
      current_phase: { value: "building", timestamp: stamp },
      completed_tasks: { value: ["scout", "plan"], timestamp: stamp },
      metadata: { value: { timestamp: "2024-01-01", user: "dev" }, timestamp: stamp },
    };
    writeFileSync(join(ns, "state.json"), JSON.stringify(state, null, 2));
    writeFileSync(
      join(ns, "checkpoints", "after_planning.json"),
      JSON.stringify({ current_phase: { value: "planning", timestamp: stamp } }, null, 2),
    );
    // The SQLite layout, as the seed's SQLiteBackend writes it.
    const ns2 = join(dir, "workflow-456");
    mkdirSync(ns2);
    const db = new DatabaseSync(join(ns2, "state.db"));
    db.exec("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT, timestamp TEXT)");
    db.exec("CREATE TABLE checkpoints (name TEXT PRIMARY KEY, state TEXT, created_at TEXT)");
    db.prepare("INSERT INTO state VALUES (?, ?, ?)").run("phase", JSON.stringify("testing"), stamp);
    db.prepare("INSERT INTO state VALUES (?, ?, ?)").run("retries", JSON.stringify(0), stamp);
    db.prepare("INSERT INTO checkpoints VALUES (?, ?, ?)").run(
      "auto_20240101_100000",
      JSON.stringify([["phase", JSON.stringify("building"), stamp]]),
      stamp,
    );
    db.close();

    const r1 = await migrate({ from: { backend: "legacy-json", dir }, to: dst.endpoint });
    assert.equal(r1.verified, true);
    const a = await open(dst.endpoint, "workflow-123");
    assert.equal(await a.load("current_phase"), "building");
    assert.deepEqual(await a.load("completed_tasks"), ["scout", "plan"]);
    assert.deepEqual(await a.load("metadata"), { timestamp: "2024-01-01", user: "dev" });
    await a.restoreCheckpoint("after_planning");
    assert.deepEqual((await a.listKeys()).keys, ["current_phase"]);
    assert.equal(await a.load("current_phase"), "planning");
    await a.close();

    const r2 = await migrate({ from: { backend: "legacy-sqlite", dir }, to: dst.endpoint });
    assert.equal(r2.verified, true);
    const b = await open(dst.endpoint, "workflow-456");
    assert.equal(await b.load("phase"), "testing");
    assert.equal(await b.load("retries"), 0);
    const [cp] = await b.listCheckpoints();
    assert.equal(cp!.name, "auto_20240101_100000");
    assert.equal(cp!.auto, true);
    assert.equal(cp!.createdAt, Date.parse("2024-01-01T10:00:00.123Z"));
    await b.restoreCheckpoint(cp!.name);
    assert.equal(await b.load("phase"), "building");
    await b.close();
  } finally {
    removeDir(dir);
    await dst.cleanup();
  }
});

test("migrate: a migration killed half-way completes when run again", async () => {
  const dir = tempDir();
  try {
    const src = { backend: "json", dir: join(dir, "src") };
    const dst = { backend: "sqlite", path: join(dir, "dst.db") };
    const s = await open(src, "big");
    for (let batch = 0; batch < 20; batch++) {
      await s.saveMany(
        Object.fromEntries(
          Array.from(
            { length: 1000 },
            (_, i) => [`k${batch * 1000 + i}`, { i, pad: "x".repeat(100) }],
          ),
        ),
      );
    }
    await s.checkpoint("cp");
    await s.close();
    const child = fileURLToPath(new URL("./_migrate_child.ts", import.meta.url));
    const [cmd, args] = runtimeCommand(child);
    const proc = spawn(cmd, [...args, JSON.stringify({ from: src, to: dst })], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let progressed = 0;
    await new Promise<void>((resolve) => {
      proc.stdout.setEncoding("utf8").on("data", (d: string) => {
        progressed += d.split("\n").filter((l) => l.startsWith("progress")).length;
        if (progressed >= 3) proc.kill("SIGKILL");
      });
      proc.on("close", () => resolve());
    });
    assert.ok(progressed >= 3, "the child was killed mid-way");
    const partial = await open(dst, "big");
    const copied = (await partial.listKeys()).keys.length;
    await partial.close();
    assert.ok(copied > 0 && copied < 20_000, `${copied} keys copied before the kill`);
    const report = await migrate({ from: src, to: dst });
    assert.equal(report.verified, true);
    assert.equal(report.keys, 20_000);
    assert.ok(report.written <= 20_000 - copied + 500);
  } finally {
    removeDir(dir);
  }
});

test("cli: migrate, export and import as the seed writes them, with usage errors", async () => {
  const dir = tempDir();
  try {
    const io = (out: string[], err: string[]) => ({
      out: (t: string) => void out.push(t),
      err: (t: string) => void err.push(t),
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    });
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await run([...args, "--dir", dir], io(out, err));
      return { code, out: out.join("\n"), err: err.join("\n") };
    };
    await cli("init", "--backend", "json", "--namespace", "workflow-123");
    await cli("save", "--key", "phase", "--value", "building");
    await cli("checkpoint", "--name", "after_planning");
    const m = await cli("migrate", "--from", "json", "--to", "sqlite");
    assert.equal(m.code, 0, m.err);
    assert.match(
      m.out,
      /^Migrated 1 namespaces, 1 keys \(1 written\), 1 checkpoints, \d+ B from json to sqlite in [\d.]+ s; verified$/,
    );
    assert.equal((await cli("load", "--key", "phase", "--backend", "sqlite")).out, '"building"');
    const dry = await cli("migrate", "--from", "json", "--to", "sqlite", "--dry-run", "--json");
    assert.equal(JSON.parse(dry.out).dryRun, true);
    const file = join(dir, "e.jsonl");
    assert.equal((await cli("export", "--file", file)).code, 0);
    const imp = await cli(
      "import",
      "--file",
      file,
      "--backend",
      "sqlite",
      "--path",
      join(dir, "other.db"),
    );
    assert.equal(imp.code, 0, imp.err);
    for (
      const [args, message] of [
        [["migrate", "--from", "json"], /Give both --from and --to/],
        [["migrate", "--from", "json", "--to", "nosuch"], /Unknown backend "nosuch"/],
        [
          ["migrate", "--from", "json", "--to", "sqlite", "--namespace", "../x"],
          /Namespace "..\/x" is invalid/,
        ],
        [["export"], /Missing --file/],
        [["import", "--file", join(dir, "missing.jsonl")], /missing\.jsonl/],
      ] as [string[], RegExp][]
    ) {
      const r = await cli(...args);
      assert.notEqual(r.code, 0);
      assert.match(r.err, message);
    }
  } finally {
    removeDir(dir);
  }
});

test("cli: migrate draws a progress bar on a terminal only; export reports progress", async () => {
  const dir = tempDir();
  try {
    const s = await StateManager.open({ backend: "json", dir, namespace: "wf" });
    for (let b = 0; b < 40; b++) {
      await s.saveMany(
        Object.fromEntries(
          Array.from({ length: 1000 }, (_, i) => [`k${b}-${i}`, { pad: "x".repeat(200) }]),
        ),
      );
    }
    await s.close();
    const cli = async (tty: boolean, ...args: string[]) => {
      const err: string[] = [];
      const code = await run([...args, "--dir", dir], {
        out: () => {},
        err: (t) => void err.push(t),
        stdin: () => Promise.resolve(""),
        stderrIsTty: tty,
      });
      return { code, err: err.join("\n") };
    };
    const piped = await cli(false, "migrate", "--from", "json", "--to", "sqlite");
    assert.equal(piped.code, 0, piped.err);
    assert.equal(piped.err, "");
    const tty = await cli(
      true,
      "migrate",
      "--from",
      "json",
      "--to",
      "sqlite",
      "--path",
      join(dir, "b.db"),
    );
    assert.equal(tty.code, 0, tty.err);
    assert.match(tty.err, /migrating wf \[#+-*\] \d+% \d+\/40000/);
    assert.match(tty.err, /100% 40000\/40000/);
    // Export feeds the same bar (it draws once an operation has run for 200 ms).
    const events: { done: number; total: number | undefined }[] = [];
    await exportState({
      from: { backend: "json", dir },
      to: () => {},
      onProgress: (e) => void events.push(e),
    });
    assert.deepEqual(events.at(-1), { namespace: "wf", phase: "keys", done: 40000, total: 40000 });
  } finally {
    removeDir(dir);
  }
});
