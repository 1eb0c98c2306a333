// The shared conformance suite: every backend runs these cases through the
// public StateManager API. Test names are "<backend>: <behaviour>".
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  CheckpointExistsError,
  CheckpointNotFoundError,
  KeyNotFoundError,
  type StateManager,
  ValidationError,
} from "../mod.ts";
import { runScript } from "./_runtime.ts";
import { testCoherence } from "./coherence.ts";
import { testUpdates } from "./conformance_updates.ts";
import { testSteps } from "./steps_conformance.ts";
import type { Harness } from "./_harness.ts";

export type { Harness };

/** The capabilities of the backend a harness opens managers on. */
async function capabilitiesOf(makeHarness: () => Promise<Harness>) {
  const harness = await makeHarness();
  try {
    const s = await harness.open({ namespace: "wf" });
    const caps = { ...s.backend.capabilities };
    await s.close();
    return caps;
  } finally {
    await harness.cleanup();
  }
}

const childScript = fileURLToPath(new URL("./_update_child.ts", import.meta.url));

/**
 * Registers the conformance suite for one backend. What it can do (cases
 * that need more are skipped) is read from the backend's `capabilities`.
 */
export async function testBackend(
  name: string,
  makeHarness: () => Promise<Harness>,
): Promise<void> {
  const caps = await capabilitiesOf(makeHarness);
  const it = (behaviour: string, fn: (h: Harness) => Promise<void>, run = true) =>
    test(`${name}: ${behaviour}`, { skip: !run }, async () => {
      const harness = await makeHarness();
      try {
        await fn(harness);
      } finally {
        await harness.cleanup();
      }
    });
  const withState = (
    behaviour: string,
    fn: (s: StateManager, h: Harness) => Promise<void>,
    run = true,
  ) =>
    it(behaviour, async (h) => {
      const state = await h.open({ namespace: "wf" });
      try {
        await fn(state, h);
      } finally {
        await state.close();
      }
    }, run);

  withState("round-trips every JSON type", async (s) => {
    const values: Record<string, unknown> = {
      str: "building",
      int: 42,
      float: -3.25,
      big: Number.MAX_SAFE_INTEGER,
      yes: true,
      nil: null,
      arr: [1, "two", [3], { four: 4 }],
      obj: { nested: { deep: [true, null, { x: "y" }] }, "key with spaces": 1 },
      empty_obj: {},
      empty_arr: [],
    };
    for (const [k, v] of Object.entries(values)) await s.save(k, v);
    for (const [k, v] of Object.entries(values)) assert.deepEqual(await s.load(k), v);
  });

  withState("keeps falsy values and returns falsy defaults", async (s) => {
    for (const [k, v] of [["zero", 0], ["empty", ""], ["no", false], ["nil", null]] as const) {
      await s.save(k, v);
      assert.equal(await s.load(k), v);
      assert.equal(await s.load(k, "fallback"), v);
      assert.equal(await s.has(k), true);
    }
    assert.equal(await s.load("missing", 0), 0);
    assert.equal(await s.load("missing", ""), "");
    assert.equal(await s.load("missing", false), false);
    assert.equal(await s.load("missing", null), null);
    assert.equal(await s.load("missing", undefined), undefined);
  });

  withState("stores unicode keys and values", async (s) => {
    const keys = ["фаза", "阶段", "emoji-🚀", "mixed ü/ß\\\"'", "\u{10FFFF}end", "tab\tkey"];
    for (const k of keys) await s.save(k, { text: `värde ${k} 😀 \u2028` });
    for (const k of keys) assert.deepEqual(await s.load(k), { text: `värde ${k} 😀 \u2028` });
    const listed = (await s.listKeys()).keys;
    assert.deepEqual(new Set(listed), new Set(keys));
  });

  withState("orders keys by UTF-8 bytes", async (s) => {
    const keys = ["b", "a", "\uffff", "😀", "ä", "Z", "aa"];
    await s.saveMany(Object.fromEntries(keys.map((k) => [k, 1])));
    assert.deepEqual((await s.listKeys()).keys, ["Z", "a", "aa", "b", "ä", "\uffff", "😀"]);
  });

  withState("round-trips a 1 MiB value", async (s) => {
    const big = { blob: "x".repeat(1024 * 1024), list: Array.from({ length: 1000 }, (_, i) => i) };
    await s.save("big", big);
    assert.deepEqual(await s.load("big"), big);
  });

  withState("lists 10,000 keys in pages", async (s) => {
    const all: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const values: Record<string, number> = {};
      for (let i = 0; i < 1000; i++) {
        const key = `k${String(batch * 1000 + i).padStart(5, "0")}`;
        values[key] = i;
        all.push(key);
      }
      await s.saveMany(values);
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await s.listKeys({ limit: 700, ...(cursor ? { cursor } : {}) });
      assert.ok(page.keys.length <= 700);
      seen.push(...page.keys);
      cursor = page.cursor ?? undefined;
      pages++;
    } while (cursor);
    assert.equal(pages, 15);
    assert.deepEqual(seen, all);
    assert.equal((await s.listKeys()).keys.length, 10_000);
  });

  withState("lists by prefix", async (s) => {
    await s.saveMany({
      "task:1": 1,
      "task:2": 2,
      "task:10": 10,
      "tasks": 0,
      "phase": "x",
      "tas": 0,
    });
    assert.deepEqual((await s.listKeys({ prefix: "task:" })).keys, ["task:1", "task:10", "task:2"]);
    const first = await s.listKeys({ prefix: "task:", limit: 2 });
    assert.deepEqual(first.keys, ["task:1", "task:10"]);
    assert.equal(first.cursor, "task:10");
    const second = await s.listKeys({ prefix: "task:", limit: 2, cursor: first.cursor! });
    assert.deepEqual(second, { keys: ["task:2"], cursor: null });
    assert.deepEqual((await s.listKeys({ prefix: "nope" })).keys, []);
  });

  withState("reports missing keys", async (s) => {
    await assert.rejects(s.load("missing"), (e: unknown) => {
      assert.ok(e instanceof KeyNotFoundError);
      assert.equal(e.code, "KEY_NOT_FOUND");
      assert.match(e.message, /"missing".*"wf"/);
      return true;
    });
    assert.equal(await s.has("missing"), false);
    assert.equal(await s.getEntry("missing"), null);
    assert.deepEqual(await s.loadMany(["missing"]), {});
  });

  withState("deletes keys", async (s) => {
    await s.save("a", 1);
    await s.save("b", 2);
    await s.delete("a");
    await s.delete("never-existed");
    assert.equal(await s.has("a"), false);
    assert.deepEqual((await s.listKeys()).keys, ["b"]);
    await assert.rejects(s.load("a"), KeyNotFoundError);
  });

  withState("saves and loads many keys at once", async (s) => {
    await s.saveMany({ a: 1, b: [2], c: { three: 3 } });
    assert.deepEqual(await s.loadMany(["a", "b", "c", "d"]), { a: 1, b: [2], c: { three: 3 } });
  });

  it("keeps data across reopening", async (h) => {
    const a = await h.open({ namespace: "wf" });
    await a.save("phase", "building");
    await a.checkpoint("cp1");
    await a.close();
    const b = await h.open({ namespace: "wf" });
    assert.equal(await b.load("phase"), "building");
    assert.deepEqual((await b.listCheckpoints()).map((c) => c.name), ["cp1"]);
    await b.close();
  }, caps.persistent);

  it("isolates namespaces and lists them", async (h) => {
    const a = await h.open({ namespace: "wf-a" });
    const b = await h.open({ namespace: "wf-b" });
    await a.save("phase", "a");
    await b.save("phase", "b");
    await a.checkpoint("only-a");
    assert.equal(await a.load("phase"), "a");
    assert.equal(await b.load("phase"), "b");
    assert.deepEqual((await b.listCheckpoints()).map((c) => c.name), []);
    assert.deepEqual(await a.listNamespaces(), ["wf-a", "wf-b"]);
    await b.clear();
    assert.deepEqual(await a.listNamespaces(), ["wf-a"]);
    assert.equal(await a.load("phase"), "a");
    await a.close();
    await b.close();
  });

  withState("restores a checkpoint exactly", async (s) => {
    await s.saveMany({ phase: "planning", plan: ["a", "b"] });
    const name = await s.checkpoint("after_planning");
    assert.equal(name, "after_planning");
    await s.save("phase", "building");
    await s.save("build_log", ["compiled"]);
    await s.delete("plan");
    await s.restoreCheckpoint("after_planning");
    assert.equal(await s.load("phase"), "planning");
    assert.deepEqual(await s.load("plan"), ["a", "b"]);
    assert.equal(await s.has("build_log"), false);
    assert.deepEqual((await s.listKeys()).keys, ["phase", "plan"]);
  });

  withState("lists checkpoints newest first with metadata", async (s) => {
    await s.save("a", "x");
    await s.checkpoint("one", { metadata: { phase: "plan", run: 1 } });
    await new Promise((r) => setTimeout(r, 5));
    await s.save("b", "yy");
    await s.checkpoint("two");
    const list = await s.listCheckpoints();
    assert.deepEqual(list.map((c) => c.name), ["two", "one"]);
    assert.equal(list[1]!.keyCount, 1);
    assert.equal(list[1]!.bytes, 1 + 3);
    assert.deepEqual(list[1]!.metadata, { phase: "plan", run: 1 });
    assert.equal(list[0]!.keyCount, 2);
    assert.equal(list[0]!.auto, false);
    assert.ok(list[0]!.createdAt >= list[1]!.createdAt && list[0]!.createdAt <= Date.now());
  });

  withState("generates unique checkpoint names", async (s) => {
    await s.save("a", 1);
    const names = await Promise.all(Array.from({ length: 20 }, () => s.checkpoint()));
    assert.equal(new Set(names).size, 20);
    for (const n of names) assert.match(n, /^auto-\d{8}T\d{6}\.\d{3}Z-\d{4}-[0-9a-f]{8}$/);
    const listed = await s.listCheckpoints();
    assert.equal(listed.length, 20);
    assert.ok(listed.every((c) => c.auto));
  });

  withState("refuses to overwrite a checkpoint unless asked", async (s) => {
    await s.save("v", 1);
    await s.checkpoint("cp");
    await s.save("v", 2);
    await assert.rejects(s.checkpoint("cp"), CheckpointExistsError);
    await s.restoreCheckpoint("cp");
    assert.equal(await s.load("v"), 1);
    await s.save("v", 3);
    await s.checkpoint("cp", { overwrite: true });
    await s.save("v", 4);
    await s.restoreCheckpoint("cp");
    assert.equal(await s.load("v"), 3);
  });

  withState("takes checkpoints whose names are not file-safe", async (s) => {
    await s.save("v", 1);
    const names = ["phase/1 ü", "../../etc", "a:b*c?", "x".repeat(200)];
    for (const name of names) await s.checkpoint(name);
    await s.save("v", 2);
    assert.deepEqual((await s.listCheckpoints()).map((c) => c.name).sort(), [...names].sort());
    for (const name of names) {
      await s.restoreCheckpoint(name);
      assert.equal(await s.load("v"), 1);
    }
  });

  withState("deletes checkpoints and reports missing ones", async (s) => {
    await s.checkpoint("cp");
    await s.deleteCheckpoint("cp");
    assert.deepEqual(await s.listCheckpoints(), []);
    for (const action of [() => s.restoreCheckpoint("cp"), () => s.deleteCheckpoint("cp")]) {
      await assert.rejects(action(), (e: unknown) => {
        assert.ok(e instanceof CheckpointNotFoundError);
        assert.equal(e.code, "CHECKPOINT_NOT_FOUND");
        assert.match(e.message, /checkpoint "cp" in namespace "wf": not found/);
        return true;
      });
    }
  });

  withState("diffs checkpoints", async (s) => {
    await s.saveMany({ keep: 1, change: 1, drop: 1 });
    await s.checkpoint("a");
    await s.saveMany({ change: 2, add: 1 });
    await s.delete("drop");
    assert.deepEqual(await s.diffCheckpoint("a"), {
      added: ["add"],
      removed: ["drop"],
      changed: ["change"],
    });
    await s.checkpoint("b");
    assert.deepEqual(await s.diffCheckpoint("b", "a"), {
      added: ["drop"],
      removed: ["add"],
      changed: ["change"],
    });
    await assert.rejects(s.diffCheckpoint("nope"), CheckpointNotFoundError);
  });

  it("prunes automatic checkpoints by retention", async (h) => {
    const s = await h.open({ namespace: "wf", keepCheckpoints: 2 });
    await s.save("a", 1);
    await s.checkpoint("named");
    const autos = [];
    for (let i = 0; i < 4; i++) autos.push(await s.checkpoint());
    const names = (await s.listCheckpoints()).map((c) => c.name).sort();
    assert.deepEqual(names, [autos[2], autos[3], "named"].sort());
    await s.close();
  });

  it("pruneCheckpoints() applies retention on demand and names what it removed", async (h) => {
    const s = await h.open({ namespace: "wf", keepCheckpoints: 10 });
    await s.save("a", 1);
    const autos = [];
    for (let i = 0; i < 3; i++) autos.push(await s.checkpoint());
    await s.checkpoint("named");
    await s.close();
    const strict = await h.open({ namespace: "wf", keepCheckpoints: 1 });
    assert.deepEqual((await strict.pruneCheckpoints()).sort(), [autos[0], autos[1]].sort());
    assert.deepEqual(
      (await strict.listCheckpoints()).map((c) => c.name).sort(),
      [autos[2], "named"].sort(),
    );
    assert.deepEqual(await strict.pruneCheckpoints(), []);
    await strict.close();
  }, caps.persistent);

  withState("recover() on a healthy namespace keeps every key and reports ok", async (s) => {
    await s.saveMany({ a: 1, b: [2] });
    await s.checkpoint("cp");
    const report = await s.recover();
    assert.equal(report.ok, true);
    assert.deepEqual(report.quarantined, []);
    assert.deepEqual(await s.loadMany(["a", "b"]), { a: 1, b: [2] });
    assert.deepEqual((await s.listCheckpoints()).map((c) => c.name), ["cp"]);
  });

  withState("update() reads, modifies and writes", async (s) => {
    assert.equal(await s.update<number>("n", (n = 0) => n + 1), 1);
    assert.equal(await s.update<number>("n", (n = 0) => n + 1), 2);
    assert.deepEqual(
      await s.update<string[]>("list", (l = []) => [...l, "x"]),
      ["x"],
    );
    await assert.rejects(s.update("n", () => undefined), ValidationError);
    assert.equal(await s.load("n"), 2);
  });

  withState("update() is correct with concurrent writers in one process", async (s) => {
    await Promise.all(
      Array.from({ length: 20 }, () => s.update<number>("n", (n = 0) => n + 1)),
    );
    assert.equal(await s.load("n"), 20);
  });

  withState("atomic() applies all or nothing with version checks", async (s) => {
    await s.save("a", 1);
    const a = await s.getEntry<number>("a");
    assert.ok(a && typeof a.version === "string" && a.value === 1);
    const ok = await s.atomic().check("a", a.version).check("b", null).set("a", 2).set("b", 2)
      .commit();
    assert.equal(ok.ok, true);
    const stale = await s.atomic().check("a", a.version).set("a", 3).delete("b").commit();
    assert.deepEqual(stale, { ok: false });
    assert.deepEqual(await s.loadMany(["a", "b"]), { a: 2, b: 2 });
    const a2 = await s.getEntry("a");
    assert.notEqual(a2!.version, a.version);
    assert.ok(ok.ok && a2!.version === ok.version);
    const del = await s.atomic().check("a", a2!.version).delete("a").delete("b").commit();
    assert.equal(del.ok, true);
    assert.deepEqual((await s.listKeys()).keys, []);
    // A key deleted and re-created gets a new version, so an old check fails.
    await s.save("a", 1);
    assert.deepEqual(await s.atomic().check("a", a2!.version).set("a", 9).commit(), { ok: false });
  });

  withState("expires keys after their TTL and keeps others forever", async (s) => {
    // 600 ms: long enough that a loaded machine still reads the key before it expires.
    await s.save("short", "x", { ttlMs: 600 });
    await s.save("forever", "y");
    assert.equal(await s.load("short"), "x");
    const entry = await s.getEntry("short");
    assert.ok(entry!.expiresAt! > Date.now() && entry!.expiresAt! <= Date.now() + 600);
    assert.equal((await s.getEntry("forever"))!.expiresAt, null);
    await new Promise((r) => setTimeout(r, 750));
    assert.equal(await s.has("short"), false);
    await assert.rejects(s.load("short"), KeyNotFoundError);
    assert.deepEqual((await s.listKeys()).keys, ["forever"]);
    assert.equal(await s.load("forever"), "y");
  });

  it("refuses invalid namespaces", async (h) => {
    for (const ns of ["../x", "..", ".", "", "a/b", "a\\b", "a\0b", "x".repeat(129), ".hidden"]) {
      await assert.rejects(h.open({ namespace: ns }), ValidationError, `namespace ${ns}`);
    }
    await assert.rejects(h.open({ namespace: 42 as unknown as string }), ValidationError);
  });

  withState("refuses invalid keys and leaves state unchanged", async (s) => {
    await s.save("ok", 1);
    for (const key of ["", "a\0b", "x".repeat(1025), "\ud800", 7, null]) {
      await assert.rejects(s.save(key as string, 2), ValidationError);
      await assert.rejects(s.load(key as string), ValidationError);
    }
    await assert.rejects(s.listKeys({ limit: 0 }), ValidationError);
    await assert.rejects(s.checkpoint(""), ValidationError);
    await assert.rejects(s.restoreCheckpoint("a\0"), ValidationError);
    assert.deepEqual((await s.listKeys()).keys, ["ok"]);
    assert.equal(await s.load("ok"), 1);
  });

  withState("refuses values JSON cannot hold, naming the path", async (s) => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    class Task {
      name = "t";
    }
    const cases: [unknown, RegExp][] = [
      [undefined, /^value is undefined/],
      [() => 1, /^value is a function/],
      [Symbol("s"), /^value is a symbol/],
      [10n, /^value is a BigInt/],
      [NaN, /^value is NaN/],
      [Infinity, /^value is Infinity/],
      [-0, /^value is -0/],
      [cyclic, /^value\.self is a circular reference/],
      [{ tasks: [1, 2, { due: new Date() }] }, /^value\.tasks\[2\]\.due is a Date/],
      [{ m: new Map() }, /^value\.m is a Map/],
      [[new Task()], /^value\[0\] is a Task/],
      [{ a: { b: undefined } }, /^value\.a\.b is undefined/],
      [[1, , 3], /^value\[1\] is an empty array slot/],
      [{ "odd key": NaN }, /^value\["odd key"\] is NaN/],
    ];
    await s.save("k", "before");
    for (const [value, message] of cases) {
      await assert.rejects(s.save("k", value), (e: unknown) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.equal(e.code, "VALIDATION");
        assert.match(e.message, message);
        return true;
      });
    }
    await assert.rejects(s.saveMany({ good: 1, bad: NaN }), ValidationError);
    await assert.rejects(
      s.checkpoint("cp", { metadata: { when: new Date() as unknown as string } }),
      ValidationError,
    );
    assert.equal(await s.load("k"), "before");
    assert.deepEqual((await s.listKeys()).keys, ["k"]);
    assert.deepEqual(await s.listCheckpoints(), []);
  });

  it("update() from 4 processes x 250 ends at exactly 1000", async (h) => {
    const options = JSON.stringify({ ...h.childOptions, namespace: "wf" });
    const results = await Promise.all(
      Array.from({ length: 4 }, () => runScript(childScript, [options, "counter", "250"])),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const s = await h.open({ namespace: "wf" });
    assert.equal(await s.load("counter"), 1000);
    await s.close();
  }, caps.multiProcess);

  testCoherence(name, makeHarness, caps);
  testUpdates(name, makeHarness);
  testSteps(name, makeHarness, caps);
}
