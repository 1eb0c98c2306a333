// The manager's read cache: bounded by entries and bytes, never stale by
// default, even when reads and writes interleave; staleness only when asked.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { MemoryBackend, StateManager, ValidationError } from "../mod.ts";
import { ReadCache } from "../core/_cache.ts";
import { SqliteBackend } from "../backends/sqlite.ts";
import type { Backend, StoredEntry } from "../types.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Wraps a backend and counts the keys it is asked to read. */
function counting(inner: Backend): { backend: Backend; reads: () => number } {
  let reads = 0;
  const backend = new Proxy(inner, {
    get(target, prop) {
      if (prop === "get") {
        return (ns: string, keys: string[]) => {
          reads += keys.length;
          return target.get(ns, keys);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { backend, reads: () => reads };
}

const entry = (key: string, value: string): StoredEntry => ({
  key,
  value,
  version: "v",
  expiresAt: null,
});

test("cache: holds at most maxEntries, dropping the least recently used", () => {
  const cache = new ReadCache({ maxEntries: 3 });
  cache.sync("t", 0);
  for (const k of ["a", "b", "c"]) cache.set(k, entry(k, "1"), cache.epoch);
  assert.ok(cache.get("a", 0)); // a is now the most recently used
  cache.set("d", entry("d", "1"), cache.epoch);
  assert.equal(cache.size, 3);
  assert.equal(cache.get("b", 0), undefined);
  assert.ok(cache.get("a", 0) && cache.get("c", 0) && cache.get("d", 0));
});

test("cache: holds at most maxBytes and never caches an entry larger than that", () => {
  const cache = new ReadCache({ maxBytes: 100 });
  cache.sync("t", 0);
  for (let i = 0; i < 10; i++) cache.set(`k${i}`, entry(`k${i}`, "x".repeat(28)), cache.epoch);
  assert.ok(cache.bytes <= 100, `${cache.bytes} bytes`);
  assert.equal(cache.size, 3); // 30 bytes each
  assert.ok(cache.get("k9", 0) && !cache.get("k0", 0));
  cache.set("huge", entry("huge", "y".repeat(200)), cache.epoch);
  assert.equal(cache.get("huge", 0), undefined);
  assert.ok(cache.bytes <= 100);
  cache.delete("k9");
  cache.clear();
  assert.equal(cache.bytes, 0);
  assert.equal(cache.size, 0);
});

test("cache: an entry read before the cache moved on is not stored", () => {
  const cache = new ReadCache();
  cache.sync("t1", 0);
  const before = cache.epoch;
  cache.sync("t2", 0); // another read saw a newer token meanwhile
  cache.set("a", entry("a", "old"), before);
  assert.equal(cache.get("a", 0), undefined);
  const again = cache.epoch;
  cache.delete("b"); // this manager wrote a key meanwhile
  cache.set("b", entry("b", "old"), again);
  assert.equal(cache.get("b", 0), undefined);
});

test("cache: refuses bad settings before opening anything", async () => {
  for (const cache of [{ maxEntries: 0 }, { maxBytes: -1 }, { maxStaleMs: -5 }, "yes"]) {
    await assert.rejects(
      StateManager.open({ backend: "memory", cache: cache as never }),
      ValidationError,
      JSON.stringify(cache),
    );
  }
});

test("manager: the cache serves repeated loads and respects maxEntries and maxBytes", async () => {
  const dir = tempDir();
  const sqlite = new SqliteBackend({ path: join(dir, "state.db") });
  try {
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const open = (cache: object | boolean) => {
      const c = counting(sqlite);
      return StateManager.open({ backend: c.backend, namespace: "wf", cache }).then((s) => ({
        s,
        reads: c.reads,
      }));
    };
    const writer = await StateManager.open({ backend: sqlite, namespace: "wf" });
    await writer.saveMany(Object.fromEntries(keys.map((k) => [k, { k, pad: "p".repeat(50) }])));
    const twice = async (s: StateManager) => {
      for (let round = 0; round < 2; round++) for (const k of keys) await s.load(k);
    };
    const big = await open(true);
    await twice(big.s);
    assert.equal(big.reads(), 20, "a big enough cache reads each key once");
    const few = await open({ maxEntries: 10 });
    await twice(few.s);
    assert.equal(few.reads(), 40, "10 entries cannot hold 20 keys read in a cycle");
    const small = await open({ maxBytes: 700 }); // about 10 entries of ~70 bytes
    await twice(small.s);
    assert.equal(small.reads(), 40);
    const off = await open(false);
    await twice(off.s);
    assert.equal(off.reads(), 40);
    for (const m of [big, few, small, off]) await m.s.close();
    await writer.close();
  } finally {
    await sqlite.close();
    removeDir(dir);
  }
});

test("manager: a slow read that started before a write never overwrites the newer value", async () => {
  let gate: Promise<void> | null = null;
  class Gated extends MemoryBackend {
    override async get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
      const result = await super.get(ns, keys);
      if (gate) await gate;
      return result;
    }
  }
  const backend = new Gated();
  const s = await StateManager.open({ backend, namespace: "wf" });
  const other = await StateManager.open({ backend, namespace: "wf", cache: false });
  await s.save("k", 1);
  let release!: () => void;
  gate = new Promise((r) => (release = r));
  const slow = s.load("k"); // reads 1, then waits
  await new Promise((r) => setTimeout(r, 5));
  await other.save("k", 2);
  gate = null;
  assert.equal(await s.load("k"), 2); // sees the new token, caches 2
  release();
  assert.equal(await slow, 1); // it began before the write completed: 1 is fine
  assert.equal(await s.load("k"), 2, "the slow read must not have cached 1");
  await s.close();
  await other.close();
});

test("manager: maxStaleMs trades freshness for fewer checks; own writes stay visible", async () => {
  const backend = new MemoryBackend();
  const s = await StateManager.open({ backend, namespace: "wf", cache: { maxStaleMs: 300 } });
  const other = await StateManager.open({ backend, namespace: "wf" });
  await s.saveMany({ mine: 1, theirs: 1 });
  assert.equal(await s.load("theirs"), 1);
  await other.save("theirs", 2);
  assert.equal(await s.load("theirs"), 1, "within maxStaleMs the old value may be served");
  await s.save("mine", 2);
  assert.equal(await s.load("mine"), 2, "own writes are seen at once");
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(await s.load("theirs"), 2, "after maxStaleMs the change is seen");
  await s.close();
  await other.close();
});

test("manager: a miss reads the entry alongside the token, and caches it only if the token held", async () => {
  let readGate: Promise<void> | null = null;
  let tokenGate: Promise<void> | null = null;
  let reads = 0;
  class Gated extends MemoryBackend {
    override async get(ns: string, keys: string[]): Promise<(StoredEntry | null)[]> {
      reads += keys.length;
      const result = await super.get(ns, keys);
      if (readGate) await readGate;
      return result;
    }
    override async changeToken(ns: string): Promise<string> {
      if (tokenGate) await tokenGate;
      return await super.changeToken(ns);
    }
  }
  const backend = new Gated();
  const s = await StateManager.open({ backend, namespace: "wf" });
  const other = await StateManager.open({ backend, namespace: "wf", cache: false });
  await other.saveMany({ a: 1, b: 1, c: 1 });
  assert.equal(await s.load("a"), 1); // the first read syncs the token, then reads
  // A miss while nothing changes: cached at once.
  assert.equal(await s.load("b"), 1);
  const before = reads;
  assert.equal(await s.load("b"), 1);
  assert.equal(reads, before, "b was not cached");
  // A miss whose entry was read before a write that completed before its token was read.
  let openRead!: () => void;
  let openToken!: () => void;
  readGate = new Promise((r) => (openRead = r));
  tokenGate = new Promise((r) => (openToken = r));
  const slow = s.load("c"); // reads 1 now; its token waits
  await new Promise((r) => setTimeout(r, 5));
  readGate = tokenGate = null;
  await other.save("c", 2);
  openToken(); // the token, read now, has moved
  openRead();
  assert.equal(await slow, 1); // the load began before the write completed: 1 is fine
  assert.equal(await s.load("c"), 2, "the old entry was cached under the new token");
  await s.close();
  await other.close();
});
