// migrate(): every pair of backends, dry run, re-runs, overwrite, keys that
// expire during the run, verification failures that name what differs, and a
// real process killed half-way.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  MemoryBackend,
  migrate,
  StateManager,
  ValidationError,
  VerificationError,
} from "../mod.ts";
import type { Backend, CommitOp } from "../types.ts";
import { MISSING, populate, snapshot, stopRedis, STORES, withStores } from "./_migrate_stores.ts";
import { removeDir, runtimeCommand, tempDir } from "./_runtime.ts";

after(() => stopRedis());

for (const [kind, why] of Object.entries(MISSING)) {
  test(`migrate: the pairs with ${kind} have a server`, () => {
    throw new Error(`no ${kind} server for the pair tests: ${why}`);
  });
}

for (const from of Object.keys(STORES)) {
  for (const to of Object.keys(STORES)) {
    if (from === to) continue;
    test(`migrate: ${from} -> ${to} copies keys, TTLs, checkpoints and metadata, verified`, () =>
      withStores([from, to], async (src, dst) => {
        await populate(src);
        const before = [await snapshot(src, "wf-a"), await snapshot(src, "wf-b")];
        const report = await migrate({ from: src.endpoint, to: dst.endpoint });
        assert.equal(report.verified, true);
        assert.deepEqual(
          [report.keys, report.written, report.checkpoints, report.namespaces.length],
          [5, 5, 2, 2],
        );
        const a = report.namespaces[0]!;
        assert.equal(a.sourceHash, a.targetHash);
        assert.equal(a.targetKeys, 4);
        assert.deepEqual(Object.keys(a.checkpointHashes).length, 2);
        for (const [i, ns] of ["wf-a", "wf-b"].entries()) {
          assert.deepEqual(await snapshot(dst, ns), before[i], `${ns} is identical`);
          assert.deepEqual(await snapshot(src, ns), before[i], `the source ${ns} is unchanged`);
        }
        const again = await migrate({ from: src.endpoint, to: dst.endpoint });
        assert.equal(again.verified, true);
        assert.equal(again.written, 0, "a re-run writes no key");
        assert.equal(again.namespaces[0]!.checkpointsWritten, 0, "nor a checkpoint");
        const t = await dst.open("wf-a");
        assert.equal(
          await t.getEntry("lease").then((e) => e!.expiresAt),
          before[0]!.entries[0]!.expiresAt,
        );
        await t.restoreCheckpoint("after_planning");
        assert.equal(await t.load("phase"), "plan");
        assert.equal(await t.load("zero"), 0);
        await t.close();
      }));
  }
}

test("migrate: a dry run reports what it would write and writes nothing", () =>
  withStores(["json", "sqlite"], async (src, dst) => {
    await populate(src);
    const report = await migrate({ from: src.endpoint, to: dst.endpoint, dryRun: true });
    assert.equal(report.dryRun, true);
    assert.equal(report.verified, false);
    assert.equal(report.written, 5);
    assert.equal(report.namespaces[0]!.checkpointsWritten, 2);
    const t = await dst.open("wf-a");
    assert.deepEqual(await t.listNamespaces(), []);
    await t.save("phase", "theirs");
    const dry = await migrate({ from: src.endpoint, to: dst.endpoint, dryRun: true });
    assert.deepEqual(dry.namespaces[0]!.skippedKeys, ["phase"]);
    assert.equal(await t.load("phase"), "theirs");
    assert.deepEqual((await t.listKeys()).keys, ["phase"]);
    await t.close();
  }));

test("migrate: differing target data is kept and reported unless overwrite", () =>
  withStores(["json", "sqlite"], async (src, dst) => {
    await populate(src);
    const t = await dst.open("wf-a");
    await t.save("phase", "theirs");
    await t.save("extra", true);
    await t.checkpoint("after_planning", { metadata: { theirs: true } });
    await assert.rejects(migrate({ from: src.endpoint, to: dst.endpoint }), (e: unknown) => {
      assert.ok(e instanceof VerificationError);
      assert.equal(e.code, "VERIFICATION");
      assert.match(
        e.message,
        /namespace "wf-a": 1 differing keys kept \("phase"\); 1 keys only in the target \("extra"\); 1 differing checkpoints kept \("after_planning"\)\. Run again with overwrite/,
      );
      const ns = e.report.namespaces[0]!;
      assert.deepEqual([ns.skippedKeys, ns.extraKeys], [["phase"], ["extra"]]);
      assert.deepEqual(ns.skippedCheckpoints, ["after_planning"]);
      assert.equal(e.report.namespaces[1]!.verified, true);
      return true;
    });
    assert.equal(await t.load("phase"), "theirs", "not overwritten");
    assert.deepEqual(
      (await t.listCheckpoints()).find((c) => c.name === "after_planning")!.metadata,
      {
        theirs: true,
      },
    );
    const report = await migrate({ from: src.endpoint, to: dst.endpoint, overwrite: true });
    assert.equal(report.verified, true);
    assert.deepEqual(report.namespaces[0]!.extraKeys, ["extra"], "reported as deleted");
    await t.close();
    assert.deepEqual(await snapshot(dst, "wf-a"), await snapshot(src, "wf-a"));
  }));

test("migrate: only the chosen namespaces; bad options are refused", () =>
  withStores(["sqlite", "json"], async (src, dst) => {
    await populate(src);
    const report = await migrate({ from: src.endpoint, to: dst.endpoint, namespaces: ["wf-b"] });
    assert.deepEqual(report.namespaces.map((n) => n.namespace), ["wf-b"]);
    const t = await dst.open("wf-b");
    assert.deepEqual(await t.listNamespaces(), ["wf-b"]);
    await t.close();
    await assert.rejects(
      migrate({ from: src.endpoint, to: dst.endpoint, namespaces: ["../x"] }),
      ValidationError,
    );
    await assert.rejects(
      // @ts-expect-error not a backend name: the types refuse it, and so does migrate() at run time
      migrate({ from: { backend: "nosuch" }, to: dst.endpoint }),
      /Unknown backend "nosuch"/,
    );
  }));

test("migrate: a key that expires during the run does not fail verification", async () => {
  const from = new MemoryBackend();
  const s = await StateManager.open({ backend: from, namespace: "t" });
  await s.save("a-lease", "worker", { ttlMs: 500 }); // first in key order: copied first
  await s.saveMany(Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`k${i}`, i])));
  const expiresAt = (await s.getEntry("a-lease"))!.expiresAt!;
  await s.close();
  const to = new MemoryBackend();
  const report = await migrate({
    from,
    to,
    onProgress: (e) => {
      // After the last page is copied, wait until the lease has expired, before verification.
      if (e.phase === "keys" && e.done === e.total) {
        while (Date.now() <= expiresAt) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        }
      }
    },
  });
  assert.equal(report.namespaces[0]!.keys, 1501, "the lease was read while live");
  assert.equal(report.verified, true);
  assert.equal(report.namespaces[0]!.expiredKeys, 1);
  assert.equal(report.namespaces[0]!.targetKeys, 1500);
});

/** A memory backend whose commits lose or change one key: a broken target. */
function broken(change: (op: CommitOp) => CommitOp): Backend {
  const inner = new MemoryBackend();
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === "commit") return (ns: string, op: CommitOp) => target.commit(ns, change(op));
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

test("migrate: a copy that does not match names the keys that differ", async () => {
  const from = new MemoryBackend();
  const s = await StateManager.open({ backend: from, namespace: "wf" });
  await s.saveMany({ phase: "build", tasks: [1, 2], ok: true });
  await s.close();
  const lossy = broken((op) => ({ ...op, sets: op.sets.filter((e) => e.key !== "tasks") }));
  await assert.rejects(migrate({ from, to: lossy }), (e: unknown) => {
    assert.ok(e instanceof VerificationError);
    assert.match(e.message, /namespace "wf": 1 keys missing from the target \("tasks"\)/);
    assert.match(e.message, /Run again; if it still differs/);
    assert.equal(e.report.namespaces[0]!.targetKeys, 2);
    assert.notEqual(e.report.namespaces[0]!.sourceHash, e.report.namespaces[0]!.targetHash);
    return true;
  });
  const mangled = broken((op) => ({
    ...op,
    sets: op.sets.map((e) => e.key === "ok" ? { ...e, value: "false" } : e),
  }));
  await assert.rejects(
    migrate({ from, to: mangled }),
    /namespace "wf": 1 keys that differ after writing \("ok"\)/,
  );
  const ttlLost = broken((op) => ({
    ...op,
    sets: op.sets.map((e) => e.key === "phase" ? { ...e, expiresAt: null } : e),
  }));
  const withTtl = new MemoryBackend();
  const t = await StateManager.open({ backend: withTtl, namespace: "wf" });
  await t.save("phase", "build", { ttlMs: 600_000 });
  await t.close();
  await assert.rejects(
    migrate({ from: withTtl, to: ttlLost }),
    /namespace "wf": 1 keys that differ after writing \("phase"\)/,
  );
});

test("migrate: a process killed half-way leaves a target that the next run completes", async () => {
  const dir = tempDir();
  try {
    const src = { backend: "json", dir: join(dir, "src") } as const;
    const dst = { backend: "sqlite", path: join(dir, "dst.db") } as const;
    const s = await StateManager.open({ ...src, namespace: "big" });
    for (let batch = 0; batch < 20; batch++) {
      await s.saveMany(Object.fromEntries(
        Array.from(
          { length: 1000 },
          (_, i) => [`k${batch * 1000 + i}`, { i, pad: "x".repeat(100) }],
        ),
      ));
    }
    await s.checkpoint("cp");
    await s.close();
    const child = fileURLToPath(new URL("./_migrate_child.ts", import.meta.url));
    const [cmd, args] = runtimeCommand(child);
    const proc = spawn(cmd, [...args, JSON.stringify({ from: src, to: dst })], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let progressed = 0;
    let finished = false;
    await new Promise<void>((resolve) => {
      proc.stdout.setEncoding("utf8").on("data", (d: string) => {
        progressed += d.split("\n").filter((l) => l.startsWith("progress keys")).length;
        if (d.includes("done")) finished = true;
        if (progressed >= 3) proc.kill("SIGKILL");
      });
      proc.on("close", () => resolve());
    });
    assert.ok(progressed >= 3 && !finished, "the child was killed mid-way");
    const partial = await StateManager.open({ ...dst, namespace: "big" });
    const copied = (await partial.listKeys()).keys.length;
    await partial.close();
    assert.ok(copied > 0 && copied < 20_000, `${copied} keys copied before the kill`);
    const report = await migrate({ from: src, to: dst });
    assert.equal(report.verified, true);
    assert.equal(report.keys, 20_000);
    assert.equal(report.written, 20_000 - copied, "only what was missing is written");
    assert.equal(report.namespaces[0]!.unchanged, copied);
  } finally {
    removeDir(dir);
  }
});
