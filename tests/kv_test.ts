import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BackendError, StateManager, ValidationError } from "../mod.ts";
import { KvBackend } from "../backends/kv.ts";
import { type KvDatabase, openKv } from "../backends/_kv_platform.ts";
import { timeId } from "../backends/_kv_store.ts";
import { mapKvError as mapError } from "../backends/_errors_kv.ts";
import { testBackend } from "./conformance.ts";
import { removeDir, runScript, tempDir } from "./_runtime.ts";
import { classify, KEYS, write } from "./_kv_states.ts";

await testBackend("kv", () => {
  const dir = tempDir();
  const path = join(dir, "state.kv");
  return Promise.resolve({
    open: (options = {}) => StateManager.open({ ...options, backend: "kv", path }),
    childOptions: { backend: "kv", path },
    cleanup: () => Promise.resolve(removeDir(dir)),
  });
});

// Backend-only tests: Deno KV's limits, atomicity of multi-commit work, crash repair.

const readerChild = fileURLToPath(new URL("./_kv_reader_child.ts", import.meta.url));
const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

async function withKv(
  fn: (s: StateManager, path: string, raw: KvDatabase) => Promise<void>,
): Promise<void> {
  const dir = tempDir();
  const path = join(dir, "state.kv");
  const state = await StateManager.open({ backend: "kv", path, namespace: "wf" });
  const raw = await openKv(path);
  try {
    await fn(state, path, raw);
  } finally {
    raw.close();
    await state.close();
    removeDir(dir);
  }
}

async function count(raw: KvDatabase, prefix: string[]): Promise<number> {
  let n = 0;
  for await (const _ of raw.list({ prefix })) n++;
  return n;
}

test("kv: round-trips a 200 KiB value and leaves no chunks behind when it is replaced", async () => {
  await withKv(async (s, _path, raw) => {
    const big = { text: "é".repeat(100 * 1024), n: 1 };
    await s.save("big", big);
    assert.deepEqual(await s.load("big"), big);
    assert.ok(await count(raw, ["managing-state", "wf", "blobs"]) >= 4);
    const bigger = { text: "z".repeat(300 * 1024) };
    await s.save("big", bigger);
    assert.deepEqual(await s.load("big"), bigger);
    await s.save("big", "small now");
    assert.equal(await s.load("big"), "small now");
    assert.equal(await count(raw, ["managing-state", "wf", "blobs"]), 0);
  });
});

test("kv: commits larger than one Deno KV commit are atomic", async () => {
  await withKv(async (s) => {
    const values = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`key-${i}`, i]));
    await s.saveMany(values);
    assert.equal((await s.listKeys()).keys.length, 3000);
    // Twelve checks: over Deno KV's ten, so it runs as a namespace transaction.
    const entries = await Promise.all(
      Array.from({ length: 12 }, (_, i) => s.getEntry(`key-${i}`)),
    );
    const op = s.atomic();
    entries.forEach((e, i) => op.check(`key-${i}`, e!.version).set(`key-${i}`, -i - 1));
    assert.equal((await op.commit()).ok, true);
    assert.equal(await s.load("key-11"), -12);
    const stale = s.atomic();
    entries.forEach((e, i) => stale.check(`key-${i}`, e!.version).delete(`key-${i}`));
    assert.deepEqual(await stale.commit(), { ok: false });
    assert.equal(await s.load("key-0"), -1);
    // Many large values in one commit: over the 800 KB per-commit limit.
    const large = Object.fromEntries(
      Array.from({ length: 20 }, (_, i) => [`l${i}`, "v".repeat(60_000 + i)]),
    );
    await s.saveMany(large);
    assert.deepEqual(await s.loadMany(Object.keys(large)), large);
  });
});

test("kv: restore of a 5,000-key namespace is all-or-nothing for readers in this and another process", async () => {
  await withKv(async (s, path) => {
    await write(s, "A");
    await s.checkpoint("a");
    await write(s, "B");
    await s.checkpoint("b");
    const reader = await StateManager.open({ backend: s.backend, namespace: "wf", cache: false });
    const child = runScript(readerChild, [
      JSON.stringify({ backend: "kv", path, namespace: "wf" }),
      "3000",
    ]);
    let done = false;
    let childDone = false;
    void child.then(() => (childDone = true));
    const seen: Record<string, number> = { A: 0, B: 0, mix: 0 };
    let reads = 0;
    let failure: unknown = null;
    const local = (async () => {
      while (!done) {
        seen[await classify(reader)]!++;
        reads++;
      }
    })().catch((error) => (failure = error));
    let restores = 0;
    while (!childDone || restores < 4) {
      await s.restoreCheckpoint(restores++ % 2 === 0 ? "a" : "b");
      // Let this process's reader finish a read that began after the restore.
      const target = reads + 2;
      while (reads < target && failure === null) await new Promise((r) => setTimeout(r, 5));
    }
    const result = await child;
    done = true;
    await local;
    await reader.close();
    if (failure !== null) throw failure;
    assert.equal(result.code, 0, result.stderr);
    const other = JSON.parse(result.stdout.trim().split("\n").pop()!) as Record<string, number>;
    assert.equal(seen.mix, 0, `this process saw a mix: ${JSON.stringify(seen)}`);
    assert.equal(other.mix, 0, `the other process saw a mix: ${JSON.stringify(other)}`);
    assert.ok(seen.A! > 0 && seen.B! > 0, `this process saw both states: ${JSON.stringify(seen)}`);
    assert.ok(other.A! + other.B! > 0, JSON.stringify(other));
    assert.ok(restores >= 2);
    await s.restoreCheckpoint("a");
    assert.equal(await classify(s), "A");
    const info = (await s.listCheckpoints()).find((c) => c.name === "a")!;
    assert.equal(info.keyCount, KEYS.length);
  });
});

test("kv: a checkpoint taken while others write is one consistent snapshot", async () => {
  await withKv(async (s) => {
    await write(s, "A");
    let stop = false;
    let n = 0;
    const small = (async () => {
      while (!stop) {
        n++;
        await s.saveMany({ x: n, y: n });
      }
    })();
    const big = (async () => {
      let flip = false;
      while (!stop) {
        flip = !flip;
        await write(s, flip ? "B" : "A");
      }
    })();
    try {
      for (let i = 0; i < 3; i++) {
        const name = await s.checkpoint();
        const entries = new Map(
          (await s.backend.readCheckpoint("wf", name))!.map((e) => [e.key, e.value]),
        );
        assert.equal(entries.get("x"), entries.get("y"));
        const values = new Set(KEYS.map((k) => entries.get(k)));
        assert.equal(values.size, 1, `checkpoint ${name} mixes states`);
        const extra = entries.has("x0");
        assert.equal(extra, [...values][0] === '"B"');
      }
    } finally {
      stop = true;
      await Promise.all([small, big]);
    }
  });
});

test("kv: refuses what Deno KV cannot hold with a ValidationError naming the limit", async () => {
  await withKv(async (s) => {
    await assert.rejects(
      s.checkpoint("fat", { metadata: { notes: "n".repeat(70_000) } }),
      (e: unknown) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.match(e.message, /checkpoint "fat".*64 KiB/i);
        return true;
      },
    );
    assert.deepEqual(await s.listCheckpoints(), []);
  });
  assert.throws(() => new KvBackend({ prefix: "p".repeat(300) }), /at most 256 UTF-8 bytes.*2 KiB/);
});

test("kv: finishes a committed transaction and aborts an uncommitted one left by a dead process", async () => {
  await withKv(async (s, _path, raw) => {
    await s.saveMany({ a: 1, b: 2 });
    const head = ["managing-state", "wf", "head"];
    const committed = { id: timeId(), until: Date.now() - 1, committed: true };
    const ops = [
      { t: "set", key: "a", meta: { v: "v-dead", x: null }, inline: "10" },
      { t: "del", key: "b" },
    ];
    await raw.atomic()
      .set(head, enc({ lock: committed }))
      .set(["managing-state", "wf", "txn", committed.id, 0], enc(ops))
      .commit();
    assert.deepEqual(await s.loadMany(["a", "b"]), { a: 10 });
    assert.equal(await count(raw, ["managing-state", "wf", "txn"]), 0);
    const prepared = { id: timeId(), until: Date.now() - 1, committed: false };
    await raw.atomic().set(head, enc({ lock: prepared })).commit();
    await s.save("c", 3);
    assert.equal(await s.load("c"), 3);
    assert.equal(await s.load("a"), 10);
  });
});

test("kv: recover() removes chunks and checkpoint data nothing refers to", async () => {
  await withKv(async (s, _path, raw) => {
    await s.save("k", "v");
    const old = timeId(Date.now() - 3_600_000);
    await raw.atomic()
      .set(["managing-state", "wf", "blobs", "k", old, 0], enc("orphan"))
      .set(["managing-state", "wf", "snapshots", old, "keys", "k"], enc("{}\n1"))
      .commit();
    const report = await s.recover();
    assert.equal(report.ok, true);
    assert.ok(report.actions.some((a) => /chunk/.test(a)), report.actions.join("; "));
    assert.ok(report.actions.some((a) => /checkpoint data/.test(a)), report.actions.join("; "));
    assert.equal(await count(raw, ["managing-state", "wf", "blobs"]), 0);
    assert.equal(await count(raw, ["managing-state", "wf", "snapshots"]), 0);
    assert.equal(await s.load("k"), "v");
  });
});

test("kv: opens <dir>/state.kv by default, in a private folder", async () => {
  const dir = tempDir();
  try {
    const stateDir = join(dir, "nested", "state");
    const s = await StateManager.open({ backend: "kv", dir: stateDir, namespace: "wf" });
    await s.save("k", 1);
    await s.close();
    assert.ok(statSync(join(stateDir, "state.kv")).isFile());
    if (process.platform !== "win32") assert.equal(statSync(stateDir).mode & 0o777, 0o700);
  } finally {
    removeDir(dir);
  }
});

test("kv: maps 'database is locked' to a transient BackendError", () => {
  const locked = mapError(new Error("database is locked"), "write");
  assert.ok(locked instanceof BackendError && locked.transient);
  assert.match(locked.message, /Deno KV could not write: database is locked/);
  assert.ok(locked.cause instanceof Error);
  const other = mapError(new TypeError("Value too large (max 65536 bytes)"), "write");
  assert.ok(other instanceof BackendError && !other.transient);
});
