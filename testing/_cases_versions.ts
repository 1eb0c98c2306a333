// Versions are unique everywhere: commits, restores and imports write fresh
// ones, so a version check never mistakes one value for another (issue:
// "restore is not exact after an import").
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportState, importState, migrate } from "../migrate/migrate.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { StateManager } from "../state_manager.ts";
import { checkpointRequest, type Define, req, setOp } from "./_define.ts";

const NS = "wf";

/** Registers the version cases. */
export function versionCases(it: Define): void {
  it("a restore writes fresh versions, different on every restore", async (b) => {
    const op = setOp({ x: "1" });
    await b.commit(NS, op);
    await b.checkpoint(NS, checkpointRequest("cp"));
    const [saved] = await b.readCheckpoint(NS, "cp") ?? [];
    assert.equal(saved?.version, op.version);
    await b.restore(NS, "cp", req());
    const first = (await b.get(NS, ["x"]))[0]!;
    await b.restore(NS, "cp", req());
    const second = (await b.get(NS, ["x"]))[0]!;
    assert.equal(first.value, "1");
    assert.notEqual(first.version, op.version);
    assert.notEqual(second.version, first.version);
  });

  it("restores are exact between imported checkpoints that share versions", async (b) => {
    // Files written before versions were made unique carry one version for every entry.
    const info = (name: string) => ({
      name,
      createdAt: 1,
      keyCount: 1,
      bytes: 0,
      auto: false,
      metadata: {},
      parent: null,
    });
    const entry = (value: string) => ({ key: "x", value, version: "imported", expiresAt: null });
    await b.importCheckpoint(NS, info("a"), [entry("1")]);
    await b.importCheckpoint(NS, info("b"), [entry("2")]);
    for (const [name, want] of [["a", "1"], ["b", "2"], ["a", "1"]] as const) {
      assert.equal(await b.restore(NS, name, req()), true);
      assert.equal((await b.get(NS, ["x"]))[0]?.value, want, `after restoring ${name}`);
    }
  });

  it("an imported export restores exactly: restore a, restore b gives b", async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), "ms-suite-"));
    const source = new MemoryBackend();
    try {
      const s = await StateManager.open({ backend: source, namespace: NS });
      await s.save("x", 1);
      await s.checkpoint("a");
      await s.save("x", 2);
      await s.checkpoint("b");
      await s.close();
      const file = join(dir, "state.jsonl");
      await exportState({ from: source, to: file });
      await importState({ from: file, to: backend });
      const t = await StateManager.open({ backend, namespace: NS });
      try {
        await t.restoreCheckpoint("a");
        assert.equal(await t.load("x"), 1);
        await t.restoreCheckpoint("b");
        assert.equal(await t.load("x"), 2);
        const [imported] = await t.getEntries(["x"]);
        const all = await Promise.all(["a", "b"].map((n) => backend.readCheckpoint(NS, n)));
        const versions = all.flatMap((entries) => entries!.map((e) => e.version));
        assert.equal(new Set([...versions, imported!.version]).size, 3, "versions are unique");
      } finally {
        await t.close();
      }
    } finally {
      await source.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a legacy import gets unique versions and restores exactly", async (backend) => {
    const dir = mkdtempSync(join(tmpdir(), "ms-suite-"));
    try {
      // The Python reference implementation's JSON layout: {key: {value, timestamp}}.
      const dict = (x: number) => JSON.stringify({ x: { value: x, timestamp: "2024-01-01" } });
      mkdirSync(join(dir, NS, "checkpoints"), { recursive: true });
      writeFileSync(join(dir, NS, "state.json"), dict(3));
      writeFileSync(join(dir, NS, "checkpoints", "a.json"), dict(1));
      writeFileSync(join(dir, NS, "checkpoints", "b.json"), dict(2));
      await migrate({ from: { backend: "legacy-json", dir }, to: backend });
      const versions = [(await backend.get(NS, ["x"]))[0]!.version];
      for (const name of ["a", "b"]) {
        versions.push(...(await backend.readCheckpoint(NS, name))!.map((e) => e.version));
      }
      assert.equal(new Set(versions).size, 3, "versions are unique");
      for (const [name, want] of [["a", "1"], ["b", "2"]] as const) {
        await backend.restore(NS, name, req());
        assert.equal((await backend.get(NS, ["x"]))[0]?.value, want);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("commits give every key written the commit's version, unique per commit", async (b) => {
    const first = setOp({ a: "1", b: "2" });
    const second = setOp({ b: "3" });
    await b.commit(NS, first);
    await b.commit(NS, second);
    const [a, bb] = await b.get(NS, ["a", "b"]);
    assert.deepEqual([a?.version, bb?.version], [first.version, second.version]);
  });
}
