// recover() on a damaged SQLite file: a real database (keys of every size,
// TTLs, unicode, checkpoints, deleted rows) is damaged at random offsets, one
// seed at a time, and repaired. Never a crash; every row is carried over
// unchanged or named as lost; the damaged file is kept aside, byte for byte.
// MS_REPAIR_SEEDS sets how many seeds run (50 by default).
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { DatabaseSync } from "node:sqlite";
import { type LostData, StateDamagedError, StateManager } from "../mod.ts";
import { SqliteBackend } from "../backends/sqlite.ts";
import { compareKey } from "../backends/_sqlite_salvage.ts";
import { run } from "../cli.ts";
import { removeDir, tempDir } from "./_runtime.ts";

const PAGE = 4096;
const SEEDS = Number(process.env.MS_REPAIR_SEEDS ?? 50);

/** A database like a real one: 4 namespaces of 400 keys, big values, TTLs, checkpoints, deletions. */
async function build(path: string): Promise<void> {
  const backend = new SqliteBackend({ path });
  for (let n = 0; n < 4; n++) {
    const s = await StateManager.open({ backend, namespace: `wf-${n}` });
    const values: Record<string, unknown> = {};
    for (let i = 0; i < 400; i++) {
      const big = i % 37 === 0; // overflow pages
      const key = i % 50 === 0 ? `ключ-${i}-🚀` : `task:${String(i).padStart(4, "0")}`;
      values[key] = { i, n, text: (big ? "y" : "x").repeat(big ? 6000 : 40 + (i * 7) % 200) };
    }
    await s.saveMany(values);
    for (let i = 0; i < 400; i += 10) {
      await s.save(`lease-${i}`, { worker: i }, { ttlMs: 86_400_000 + i });
    }
    if (n < 2) {
      await s.checkpoint("after_plan", { metadata: { phase: "plan", n } });
      for (let i = 0; i < 60; i++) await s.save(`task:${String(i).padStart(4, "0")}`, "changed");
      await s.checkpoint("after_build");
      await s.checkpoint("scratch");
      await s.deleteCheckpoint("scratch"); // free pages with stale rows
      for (let i = 300; i < 340; i++) await s.delete(`task:${String(i).padStart(4, "0")}`);
    }
    await s.close();
  }
  await backend.close();
}

type Rows = Map<string, Map<string, string>>; // table -> primary key JSON -> row JSON

/** Every row of every table, by primary key, read with SQL (expired keys too). */
function dump(path: string): Rows {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const out: Rows = new Map();
    const tables = db.prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'ms_%'",
    ).all() as { name: string }[];
    for (const { name } of tables) {
      const pk = (db.prepare(`PRAGMA table_info(${name})`).all() as { name: string; pk: number }[])
        .filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
      const rows = new Map<string, string>();
      for (const r of db.prepare(`SELECT * FROM ${name}`).all() as Record<string, unknown>[]) {
        rows.set(JSON.stringify(pk.map((c) => r[c])), JSON.stringify(r));
      }
      out.set(name, rows);
    }
    return out;
  } finally {
    db.close();
  }
}

/** The primary keys the report names as lost, per table. */
function namedLost(lost: LostData | undefined): Map<string, Set<string>> {
  const named = new Map<string, Set<string>>();
  const add = (table: string, key: unknown[]) =>
    named.set(table, (named.get(table) ?? new Set()).add(JSON.stringify(key)));
  for (const k of lost?.keys ?? []) add("ms_entries", [k.namespace, k.key]);
  for (const k of lost?.checkpointKeys ?? []) {
    add("ms_checkpoint_entries", [k.namespace, k.checkpoint, k.key]);
  }
  for (const c of lost?.checkpoints ?? []) add("ms_checkpoints", [c.namespace, c.checkpoint]);
  for (const r of lost?.rows ?? []) add(r.table, r.key);
  return named;
}

function xorshift(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const MODES = ["page of random bytes", "page torn from the offset", "page of zeros", "short run"];

/** Damages 1-3 places; returns what it did. */
function damage(bytes: Uint8Array, seed: number): { mode: number; page: number }[] {
  const r = xorshift(seed);
  const done = [];
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const offset = Math.floor(r() * bytes.length);
    const page = Math.floor(offset / PAGE);
    const mode = Math.floor(r() * MODES.length);
    const [from, to] = mode === 0 || mode === 2
      ? [page * PAGE, (page + 1) * PAGE]
      : mode === 1
      ? [offset, (page + 1) * PAGE]
      : [offset, Math.min(offset + 1 + Math.floor(r() * 64), (page + 1) * PAGE)];
    for (let i = from; i < to; i++) bytes[i] = mode === 2 ? 0 : Math.floor(r() * 256);
    done.push({ mode, page: page + 1 });
  }
  return done;
}

const dir = tempDir("ms-repair-");
const pristinePath = join(dir, "pristine.db");
await build(pristinePath);
const pristine = new Uint8Array(readFileSync(pristinePath));
const original = dump(pristinePath);

test("sqlite: recover() rebuilds a damaged file at random offsets: never a crash, every lost row named, the damaged file kept aside", async () => {
  const totals = {
    seeds: 0,
    damaged: [0, 0, 0, 0],
    repaired: 0,
    rows: 0,
    namedLost: 0,
    inRanges: 0,
    unverified: 0,
    undetected: 0,
  };
  const failures: string[] = [];
  try {
    for (let seed = 1; seed <= SEEDS; seed++) {
      const path = join(dir, `seed-${seed}.db`);
      const bytes = pristine.slice();
      const done = damage(bytes, seed);
      writeFileSync(path, bytes);
      const what = `seed ${seed} (${
        done.map((d) => `${MODES[d.mode]} at page ${d.page}`).join(", ")
      })`;
      const backend = new SqliteBackend({ path }); // a damaged file must still open
      const report = await backend.recover("wf-0");
      await backend.close();
      totals.seeds++;
      for (const d of done) totals.damaged[d.mode]!++;
      assert.equal(report.ok, true, what);
      if (report.lost) {
        totals.repaired++;
        assert.deepEqual(
          new Uint8Array(readFileSync(report.quarantined[0]!)),
          bytes,
          `${what}: the damaged file is kept aside unchanged`,
        );
      }
      const named = namedLost(report.lost);
      const ranges = report.lost?.ranges ?? [];
      const unverified = new Set(
        (report.lost?.unverified ?? []).map((u) => `${u.table} ${JSON.stringify(u.key)}`),
      );
      const repaired = dump(path);
      let undetected = 0;
      for (const [table, rows] of original) {
        const now = repaired.get(table) ?? new Map<string, string>();
        for (const [key, row] of rows) {
          const after = now.get(key);
          if (after === row) continue;
          if (named.get(table)?.has(key)) totals.namedLost++;
          else if (
            ranges.some((g) =>
              g.table === table && (g.after === null || compareKey(JSON.parse(key), g.after) > 0) &&
              (g.before === null || compareKey(JSON.parse(key), g.before) < 0)
            )
          ) totals.inRanges++;
          else if (after !== undefined && table === "ms_checkpoints") {
            // Recounted because keys of the checkpoint were lost (and named).
            const [ns, name] = JSON.parse(key);
            const lostKeys = report.lost?.checkpointKeys.some((k) =>
              k.namespace === ns && k.checkpoint === name
            );
            if (!lostKeys) undetected++;
          } else if (after !== undefined) undetected++;
          else failures.push(`${what}: ${table} ${key} is missing and not named`);
        }
        for (const key of now.keys()) {
          if (rows.has(key)) continue;
          if (unverified.has(`${table} ${key}`)) totals.unverified++;
          else failures.push(`${what}: ${table} ${key} appeared from nowhere`);
        }
      }
      totals.rows += [...repaired.values()].reduce((n, r) => n + r.size, 0);
      // Damage inside a row that leaves it well-formed (digits of an expiry, bytes
      // inside a long string) cannot be told from data without checksums, which
      // SQLite does not keep; it comes only from damage smaller than a page.
      if (undetected > 0 && done.every((d) => d.mode === 0 || d.mode === 2)) {
        failures.push(`${what}: ${undetected} rows changed by whole-page damage went unnoticed`);
      }
      totals.undetected += undetected;
      // The repaired file opens, and the manager reads it.
      const s = await StateManager.open({ backend: "sqlite", path, namespace: "wf-3" });
      await s.listKeys();
      await s.close();
    }
  } finally {
    console.log(
      `sqlite repair: ${totals.seeds} seeds; damage: ${
        MODES.map((m, i) => `${totals.damaged[i]} ${m}`).join(", ")
      }; ${totals.repaired} files rebuilt, ${totals.rows} rows carried over in all; ` +
        `${totals.namedLost} lost rows named, ${totals.inRanges} in named ranges, ` +
        `${totals.unverified} carried over as unverified, ${totals.undetected} changed in place ` +
        `by damage smaller than a page (undetectable without checksums)`,
    );
  }
  assert.deepEqual(failures, []);
});

/**
 * Writes the pristine database to `path` with the page that holds `key` of
 * `ns` zeroed: in the table (`via` its primary key) or in its name index. The
 * page is found by trying each page whose bytes hold the key.
 */
function withPageZeroed(
  path: string,
  ns: string,
  key: string,
  via = "sqlite_autoindex_ms_entries_1",
  bytes: Uint8Array = pristine.slice(),
): Uint8Array {
  const needle = new TextEncoder().encode(ns + key); // a record's first two values, back to back
  for (let i = 0; i + needle.length <= bytes.length; i++) {
    let j = 0;
    while (j < needle.length && bytes[i + j] === needle[j]) j++;
    if (j < needle.length) continue;
    const page = Math.floor(i / PAGE);
    const damaged = bytes.slice();
    damaged.fill(0, page * PAGE, (page + 1) * PAGE);
    writeFileSync(path, damaged);
    const db = new DatabaseSync(path, { readOnly: true });
    try {
      db.prepare(`SELECT * FROM ms_entries INDEXED BY ${via} WHERE ns = ? AND key = ?`).get(
        ns,
        key,
      );
    } catch {
      return damaged; // this page holds it
    } finally {
      db.close();
    }
  }
  throw new Error(`no page holds ${key}`);
}

test("sqlite: a zeroed page of keys: reading it fails until recover(), which names exactly the lost keys", async () => {
  const path = join(dir, "zeroed.db");
  withPageZeroed(path, "wf-2", "task:0152");
  const before = original.get("ms_entries")!;
  const damaged = await StateManager.open({ backend: "sqlite", path, namespace: "wf-2" });
  await assert.rejects(damaged.load("task:0152"), StateDamagedError);
  await damaged.close();
  const backend = new SqliteBackend({ path });
  const report = await backend.recover("wf-2");
  await backend.close();
  const lost = report.lost!;
  assert.ok(lost.keys.some((k) => k.namespace === "wf-2" && k.key === "task:0152"));
  const after = dump(path).get("ms_entries")!;
  // Every key is either back unchanged or named; the named ones are exactly the missing ones.
  const missing = [...before.keys()].filter((k) => after.get(k) !== before.get(k));
  assert.deepEqual(
    lost.keys.map((k) => JSON.stringify([k.namespace, k.key])).sort(),
    missing.sort(),
  );
  assert.ok(missing.length > 0 && missing.length < 60, `${missing.length} keys lost`);
  assert.match(report.actions[0]!, /was damaged: kept it aside as .*damaged-/);
  assert.equal(report.quarantined.length, 2, "the file and its WAL");
  const s = await StateManager.open({ backend: "sqlite", path, namespace: "wf-2" });
  const row = JSON.parse(before.get('["wf-2","task:0001"]')!);
  assert.deepEqual(await s.load("task:0001"), JSON.parse(row.value));
  await assert.rejects(s.load("task:0152"), /not found/);
  await s.close();
});

test("sqlite: a key whose row and name index page are both lost lies in a reported range", async () => {
  const path = join(dir, "both.db");
  const table = withPageZeroed(path, "wf-1", "task:0201");
  withPageZeroed(path, "wf-1", "task:0201", "ms_entries_names", table);
  const backend = new SqliteBackend({ path });
  const report = await backend.recover("wf-1");
  await backend.close();
  const lost = report.lost!;
  const named = new Set(lost.keys.map((k) => JSON.stringify([k.namespace, k.key])));
  const after = dump(path).get("ms_entries")!;
  let inRange = 0;
  for (const [key, row] of original.get("ms_entries")!) {
    if (after.get(key) === row || named.has(key)) continue;
    const k = JSON.parse(key);
    assert.ok(
      lost.ranges.some((g) =>
        g.table === "ms_entries" && (g.after === null || compareKey(k, g.after) > 0) &&
        (g.before === null || compareKey(k, g.before) < 0)
      ),
      `${key} is missing, and neither named nor in a range`,
    );
    inRange++;
  }
  assert.ok(inRange > 0, "some keys lost every copy of their name");
  assert.ok(report.actions.some((a) => /could not be read, nor their names/.test(a)));
});

test("sqlite: a destroyed first page (header and schema): every row is read from the pages", async () => {
  const path = join(dir, "header.db");
  const bytes = pristine.slice();
  bytes.fill(0, 0, PAGE);
  writeFileSync(path, bytes);
  const backend = new SqliteBackend({ path });
  const report = await backend.recover("wf-0");
  await backend.close();
  const after = dump(path);
  for (const [table, rows] of original) {
    for (const [key, row] of rows) {
      assert.equal(after.get(table)?.get(key), row, `${table} ${key}`);
    }
  }
  // The free-page list was on the lost page: rows read from the pages cannot be told from deleted ones.
  assert.ok(report.lost!.unverified.length > 0);
  assert.ok(report.actions.some((a) => /read from pages cut off/.test(a)));
});

test("sqlite: recover() leaves a healthy file alone, and cannot repair a database it did not open", async () => {
  const path = join(dir, "healthy.db");
  writeFileSync(path, pristine);
  const backend = new SqliteBackend({ path });
  const report = await backend.recover("wf-0");
  await backend.close();
  assert.deepEqual([report.ok, report.lost, report.quarantined], [true, undefined, []]);
  assert.deepEqual(
    new Uint8Array(readFileSync(path)).subarray(0, PAGE),
    pristine.subarray(0, PAGE),
  );

  withPageZeroed(path, "wf-2", "task:0152");
  const db = new DatabaseSync(path);
  const given = new SqliteBackend({ database: db as never }); // opening checks nothing it does not read
  const refused = await given.recover("wf-2");
  assert.equal(refused.ok, false);
  assert.match(refused.actions[0]!, /damaged/);
  await given.close();
  db.close();
});

test("cli: recover repairs a damaged SQLite file and lists what was lost", async () => {
  const path = join(dir, "cli.db");
  withPageZeroed(path, "wf-2", "task:0152");
  const out: string[] = [];
  const io = {
    out: (t: string) => void out.push(t),
    err: () => {},
    stdin: () => Promise.resolve(""),
    stderrIsTty: false,
  };
  const code = await run(
    [
      "recover",
      "--backend",
      "sqlite",
      "--path",
      path,
      "--namespace",
      "wf-2",
      "--json",
      "--dir",
      dir,
    ],
    io,
  );
  assert.equal(code, 0);
  const report = JSON.parse(out.join("\n"));
  assert.ok(report.lost.keys.some((k: { key: string }) => k.key === "task:0152"));
  assert.equal(
    await run([
      "load",
      "--backend",
      "sqlite",
      "--path",
      path,
      "--namespace",
      "wf-2",
      "--key",
      "task:0001",
      "--dir",
      dir,
    ], io),
    0,
  );
});

test("sqlite repair: cleanup", () => removeDir(dir));
