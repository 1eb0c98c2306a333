// watch() beyond the shared suite: the backend push hook, bad input, abort
// signals and errors. Cross-process delivery is in the shared suite.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BackendError, MemoryBackend, StateManager, ValidationError } from "../mod.ts";
import type { ChangeFeed, ChangeHint, CommitOp, CommitResult } from "../types.ts";

/** A memory backend with a push feed, like Redis or KV would have. */
class PushBackend extends MemoryBackend {
  listeners = new Set<(hint: ChangeHint) => void>();
  feedsClosed = 0;
  hintAll = false;

  watch(_ns: string, onChange: (hint: ChangeHint) => void): ChangeFeed {
    this.listeners.add(onChange);
    return {
      ready: Promise.resolve(),
      close: () => {
        this.listeners.delete(onChange);
        this.feedsClosed++;
        return Promise.resolve();
      },
    };
  }

  override async commit(ns: string, op: CommitOp): Promise<CommitResult> {
    const result = await super.commit(ns, op);
    const hint = this.hintAll ? {} : { keys: [...op.sets.map((s) => s.key), ...op.deletes] };
    for (const l of this.listeners) l(hint);
    return result;
  }
}

test("watch: a backend's push feed delivers changes without waiting for a poll", async () => {
  const backend = new PushBackend();
  const s = await StateManager.open({ backend, namespace: "wf" });
  // A poll every minute: only the push feed can deliver within the test.
  const w = s.watch({ prefix: "job:" }, { intervalMs: 60_000 });
  await w.ready;
  const started = Date.now();
  await s.save("job:1", "queued");
  const first = await w.next();
  assert.deepEqual(first.value?.value, "queued");
  backend.hintAll = true; // a hint without keys: everything is re-read
  await s.saveMany({ "job:2": "queued", other: 1 });
  const second = await w.next();
  assert.deepEqual([second.value?.key, second.value?.value], ["job:2", "queued"]);
  assert.ok(Date.now() - started < 5000);
  await w.close();
  assert.equal(backend.feedsClosed, 1);
  assert.equal(backend.listeners.size, 0);
  await s.close();
});

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
