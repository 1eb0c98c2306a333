// The Keyv store on Deno (Keyv through its npm: specifier) and, compiled, on
// Node: what the upstream suite does not pin down. The suite itself,
// @keyv/test-suite, runs on every backend in tests/node_suites.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Keyv from "keyv";
import { MemoryBackend, StateManager, ValidationError } from "../mod.ts";
import { KeyvManagingState } from "../adapters/keyv.ts";
import { removeDir, tempDir } from "./_runtime.ts";

test("keyv: a Keyv namespace is a namespace of ours, its envelope and TTL kept", async () => {
  const backend = new MemoryBackend();
  const keyv = new Keyv({ store: new KeyvManagingState({ backend }), namespace: "cache" });
  const before = Date.now();
  assert.equal(await keyv.set("user:1", { name: "Ada" }, 60_000), true);
  await keyv.set("plain", "text");
  assert.deepEqual(await keyv.get("user:1"), { name: "Ada" });
  await using state = await StateManager.open({ backend, namespace: "cache" });
  assert.deepEqual((await state.listKeys()).keys, ["plain", "user:1"]);
  const entry = await state.getEntry<string>("user:1");
  // The value is Keyv's serialised envelope, untouched; Keyv's TTL is the key's TTL.
  const envelope = JSON.parse(entry!.value);
  assert.deepEqual(envelope.value, { name: "Ada" });
  assert.ok(entry!.expiresAt! >= before + 60_000 && entry!.expiresAt! <= Date.now() + 60_000);
  // Keyv's own expiry (in the envelope) comes first by the time it took to reach the store.
  assert.ok(
    entry!.expiresAt! - envelope.expires >= 0 && entry!.expiresAt! - envelope.expires < 1000,
  );
  assert.equal((await state.getEntry("plain"))!.expiresAt, null);
  // Another Keyv namespace is another namespace of ours; clear() clears only its own.
  const other = new Keyv({ store: new KeyvManagingState({ backend }), namespace: "other" });
  await other.set("user:1", "elsewhere");
  await keyv.clear();
  assert.deepEqual((await state.listKeys()).keys, []);
  assert.equal(await other.get("user:1"), "elsewhere");
  assert.deepEqual(await state.listNamespaces(), ["other"]);
});

test("keyv: a key expires on the backend, not only in Keyv", async () => {
  const backend = new MemoryBackend();
  const keyv = new Keyv({ store: new KeyvManagingState({ backend }) });
  await keyv.set("lease", "worker-1", 30);
  await new Promise((r) => setTimeout(r, 60));
  await using state = await StateManager.open({ backend, namespace: "keyv" });
  assert.equal(await state.has("lease"), false);
  assert.equal(await keyv.get("lease"), undefined);
});

test("keyv: many keys at once, iteration in key order, deleteMany's answer", async () => {
  const store = new KeyvManagingState({ backend: new MemoryBackend() });
  const keyv = new Keyv({ store, namespace: "batch" });
  await keyv.setMany([
    { key: "b", value: 2 },
    { key: "a", value: 1, ttl: 60_000 },
    { key: "c", value: 3 },
  ]);
  assert.deepEqual(await keyv.get(["a", "missing", "c"]), [1, undefined, 3]);
  assert.deepEqual(await keyv.has(["a", "missing"]), [true, false]);
  const seen: unknown[] = [];
  for await (const pair of keyv.iterator!(undefined)) seen.push(pair);
  assert.deepEqual(seen, [["a", 1], ["b", 2], ["c", 3]]);
  assert.equal(await keyv.delete(["missing", "other"]), false);
  assert.equal(await keyv.delete(["a", "missing"]), true);
  assert.equal(await keyv.delete("b"), true);
  assert.equal(await keyv.delete("b"), false);
  assert.deepEqual(await keyv.get(["a", "b", "c"]), [undefined, undefined, 3]);
  await keyv.disconnect();
});

test("keyv: with Keyv's serialiser off, the envelope object is stored as JSON", async () => {
  const backend = new MemoryBackend();
  const keyv = new Keyv({ store: new KeyvManagingState({ backend }), namespace: "raw" });
  keyv.serialize = undefined;
  keyv.deserialize = undefined;
  await keyv.set("k", { n: 1 });
  assert.deepEqual(await keyv.get("k"), { n: 1 });
  await using state = await StateManager.open({ backend, namespace: "raw" });
  assert.deepEqual(await state.load("k"), { value: { n: 1 } });
});

test("keyv: a namespace or key we cannot hold is a typed error, and nothing is written", async () => {
  const backend = new MemoryBackend();
  assert.throws(
    () => new Keyv({ store: new KeyvManagingState({ backend }), namespace: "a:b" }),
    (e) => e instanceof ValidationError && /Keyv namespace "a:b"/.test(e.message),
  );
  const keyv = new Keyv({ store: new KeyvManagingState({ backend }), throwOnErrors: true });
  await assert.rejects(keyv.set("bad\0key", 1), ValidationError);
  await assert.rejects(keyv.get("x".repeat(2000)), ValidationError);
  assert.deepEqual(await backend.namespaces(), []);
});

test("keyv: over a StateManager, Keyv without a namespace uses the manager's", async () => {
  const dir = tempDir();
  try {
    await using state = await StateManager.open({
      backend: "sqlite",
      path: join(dir, "state.db"),
      namespace: "sessions",
    });
    const store = new KeyvManagingState(state);
    const keyv = new Keyv({ store });
    keyv.namespace = undefined;
    await keyv.set("s1", "alive");
    assert.equal(JSON.parse(await state.load<string>("s1")).value, "alive");
    // disconnect() leaves a manager it was given open.
    await keyv.disconnect();
    assert.equal(await state.has("s1"), true);
  } finally {
    removeDir(dir);
  }
});

test("keyv: a store opened from options closes its backend on disconnect", async () => {
  const dir = tempDir();
  try {
    const path = join(dir, "state.db");
    const keyv = new Keyv({ store: new KeyvManagingState({ backend: "sqlite", path }) });
    await keyv.set("k", "v");
    await keyv.disconnect();
    // The file is complete and can be opened again by anyone.
    await using state = await StateManager.open({ backend: "sqlite", path, namespace: "keyv" });
    assert.equal(JSON.parse(await state.load<string>("k")).value, "v");
  } finally {
    removeDir(dir);
  }
});
