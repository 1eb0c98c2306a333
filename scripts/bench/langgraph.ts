// deno-lint-ignore-file no-import-prefix -- bench-only peers stay out of the library's imports and lock
// The LangGraph saver against LangGraph's own SQLite saver
// (@langchain/langgraph-checkpoint-sqlite, better-sqlite3), on Node:
//
// - put + getTuple: one step of a chat thread per operation (the message
//   list grows by one message per step; a new thread every `n` steps), the
//   same steps for both savers (two threads timed after two of warm-up),
//   each minting its own channel versions;
// - bytes stored: a real StateGraph chat (MessagesAnnotation) run for `n`
//   messages, one message per step, then the database file's size after
//   a WAL checkpoint and VACUUM.
import { emptyCheckpoint, uuid6 } from "npm:@langchain/langgraph-checkpoint@1.2.2";
import type { BaseCheckpointSaver, Checkpoint } from "npm:@langchain/langgraph-checkpoint@1.2.2";
import { END, MessagesAnnotation, START, StateGraph } from "npm:@langchain/langgraph@1.7.3";
import { AIMessage, HumanMessage } from "npm:@langchain/core@1.4.0/messages";
import type { RunnableConfig } from "npm:@langchain/core@1.4.0/runnables";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { ManagingStateSaver } from "../../adapters/langgraph.ts";
import { caseArgs, emit, run, skip, syncDisk, tempDir } from "./_harness.ts";

const args = caseArgs();
const { n } = args;
const OURS = "ManagingStateSaver (sqlite)";
const PEER = "SqliteSaver (@langchain/langgraph-checkpoint-sqlite)";
const LOREM = "The quick brown fox jumps over the lazy dog. ".repeat(3);

interface Saver extends BaseCheckpointSaver {
  close?(): Promise<void>;
}

/** Opens one of the two savers on a fresh file; undefined when the peer cannot load. */
async function open(which: string, path: string): Promise<{ saver: Saver; done(): Promise<void> }> {
  if (which === OURS) {
    const saver = new ManagingStateSaver({ backend: "sqlite", path });
    return { saver, done: () => saver.close() };
  }
  const { SqliteSaver } = await import("npm:@langchain/langgraph-checkpoint-sqlite@1.0.4");
  const saver = SqliteSaver.fromConnString(path);
  return { saver, done: () => Promise.resolve(saver.db.close()) };
}

/** The database file's size once its WAL is folded in and free pages are dropped. */
function compactSize(path: string): number {
  const db = new DatabaseSync(path);
  db.exec("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;");
  db.close();
  const wal = `${path}-wal`;
  return statSync(path).size + (existsSync(wal) ? statSync(wal).size : 0);
}

async function putAndGet(which: string): Promise<void> {
  const dir = tempDir();
  const { saver, done } = await open(which, join(dir, "put.db"));
  let config: RunnableConfig = { configurable: { thread_id: "t0", checkpoint_ns: "" } };
  let versions: Record<string, number | string> = {};
  let messages: { role: string; content: string }[] = [];
  syncDisk(dir);
  await run(
    { group: "langgraph", impl: which, op: "put+getTuple", n },
    async (i) => {
      const step = i % n;
      if (step === 0) {
        config = { configurable: { thread_id: `t${i}`, checkpoint_ns: "" } };
        versions = {};
        messages = [];
      }
      messages = [...messages, {
        role: step % 2 ? "assistant" : "user",
        content: `${step}: ${LOREM}`,
      }];
      const current = Object.values(versions);
      const version = saver.getNextVersion(
        current.length
          ? Math.max(...current.map((v) => Number(String(v).split(".")[0])))
          : undefined,
      );
      const changed = { messages: version, step: version };
      versions = { ...versions, ...changed };
      const checkpoint: Checkpoint = {
        ...emptyCheckpoint(),
        id: uuid6(3),
        channel_values: { messages, step },
        channel_versions: versions,
      };
      config = await saver.put(config, checkpoint, { source: "loop", step, parents: {} }, changed);
      const tuple = await saver.getTuple(config);
      if (!tuple) throw new Error("put, then not found");
    },
    // Both savers run the same steps: two whole threads after two threads of warm-up.
    { ...args, maxOps: 2 * n, maxMs: 120_000 },
    2 * n,
  );
  await done();
}

async function chatBytes(which: string): Promise<void> {
  const dir = tempDir();
  const path = join(dir, "chat.db");
  const { saver, done } = await open(which, path);
  const graph = new StateGraph(MessagesAnnotation)
    .addNode("reply", (state) => ({
      messages: [new AIMessage(`reply ${state.messages.length}: ${LOREM}`)],
    }))
    .addEdge(START, "reply")
    .addConditionalEdges("reply", (state) => (state.messages.length >= n ? END : "reply"))
    .compile({ checkpointer: saver });
  const config = { configurable: { thread_id: "chat" }, recursionLimit: n + 10 };
  const t0 = performance.now();
  await graph.invoke({ messages: [new HumanMessage(`hello: ${LOREM}`)] }, config);
  const ms = performance.now() - t0;
  let checkpoints = 0;
  for await (const _ of saver.list({ configurable: { thread_id: "chat" } })) checkpoints++;
  await done();
  const bytes = compactSize(path);
  emit({
    group: "langgraph",
    impl: which,
    op: `bytes stored, ${n}-message chat`,
    n,
    ops: 1000 / ms,
    p50us: bytes,
    note: `${checkpoints} checkpoints, graph run ${ms.toFixed(0)} ms`,
  });
}

for (const which of [OURS, PEER]) {
  try {
    await putAndGet(which);
    await chatBytes(which);
  } catch (error) {
    if (which === OURS) throw error;
    skip("langgraph", PEER, `cannot run: ${String((error as Error).message).split("\n")[0]}`);
  }
}
