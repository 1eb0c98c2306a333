// Coherence of the read cache and delivery of watch() events, for every
// backend: a second manager (in this process, and in another process when
// the backend allows it) writes, restores and clears; this manager must see
// each completed change at once, through its cache, and watchers must report it.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ChangeEvent, JsonValue, StateManager, Watcher } from "../mod.ts";
import type { BackendCapabilities } from "../types.ts";
import type { Harness } from "./_harness.ts";
import { childPeer, localPeer, MISSING, type Peer } from "./_peer.ts";

type PeerKind = "another manager" | "another process";

/** Registers the coherence and watch cases for one backend. */
export function testCoherence(
  name: string,
  makeHarness: () => Promise<Harness>,
  caps: BackendCapabilities,
): void {
  const kinds: PeerKind[] = ["another manager", "another process"];
  for (const kind of kinds) {
    const run = kind === "another manager" || caps.multiProcess;
    const it = (behaviour: string, fn: (s: StateManager, peer: Peer) => Promise<void>) =>
      test(`${name}: ${behaviour} (${kind})`, { skip: !run }, async () => {
        const harness = await makeHarness();
        const s = await harness.open({ namespace: "wf" });
        let peer: Peer | undefined;
        try {
          peer = kind === "another manager"
            ? localPeer(await harness.open({ namespace: "wf" }))
            : childPeer({ ...harness.childOptions, namespace: "wf" });
          await fn(s, peer);
        } finally {
          await peer?.close();
          await s.close();
          await harness.cleanup();
        }
      });

    it("cached loads see writes completed by another writer at once", async (s, peer) => {
      await s.save("a", 0);
      assert.equal(await s.load("a"), 0);
      for (let i = 1; i <= 15; i++) {
        await peer.run({ op: "save", key: "a", value: i });
        assert.equal(await s.load("a"), i, `write ${i}`);
        assert.equal(await s.load("a"), i, `write ${i}, second load`);
      }
      await peer.run({ op: "delete", key: "a" });
      assert.equal(await s.load("a", "gone"), "gone");
      assert.equal(await s.has("a"), false);
      // A key seen missing (and cached as missing) then created elsewhere.
      assert.equal(await s.load("b", null), null);
      await peer.run({ op: "save", key: "b", value: { v: 1 } });
      assert.deepEqual(await s.load("b"), { v: 1 });
      // And the other way round: this manager writes, the other reads at once.
      assert.deepEqual(await peer.run({ op: "load", key: "b" }), { v: 1 });
      await s.save("b", { v: 2 });
      assert.deepEqual(await peer.run({ op: "load", key: "b" }), { v: 2 });
    });

    it("cached loads see a restore and a clear by another writer at once", async (s, peer) => {
      await s.saveMany({ x: 1, y: 1 });
      await s.checkpoint("cp");
      await peer.run({ op: "save", key: "x", value: 2 });
      await peer.run({ op: "save", key: "z", value: 3 });
      assert.deepEqual([await s.load("x"), await s.load("y"), await s.load("z")], [2, 1, 3]);
      await peer.run({ op: "restore", name: "cp" });
      assert.deepEqual([await s.load("x"), await s.load("y")], [1, 1]);
      assert.equal(await s.has("z"), false);
      // Restore here, read there (the other manager had x cached as 5).
      await peer.run({ op: "save", key: "x", value: 5 });
      assert.equal(await peer.run({ op: "load", key: "x" }), 5);
      await s.restoreCheckpoint("cp");
      assert.equal(await peer.run({ op: "load", key: "x" }), 1);
      await peer.run({ op: "clear" });
      assert.equal(await s.load("x", null), null);
      assert.deepEqual(await s.listCheckpoints(), []);
      await s.save("x", 7);
      await s.clear();
      assert.deepEqual(await peer.run({ op: "load", key: "x" }), MISSING);
    });

    it("watch() reports another writer's changes to keys and prefixes", async (s, peer) => {
      const keys = s.watch(["phase", "absent"], { intervalMs: 10 });
      const tasks = s.watch({ prefix: "task:" }, { intervalMs: 10 });
      try {
        await Promise.all([keys.ready, tasks.ready]);
        await peer.run({ op: "save", key: "phase", value: "build" });
        assert.deepEqual(await nextEvent(keys), event("phase", "build"));
        await peer.run({ op: "save", key: "other", value: 1 });
        await peer.run({ op: "save", key: "task:1", value: "todo" });
        assert.deepEqual(await nextEvent(tasks), event("task:1", "todo"));
        await peer.run({ op: "delete", key: "task:1" });
        assert.deepEqual(await nextEvent(tasks), deleted("task:1"));
        await peer.run({ op: "save", key: "task:2", value: "a" });
        assert.deepEqual(await nextEvent(tasks), event("task:2", "a"));
        await peer.run({ op: "checkpoint", name: "cp" });
        await peer.run({ op: "save", key: "phase", value: "test" });
        assert.deepEqual(await nextEvent(keys), event("phase", "test"));
        await peer.run({ op: "restore", name: "cp" });
        assert.deepEqual(await nextEvent(keys), event("phase", "build"));
        await peer.run({ op: "clear" });
        assert.deepEqual(await nextEvent(keys), deleted("phase"));
        let last = await nextEvent(tasks);
        // A backend whose restore gives unchanged keys new versions reports them again.
        if (last !== "timeout" && !last.deleted && last.key === "task:2") {
          last = await nextEvent(tasks);
        }
        assert.deepEqual(last, deleted("task:2"));
        // Nothing else was reported: not "other", not "absent".
        assert.equal(await nextEvent(keys, 150), "timeout");
        assert.equal(await nextEvent(tasks, 50), "timeout");
      } finally {
        await keys.close();
        await tasks.close();
      }
    });
  }

  test(`${name}: watch() ends on close(), on break and when the manager closes`, async () => {
    const harness = await makeHarness();
    try {
      const s = await harness.open({ namespace: "wf" });
      const w = s.watch(["k"], { intervalMs: 5 });
      await w.ready;
      const seen: unknown[] = [];
      const loop = (async () => {
        for await (const e of w) seen.push(e.value);
      })();
      await s.save("k", 1);
      await waitFor(() => Promise.resolve(seen.length === 1));
      await w.close();
      await loop; // the loop ended by itself
      assert.deepEqual(seen, [1]);
      assert.deepEqual(await w.next(), { value: undefined, done: true });

      const b = s.watch(["k"], { intervalMs: 5, initial: true });
      for await (const e of b) {
        assert.equal(e.value, 1); // `initial` reports the current value first
        break;
      }
      assert.deepEqual(await b.next(), { value: undefined, done: true });

      const c = s.watch({ prefix: "" }, { intervalMs: 5 });
      await c.ready;
      const pending = c.next();
      await s.close();
      assert.deepEqual(await pending, { value: undefined, done: true });
    } finally {
      await harness.cleanup();
    }
  });
}

function event(key: string, value: JsonValue): Partial<ChangeEvent> {
  return { key, value, deleted: false };
}

function deleted(key: string): Partial<ChangeEvent> {
  return { key, value: undefined, deleted: true, version: null };
}

/** The next event without its version (checked to be a string), or "timeout". */
async function nextEvent(
  w: Watcher,
  timeoutMs = 5000,
): Promise<Partial<ChangeEvent> | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((
    r,
  ) => (timer = setTimeout(() => r("timeout"), timeoutMs)));
  try {
    const next = await Promise.race([w.next(), timeout]);
    if (next === "timeout") return next;
    assert.equal(next.done, false);
    const { version, ...rest } = next.value as ChangeEvent;
    if (rest.deleted) return { ...rest, version };
    assert.equal(typeof version, "string");
    return rest;
  } finally {
    clearTimeout(timer);
  }
}

async function waitFor(fn: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!(await fn())) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}
