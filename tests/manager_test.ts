// StateManager behaviour that does not depend on the backend: retries,
// lost replies, bad input to every public method, retention by age.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  BackendError,
  ConflictError,
  KeyNotFoundError,
  MemoryBackend,
  StateManager,
  ValidationError,
} from "../mod.ts";
import type { CommitOp, CommitResult, StoredEntry } from "../types.ts";

/** A memory backend whose next `failures` calls of `method` fail (optionally after applying). */
class FlakyBackend extends MemoryBackend {
  failures = 0;
  method: "get" | "commit" = "commit";
  applyThenFail = false;
  transient = true;
  calls = 0;
  commits = 0;

  #fail(): never {
    this.failures--;
    throw new BackendError("connection lost", { transient: this.transient });
  }

  override async get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
    this.calls++;
    if (this.method === "get" && this.failures > 0 && keys.length > 0) this.#fail();
    return await super.get(ns, keys);
  }

  override async commit(ns: string, op: CommitOp): Promise<CommitResult> {
    this.calls++;
    this.commits++;
    if (this.method === "commit" && this.failures > 0) {
      if (this.applyThenFail) await super.commit(ns, op);
      this.#fail();
    }
    return await super.commit(ns, op);
  }
}

const fast = { attempts: 5, baseDelayMs: 1, maxDelayMs: 5 };

test("manager: transient faults are retried with backoff until they pass", async () => {
  const backend = new FlakyBackend();
  const s = await StateManager.open({ backend, retry: fast });
  backend.failures = 3;
  await s.save("k", 1);
  backend.method = "get";
  backend.failures = 2;
  assert.equal(await s.load("k"), 1);
  await s.close();
});

test("manager: retries stop after the attempts allowed and the error surfaces", async () => {
  const backend = new FlakyBackend();
  const s = await StateManager.open({ backend, retry: { ...fast, attempts: 3 } });
  backend.failures = 10;
  await assert.rejects(s.save("k", 1), (e: unknown) => e instanceof BackendError && e.transient);
  assert.equal(backend.commits, 3);
  await s.close();
});

test("manager: permanent faults, validation and not-found are never retried", async () => {
  const backend = new FlakyBackend();
  const s = await StateManager.open({ backend, retry: fast });
  backend.transient = false;
  backend.failures = 1;
  backend.calls = 0;
  await assert.rejects(s.save("k", 1), BackendError);
  assert.equal(backend.calls, 1);
  backend.calls = 0;
  await assert.rejects(s.save("k", NaN), ValidationError);
  await assert.rejects(s.load("missing"), KeyNotFoundError);
  assert.equal(backend.calls, 1, "only the load's read reached the backend");
  await s.close();
});

test("manager: a commit whose reply was lost is not applied twice", async () => {
  const backend = new FlakyBackend();
  const s = await StateManager.open({ backend, retry: fast });
  await s.save("n", 0);
  backend.applyThenFail = true;
  backend.failures = 1;
  // The first attempt lands but reports a lost connection; the retry must see it landed.
  assert.equal(await s.update<number>("n", (n = 0) => n + 1), 1);
  assert.equal(await s.load("n"), 1);
  await s.close();
});

test("manager: update() gives up with ConflictError when it keeps losing", async () => {
  const backend = new MemoryBackend();
  const s = await StateManager.open({ backend, maxUpdateAttempts: 3 });
  const other = await StateManager.open({ backend });
  await assert.rejects(
    s.update<number>("n", async (n = 0) => {
      await other.save("n", Math.random()); // someone else always wins
      return n + 1;
    }),
    (e: unknown) => e instanceof ConflictError && /lost 3 races/.test(e.message),
  );
  await s.close();
  await other.close();
});

test("manager: getEntries() reads keys with their versions, in order, fresh", async () => {
  const backend = new MemoryBackend();
  await using s = await StateManager.open({ backend });
  await using other = await StateManager.open({ backend });
  await s.saveMany({ a: 1, b: [2] });
  const [a, missing, b] = await s.getEntries(["a", "missing", "b"]);
  assert.equal(missing, null);
  assert.deepEqual([a!.value, b!.value], [1, [2]]);
  assert.equal(a!.version, (await s.getEntry("a"))!.version);
  // Another manager's write is seen at once, and the version moved.
  await other.save("a", 3);
  const [again] = await s.getEntries<number>(["a"]);
  assert.equal(again!.value, 3);
  assert.notEqual(again!.version, a!.version);
  assert.deepEqual(await s.getEntries([]), []);
  await assert.rejects(s.getEntries("a" as unknown as string[]), ValidationError);
});

test("manager: every public method refuses bad input and changes nothing", async () => {
  const s = await StateManager.open({ backend: "memory", namespace: "wf" });
  await s.save("keep", "me");
  await s.checkpoint("cp");
  const bad: unknown[] = [undefined, null, 42, "", "a\0b", "x".repeat(2000), {}, ["k"]];
  const calls: [string, (k: unknown) => Promise<unknown>][] = [
    ["save", (k) => s.save(k as string, 1)],
    ["load", (k) => s.load(k as string)],
    ["getEntry", (k) => s.getEntry(k as string)],
    ["has", (k) => s.has(k as string)],
    ["delete", (k) => s.delete(k as string)],
    ["update", (k) => s.update(k as string, () => 1)],
    ["loadMany", (k) => s.loadMany([k as string])],
    ["getEntries", (k) => s.getEntries([k as string])],
    ["saveMany", (k) => s.saveMany({ ok: 1, [String(k)]: undefined })],
    ["checkpoint", (k) => s.checkpoint(k === undefined ? "" : k as string)],
    ["restoreCheckpoint", (k) => s.restoreCheckpoint(k as string)],
    ["deleteCheckpoint", (k) => s.deleteCheckpoint(k as string)],
    ["diffCheckpoint", (k) => s.diffCheckpoint(k as string)],
    ["listKeys cursor", (k) => s.listKeys({ cursor: k as string })],
    ["atomic set", (k) => s.atomic().set(k as string, 1).commit()],
  ];
  for (const [name, call] of calls) {
    for (const k of bad) {
      if (name === "listKeys cursor" && k === undefined) continue; // no cursor is fine
      await assert.rejects(
        Promise.resolve().then(() => call(k)),
        ValidationError,
        `${name}(${JSON.stringify(k)?.slice(0, 20)})`,
      );
    }
  }
  for (const value of [undefined, () => 1, new Date(), 1n]) {
    await assert.rejects(s.save("keep", value), ValidationError);
    await assert.rejects(s.update("keep", () => value), ValidationError);
    await assert.rejects(
      Promise.resolve().then(() => s.atomic().set("keep", value).commit()),
      ValidationError,
    );
  }
  await assert.rejects(s.saveMany(null as unknown as Record<string, unknown>), ValidationError);
  await assert.rejects(s.loadMany("k" as unknown as string[]), ValidationError);
  await assert.rejects(s.save("k", 1, { ttlMs: -1 }), ValidationError);
  await assert.rejects(s.save("k", 1, { ttlMs: NaN }), ValidationError);
  await assert.rejects(s.listKeys({ limit: 1.5 }), ValidationError);
  await assert.rejects(s.listKeys({ prefix: 7 as unknown as string }), ValidationError);
  await assert.rejects(
    s.checkpoint("x", { overwrite: "yes" as unknown as boolean }),
    ValidationError,
  );
  await assert.rejects(s.update("k", "fn" as unknown as () => number), ValidationError);
  await assert.rejects(
    StateManager.open({ backend: "memory", keepCheckpoints: 0 }),
    ValidationError,
  );
  // @ts-expect-error not a backend name: the types refuse it, and so does open() at run time
  await assert.rejects(StateManager.open({ backend: "nosuch" }), /Unknown backend "nosuch"/);
  assert.deepEqual((await s.listKeys()).keys, ["keep"]);
  assert.equal(await s.load("keep"), "me");
  assert.deepEqual((await s.listCheckpoints()).map((c) => c.name), ["cp"]);
  await s.close();
});

test("manager: retention by age prunes old automatic checkpoints, keeps named ones", async () => {
  const s = await StateManager.open({ backend: "memory", maxCheckpointAgeMs: 50 });
  await s.save("a", 1);
  const old = await s.checkpoint();
  await s.checkpoint("named");
  await new Promise((r) => setTimeout(r, 80));
  const fresh = await s.checkpoint();
  const names = (await s.listCheckpoints()).map((c) => c.name);
  assert.ok(!names.includes(old));
  assert.ok(names.includes(fresh) && names.includes("named"));
  await s.close();
});

test("manager: a closed manager refuses work with a clear error", async () => {
  const s = await StateManager.open({ backend: "memory" });
  await s.close();
  await s.close(); // twice is fine
  await assert.rejects(s.save("k", 1), /closed/);
  await assert.rejects(s.load("k"), /closed/);
});

test("manager: a backend passed in stays open after close()", async () => {
  const backend = new MemoryBackend();
  const a = await StateManager.open({ backend });
  await a.save("k", 1);
  await a.close();
  const b = await StateManager.open({ backend });
  assert.equal(await b.load("k"), 1);
  await b.close();
});

test("manager: loaded values are copies; mutating one does not change the cache", async () => {
  const s = await StateManager.open({ backend: "memory" });
  await s.save("obj", { list: [1] });
  const first = await s.load<{ list: number[] }>("obj");
  first.list.push(2);
  assert.deepEqual(await s.load("obj"), { list: [1] });
  await s.close();
});
