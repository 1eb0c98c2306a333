// Lineage travels: migrate() and export/import carry every checkpoint's
// parent and the namespace's head to every backend; export files of format
// version 1 (before lineage) still import, without parents or head.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { exportState, importState, MemoryBackend, migrate, StateManager } from "../mod.ts";
import { stopRedis, STORES } from "./_migrate_stores.ts";
import { removeDir, tempDir } from "./_runtime.ts";

after(() => stopRedis());

/** A memory source whose lineage has a branch: plan -> build, plan -> build-2 (head). */
async function source(): Promise<MemoryBackend> {
  const backend = new MemoryBackend();
  const s = await StateManager.open({ backend, namespace: "wf" });
  await s.save("phase", "plan");
  await s.checkpoint("plan");
  await s.save("phase", "build");
  await s.checkpoint("build");
  await s.restoreCheckpoint("plan");
  await s.checkpoint("build-2");
  await s.close();
  return backend;
}

async function lineage(s: StateManager) {
  const parents = Object.fromEntries((await s.listCheckpoints()).map((c) => [c.name, c.parent]));
  return { parents, head: await s.head() };
}

for (const [name, make] of Object.entries(STORES)) {
  test(`lineage: migrate and export/import carry parents and head to ${name}`, async () => {
    const from = await source();
    const want = await lineage(await StateManager.open({ backend: from, namespace: "wf" }));
    assert.deepEqual(want.parents, { plan: null, build: "plan", "build-2": "plan" });
    for (const via of ["migrate", "export"] as const) {
      const store = make();
      const dir = tempDir();
      try {
        if (via === "migrate") await migrate({ from, to: store.endpoint });
        else {
          const file = join(dir, "state.jsonl");
          await exportState({ from, to: file });
          await importState({ from: file, to: store.endpoint });
        }
        const s = await store.open("wf");
        try {
          assert.deepEqual(await lineage(s), want, via);
        } finally {
          await s.close();
        }
      } finally {
        await store.cleanup();
        removeDir(dir);
      }
    }
    await from.close();
  });
}

test("lineage: an export file of format version 1 imports without parents or head", async () => {
  const dir = tempDir();
  const backend = new MemoryBackend();
  try {
    const file = join(dir, "old.jsonl");
    const lines = [
      { format: "managing-state/export", version: 1, createdAt: 1, source: "json" },
      { type: "namespace", name: "wf" },
      { type: "key", ns: "wf", key: "phase", expiresAt: null, value: "build" },
      {
        type: "checkpoint",
        ns: "wf",
        name: "plan",
        createdAt: 5,
        auto: false,
        metadata: {},
        keyCount: 1,
      },
      {
        type: "checkpoint-key",
        ns: "wf",
        checkpoint: "plan",
        key: "phase",
        expiresAt: null,
        value: "plan",
      },
      { type: "end", namespaces: 1, keys: 1, checkpoints: 1 },
    ];
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
    await importState({ from: file, to: backend });
    const s = await StateManager.open({ backend, namespace: "wf" });
    assert.deepEqual(await lineage(s), { parents: { plan: null }, head: null });
    await s.restoreCheckpoint("plan");
    assert.equal(await s.load("phase"), "plan");
    await s.close();
  } finally {
    await backend.close();
    removeDir(dir);
  }
});
