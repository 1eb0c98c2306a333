// A chat-like thread for the LangGraph saver's tests: step n's checkpoint
// holds n + 1 messages (one more per step), a channel that never changes
// after step 0, and a step counter; its values can be checked from the step.
import assert from "node:assert/strict";
import type { RunnableConfig } from "@langchain/core/runnables";
import { type Checkpoint, emptyCheckpoint, uuid6 } from "@langchain/langgraph-checkpoint";
import type { ManagingStateSaver } from "../adapters/langgraph.ts";

/** The messages of step `n`. */
export function messages(n: number): { role: string; content: string }[] {
  return Array.from({ length: n + 1 }, (_, i) => ({
    role: i % 2 ? "assistant" : "user",
    content: `message ${i}: ${"lorem ipsum ".repeat(8 + (i % 5))}`,
  }));
}

/** The system prompt, set at step 0 and never changed. */
export const SYSTEM = "You are a careful assistant. ".repeat(40);

/** Where a thread is: the config of its newest checkpoint and its channel versions. */
export interface Cursor {
  config: RunnableConfig;
  versions: Record<string, string | number>;
}

/** A fresh thread's cursor. */
export function startThread(thread: string, ns = ""): Cursor {
  return { config: { configurable: { thread_id: thread, checkpoint_ns: ns } }, versions: {} };
}

/** Puts step `n` after `cursor` (the previous step, or a fork point) and returns the new cursor. */
export async function putStep(
  saver: ManagingStateSaver,
  cursor: Cursor,
  n: number,
  values: { messages?: unknown } = {},
): Promise<Cursor> {
  const version = saver.getNextVersion(
    Math.max(0, ...Object.values(cursor.versions).map(Number)) || undefined,
  );
  const changed: Record<string, number> = { messages: version, step: version };
  if (n === 0) changed.system = version;
  const channel_versions = { ...cursor.versions, ...changed };
  const checkpoint: Checkpoint = {
    ...emptyCheckpoint(),
    id: uuid6(3),
    channel_values: { messages: values.messages ?? messages(n), step: n, system: SYSTEM },
    channel_versions,
  };
  const config = await saver.put(cursor.config, checkpoint, {
    source: "loop",
    step: n,
    parents: {},
  }, changed);
  return { config, versions: channel_versions };
}

/** Throws unless `values` are exactly step `n`'s. */
export function checkStep(values: Record<string, unknown>, n: number): void {
  assert.deepEqual(values, { messages: messages(n), step: n, system: SYSTEM }, `step ${n}`);
}
