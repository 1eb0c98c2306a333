// Damage and recovery of the JSON backend's files: every damaged file gives a
// clear StateDamagedError that says to run recover(); recover() brings the
// namespace back from the last good copy, keeps the damaged file aside, and
// loses nothing that was still readable.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { JsonBackend } from "../backends/json.ts";
import { StateDamagedError, StateManager } from "../mod.ts";
import { removeDir, tempDir } from "./_runtime.ts";

type Damage = "truncate" | "garble" | "empty";
const DAMAGES: Damage[] = ["truncate", "garble", "empty"];

function damage(path: string, how: Damage): void {
  const size = statSync(path).size;
  if (how === "empty") truncateSync(path, 0);
  else if (how === "truncate") truncateSync(path, Math.floor(size / 2));
  else {
    const bytes = readFileSync(path);
    bytes.fill(0x7b, Math.floor(size / 3), Math.floor(size / 3) + 12); // a run of "{"
    writeFileSync(path, bytes);
  }
}

/** A namespace with two snapshot generations, a journal tail and two checkpoints. */
async function populate(dir: string) {
  const backend = new JsonBackend({ dir, compactBytes: 200 });
  const s = await StateManager.open({ backend, namespace: "wf" });
  const expected: Record<string, unknown> = {};
  for (let i = 0; i < 12; i++) {
    expected[`k${i}`] = { i, text: `value ${i}` };
    await s.save(`k${i}`, expected[`k${i}`]);
  }
  await s.checkpoint("cp-old");
  await s.save("after-old", 1);
  expected["after-old"] = 1;
  await s.checkpoint("cp-new");
  await s.save("tail", "in the journal");
  expected.tail = "in the journal";
  await s.close();
  return expected;
}

const open = (dir: string, recover = false) =>
  StateManager.open({ backend: "json", dir, namespace: "wf", recover });

async function contents(s: StateManager) {
  return await s.loadMany((await s.listKeys()).keys);
}

for (const how of DAMAGES) {
  test(`json: a ${how} state.json fails to open, and recover() restores every key`, async () => {
    const dir = tempDir();
    try {
      const expected = await populate(dir);
      damage(join(dir, "wf", "state.json"), how);
      await assert.rejects(open(dir), (e: unknown) => {
        assert.ok(e instanceof StateDamagedError);
        assert.equal(e.code, "STATE_DAMAGED");
        assert.match(e.message, /state\.json is damaged .*run recover\(\)/);
        return true;
      });
      const s = await open(dir, true);
      assert.deepEqual(await contents(s), expected);
      await s.close();
      const aside = readdirSync(join(dir, "wf")).filter((f) => f.includes(".damaged-"));
      assert.equal(aside.length, 1, "the damaged file is kept aside");
      const again = await open(dir);
      assert.deepEqual(await contents(again), expected);
      await again.close();
    } finally {
      removeDir(dir);
    }
  });

  test(`json: a ${how} checkpoint file gives a clear error; recover() sets it aside`, async () => {
    const dir = tempDir();
    try {
      const expected = await populate(dir);
      damage(join(dir, "wf", "checkpoints", "cp-new.jsonl"), how);
      const s = await open(dir);
      // Listing reads only each file's first line; restoring reads it all.
      if (how === "empty") await assert.rejects(s.listCheckpoints(), StateDamagedError);
      await assert.rejects(s.restoreCheckpoint("cp-new"), /cp-new\.jsonl.* is damaged/);
      await assert.rejects(s.diffCheckpoint("cp-new"), StateDamagedError);
      assert.deepEqual(await contents(s), expected, "a failed restore changes nothing");
      const report = await s.recover();
      assert.equal(report.ok, true);
      assert.equal(report.quarantined.length, 1);
      assert.match(report.actions.join("\n"), /moved damaged checkpoint/);
      assert.deepEqual((await s.listCheckpoints()).map((c) => c.name), ["cp-old"]);
      assert.deepEqual(await contents(s), expected);
      await s.close();
    } finally {
      removeDir(dir);
    }
  });
}

test("json: a garbled journal line fails to open; recover() keeps every other record", async () => {
  const dir = tempDir();
  try {
    const backend = new JsonBackend({ dir });
    const s = await StateManager.open({ backend, namespace: "wf" });
    for (let i = 0; i < 5; i++) await s.save(`k${i}`, i);
    await s.close();
    const path = join(dir, "wf", "journal.jsonl");
    const lines = readFileSync(path, "utf8").split("\n");
    lines[3] = lines[3]!.replace('"value"', '"val{{');
    writeFileSync(path, lines.join("\n"));
    await assert.rejects(open(dir), /journal\.jsonl line 4 is damaged/);
    const r = await open(dir, true);
    assert.deepEqual(await contents(r), { k0: 0, k1: 1, k3: 3, k4: 4 });
    await r.close();
  } finally {
    removeDir(dir);
  }
});

test("json: an empty journal fails to open; recover() keeps the snapshot", async () => {
  const dir = tempDir();
  try {
    const expected = await populate(dir);
    const journal = join(dir, "wf", "journal.jsonl");
    // What the journal held since the last snapshot is gone with it; the rest must survive.
    const lost = readFileSync(journal, "utf8").trim().split("\n").slice(1)
      .flatMap((line) => Object.keys(JSON.parse(line).set));
    assert.ok(lost.length > 0 && lost.length < Object.keys(expected).length);
    truncateSync(journal, 0);
    await assert.rejects(open(dir), StateDamagedError);
    const s = await open(dir, true);
    const kept = Object.fromEntries(Object.entries(expected).filter(([k]) => !lost.includes(k)));
    assert.deepEqual(await contents(s), kept);
    await s.close();
  } finally {
    removeDir(dir);
  }
});

test("json: a torn last journal line (a writer killed mid-append) is ignored and repaired", async () => {
  const dir = tempDir();
  try {
    const s = await open(dir);
    await s.save("a", 1);
    await s.close();
    const path = join(dir, "wf", "journal.jsonl");
    writeFileSync(path, readFileSync(path, "utf8") + '{"version": "x", "set": {"b": {"val');
    const r = await open(dir);
    assert.deepEqual(await contents(r), { a: 1 });
    await r.save("c", 3); // the next writer cuts the torn tail off first
    await r.close();
    const again = await open(dir);
    assert.deepEqual(await contents(again), { a: 1, c: 3 });
    await again.close();
  } finally {
    removeDir(dir);
  }
});

test("json: recover() removes a dead process's lock and temp files", async () => {
  const dir = tempDir();
  try {
    const s = await open(dir);
    await s.save("a", 1);
    await s.close();
    const ns = join(dir, "wf");
    // pid 2^22+1 is above Linux's pid_max default, so no such process exists.
    writeFileSync(
      join(ns, "lock"),
      JSON.stringify({
        pid: 4194305,
        host: (await import("node:os")).hostname(),
        token: "t",
        at: Date.now(),
      }),
    );
    writeFileSync(join(ns, ".tmp-state.json-123"), "{partial");
    const r = await open(dir);
    const report = await r.recover();
    assert.match(report.actions.join("\n"), /removed a stale lock left by pid 4194305/);
    assert.match(report.actions.join("\n"), /removed temp file .*\.tmp-state\.json-123/);
    assert.deepEqual(readdirSync(ns).filter((f) => f === "lock" || f.startsWith(".tmp-")), []);
    await r.save("b", 2); // writable again
    assert.deepEqual(await contents(r), { a: 1, b: 2 });
    await r.close();
  } finally {
    removeDir(dir);
  }
});

test("json: a writer breaks a dead process's lock by itself", async () => {
  const dir = tempDir();
  try {
    const s = await open(dir);
    await s.save("a", 1);
    writeFileSync(
      join(dir, "wf", "lock"),
      JSON.stringify({
        pid: 4194305,
        host: (await import("node:os")).hostname(),
        token: "t",
        at: Date.now(),
      }),
    );
    await s.save("b", 2);
    assert.equal(await s.load("b"), 2);
    await s.close();
  } finally {
    removeDir(dir);
  }
});

test("json: files are 0600 and folders 0700", async () => {
  const dir = tempDir();
  try {
    const s = await open(dir);
    await s.save("a", 1);
    await s.checkpoint("cp");
    await s.close();
    const ns = join(dir, "wf");
    assert.equal(statSync(ns).mode & 0o777, 0o700);
    assert.equal(statSync(join(ns, "checkpoints")).mode & 0o777, 0o700);
    for (const f of ["state.json", "journal.jsonl", "checkpoints/cp.jsonl"]) {
      assert.equal(statSync(join(ns, f)).mode & 0o777, 0o600, f);
    }
  } finally {
    removeDir(dir);
  }
});
