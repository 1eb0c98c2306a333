// Conformance, part two: writes that depend on what is stored (counters,
// lists, objects, conditional writes, leases) and whole-state reads (dump,
// a checkpoint's values, diffs with values), the same on every backend.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CheckFailedError,
  CheckpointNotFoundError,
  LeaseHeldError,
  type StateManager,
  ValidationError,
} from "../mod.ts";
import type { Harness } from "./_harness.ts";

/** Registers the cases for one backend (called by testBackend). */
export function testUpdates(name: string, makeHarness: () => Promise<Harness>): void {
  const withState = (behaviour: string, fn: (s: StateManager) => Promise<void>) =>
    test(`${name}: ${behaviour}`, async () => {
      const harness = await makeHarness();
      const state = await harness.open({ namespace: "wf" });
      try {
        await fn(state);
      } finally {
        await state.close();
        await harness.cleanup();
      }
    });

  withState(
    "increment, append and merge start from 0, [] and {}, and refuse other types",
    async (s) => {
      assert.equal(await s.increment("n"), 1);
      assert.equal(await s.increment("n", 41), 42);
      assert.equal(await s.increment("n", -0.5), 41.5);
      assert.deepEqual(await s.append("log", "a"), ["a"]);
      assert.deepEqual(await s.append("log", { b: [1] }), ["a", { b: [1] }]);
      assert.deepEqual(await s.merge("doc", { x: 1, y: 2 }), { x: 1, y: 2 });
      assert.deepEqual(await s.merge("doc", { y: null, z: [3] }), { x: 1, y: null, z: [3] });
      await s.save("text", "hello");
      await assert.rejects(s.increment("text"), /Cannot increment key "text".*a string/);
      await assert.rejects(
        s.append("n", 1),
        /Cannot append to key "n".*number 41\.5, not an array/,
      );
      await assert.rejects(s.merge("log", { a: 1 }), /Cannot merge into key "log".*an array/);
      await assert.rejects(s.increment("n", NaN), ValidationError);
      await assert.rejects(
        s.merge("doc", [1] as unknown as Record<string, unknown>),
        ValidationError,
      );
      await assert.rejects(s.append("log", undefined), ValidationError);
      // In-place edits keep the key's expiry unless given a new one; update() sets what it is given.
      await s.save("ttl", 1, { ttlMs: 60_000 });
      const expiry = (await s.getEntry("ttl"))!.expiresAt!;
      await s.increment("ttl");
      assert.equal((await s.getEntry("ttl"))!.expiresAt, expiry);
      await s.increment("ttl", 1, { ttlMs: 120_000 });
      assert.ok((await s.getEntry("ttl"))!.expiresAt! > expiry);
      await s.update<number>("ttl", (n = 0) => n + 1);
      assert.equal((await s.getEntry("ttl"))!.expiresAt, null);
      assert.deepEqual(await s.loadMany(["n", "text", "log"]), {
        n: 41.5,
        text: "hello",
        log: ["a", { b: [1] }],
      });
    },
  );

  withState("update() reports the previous value, and its function may run again", async (s) => {
    const first = await s.update<number>("k", (n = 0) => n + 1, { previous: true });
    assert.equal(first.previous, undefined);
    assert.equal(first.value, 1);
    assert.equal((await s.getEntry("k"))!.version, first.version);
    let calls = 0;
    const second = await s.update<number>("k", async (n = 0) => {
      calls++;
      // The first call loses a race to another writer, so the function runs twice.
      if (calls === 1) await s.save("k", 10);
      return n + 1;
    }, { previous: true });
    assert.equal(calls, 2);
    assert.deepEqual([second.previous, second.value], [10, 11]);
  });

  withState(
    "save and delete with ifAbsent / ifVersion write only when the check holds",
    async (s) => {
      await s.save("k", "first", { ifAbsent: true });
      await assert.rejects(
        s.save("k", "second", { ifAbsent: true }),
        (e) => e instanceof CheckFailedError && e.key === "k" && /already exists/.test(e.message),
      );
      const entry = (await s.getEntry("k"))!;
      await s.save("k", "third", { ifVersion: entry.version });
      await assert.rejects(s.save("k", "fourth", { ifVersion: entry.version }), CheckFailedError);
      await assert.rejects(s.delete("k", { ifVersion: entry.version }), CheckFailedError);
      assert.equal(await s.load("k"), "third");
      await s.delete("k", { ifVersion: (await s.getEntry("k"))!.version });
      assert.equal(await s.has("k"), false);
      await assert.rejects(s.save("k", 1, { ifVersion: entry.version }), CheckFailedError);
      await assert.rejects(s.save("k", 1, { ifVersion: "v", ifAbsent: true }), ValidationError);
      await s.saveMany({ a: 1, b: 2 }, { ifAbsent: true });
      await assert.rejects(
        s.saveMany({ c: 3, b: 4 }, { ifAbsent: true }),
        (e) => e instanceof CheckFailedError && e.key === "b",
      );
      assert.deepEqual(await s.dump(), { a: 1, b: 2 });
    },
  );

  withState(
    "claim() takes a free lease, renews its own, and release() is for the owner only",
    async (s) => {
      const lease = await s.claim("task:1", "w1", { ttlMs: 60_000 });
      assert.equal(lease.owner, "w1");
      assert.ok(lease.expiresAt! > Date.now());
      await assert.rejects(
        s.claim("task:1", "w2"),
        (e) => e instanceof LeaseHeldError && e.owner === "w1" && e.key === "task:1",
      );
      await assert.rejects(s.release("task:1", "w2"), LeaseHeldError);
      assert.ok((await s.claim("task:1", "w1", { ttlMs: 60_000 })).version !== lease.version);
      assert.equal(await s.load("task:1"), "w1");
      assert.equal(await s.release("task:1", "w1"), true);
      assert.equal(await s.release("task:1", "w1"), false);
      await s.claim("task:2", "w2", { ttlMs: 30 });
      await new Promise((r) => setTimeout(r, 80));
      assert.equal((await s.claim("task:2", "w3")).expiresAt, null, "an expired lease is free");
      await assert.rejects(s.claim("task:3", ""), ValidationError);
    },
  );

  withState("claim() from 8 racers at once: exactly one wins", async (s) => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => s.claim("task", `w${i}`, { ttlMs: 60_000 })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    for (const r of results) {
      if (r.status === "rejected") assert.ok(r.reason instanceof LeaseHeldError, String(r.reason));
    }
  });

  withState("dump() and readCheckpoint() give values in byte order, by prefix", async (s) => {
    await s.saveMany({ "b": 2, "a:2": [2], "a:1": { x: 1 }, "é": "e", "z": null });
    assert.deepEqual(Object.keys(await s.dump()), ["a:1", "a:2", "b", "z", "é"]);
    assert.deepEqual(await s.dump({ prefix: "a:" }), { "a:1": { x: 1 }, "a:2": [2] });
    assert.deepEqual(await s.dump({ prefix: "nothing" }), {});
    await s.checkpoint("cp");
    await s.save("b", 3);
    await s.delete("z");
    assert.deepEqual(await s.readCheckpoint("cp", { prefix: "b" }), { b: 2 });
    assert.equal(Object.keys(await s.readCheckpoint("cp")).length, 5);
    assert.equal(await s.load("b"), 3, "reading a checkpoint restores nothing");
    await assert.rejects(s.readCheckpoint("nope"), CheckpointNotFoundError);
  });

  withState("diffCheckpointValues() gives old and new values", async (s) => {
    await s.saveMany({ same: 1, changed: "old", removed: [1] });
    await s.checkpoint("a");
    await s.saveMany({ changed: "new", added: { n: 1 } });
    await s.delete("removed");
    const expected = {
      added: { added: { n: 1 } },
      removed: { removed: [1] },
      changed: { changed: { from: "old", to: "new" } },
    };
    assert.deepEqual(await s.diffCheckpointValues("a"), expected);
    await s.checkpoint("b");
    assert.deepEqual(await s.diffCheckpointValues("a", "b"), expected);
    assert.deepEqual(await s.diffCheckpointValues("b"), { added: {}, removed: {}, changed: {} });
  });
}
