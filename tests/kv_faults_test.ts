// The Deno KV backend under "database is locked": one place decides a fault
// is transient (the backend's classifier), the manager's retry policy is the
// only loop that retries it, and a namespace transaction it interrupts leaves
// no lock behind.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BackendError, type ManagerOptions, StateManager } from "../mod.ts";
import { KvBackend } from "../backends/kv.ts";
import { WalClock } from "../backends/_kv_clock.ts";
import { type KvDatabase, openKv } from "../backends/_kv_platform.ts";
import { type CommitCall, endsWith, FaultyKv, textOf } from "./_kv_faults.ts";
import { removeDir, runScript, tempDir } from "./_runtime.ts";

const updateChild = fileURLToPath(new URL("./_update_child.ts", import.meta.url));
const NS = ["managing-state", "wf"];

async function withFaulty(
  fn: (
    faulty: FaultyKv,
    open: (options?: Partial<ManagerOptions>) => Promise<StateManager>,
    path: string,
  ) => Promise<void>,
): Promise<void> {
  const dir = tempDir();
  const path = join(dir, "state.kv");
  const faulty = new FaultyKv(await openKv(path));
  const backend = new KvBackend({ kv: faulty });
  const opened: StateManager[] = [];
  const open = async (options: Partial<ManagerOptions> = {}) => {
    const s = await StateManager.open({ cache: false, ...options, backend, namespace: "wf" });
    opened.push(s);
    return s;
  };
  try {
    await fn(faulty, open, path);
  } finally {
    faulty.plan = {};
    for (const s of opened) await s.close();
    await backend.close();
    faulty.close();
    removeDir(dir);
  }
}

const transientLocked = (e: unknown): boolean => {
  assert.ok(e instanceof BackendError, String(e));
  assert.equal(e.transient, true);
  assert.match(e.message, /database is locked/);
  return true;
};

const writes = (key: string) => (c: CommitCall) => c.sets.some((s) => endsWith(s.key, "keys", key));
const setsHead = (c: CommitCall, pattern: RegExp) =>
  c.sets.some((s) => endsWith(s.key, "wf", "head") && pattern.test(textOf(s.value)));
const commitPoint = (c: CommitCall) => setsHead(c, /"committed":true/);
const release = (c: CommitCall) => setsHead(c, /^\{"seq":\d+\}$/);

async function count(kv: KvDatabase, prefix: string[]): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix })) n++;
  return n;
}

/** Asserts the namespace holds no lock, no queued waiter and no redo log. */
async function assertUnlocked(kv: KvDatabase): Promise<void> {
  const [head] = await kv.getMany([[...NS, "head"]]);
  const value = head!.value === null ? "{}" : textOf(head!.value);
  assert.equal(JSON.parse(value).lock, undefined, `the head still holds a lock: ${value}`);
  assert.equal(await count(kv, [...NS, "waiters"]), 0, "a waiter's ticket was left behind");
  assert.equal(await count(kv, [...NS, "txn"]), 0, "a redo log was left behind");
}

test("kv: 'database is locked' is a transient BackendError, retried by the manager's attempts only", async () => {
  await withFaulty(async (faulty, open) => {
    const s = await open(); // the backend's default policy
    const attempts = s.backend.capabilities.retry?.attempts;
    assert.equal(attempts, 20);
    await s.save("k", "before");
    faulty.plan = { commit: writes("k") };
    faulty.commits = [];
    await assert.rejects(s.save("k", "after"), transientLocked);
    // One commit per attempt of the manager: no retry loop inside the backend.
    assert.equal(faulty.commits.filter(writes("k")).length, attempts);

    const few = await open({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    let left = 2;
    faulty.plan = { commit: (c) => writes("k")(c) && left-- > 0 };
    faulty.commits = [];
    await few.save("k", "after");
    assert.equal(faulty.commits.filter(writes("k")).length, 3);
    faulty.plan = {};
    assert.equal(await s.load("k"), "after");

    faulty.plan = { getMany: () => true };
    faulty.getManyCalls = 0;
    await assert.rejects(few.load("k"), transientLocked);
    assert.equal(faulty.getManyCalls, 3);

    const once = await open({ retry: false });
    faulty.getManyCalls = 0;
    await assert.rejects(once.load("k"), transientLocked);
    assert.equal(faulty.getManyCalls, 1);
    faulty.plan = { commit: writes("k") };
    faulty.commits = [];
    await assert.rejects(once.save("k", "lost"), transientLocked);
    assert.equal(faulty.commits.filter(writes("k")).length, 1);
    faulty.plan = {};
    assert.equal(await once.load("k"), "after");
  });
});

test("kv: a namespace transaction interrupted by 'database is locked' leaves no lock; the next writer goes at once", async () => {
  await withFaulty(async (faulty, open, path) => {
    const s = await open({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    // Over Deno KV's 1,000 mutations per commit: a namespace transaction.
    const big = Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`k${i}`, i]));
    // Its commit point always fails; its lock release fails three times in four.
    let releases = 0;
    faulty.plan = { commit: (c) => commitPoint(c) || (release(c) && releases++ % 4 < 3) };
    faulty.commits = [];
    await assert.rejects(s.saveMany(big), transientLocked);
    assert.equal(faulty.commits.filter(commitPoint).length, 3, "one commit point per attempt");
    assert.ok(releases >= 12, `the release met the fault (${releases} tries)`);
    faulty.plan = {};
    await assertUnlocked(faulty.inner);
    assert.deepEqual((await s.listKeys()).keys, []);

    // Another process writes at once, not after the 30 s lease.
    const options = { backend: "kv", path, namespace: "wf" };
    const started = Date.now();
    const child = await runScript(updateChild, [JSON.stringify(options), "n", "1"]);
    assert.equal(child.code, 0, child.stderr);
    assert.ok(Date.now() - started < 15_000, `the other process waited ${Date.now() - started} ms`);
    assert.equal(await s.load("n"), 1);

    // Faults after the commit point: this process finishes the transaction itself.
    let applies = 0;
    const apply = (c: CommitCall) =>
      c.sets.filter((x) => endsWith(x.key.slice(0, -1), "wf", "keys")).length > 100;
    faulty.plan = { commit: (c) => apply(c) && applies++ < 2 };
    const once = await open({ retry: false });
    await once.saveMany(big);
    assert.ok(applies > 2, `two failed batches, then the ones that landed (${applies})`);
    faulty.plan = {};
    await assertUnlocked(faulty.inner);
    assert.equal((await s.listKeys()).keys.length, 1201);
    assert.equal(await s.load("k1199"), 1199);
  });
});

test("kv: the change clock moves with every commit of any process, and switches off when it does not", async () => {
  const dir = tempDir();
  const path = join(dir, "state.kv");
  const other = join(dir, "other.kv");
  const kv = await openKv(path);
  const otherKv = await openKv(other);
  const clock = WalClock.open(path);
  try {
    assert.ok(clock !== null, "a local Deno KV file has a WAL index");
    const before = clock.read();
    const child = await runScript(updateChild, [
      JSON.stringify({ backend: "kv", path, namespace: "wf" }),
      "n",
      "1",
    ]);
    assert.equal(child.code, 0, child.stderr);
    const after = clock.read();
    assert.notEqual(after, before, "another process's commit moved it");
    await kv.atomic().set(["x"], 1).commit();
    assert.notEqual(clock.read(), after, "this process's commit moved it");
    // A commit to another file leaves it where it was: it is switched off.
    const tick = clock.read();
    await otherKv.atomic().set(["x"], 1).commit();
    clock.committed(tick);
    assert.equal(clock.live, false);
    assert.equal(clock.read(), null);
    assert.equal(WalClock.open(join(dir, "missing.kv")), null);
  } finally {
    clock?.close();
    kv.close();
    otherKv.close();
    removeDir(dir);
  }
});

test("kv: only a database the backend opens as a local file is cached by default", async () => {
  const dir = tempDir();
  try {
    const local = new KvBackend({ path: join(dir, "state.kv") });
    assert.equal(local.capabilities.freshReadsAreCheap, false);
    const memory = new KvBackend({ path: ":memory:" });
    assert.equal(memory.capabilities.freshReadsAreCheap, true);
    const kv = await openKv(join(dir, "given.kv"));
    const given = new KvBackend({ kv });
    assert.equal(given.capabilities.freshReadsAreCheap, true);
    // Without a clock the token is the change key's and the head's versionstamps.
    await given.commit("wf", {
      id: "r-1",
      version: "v-1",
      sets: [{ key: "k", value: "1", expiresAt: null }],
      deletes: [],
      checks: [],
    });
    assert.match(await given.changeToken("wf"), /^[0-9a-f]+:0$/);
    assert.match(await local.changeToken("wf"), /^w/);
    for (const b of [local, memory, given]) await b.close();
    kv.close();
  } finally {
    removeDir(dir);
  }
});

test("kv: a save of a key this process knows is one Deno KV call; a stale guess is caught by the checks", async () => {
  await withFaulty(async (faulty, open) => {
    const s = await open();
    const other = new KvBackend({ kv: faulty.inner }); // another writer, knowing nothing
    const peer = await StateManager.open({ backend: other, namespace: "wf", cache: false });
    try {
      await s.save("k", "v0");
      faulty.getManyCalls = 0;
      faulty.commits = [];
      for (let i = 1; i <= 5; i++) await s.save("k", `v${i}`);
      assert.equal(faulty.getManyCalls, 0, "no read before the commits");
      assert.equal(faulty.commits.length, 5);

      // This process saw a large value; the other replaces it with another large one.
      await s.save("k", "a".repeat(150_000));
      await peer.save("k", "b".repeat(150_000));
      const peerVersion = (await peer.getEntry("k"))!.version;
      faulty.getManyCalls = 0;
      faulty.commits = [];
      // The guess (this process's old version) would fail the condition: it is read instead.
      await s.save("k", "small", { ifVersion: peerVersion });
      assert.ok(faulty.getManyCalls >= 1, "the stale guess made it read");
      assert.equal(await peer.load("k"), "small");
      assert.equal(
        await count(faulty.inner, [...NS, "blobs"]),
        0,
        "the other writer's chunks went too",
      );
      // And a condition that really fails still fails.
      await assert.rejects(s.save("k", "late", { ifVersion: peerVersion }), /version/i);
      assert.equal(await peer.load("k"), "small");
    } finally {
      await peer.close();
      await other.close();
    }
  });
});
