// The LangGraph saver on Deno (LangGraph's checkpoint package through its
// npm: specifier) and, compiled, on Node: storage that grows with what
// changed, retention, forks, bad input. The upstream validation suite runs
// on every backend in tests/node_suites; crash safety is in
// langgraph_crash_test.ts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { RunnableConfig } from "@langchain/core/runnables";
import { emptyCheckpoint, TASKS } from "@langchain/langgraph-checkpoint";
import { MemoryBackend, StateManager, ValidationError } from "../mod.ts";
import { ManagingStateSaver } from "../adapters/langgraph.ts";
import { checkStep, type Cursor, messages, putStep, startThread } from "./_langgraph_chat.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** Stored keys of a saver's namespace by kind ("c", "b", "l", "w", "t"), with their JSON sizes. */
async function stored(backend: MemoryBackend, namespace = "langgraph") {
  await using state = await StateManager.open({ backend, namespace });
  const { keys } = await state.listKeys();
  const values = await state.loadMany(keys);
  const byKind = new Map<string, { keys: string[]; bytes: number }>();
  for (const key of keys) {
    const kind = byKind.get(key[0]!) ?? { keys: [], bytes: 0 };
    kind.keys.push(key);
    kind.bytes += JSON.stringify(values[key]).length;
    byKind.set(key[0]!, kind);
  }
  return (kind: string) => byKind.get(kind) ?? { keys: [], bytes: 0 };
}

async function allTuples(saver: ManagingStateSaver, thread: string) {
  const out = [];
  for await (const tuple of saver.list({ configurable: { thread_id: thread } })) out.push(tuple);
  return out;
}

test("langgraph: put, putWrites, getTuple, list and deleteThread on sqlite", async () => {
  const dir = tempDir();
  try {
    await using saver = new ManagingStateSaver({ backend: "sqlite", path: join(dir, "state.db") });
    let cursor = startThread("t1");
    for (let n = 0; n < 3; n++) cursor = await putStep(saver, cursor, n);
    await saver.putWrites(cursor.config, [["messages", "hi"], [TASKS, { node: "x" }]], "task-b");
    await saver.putWrites(cursor.config, [["messages", "first"]], "task-a");
    const latest = await saver.getTuple({ configurable: { thread_id: "t1" } });
    checkStep(latest!.checkpoint.channel_values, 2);
    assert.deepEqual(latest!.pendingWrites, [
      ["task-a", "messages", "first"],
      ["task-b", "messages", "hi"],
      ["task-b", TASKS, { node: "x" }],
    ]);
    assert.deepEqual(latest!.metadata, { source: "loop", step: 2, parents: {} });
    const history = await allTuples(saver, "t1");
    assert.deepEqual(history.map((t) => t.metadata?.step), [2, 1, 0]);
    assert.equal(
      history[0]!.parentConfig?.configurable?.checkpoint_id,
      history[1]!.config.configurable?.checkpoint_id,
    );
    await saver.deleteThread("t1");
    assert.equal(await saver.getTuple({ configurable: { thread_id: "t1" } }), undefined);
    assert.deepEqual(await allTuples(saver, "t1"), []);
  } finally {
    removeDir(dir);
  }
});

test("langgraph: an unchanged value is stored once, a growing list as deltas", async () => {
  const backend = new MemoryBackend();
  await using saver = new ManagingStateSaver({ backend });
  let cursor = startThread("chat");
  const steps = 120;
  for (let n = 0; n < steps; n++) cursor = await putStep(saver, cursor, n);
  const kinds = await stored(backend);
  // The system prompt never changed after step 0: one stored value.
  assert.equal(kinds("b").keys.filter((k) => k.includes("/system/")).length, 1);
  // Whole copies of every step's messages would cost the sum of their sizes.
  let whole = 0;
  for (let n = 0; n < steps; n++) whole += JSON.stringify(JSON.stringify(messages(n))).length;
  const values = kinds("b").bytes;
  assert.ok(values < whole / 5, `values take ${values} bytes, whole copies ${whole}`);
  // Every checkpoint reads back exactly, in a new saver (nothing cached) too.
  await using cold = new ManagingStateSaver({ backend });
  const history = await allTuples(cold, "chat");
  assert.equal(history.length, steps);
  history.forEach((t, i) => checkStep(t.checkpoint.channel_values, steps - 1 - i));
  for (const n of [0, 1, 17, 63, steps - 1]) {
    const tuple = await new ManagingStateSaver({ backend }).getTuple(
      history[steps - 1 - n]!.config,
    );
    checkStep(tuple!.checkpoint.channel_values, n);
  }
});

test("langgraph: keepLast prunes old checkpoints, their writes and values nothing needs", async () => {
  const backend = new MemoryBackend();
  await using saver = new ManagingStateSaver({ backend, retention: { keepLast: 5 } });
  let cursor = startThread("chat");
  for (let n = 0; n < 40; n++) {
    cursor = await putStep(saver, cursor, n);
    await saver.putWrites(cursor.config, [["messages", `reply ${n}`]], "task");
  }
  const history = await allTuples(saver, "chat");
  assert.deepEqual(history.map((t) => t.metadata?.step), [39, 38, 37, 36, 35]);
  history.forEach((t) => checkStep(t.checkpoint.channel_values, t.metadata!.step as number));
  assert.deepEqual(history[4]!.pendingWrites, [["task", "messages", "reply 35"]]);
  // The oldest kept checkpoint's parent is gone; asking for it finds nothing.
  assert.equal(await saver.getTuple(history[4]!.parentConfig!), undefined);
  let kinds = await stored(backend);
  assert.equal(kinds("c").keys.length, 5);
  assert.equal(kinds("w").keys.length, 5);
  // Puts sweep values now and then; prune() sweeps the rest at once.
  const before = kinds("b").keys.length;
  const report = await saver.prune();
  kinds = await stored(backend);
  assert.deepEqual(report, { threads: 0, checkpoints: 0, values: before - kinds("b").keys.length });
  // What is left: the system prompt, the step counters and messages of the
  // kept checkpoints, and the delta bases those messages need.
  const counters = kinds("b").keys.filter((k) => k.includes("/step/"));
  assert.equal(counters.length, 5);
  await using cold = new ManagingStateSaver({ backend });
  (await allTuples(cold, "chat")).forEach((t) =>
    checkStep(t.checkpoint.channel_values, t.metadata!.step as number)
  );
});

test("langgraph: maxAgeMs prunes by age and threadTtlMs expires a thread", async () => {
  const backend = new MemoryBackend();
  const realNow = Date.now;
  let now = realNow();
  Date.now = () => now;
  try {
    await using saver = new ManagingStateSaver({
      backend,
      retention: { maxAgeMs: 60_000, threadTtlMs: 3_600_000 },
    });
    let cursor = startThread("old");
    for (let n = 0; n < 4; n++) {
      cursor = await putStep(saver, cursor, n);
      now += 30_000;
    }
    // Each put pruned what was a minute old by then; the newest is always kept.
    cursor = await putStep(saver, cursor, 4);
    assert.deepEqual((await allTuples(saver, "old")).map((t) => t.metadata?.step), [4, 3]);
    now += 10 * 60_000;
    assert.equal((await saver.prune()).checkpoints, 1);
    assert.deepEqual((await allTuples(saver, "old")).map((t) => t.metadata?.step), [4]);
    // An hour after its last put the thread reads as gone, then prune() deletes it.
    let other = startThread("other");
    other = await putStep(saver, other, 0);
    now += 3_600_000;
    assert.equal(await saver.getTuple({ configurable: { thread_id: "old" } }), undefined);
    assert.deepEqual(await allTuples(saver, "old"), []);
    // A put to an expired thread starts it afresh.
    await putStep(saver, startThread("other"), 0);
    assert.equal((await allTuples(saver, "other")).length, 1);
    assert.equal((await saver.prune()).threads, 1);
    const kinds = await stored(backend);
    assert.ok(kinds("c").keys.every((k) => k.startsWith("c/other/")), String(kinds("c").keys));
    assert.deepEqual(kinds("t").keys, ["t/other"]);
  } finally {
    Date.now = realNow;
  }
});

test("langgraph: a fork never mixes values with the branch it left", async () => {
  const backend = new MemoryBackend();
  await using saver = new ManagingStateSaver({ backend });
  let main: Cursor = startThread("t");
  const steps: Cursor[] = [];
  for (let n = 0; n < 6; n++) steps.push(main = await putStep(saver, main, n));
  // Replay from step 2 with a different message list: its versions are new.
  const forked = await putStep(saver, steps[2]!, 3, { messages: ["a different", "history"] });
  await using cold = new ManagingStateSaver({ backend });
  checkStep((await cold.getTuple(main.config))!.checkpoint.channel_values, 5);
  const fork = await cold.getTuple(forked.config);
  assert.deepEqual(fork!.checkpoint.channel_values.messages, ["a different", "history"]);
  assert.equal(
    fork!.parentConfig?.configurable?.checkpoint_id,
    steps[2]!.config.configurable?.checkpoint_id,
  );
  // getNextVersion never repeats, and grows from what it was given.
  const a = saver.getNextVersion(undefined);
  const b = saver.getNextVersion(a);
  assert.notEqual(a, saver.getNextVersion(undefined));
  assert.ok(a >= 1 && a < 2 && b >= 2 && b < 3, `${a} ${b}`);
  assert.equal(Math.floor(saver.getNextVersion(7)), 8);
  assert.equal(Math.floor(saver.getNextVersion("0000000000000041.abc" as unknown as number)), 42);
});

test("langgraph: versions put out of order never make a cycle of deltas", async () => {
  const backend = new MemoryBackend();
  await using saver = new ManagingStateSaver({ backend });
  const meta = { source: "loop" as const, step: 0, parents: {} };
  // Long lists that share all but their last item: each one after the first is a delta.
  const long = (
    n: number,
  ) => [...Array.from({ length: 40 }, (_, i) => `message ${i}`), `tail ${n}`];
  let config: RunnableConfig = { configurable: { thread_id: "t" } };
  const ids: string[] = [];
  for (const [version, n] of [[1, 1], [2, 2], [1, 1], [3, 3]] as const) {
    const checkpoint = {
      ...emptyCheckpoint(),
      channel_values: { list: long(n) },
      channel_versions: { list: version },
    };
    config = await saver.put(config, checkpoint, meta, { list: version });
    ids.push(checkpoint.id);
  }
  await using cold = new ManagingStateSaver({ backend });
  for (const [i, n] of [1, 2, 1, 3].entries()) {
    const tuple = await cold.getTuple({ configurable: { thread_id: "t", checkpoint_id: ids[i] } });
    assert.deepEqual(tuple!.checkpoint.channel_values.list, long(n));
  }
});

test("langgraph: bad input is a typed error and writes nothing", async () => {
  const backend = new MemoryBackend();
  await using saver = new ManagingStateSaver({ backend });
  const meta = { source: "input" as const, step: -1, parents: {} };
  await assert.rejects(saver.put({}, emptyCheckpoint(), meta, {}), ValidationError);
  await assert.rejects(
    saver.put({ configurable: { thread_id: "" } }, emptyCheckpoint(), meta, {}),
    /thread_id/,
  );
  await assert.rejects(
    saver.putWrites({ configurable: { thread_id: "t" } }, [["c", 1]], "task"),
    /checkpoint_id/,
  );
  assert.deepEqual(await backend.namespaces(), []);
  assert.throws(() => new ManagingStateSaver({ retention: { keepLast: 0 } }), ValidationError);
  assert.throws(() => new ManagingStateSaver({ cacheBytes: -1 }), ValidationError);
  // Ids with "/", "%", NUL or lone surrogates are stored and found again.
  for (const thread of ["a/b", "50%", "nul\0x", "lone\ud800"]) {
    const config = await saver.put(
      { configurable: { thread_id: thread, checkpoint_ns: "n/s" } },
      emptyCheckpoint(),
      meta,
      {},
    );
    const tuple = await saver.getTuple(config);
    assert.equal(tuple?.config.configurable?.thread_id, thread);
    assert.equal(tuple?.config.configurable?.checkpoint_ns, "n/s");
  }
  assert.equal((await allTuples(saver, "a")).length, 0);
});

test("langgraph: puts racing on one thread from two savers all land", async () => {
  const dir = tempDir();
  try {
    const path = join(dir, "state.db");
    const savers = [0, 1].map(() => new ManagingStateSaver({ backend: "sqlite", path }));
    await Promise.all(savers.map(async (saver, s) => {
      for (let n = 0; n < 15; n++) {
        const checkpoint = {
          ...emptyCheckpoint(),
          channel_values: { n },
          channel_versions: { n: saver.getNextVersion(undefined) },
        };
        const meta = { source: "loop" as const, step: s * 100 + n, parents: {} };
        await saver.put({ configurable: { thread_id: "race" } }, checkpoint, meta, {
          ...checkpoint.channel_versions,
        });
      }
    }));
    const history = await allTuples(savers[0]!, "race");
    assert.equal(history.length, 30);
    const latest = await savers[1]!.getTuple({ configurable: { thread_id: "race" } });
    assert.equal(latest?.checkpoint.id, history[0]!.checkpoint.id);
    await Promise.all(savers.map((s) => s.close()));
  } finally {
    removeDir(dir);
  }
});
