// CLI tests, part five: where the state came from. `status` (head, changes
// since it, the newest checkpoint, an abandoned branch), the head marker and
// lineage tree of `checkpoints`, and `diff` from the head, on json and sqlite;
// a restore leaves a running step's lease and run record as they are.
import assert from "node:assert/strict";
import { test } from "node:test";
import { run } from "../cli.ts";
import { type ManagerOptions, RESERVED_PREFIX, StateManager } from "../mod.ts";
import { removeDir, tempDir } from "./_runtime.ts";

function cliIn(dir: string, backend: string) {
  return async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    // The location flags go before a command after "--" (step's), which they would join.
    const at = args.includes("--") ? args.indexOf("--") : args.length;
    const flags = ["--dir", dir, "--namespace", "wf", "--backend", backend];
    const code = await run([...args.slice(0, at), ...flags, ...args.slice(at)], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      stdin: () => Promise.resolve(""),
      stderrIsTty: false,
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
}

const TIME = "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";

for (const backend of ["json", "sqlite"]) {
  test(`cli: ${backend}: status shows the head, what changed since, and an abandoned branch`, async () => {
    const dir = tempDir();
    const cli = cliIn(dir, backend);
    const ok = async (args: string[]) => {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      // Checkpoints a few ms apart, so "newest" and "oldest first" never tie.
      if (args[0] === "checkpoint") await new Promise((r) => setTimeout(r, 3));
      return r.out;
    };
    try {
      const empty = await ok(["status"]);
      assert.match(empty, /^head:\s+none \(no checkpoint taken or restored yet\)$/m);
      assert.match(empty, /^newest:\s+none$/m);
      const noHead = await cli(["diff"]);
      assert.equal(noHead.code, 2);
      assert.match(noHead.err, /no head to diff from: give --from/);

      await ok(["save", "--key", "phase", "--value", "scout"]);
      await ok(["checkpoint", "--name", "scout", "--metadata", '{"phase": "scout"}']);
      await ok(["save", "--values", '{"phase": "plan", "plan": [1]}']);
      await ok(["checkpoint", "--name", "plan"]);
      await ok(["save", "--key", "phase", "--value", "build"]);
      await ok(["checkpoint", "--name", "build_failed", "--metadata", '{"ok": false}']);
      let status = JSON.parse(await ok(["status", "--json"]));
      assert.deepEqual(status.head.name, "build_failed");
      assert.equal(status.head.via, "checkpoint");
      assert.equal(status.abandoned, false);

      // The failed build is rolled back: the head moves to plan, the newest stays build_failed.
      await ok(["restore", "--checkpoint", "plan"]);
      await ok(["incr", "--key", "attempts"]);
      await ok(["delete", "--key", "plan"]);
      status = JSON.parse(await ok(["status", "--json"]));
      assert.deepEqual(Object.keys(status).sort(), [
        "abandoned",
        "backend",
        "changes",
        "head",
        "keyCount",
        "location",
        "namespace",
        "newest",
      ]);
      assert.deepEqual(
        [status.namespace, status.backend, status.keyCount, status.head.name, status.head.via],
        ["wf", backend, 2, "plan", "restore"],
      );
      assert.deepEqual(status.changes, { added: ["attempts"], removed: ["plan"], changed: [] });
      assert.equal(status.newest.name, "build_failed");
      assert.equal(status.newest.parent, "plan");
      assert.equal(status.abandoned, true);

      const text = await ok(["status"]);
      assert.match(text, new RegExp(`^head:\\s+plan \\(restored ${TIME}\\)$`, "m"));
      assert.match(text, new RegExp(`^newest:\\s+build_failed \\(${TIME}\\)$`, "m"));
      assert.match(
        text,
        /^since head:\s+1 added, 1 removed, 0 changed\n {2}\+ attempts\n {2}- plan$/m,
      );
      assert.match(
        text,
        /^hint: the newest checkpoint, build_failed, is not an ancestor of the head plan: .*"restore --checkpoint build_failed".*"checkpoints --tree"/m,
      );

      // diff defaults to the head.
      assert.equal(await ok(["diff"]), "+ attempts\n- plan");
      assert.equal(await ok(["diff", "--values"]), "+ attempts = 1\n- plan = [1]");
      assert.equal(await ok(["diff", "--from", "scout"]), "+ attempts\n~ phase");

      // A new branch from plan: the head is taken, and is the newest again.
      await ok(["checkpoint", "--name", "build_ok"]);
      status = JSON.parse(await ok(["status", "--json"]));
      assert.deepEqual([status.head.name, status.head.via, status.abandoned], [
        "build_ok",
        "checkpoint",
        false,
      ]);
      assert.doesNotMatch(await ok(["status"]), /hint:/);
    } finally {
      removeDir(dir);
    }
  });

  test(`cli: ${backend}: checkpoints marks the head; --tree draws the lineage`, async () => {
    const dir = tempDir();
    const cli = cliIn(dir, backend);
    const ok = async (args: string[]) => {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
      // Checkpoints a few ms apart, so "newest" and "oldest first" never tie.
      if (args[0] === "checkpoint") await new Promise((r) => setTimeout(r, 3));
      return r.out;
    };
    try {
      assert.equal((await cli(["checkpoints", "--tree"])).err, "no checkpoints");
      assert.deepEqual(JSON.parse(await ok(["checkpoints", "--tree", "--json"])), []);
      await ok(["save", "--key", "k", "--value", "1"]);
      await ok(["checkpoint", "--name", "root", "--metadata", '{"phase": "scout"}']);
      await ok(["checkpoint", "--name", "a"]);
      await ok(["checkpoint", "--name", "a1"]);
      await ok(["restore", "--checkpoint", "a"]);
      await ok(["checkpoint", "--name", "a2"]);
      await ok(["restore", "--checkpoint", "root"]);
      await ok(["checkpoint", "--name", "b"]);
      await ok(["restore", "--checkpoint", "a2"]);

      const table = (await ok(["checkpoints"])).split("\n");
      assert.match(table[0]!, /^NAME\s+CREATED\s+KEYS\s+SIZE\s+METADATA$/);
      assert.deepEqual(table.slice(1).map((l) => l.split(/\s+/)[0]), [
        "b",
        "a2",
        "a1",
        "a",
        "root",
      ]);
      assert.match(table[2]!, /^a2 \*\s/);
      assert.equal(table.filter((l) => l.includes(" * ")).length, 1);
      const list = JSON.parse(await ok(["checkpoints", "--json"])) as {
        name: string;
        head: boolean;
        parent: string | null;
      }[];
      assert.deepEqual(list.filter((c) => c.head).map((c) => c.name), ["a2"]);
      assert.deepEqual(
        Object.fromEntries(list.map((c) => [c.name, c.parent])),
        { b: "root", a2: "a", a1: "a", a: "root", root: null },
      );

      const tree = (await ok(["checkpoints", "--tree"])).split("\n");
      const shape = tree.map((l) => l.replace(new RegExp(`  ${TIME}  .*$`), ""));
      assert.deepEqual(shape, [
        "root",
        "├─ a",
        "│  ├─ a1",
        "│  └─ a2 *",
        "└─ b",
      ]);
      assert.match(tree[0]!, /\{"phase":"scout"\}$/);
      const rows = JSON.parse(await ok(["checkpoints", "--tree", "--json"])) as {
        name: string;
        depth: number;
        head: boolean;
      }[];
      assert.deepEqual(rows.map((r) => [r.name, r.depth, r.head]), [
        ["root", 0, false],
        ["a", 1, false],
        ["a1", 2, false],
        ["a2", 2, true],
        ["b", 1, false],
      ]);
    } finally {
      removeDir(dir);
    }
  });
}

for (const backend of ["json", "sqlite"]) {
  test(`cli: ${backend}: restore --keep-prefix keeps those keys' live values`, async () => {
    const dir = tempDir();
    const cli = cliIn(dir, backend);
    try {
      for (
        const args of [
          ["save", "--values", '{"phase": "plan", "attempts:build": 0}'],
          ["checkpoint", "--name", "plan"],
          ["save", "--values", '{"phase": "build", "attempts:build": 1, "attempts:new": 1}'],
        ]
      ) assert.equal((await cli(args)).code, 0, args.join(" "));
      const r = await cli([
        "restore",
        "--checkpoint",
        "plan",
        "--keep-prefix",
        "attempts:",
        "--json",
      ]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), { restored: "plan", kept: "attempts:" });
      const dump = await cli(["dump", "--json"]);
      assert.deepEqual(JSON.parse(dump.out), {
        "attempts:build": 1,
        "attempts:new": 1,
        phase: "plan",
      });
      // Without it, the restore is exact.
      assert.equal((await cli(["restore", "--checkpoint", "plan"])).code, 0);
      assert.deepEqual(JSON.parse((await cli(["dump", "--json"])).out), {
        "attempts:build": 0,
        phase: "plan",
      });
    } finally {
      removeDir(dir);
    }
  });
}

for (const backend of ["json", "sqlite"]) {
  test(`cli: ${backend}: restore while a step runs leaves its lease and run record live`, async () => {
    const dir = tempDir();
    const cli = cliIn(dir, backend);
    const state = await StateManager.open({ backend, dir, namespace: "wf" } as ManagerOptions);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    try {
      await state.save("phase", "plan");
      assert.equal((await cli(["checkpoint", "--name", "plan"])).code, 0);
      let started!: () => void;
      const running = new Promise<void>((r) => (started = r));
      const step = state.step("build", async (s) => {
        started();
        await gate;
        await s.save("phase", "built");
      }, { lease: { ttlMs: 60_000 } });
      await running;
      const keys = [`${RESERVED_PREFIX}keep/lease/build`, `${RESERVED_PREFIX}keep/run/build`];
      const before = await Promise.all(keys.map((k) => state.getEntry(k)));
      assert.ok(before.every((e) => e !== null), "the runner holds a lease and a run record");
      const r = await cli(["restore", "--checkpoint", "plan", "--json"]);
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), { restored: "plan" });
      assert.deepEqual(await Promise.all(keys.map((k) => state.getEntry(k))), before);
      const second = await cli(["step", "--name", "build", "--no-wait", "--", "true"]);
      assert.equal(
        second.code,
        4,
        `the lease keeps a second runner out: ${second.err} ${second.out}`,
      );
      release();
      await step;
      assert.equal(await state.load("phase"), "built");
    } finally {
      release();
      await state.close();
      removeDir(dir);
    }
  });
}
