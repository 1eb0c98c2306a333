// Real processes racing on one PostgreSQL namespace: the shared races
// (8 x 200 update() = 1600; checkpoint/restore from two processes), then
// 8 processes taking and restoring checkpoints while they all write.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { StateManager } from "../mod.ts";
import { testConcurrency } from "./_concurrency.ts";
import { dropSchema, newSchema, pgTarget, reportNoServer } from "./_pg_server.ts";
import { runScript } from "./_runtime.ts";

const raceChild = fileURLToPath(new URL("./_race_child.ts", import.meta.url));
const target = await pgTarget();

if (typeof target === "string") {
  reportNoServer("postgres concurrency", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;
  const store = () => {
    const schema = newSchema();
    return {
      options: { backend: "postgres" as const, url, schema, namespace: "race" },
      cleanup: () => dropSchema(url, schema),
    };
  };
  testConcurrency("postgres", store);

  test("postgres: 8 processes checkpointing, restoring and writing at once never mix states", async () => {
    const { options, cleanup } = store();
    try {
      const ids = ["p", "q", "r", "s", "t", "u", "v", "w"];
      const results = await Promise.all(
        ids.map((id) => runScript(raceChild, [JSON.stringify(options), id, "10"])),
      );
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      const s = await StateManager.open(options);
      try {
        const keys = ["a", "b", "c", "d", "e"];
        const generations = (values: Record<string, unknown>) => new Set(Object.values(values));
        const now = await s.loadMany(keys);
        assert.equal(generations(now).size, 1, `mixed state: ${JSON.stringify(now)}`);
        const checkpoints = await s.listCheckpoints();
        assert.equal(checkpoints.length, 80);
        for (const cp of checkpoints) {
          const entries = await s.backend.readCheckpoint("race", cp.name);
          const values = new Set(entries!.map((e) => e.value));
          assert.equal(values.size, 1, `${cp.name} mixes: ${[...values].join(", ")}`);
          assert.equal(entries!.length, 5);
        }
      } finally {
        await s.close();
      }
    } finally {
      await cleanup();
    }
  });
}
