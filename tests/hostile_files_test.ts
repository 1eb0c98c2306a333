// Hostile files in the JSON backend's state folder (issue 21, rows 2, 3, 9,
// 10 and 11): links and special files are never followed, read or written
// through; nothing hangs; recover() writes nothing through a planted name and
// never removes what a live writer is writing; folders that others own or may
// write are refused.
import assert from "node:assert/strict";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { BackendError, StateDamagedError, StateManager } from "../mod.ts";
import { JsonBackend } from "../backends/json.ts";
import { cliWithin } from "./_hostile.ts";
import { removeDir, runCommand, runScript, tempDir } from "./_runtime.ts";

const posix = process.platform !== "win32";
const skip = !posix && "POSIX links, FIFOs and modes";
const open = (dir: string, namespace = "default") =>
  StateManager.open({ backend: "json", dir, namespace });

/** A state folder with one namespace holding key "a" = 1 and checkpoint "cp". */
async function populated(root: string): Promise<{ dir: string; ns: string }> {
  const dir = join(root, "state");
  const s = await open(dir);
  await s.save("a", 1);
  await s.checkpoint("cp");
  await s.save("b", 2);
  await s.close();
  return { dir, ns: join(dir, "default") };
}

/** A folder outside the state folder holding two files, and what it holds. */
function outsideFolder(root: string): { path: string; contents: () => Record<string, string> } {
  const path = join(root, "elsewhere");
  mkdirSync(path);
  writeFileSync(join(path, "victim.jsonl"), "precious\n");
  writeFileSync(join(path, "notes.txt"), "keep me");
  return {
    path,
    contents: () =>
      Object.fromEntries(
        readdirSync(path).sort().map((f) => [f, readFileSync(join(path, f), "utf8")]),
      ),
  };
}

const untouched = { "notes.txt": "keep me", "victim.jsonl": "precious\n" };

test(
  "hostile #2: links planted in a namespace folder are never followed: clear(), recover() and writes leave the outside alone",
  {
    skip,
  },
  async () => {
    const root = tempDir();
    try {
      const { dir, ns } = await populated(root);
      const outside = outsideFolder(root);
      renameSync(join(ns, "checkpoints"), join(root, "real-checkpoints"));
      symlinkSync(outside.path, join(ns, "checkpoints"));
      const s = await open(dir);
      await assert.rejects(s.clear(), (e: unknown) => {
        assert.ok(e instanceof StateDamagedError, String(e));
        assert.match(e.message, /checkpoints is a symbolic link/);
        return true;
      });
      await assert.rejects(s.listCheckpoints(), StateDamagedError);
      assert.deepEqual(outside.contents(), untouched);
      assert.deepEqual(await s.loadMany(["a", "b"]), { a: 1, b: 2 }, "clear() changed nothing");
      // recover() moves the link itself aside; nothing outside is renamed or deleted.
      const report = await s.recover();
      assert.match(report.actions.join("\n"), /moved a symbolic link .*checkpoints aside/);
      assert.deepEqual(outside.contents(), untouched);
      assert.deepEqual(await s.listCheckpoints(), []);
      // A journal linked to a file outside: saved values never go there.
      const out = join(root, "out.txt");
      writeFileSync(out, "");
      rmSync(join(ns, "journal.jsonl"));
      symlinkSync(out, join(ns, "journal.jsonl"));
      await assert.rejects(s.save("c", "secret"), StateDamagedError);
      await s.close();
      await assert.rejects(open(dir), /journal\.jsonl is a symbolic link/);
      assert.equal(readFileSync(out, "utf8"), "");
      // And a linked snapshot is damage too; recover() sets both links aside and rebuilds.
      rmSync(join(ns, "state.json"));
      symlinkSync(join(outside.path, "victim.jsonl"), join(ns, "state.json"));
      await assert.rejects(open(dir), /state\.json is a symbolic link/);
      const r = await StateManager.open({
        backend: "json",
        dir,
        namespace: "default",
        recover: true,
      });
      await r.save("c", 3);
      assert.equal(await r.load("c"), 3);
      await r.close();
      assert.equal(readFileSync(out, "utf8"), "");
      assert.deepEqual(outside.contents(), untouched);
      // A namespace folder that is itself a link to a folder elsewhere.
      symlinkSync(outside.path, join(dir, "linked"));
      await assert.rejects(open(dir, "linked"), /linked is a symbolic link/);
      const backend = new JsonBackend({ dir });
      const fixed = await backend.recover("linked");
      await backend.close();
      assert.match(fixed.actions.join("\n"), /moved a symbolic link .*linked aside/);
      const l = await open(dir, "linked");
      await l.save("x", 1);
      await l.close();
      assert.deepEqual(outside.contents(), untouched);
    } finally {
      removeDir(root);
    }
  },
);

async function mkfifo(path: string): Promise<void> {
  const r = await runCommand("mkfifo", [path]);
  assert.equal(r.code, 0, `mkfifo: ${r.stderr}`);
}

test(
  "hostile #3: FIFOs and links to /dev/zero as state files are reported as damage and never read: nothing hangs",
  {
    skip,
  },
  async () => {
    const root = tempDir();
    try {
      const { dir, ns } = await populated(root);
      const cli = (...args: string[]) => cliWithin([...args, "--dir", dir]);
      const cp = join(ns, "checkpoints", "cp.jsonl");
      const aside = join(root, "cp.jsonl");
      // The snapshot as a link to /dev/zero: load and save fail at once, recover() repairs.
      renameSync(join(ns, "state.json"), join(root, "state.json"));
      symlinkSync("/dev/zero", join(ns, "state.json"));
      for (const args of [["load", "--key", "a"], ["save", "--key", "x", "--value", "1"]]) {
        const r = await cli(...args);
        assert.equal(r.code, 1, r.err);
        assert.match(r.err, /state\.json is a symbolic link/);
      }
      assert.equal((await cli("recover")).code, 0);
      assert.equal((await cli("load", "--key", "b")).out, "2");
      // A checkpoint file as a link to /dev/zero: listing fails at once; recover() sets it aside.
      renameSync(cp, aside);
      symlinkSync("/dev/zero", cp);
      const listed = await cli("checkpoints");
      assert.equal(listed.code, 1);
      assert.match(listed.err, /cp\.jsonl is a symbolic link/);
      const recovered = await cli("recover");
      assert.match(recovered.out, /moved a symbolic link .*cp\.jsonl aside/);
      renameSync(aside, cp);
      assert.match((await cli("checkpoints")).out, /^cp /m);
      // The lock as a FIFO, then as a link to /dev/zero: a damaged lock, broken like any other.
      await mkfifo(join(ns, "lock"));
      const saved = await cli("save", "--key", "x", "--value", "1");
      assert.equal(saved.code, 0, saved.err);
      symlinkSync("/dev/zero", join(ns, "lock"));
      assert.match((await cli("recover")).out, /removed an unreadable lock file/);
      assert.equal((await cli("save", "--key", "y", "--value", "2")).code, 0);
      // The journal as a FIFO: damage, and recover() moves it aside.
      rmSync(join(ns, "journal.jsonl"));
      await mkfifo(join(ns, "journal.jsonl"));
      const fifo = await cli("load", "--key", "a");
      assert.equal(fifo.code, 1);
      assert.match(fifo.err, /journal\.jsonl is a FIFO/);
      assert.match((await cli("recover")).out, /moved a FIFO .*journal\.jsonl aside/);
      assert.equal((await cli("load", "--key", "a")).out, "1");
    } finally {
      removeDir(root);
    }
  },
);

test(
  "hostile #9: recover() writes its copy of a damaged file under a name nobody can plant a link at",
  {
    skip,
  },
  async () => {
    const root = tempDir();
    try {
      const { dir, ns } = await populated(root);
      const journal = join(ns, "journal.jsonl");
      writeFileSync(journal, readFileSync(journal, "utf8") + "not a journal line\n");
      // Links at every name of the old scheme (<file>.damaged-<ISO time>) for the next 4 s.
      const target = join(root, "target.txt");
      writeFileSync(target, "");
      const now = Date.now();
      for (let t = now; t < now + 4000; t++) {
        const stamp = new Date(t).toISOString().replaceAll(":", "");
        symlinkSync(target, `${journal}.damaged-${stamp}`);
      }
      const backend = new JsonBackend({ dir });
      const report = await backend.recover("default");
      await backend.close();
      assert.equal(readFileSync(target, "utf8"), "", "nothing was written through a planted link");
      const copy = report.quarantined.find((p) => p.startsWith(`${journal}.damaged-`));
      assert.ok(copy, JSON.stringify(report));
      assert.ok(lstatSync(copy).isFile(), "the copy is a new regular file");
      assert.match(readFileSync(copy, "utf8"), /not a journal line/);
    } finally {
      removeDir(root);
    }
  },
);

test("hostile #10: a state folder another user owns or may write is refused with a clear error", {
  skip,
}, async () => {
  const root = tempDir();
  try {
    // Writable by others: anyone could replace state.json.
    const open777 = join(root, "open");
    mkdirSync(open777);
    chmodSync(open777, 0o777);
    await assert.rejects(open(open777), (e: unknown) => {
      assert.ok(e instanceof BackendError, String(e));
      assert.match(e.message, /writable by other users \(mode 0777\).*chmod go-w/);
      return true;
    });
    assert.deepEqual(readdirSync(open777), [], "nothing was written");
    // A namespace folder another user could write, inside a good state folder.
    const good = join(root, "good");
    mkdirSync(join(good, "wf"), { recursive: true });
    chmodSync(join(good, "wf"), 0o777);
    await assert.rejects(open(good, "wf"), /wf is writable by other users/);
    // Owned by another user: a folder made and given away as root, else one root owns.
    let foreign = "/";
    if (process.getuid?.() === 0) {
      foreign = join(root, "foreign");
      mkdirSync(foreign, { mode: 0o700 });
      chownSync(foreign, 65534, 65534);
    }
    await assert.rejects(open(foreign), /belongs to another user/);
    if (foreign !== "/") assert.deepEqual(readdirSync(foreign), []);
  } finally {
    removeDir(root);
  }
});

const updateChild = fileURLToPath(new URL("./_update_child.ts", import.meta.url));

test("hostile #11: recover() never deletes a temp file a live writer is still writing", {
  skip,
}, async () => {
  const root = tempDir();
  try {
    const { dir, ns } = await populated(root);
    // What a writer waiting for the lock has on disk (its pid in the name), a dead
    // writer's, an old-format one just written, and a dead holder's snapshot temp.
    const live = join(ns, `.tmp-lock-${process.pid}.k2x9`);
    const dead = join(ns, ".tmp-lock-4194305.k2x9");
    const unknown = join(ns, ".tmp-lock-12345");
    const leftover = join(ns, ".tmp-state.json-4194305.k2x9");
    for (const f of [live, dead, unknown, leftover]) writeFileSync(f, "{}");
    const s = await open(dir);
    const report = await s.recover();
    const names = readdirSync(ns);
    assert.ok(names.includes(".tmp-lock-" + process.pid + ".k2x9"), "a live writer's lock temp");
    assert.ok(names.includes(".tmp-lock-12345"), "a fresh lock temp of unknown owner");
    assert.ok(!names.includes(".tmp-lock-4194305.k2x9"), "a dead writer's lock temp");
    assert.ok(!names.includes(".tmp-state.json-4194305.k2x9"), "a dead holder's temp");
    assert.match(report.actions.join("\n"), /removed temp file .*\.tmp-state\.json-/);
    for (const f of [live, unknown]) rmSync(f);
    // recover() in a loop next to two writers: every save succeeds.
    const options = { backend: "json", dir, namespace: "race" };
    const writers = Promise.all(
      [1, 2].map(() => runScript(updateChild, [JSON.stringify(options), "n", "150"])),
    );
    let done = false;
    const writing = writers.finally(() => (done = true));
    const r = await open(dir, "race");
    let loops = 0;
    while (!done) {
      await r.recover();
      loops++;
      await new Promise((resolve) => setTimeout(resolve, 1)); // let the children's events in
    }
    for (const w of await writing) assert.equal(w.code, 0, w.stderr);
    assert.equal(await r.load("n"), 300);
    assert.ok(loops > 10, `recover() ran ${loops} times`);
    await r.close();
    await s.close();
  } finally {
    removeDir(root);
  }
});
