// watch() beyond the shared suite: coalescing, bad input, abort signals and
// errors. Cross-process delivery is in the shared suite.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendError, MemoryBackend, StateManager, ValidationError } from "../mod.ts";

test("watch: coalesces per key so a slow consumer gets the latest value", async () => {
  const s = await StateManager.open({ backend: "memory", namespace: "wf" });
  const w = s.watch(["a", "b"], { intervalMs: 5 });
  await w.ready;
  for (let i = 1; i <= 5; i++) {
    await s.save("a", i);
    await new Promise((r) => setTimeout(r, 15)); // let the watcher see each one
  }
  await s.save("b", "x");
  await new Promise((r) => setTimeout(r, 30));
  const events = [(await w.next()).value, (await w.next()).value];
  assert.deepEqual(events.map((e) => [e?.key, e?.value]), [["a", 5], ["b", "x"]]);
  await s.close();
});

test("watch: refuses bad targets and options", async () => {
  await using s = await StateManager.open({ backend: "memory" });
  for (const target of [[], ["ok", ""], "key", { prefix: 1 }, null]) {
    assert.throws(() => s.watch(target as never), ValidationError, JSON.stringify(target));
  }
  assert.throws(() => s.watch(["k"], { intervalMs: 0 }), ValidationError);
  await s.close();
  assert.throws(() => s.watch(["k"]), /closed/i);
});

test("watch: an aborted signal ends the watcher", async () => {
  await using s = await StateManager.open({ backend: "memory" });
  const controller = new AbortController();
  const w = s.watch(["k"], { signal: controller.signal, intervalMs: 5 });
  await w.ready;
  const pending = w.next();
  controller.abort();
  assert.deepEqual(await pending, { value: undefined, done: true });
  const already = s.watch(["k"], { signal: AbortSignal.abort() });
  assert.deepEqual(await already.next(), { value: undefined, done: true });
});

test("watch: a backend failure ends the iterator with the error", async () => {
  class Failing extends MemoryBackend {
    fail = false;
    override changeToken(ns: string): Promise<string> {
      if (this.fail) throw new BackendError("disk gone", { transient: false });
      return super.changeToken(ns);
    }
  }
  const backend = new Failing();
  await using s = await StateManager.open({ backend, retry: false });
  const w = s.watch(["k"], { intervalMs: 5 });
  await w.ready;
  backend.fail = true;
  await assert.rejects(w.next(), /disk gone/);
  assert.deepEqual(await w.next(), { value: undefined, done: true });
});
