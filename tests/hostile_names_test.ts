// Names and state files of the JSON backend under attack (issue 21, rows 6, 7,
// 12 and 17): file names that cannot collide (case, device names, trailing
// dots, hash collisions), data of the layout before the encoding still
// opening, locks and journals that cannot block writes for good, and a
// namespace size limit enforced before anything is written.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { BackendError, StateDamagedError, StateManager, ValidationError } from "../mod.ts";
import { exportState, importState } from "../migrate/mod.ts";
import { JsonBackend } from "../backends/json.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { compareKeys } from "../core/_keys.ts";
import { portabilityProblems } from "./_hostile.ts";
import { removeDir, tempDir } from "./_runtime.ts";

const open = (dir: string, namespace: string) =>
  StateManager.open({ backend: "json", dir, namespace });

test("hostile #17: names differing only in case, device names and trailing dots get files of their own, portable to any file system", async () => {
  const dir = tempDir();
  try {
    const namespaces = [
      "Plan",
      "plan",
      "PLAN",
      "CON",
      "con",
      "nul.x",
      "a.",
      "a",
      "Com1",
      "lpt9.log.",
    ];
    const checkpoints = ["After", "after", "CON", "aux.", "Lpt1.x"];
    for (const ns of namespaces) {
      const s = await open(dir, ns);
      await s.save("who", ns);
      for (const cp of checkpoints) await s.checkpoint(cp, { metadata: { cp } });
      await s.close();
    }
    assert.deepEqual(portabilityProblems(dir), []);
    for (const ns of namespaces) {
      const s = await open(dir, ns);
      assert.equal(await s.load("who"), ns);
      const listed = (await s.listCheckpoints()).map((c) => c.name).sort(compareKeys);
      assert.deepEqual(listed, [...checkpoints].sort(compareKeys));
      for (const c of await s.listCheckpoints()) assert.deepEqual(c.metadata, { cp: c.name });
      await s.close();
    }
    const backend = new JsonBackend({ dir });
    assert.deepEqual(await backend.namespaces(), [...namespaces].sort(compareKeys));
    await backend.close();
  } finally {
    removeDir(dir);
  }
});

/** Files as the release before the name encoding wrote them, for namespace `ns`. */
function legacyNamespace(dir: string, ns: string): void {
  const folder = join(dir, ns);
  mkdirSync(join(folder, "checkpoints"), { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {
    "state.json":
      `{\n  "format": "managing-state/json@1",\n  "generation": 1,\n  "entries": {}\n}\n`,
    "journal.jsonl": `{"format":"managing-state/journal@1","generation":1}\n` +
      `{"version": "mx5nlpsl.2.c4fb837260e0110e", "set": {"phase": {"value": "phase of ${ns}", "expiresAt": null}}, "delete": []}\n` +
      `{"version": "mx5nlput.3.c4fb837260e0110e", "set": {"phase": {"value": "later in ${ns}", "expiresAt": null}}, "delete": []}\n`,
    "checkpoints/After.jsonl":
      `{"format":"managing-state/checkpoint@1","name":"After","createdAt":1796187402482,"keyCount":1,"bytes":19,"auto":false,"metadata":{"ns":"${ns}"}}\n` +
      `{"key": "phase", "value": "phase of ${ns}", "version": "mx5nlpsl.2.c4fb837260e0110e", "expiresAt": null}\n`,
    // "name with space" was not file-safe: a 64-bit hash named its file.
    "checkpoints/~9c017eb41a5b258a.jsonl":
      `{"format":"managing-state/checkpoint@1","name":"name with space","createdAt":1796187402523,"keyCount":1,"bytes":19,"auto":false,"metadata":{}}\n` +
      `{"key": "phase", "value": "phase of ${ns}", "version": "mx5nlpsl.2.c4fb837260e0110e", "expiresAt": null}\n`,
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(folder, name), text, { mode: 0o600 });
  }
}

test("json: data written before the name encoding opens, and moves to its encoded folder", async () => {
  const dir = tempDir();
  try {
    const old = ["Plan", "CON", "a.", "plan"];
    for (const ns of old) legacyNamespace(dir, ns);
    const backend = new JsonBackend({ dir });
    assert.deepEqual(await backend.namespaces(), [...old].sort(compareKeys));
    await backend.close();
    for (const ns of old) {
      const s = await open(dir, ns);
      assert.equal(await s.load("phase"), `later in ${ns}`);
      const names = (await s.listCheckpoints()).map((c) => c.name).sort(compareKeys);
      assert.deepEqual(names, ["After", "name with space"]);
      await s.restoreCheckpoint("name with space");
      assert.equal(await s.load("phase"), `phase of ${ns}`);
      await s.save("phase", "new");
      // Writing a checkpoint of the old layout again replaces its old file.
      await s.checkpoint("name with space", { overwrite: true });
      await s.restoreCheckpoint("After");
      assert.equal(await s.load("phase"), `phase of ${ns}`);
      await s.restoreCheckpoint("name with space");
      assert.equal(await s.load("phase"), "new");
      await s.close();
    }
    assert.deepEqual(readdirSync(dir).sort(), ["^c^o^n", "^plan", "a.^", "plan"]);
    for (const folder of readdirSync(dir)) {
      const files = readdirSync(join(dir, folder, "checkpoints"));
      assert.ok(!files.includes("~9c017eb41a5b258a.jsonl"), `${folder}: ${files}`);
      assert.equal(files.length, 2, `${folder}: ${files}`);
    }
    assert.deepEqual(portabilityProblems(dir), []);
  } finally {
    removeDir(dir);
  }
});

// Both were one file, "~ae3d2e0c9aae918a.jsonl", under the 64-bit hash before
// (a pair found by a rho search in a couple of minutes).
const COLLIDING = ["cp 29a972d817f991de", "cp 65d9dc14ff5aec5a"] as const;

test("hostile #7: checkpoint names whose old file hashes collide are two checkpoints, and import never replaces one with the other", async () => {
  const root = tempDir();
  try {
    const [first, second] = COLLIDING;
    const dir = join(root, "state");
    const s = await open(dir, "wf");
    await s.save("v", 1);
    await s.checkpoint(first);
    await s.save("v", 2);
    await s.checkpoint(second);
    assert.deepEqual((await s.listCheckpoints()).map((c) => c.name).sort(), [first, second]);
    await s.save("v", 3);
    await s.checkpoint(second, { overwrite: true });
    await s.restoreCheckpoint(first);
    assert.equal(await s.load("v"), 1);
    await s.restoreCheckpoint(second);
    assert.equal(await s.load("v"), 3);
    await s.deleteCheckpoint(second);
    // An export holding the other name, imported without overwrite: the first stays.
    const source = new MemoryBackend();
    const m = await StateManager.open({ backend: source, namespace: "wf" });
    await m.save("v", 3); // the target's live value: only the checkpoint is new
    await m.checkpoint(second, { metadata: { from: "export" } });
    const file = join(root, "export.jsonl");
    await exportState({ from: source, to: file });
    await s.close();
    await importState({ from: file, to: { backend: "json", dir } });
    const t = await open(dir, "wf");
    await t.restoreCheckpoint(first);
    assert.equal(await t.load("v"), 1);
    const infos = await t.listCheckpoints();
    assert.deepEqual(infos.map((c) => c.name).sort(), [first, second]);
    assert.deepEqual(infos.find((c) => c.name === second)!.metadata, { from: "export" });
    await t.close();
    // A checkpoint file of the old layout answers only for the name inside it.
    const legacy = join(dir, "old");
    mkdirSync(join(legacy, "checkpoints"), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(legacy, "checkpoints", "~ae3d2e0c9aae918a.jsonl"),
      `{"format":"managing-state/checkpoint@1","name":"${first}","createdAt":1,"keyCount":0,"bytes":0,"auto":false,"metadata":{}}\n`,
      { mode: 0o600 },
    );
    const o = await open(dir, "old");
    await assert.rejects(o.restoreCheckpoint(second), /not found/);
    assert.deepEqual((await o.listCheckpoints()).map((c) => c.name), [first]);
    await o.close();
  } finally {
    removeDir(root);
  }
});

test("hostile #6: a lock dated in the future or of another host does not block writes for good; recover() clears it and says why", async () => {
  const dir = tempDir();
  try {
    const s = await open(dir, "wf");
    await s.save("a", 1);
    await s.close();
    const lock = join(dir, "wf", "lock");
    const plant = (holder: object) => writeFileSync(lock, JSON.stringify(holder), { mode: 0o600 });
    const backend = new JsonBackend({ dir, lock: { timeoutMs: 1000 } });
    const quick = await StateManager.open({ backend, namespace: "wf", retry: { attempts: 1 } });
    // From the future, by a live process of this host: no live writer on this clock wrote it.
    plant({ pid: process.pid, host: hostname(), token: "future-1", at: Date.now() + 864e5 });
    await quick.save("b", 2);
    plant({ pid: process.pid, host: hostname(), token: "future-2", at: Date.now() + 864e5 });
    assert.match((await quick.recover()).actions.join("\n"), /dated in the future/);
    // Another host's fresh lock: writers wait (up to staleMs), recover() removes it.
    plant({ pid: 1, host: "elsewhere.invalid", token: "other-host", at: Date.now() });
    await assert.rejects(quick.save("c", 3), (e: unknown) => {
      assert.ok(e instanceof BackendError && e.transient, String(e));
      return true;
    });
    const report = await quick.recover();
    assert.match(report.actions.join("\n"), /another host, elsewhere\.invalid/);
    await quick.save("c", 3);
    assert.deepEqual(await quick.loadMany(["a", "b", "c"]), { a: 1, b: 2, c: 3 });
    await quick.close();
    await backend.close();
  } finally {
    removeDir(dir);
  }
});

test("hostile #6: a journal generation far ahead of the snapshot is damage that recover() repairs", async () => {
  const dir = tempDir();
  try {
    const backend = new JsonBackend({ dir, compactBytes: 100 });
    const s = await StateManager.open({ backend, namespace: "wf" });
    for (let i = 0; i < 5; i++) await s.save(`k${i}`, "x".repeat(40)); // folded into the snapshot
    await s.close();
    await backend.close();
    const journal = join(dir, "wf", "journal.jsonl");
    const lines = readFileSync(journal, "utf8").split("\n");
    lines[0] = JSON.stringify({ format: "managing-state/journal@1", generation: 999999 });
    writeFileSync(journal, lines.join("\n"));
    const started = Date.now();
    await assert.rejects(open(dir, "wf"), (e: unknown) => {
      assert.ok(e instanceof StateDamagedError, String(e));
      assert.match(e.message, /generation 999999 is ahead of the snapshot's/);
      return true;
    });
    assert.ok(Date.now() - started < 5000, "refused at once, not retried");
    const r = await StateManager.open({ backend: "json", dir, namespace: "wf", recover: true });
    assert.equal(await r.load("k0"), "x".repeat(40));
    await r.save("after", 1);
    assert.equal(await r.load("after"), 1);
    await r.close();
  } finally {
    removeDir(dir);
  }
});

test("hostile #12: the JSON backend refuses a write past its namespace size limit before writing anything", async () => {
  const dir = tempDir();
  try {
    const backend = new JsonBackend({ dir, maxNamespaceBytes: 200_000 });
    const s = await StateManager.open({ backend, namespace: "wf" });
    const value = "x".repeat(50_000);
    let refused: unknown;
    let saved = 0;
    for (let i = 0; i < 10 && !refused; i++) {
      try {
        await s.save(`k${i}`, value);
        saved++;
      } catch (error) {
        refused = error;
      }
    }
    assert.ok(refused instanceof ValidationError, String(refused));
    assert.match(refused.message, /would hold \d+ bytes; the JSON backend's limit is 200000/);
    assert.equal(saved, 3);
    const journal = join(dir, "wf", "journal.jsonl");
    const size = statSync(journal).size;
    await assert.rejects(s.save("more", value), ValidationError);
    assert.equal(statSync(journal).size, size, "nothing was written");
    await s.delete("k0");
    await s.save("more", value); // room again
    assert.equal((await s.listKeys()).keys.length, 3);
    await s.close();
    await backend.close();
    assert.throws(() => new JsonBackend({ dir, maxNamespaceBytes: 2 ** 40 }), ValidationError);
  } finally {
    removeDir(dir);
  }
});
