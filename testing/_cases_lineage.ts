// Lineage: the head moves with checkpoints and restores, every checkpoint
// records its parent, clear removes the head, import keeps what it is given;
// and a restore can keep the keys under given prefixes.
import assert from "node:assert/strict";
import { StateManager } from "../state_manager.ts";
import { checkpointRequest, type Define, req, setOp } from "./_define.ts";

const NS = "wf";
const tick = () => new Promise((resolve) => setTimeout(resolve, 3));

/** Registers the lineage and keep-prefix cases. */
export function lineageCases(it: Define): void {
  it("checkpoint and restore move the head; parents record the line", async (b) => {
    assert.equal(await b.head(NS), null);
    const first = await b.checkpoint(NS, checkpointRequest("plan"));
    assert.equal(first.parent, null);
    const head = await b.head(NS);
    assert.deepEqual(head, { name: "plan", via: "checkpoint", at: head!.at });
    const second = await b.checkpoint(NS, checkpointRequest("build"));
    assert.equal(second.parent, "plan");
    assert.equal(await b.restore(NS, "plan", req()), true);
    assert.deepEqual({ ...(await b.head(NS))!, at: 0 }, { name: "plan", via: "restore", at: 0 });
    const third = await b.checkpoint(NS, checkpointRequest("build-2"));
    assert.equal(third.parent, "plan", "a restore starts a branch");
    const parents = Object.fromEntries(
      (await b.listCheckpoints(NS)).map((c) => [c.name, c.parent]),
    );
    assert.deepEqual(parents, { plan: null, build: "plan", "build-2": "plan" });
    assert.equal(await b.deleteCheckpoint(NS, "build-2", req()), true);
    assert.equal((await b.head(NS))?.name, "build-2", "delete leaves the head as it is");
    await b.clear(NS, req());
    assert.equal(await b.head(NS), null, "clear removes the head");
  });

  it("importCheckpoint keeps the parent given; importHead sets and removes the head", async (b) => {
    const info = {
      name: "b",
      createdAt: 5,
      keyCount: 0,
      bytes: 0,
      auto: false,
      metadata: {},
      parent: "a",
    };
    await b.importCheckpoint(NS, info, []);
    assert.equal((await b.listCheckpoints(NS))[0]?.parent, "a");
    assert.equal(await b.head(NS), null, "import leaves the head alone");
    await b.importHead(NS, { name: "b", via: "restore", at: 7 });
    assert.deepEqual(await b.head(NS), { name: "b", via: "restore", at: 7 });
    await b.importHead(NS, null);
    assert.equal(await b.head(NS), null);
  });

  it("a restore keeps keys under the kept prefix and takes the rest", async (b) => {
    await b.commit(NS, setOp({ phase: '"plan"', "n:tries": "1", "n:old": "0" }));
    await b.checkpoint(NS, checkpointRequest("cp"));
    const later = setOp({ phase: '"build"', "n:tries": "2", "n:new": "5", extra: "1" });
    await b.commit(NS, { ...later, deletes: ["n:old"] });
    const restore = { ...req(), keep: { prefixes: ["n:"] } };
    assert.equal(await b.restore(NS, "cp", restore), true);
    // n:old is gone: under the prefix, the live state (deleted) wins over the checkpoint.
    const keys = (await b.list(NS, {})).keys;
    assert.deepEqual(keys, ["n:new", "n:tries", "phase"]);
    const values = (await b.get(NS, keys)).map((e) => e?.value);
    assert.deepEqual(values, ["5", "2", '"plan"']);
  });

  it("a restore keeps keys under each kept prefix, atomically with the rest", async (b) => {
    const before = { phase: '"plan"', "a:n": "1", "b:n": "1", "b:old": "1", "c:n": "1", ab: "1" };
    await b.commit(NS, setOp(before));
    await b.checkpoint(NS, checkpointRequest("cp"));
    const later = setOp({
      phase: '"build"',
      "a:n": "2",
      "a:new": "3",
      "b:n": "2",
      "c:n": "2",
      ab: "2",
    });
    await b.commit(NS, { ...later, deletes: ["b:old"] });
    const read = ["phase", "c:n", "ab", "a:n", "a:new", "b:n", "b:old"];
    const kept = (await b.get(NS, ["a:n", "a:new", "b:n"])).map((e) => e?.version);
    // A reader during the restore sees the namespace before it or after it, never between,
    // and never a kept key gone or rewound.
    const old = ['"build"', "2", "2", "2", "3", "2", null];
    const restored = ['"plan"', "1", "1", "2", "3", "2", null];
    const seen: (string | null)[][] = [];
    let done = false;
    const reader = (async () => {
      do seen.push((await b.get(NS, read)).map((e) => e?.value ?? null)); while (!done);
    })();
    const restore = { ...req(), keep: { prefixes: ["a:", "b:"] } };
    try {
      assert.equal(await b.restore(NS, "cp", restore), true);
    } finally {
      done = true;
      await reader;
    }
    for (const values of seen) {
      assert.ok(
        [old, restored].some((want) => JSON.stringify(want) === JSON.stringify(values)),
        `a reader saw ${JSON.stringify(values)}`,
      );
    }
    assert.deepEqual((await b.list(NS, {})).keys, ["a:n", "a:new", "ab", "b:n", "c:n", "phase"]);
    const after = await b.get(NS, read);
    assert.deepEqual(after.map((e) => e?.value ?? null), restored);
    assert.deepEqual(
      (await b.get(NS, ["a:n", "a:new", "b:n"])).map((e) => e?.version),
      kept,
      "kept keys keep their versions",
    );
    assert.deepEqual(after.slice(0, 3).map((e) => e?.version), Array(3).fill(restore.id));
    // No prefixes: nothing is kept.
    assert.equal(await b.restore(NS, "cp", { ...req(), keep: { prefixes: [] } }), true);
    assert.deepEqual((await b.list(NS, {})).keys, ["a:n", "ab", "b:n", "b:old", "c:n", "phase"]);
  });

  it("a key kept by a restore keeps its expiry, and expires", async (b) => {
    await b.commit(NS, setOp({ phase: "1" }));
    await b.checkpoint(NS, checkpointRequest("cp"));
    const expiresAt = Date.now() + 600;
    const op = setOp({});
    await b.commit(NS, { ...op, sets: [{ key: "k:ttl", value: "1", expiresAt }] });
    assert.equal(await b.restore(NS, "cp", { ...req(), keep: { prefixes: ["k:"] } }), true);
    assert.deepEqual((await b.get(NS, ["k:ttl"]))[0], {
      key: "k:ttl",
      value: "1",
      version: op.id,
      expiresAt,
    });
    await new Promise((resolve) => setTimeout(resolve, expiresAt + 20 - Date.now()));
    assert.deepEqual((await b.list(NS, {})).keys, ["phase"]);
    assert.deepEqual(await b.get(NS, ["k:ttl"]), [null]);
  });

  it("status() tells the head, changes since it, and an abandoned branch", async (backend) => {
    const s = await StateManager.open({ backend, namespace: NS });
    try {
      const empty = await s.status();
      assert.deepEqual(empty.head, null);
      assert.equal(empty.newest, null);
      assert.equal(empty.abandoned, false);
      await s.saveMany({ phase: "plan", plan: [1] });
      await s.checkpoint("planned");
      await s.saveMany({ phase: "build", log: "x" });
      await s.delete("plan");
      await tick(); // "newest" goes by creation time: one ms apart at least
      await s.checkpoint("built");
      await s.restoreCheckpoint("planned");
      await s.save("phase", "build-again");
      const st = await s.status();
      assert.equal(st.namespace, NS);
      assert.equal(st.backend, backend.name);
      assert.equal(st.keyCount, 2);
      assert.deepEqual({ ...st.head!, at: 0 }, { name: "planned", via: "restore", at: 0 });
      assert.deepEqual(st.changes, { added: [], removed: [], changed: ["phase"] });
      assert.equal(st.newest?.name, "built");
      assert.equal(st.abandoned, true, "the newest checkpoint is off the head's line");
      await tick();
      await s.checkpoint("rebuilt");
      const after = await s.status();
      assert.equal(after.abandoned, false);
      assert.equal(after.newest?.parent, "planned");
      assert.deepEqual((await s.head())?.name, "rebuilt");
    } finally {
      await s.close();
    }
  });

  it("readCheckpoint returns entries in ascending UTF-8 byte order of key", async (b) => {
    // Insertion order, UTF-16 order and byte order all differ for these keys.
    const keys = ["b", "\u{10000}", "a", "\uff5e", "é", "A"];
    for (const key of keys) await b.commit(NS, setOp({ [key]: "1" }));
    await b.checkpoint(NS, checkpointRequest("cp"));
    const bytes = (k: string) => [...new TextEncoder().encode(k)];
    const want = [...keys].sort((x, y) => {
      const [a, c] = [bytes(x), bytes(y)];
      for (let i = 0; i < Math.min(a.length, c.length); i++) {
        if (a[i] !== c[i]) return a[i]! - c[i]!;
      }
      return a.length - c.length;
    });
    assert.deepEqual((await b.readCheckpoint(NS, "cp"))!.map((e) => e.key), want);
    const info = { ...(await b.listCheckpoints(NS))[0]!, name: "copy" };
    await b.importCheckpoint(NS, info, (await b.readCheckpoint(NS, "cp"))!.reverse());
    assert.deepEqual((await b.readCheckpoint(NS, "copy"))!.map((e) => e.key), want);
  });
}
