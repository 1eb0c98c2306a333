// Real processes racing on one store: update() never loses an increment, and
// checkpoints and restores from two processes at once never mix states.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { type OpenOptions, StateManager } from "../mod.ts";
import { runScript } from "./_runtime.ts";

const updateChild = fileURLToPath(new URL("./_update_child.ts", import.meta.url));
const raceChild = fileURLToPath(new URL("./_race_child.ts", import.meta.url));

/** A store for the race tests: options a child process can use, and how to remove it. */
export interface RaceStore {
  options: OpenOptions;
  cleanup(): Promise<void> | void;
}

/** Registers the multi-process race tests for one backend. */
export function testConcurrency(name: string, makeStore: () => RaceStore): void {
  test(`${name}: update() from 8 processes x 200 ends at exactly 1600`, async () => {
    const { options, cleanup } = makeStore();
    try {
      const results = await Promise.all(
        Array.from(
          { length: 8 },
          () => runScript(updateChild, [JSON.stringify(options), "counter", "200"]),
        ),
      );
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const s = await StateManager.open(options);
      assert.equal(await s.load("counter"), 1600);
      await s.close();
    } finally {
      await cleanup();
    }
  });

  test(`${name}: two processes checkpointing and restoring at once never mix states`, async () => {
    const { options, cleanup } = makeStore();
    try {
      const results = await Promise.all(
        ["p", "q"].map((id) => runScript(raceChild, [JSON.stringify(options), id, "40"])),
      );
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const s = await StateManager.open(options);
      const generationsOf = (values: Record<string, unknown>) => new Set(Object.values(values));
      const now = await s.loadMany(["a", "b", "c", "d", "e"]);
      assert.equal(Object.keys(now).length, 5);
      assert.equal(generationsOf(now).size, 1, `mixed state: ${JSON.stringify(now)}`);
      const checkpoints = await s.listCheckpoints();
      assert.equal(checkpoints.length, 80);
      for (const cp of checkpoints) {
        await s.restoreCheckpoint(cp.name);
        const values = await s.loadMany(["a", "b", "c", "d", "e"]);
        assert.equal(generationsOf(values).size, 1, `${cp.name} mixes: ${JSON.stringify(values)}`);
      }
      await s.close();
    } finally {
      await cleanup();
    }
  });
}
