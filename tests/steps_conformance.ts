// Durable steps in the shared conformance suite: step(), phase(), steps(),
// resetStep() and the reserved prefix, identical on every backend. Names are
// "<backend>: steps: <behaviour>".
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { join } from "node:path";
import {
  ConflictError,
  exportState,
  importState,
  MemoryBackend,
  migrate,
  RESERVED_PREFIX,
  StateManager,
  ValidationError,
} from "../mod.ts";
import { removeDir, tempDir } from "./_runtime.ts";
import type { Harness } from "./_harness.ts";
import type { BackendCapabilities } from "../types.ts";

/** Registers the step cases for one backend. */
export function testSteps(
  name: string,
  makeHarness: () => Promise<Harness>,
  caps: BackendCapabilities,
): void {
  const it = (behaviour: string, fn: (s: StateManager, h: Harness) => Promise<void>, run = true) =>
    test(`${name}: steps: ${behaviour}`, { skip: !run }, async () => {
      const h = await makeHarness();
      const s = await h.open({ namespace: "wf" });
      try {
        await fn(s, h);
      } finally {
        await s.close();
        await h.cleanup();
      }
    });

  it("a done step is not run again and returns its recorded result", async (s) => {
    let runs = 0;
    const plan = () =>
      s.step("plan", async (step) => {
        runs++;
        await step.save("tasks", ["a", "b"]);
        return { count: 2, falsy: 0 };
      });
    assert.deepEqual(await plan(), { count: 2, falsy: 0 });
    assert.deepEqual(await plan(), { count: 2, falsy: 0 });
    assert.equal(runs, 1);
    assert.deepEqual(await s.load("tasks"), ["a", "b"]);
    // A step that returns nothing, or a falsy value, is done too.
    assert.equal(await s.step("void", () => {}), undefined);
    assert.equal(await s.step("void", () => 1), undefined);
    assert.equal(await s.step("zero", () => 0), 0);
    assert.equal(await s.step("zero", () => 1), 0);
    assert.equal(await s.step("nil", () => null), null);
    assert.equal(await s.step("nil", () => 1), null);
  });

  it("writes are invisible until the step ends and read back inside it", async (s) => {
    await s.save("keep", 1);
    await s.save("gone", 1);
    await s.step("work", async (step) => {
      await step.save("x", 1);
      assert.equal(await step.load("x"), 1);
      await step.save("x", (await step.load<number>("x")) + 1);
      await step.delete("gone");
      assert.equal(await step.has("gone"), false);
      assert.equal(await step.load("gone", "fallback"), "fallback");
      assert.equal(await step.load("keep"), 1); // not written here: from the store
      await step.saveMany({ y: "y", z: false });
      assert.equal(await s.has("x"), false);
      assert.equal(await s.has("gone"), true);
    });
    assert.deepEqual(await s.loadMany(["x", "y", "z", "gone"]), { x: 2, y: "y", z: false });
  });

  it("a failing step saves nothing, records the failure and runs again", async (s) => {
    await assert.rejects(
      s.step("flaky", async (step) => {
        await step.save("half", 1);
        throw new Error("boom");
      }),
      /boom/,
    );
    assert.equal(await s.has("half"), false);
    let [info] = await s.steps();
    assert.equal(info!.status, "failed");
    assert.equal(info!.error, "boom");
    assert.equal(info!.attempts, 1);
    assert.equal(await s.step("flaky", () => "ok"), "ok");
    [info] = await s.steps();
    assert.equal(info!.status, "done");
    assert.equal(info!.attempts, 2);
    assert.equal(info!.result, "ok");
  });

  it("retry re-runs a step until it succeeds, counting attempts", async (s) => {
    let calls = 0;
    const result = await s.step("retried", async (step) => {
      calls++;
      await step.save(`try-${calls}`, calls);
      if (calls < 3) throw new Error(`fail ${calls}`);
      return calls;
    }, { retry: { attempts: 3, backoff: 1 } });
    assert.equal(result, 3);
    assert.deepEqual((await s.listKeys({ prefix: "try-" })).keys, ["try-3"]);
    assert.equal((await s.steps())[0]!.attempts, 3);
    await assert.rejects(
      s.step("hopeless", () => {
        throw new Error("never");
      }, { retry: { attempts: 2 } }),
      /never/,
    );
    const hopeless = (await s.steps()).find((i) => i.name === "hopeless")!;
    assert.deepEqual([hopeless.status, hopeless.attempts], ["failed", 2]);
  });

  it("nested steps commit on their own and see their parent's writes", async (s) => {
    let inner = 0;
    let crash = true;
    const build = () =>
      s.step("build", async (step) => {
        await step.save("config", "release");
        const out = await step.step("compile", async (child) => {
          inner++;
          const config = await child.load<string>("config");
          await child.save("binary", `app-${config}`);
          return config;
        });
        if (crash) {
          crash = false;
          throw new Error("crash after compile");
        }
        return out;
      });
    await assert.rejects(build(), /crash after compile/);
    assert.equal(await s.load("binary"), "app-release"); // the nested step is done
    assert.equal(await s.has("config"), false); // the parent is not
    assert.equal(await build(), "release");
    assert.equal(inner, 1);
    const names = (await s.steps()).map((i) => [i.name, i.status]);
    // Oldest start first: the parent's second run started after its nested step.
    assert.deepEqual(names, [["build/compile", "done"], ["build", "done"]]);
  });

  it("steps() lists status, attempts and times; resetStep() forgets", async (s) => {
    const before = Date.now();
    await s.step("a", () => 1);
    await s.step("a/inner", () => 2);
    await s.step("b", () => 3);
    await s.step("c", () => 4);
    const list = await s.steps();
    assert.deepEqual(list.map((i) => i.name), ["a", "a/inner", "b", "c"]);
    for (const i of list) {
      assert.equal(i.status, "done");
      assert.equal(i.attempts, 1);
      assert.ok(i.startedAt! >= before && i.endedAt! >= i.startedAt!);
      assert.equal(i.durationMs, i.endedAt! - i.startedAt!);
    }
    assert.deepEqual(await s.resetStep("a"), ["a", "a/inner"]);
    assert.deepEqual(await s.resetStep("nope"), []);
    assert.equal(await s.step("a", () => 10), 10);
    assert.deepEqual(await s.resetStep("b", { andLater: true }), ["b", "c", "a"]);
    assert.deepEqual((await s.steps()).map((i) => i.name), []);
  });

  it("always re-runs a done step and replaces its record", async (s) => {
    await s.step("deploy", () => 1);
    assert.equal(await s.step("deploy", () => 2, { always: true }), 2);
    assert.equal(await s.step("deploy", () => 3), 2);
  });

  it("a phase checkpoints at start and end, and rolls back when it throws", async (s) => {
    await s.save("phase", "plan");
    await assert.rejects(
      s.phase("build", async (step) => {
        await step.step("compile", (c) => c.save("binary", "app"));
        await step.save("phase", "build");
        throw new Error("tests failed");
      }),
      /tests failed/,
    );
    assert.deepEqual((await s.listKeys({ prefix: "b" })).keys, []);
    assert.equal(await s.load("phase"), "plan");
    let info = (await s.steps()).find((i) => i.name === "build")!;
    assert.deepEqual([info.status, info.attempts, info.error], ["failed", 1, "tests failed"]);
    // The nested step was rolled back with the phase: it runs again.
    let compiles = 0;
    const result = await s.phase("build", async (step) => {
      await step.step("compile", (c) => {
        compiles++;
        return c.save("binary", "app");
      });
      await step.save("phase", "build");
      return "built";
    }, { metadata: { by: "test" } });
    assert.equal(result, "built");
    assert.equal(compiles, 1);
    info = (await s.steps()).find((i) => i.name === "build")!;
    assert.deepEqual([info.status, info.attempts], ["done", 2]);
    const cps = await s.listCheckpoints();
    const end = cps.find((c) => c.name === "phase:build")!;
    assert.deepEqual(end.metadata, { by: "test", phase: "build" });
    assert.ok(cps.some((c) => c.name === "phase:build:start"));
    await s.save("phase", "later");
    await s.restoreCheckpoint("phase:build");
    assert.equal(await s.load("phase"), "build");
    assert.equal(await s.phase("build", () => "again"), "built");
  });

  it("a phase's retries roll back each failed attempt", async (s) => {
    let n = 0;
    const out = await s.phase("deploy", async (step) => {
      n++;
      await step.step(`part-${n}`, (c) => c.save(`part-${n}`, n));
      if (n < 3) throw new Error(`attempt ${n}`);
      return n;
    }, { retry: { attempts: 3 } });
    assert.equal(out, 3);
    assert.deepEqual((await s.listKeys({ prefix: "part-" })).keys, ["part-3"]);
    assert.equal((await s.steps()).find((i) => i.name === "deploy")!.attempts, 3);
  });

  it("a phase rerun after its runner died rolls back to where it first started", async (s, h) => {
    await s.save("a", 1);
    let fail!: (e: Error) => void;
    const gate = new Promise<void>((_, reject) => (fail = reject));
    // The first runner stops inside the phase, after a nested step committed: as if it died.
    const first = s.phase("p", async (step) => {
      await step.step("inner", (c) => c.save("b", 2));
      await gate;
    });
    while (!(await s.has("b"))) await new Promise((r) => setTimeout(r, 5));
    const other = await h.open({ namespace: "wf" });
    try {
      await assert.rejects(
        other.phase("p", () => {
          throw new Error("second run fails");
        }),
        /second run fails/,
      );
      // Back to the first run's start, not to a checkpoint of the half state.
      assert.deepEqual(await other.loadMany(["a", "b"]), { a: 1 });
      assert.equal((await other.steps()).find((i) => i.name === "p")!.attempts, 2);
    } finally {
      fail(new Error("first run ends"));
      await assert.rejects(first, /first run ends/);
      await other.close();
    }
  });

  it("restoring a checkpoint rolls back the steps done since, with their data", async (s) => {
    await s.step("before", () => 0);
    await s.checkpoint("cp");
    await s.step("d", (step) => step.save("out", 1));
    await s.restoreCheckpoint("cp");
    assert.equal(await s.has("out"), false);
    // The run record (under @ms/keep/) stays: "d" is pending, its attempts are not rewound.
    assert.deepEqual((await s.steps()).map((i) => [i.name, i.status, i.attempts]), [
      ["before", "done", 1],
      ["d", "pending", 1],
    ]);
    assert.equal(await s.step("d", (step) => step.save("out", 2).then(() => "again")), "again");
    assert.equal(await s.step("before", () => 1), 0);
    assert.equal(await s.load("out"), 2);
    assert.deepEqual((await s.steps()).map((i) => [i.name, i.status, i.attempts]), [
      ["before", "done", 1],
      ["d", "done", 2],
    ]);
  });

  it("user writes under the reserved prefix are refused", async (s) => {
    const key = `${RESERVED_PREFIX}step/plan`;
    await assert.rejects(s.save(key, 1), ValidationError);
    await assert.rejects(s.saveMany({ ok: 1, [key]: 1 }), ValidationError);
    await assert.rejects(s.delete(key), ValidationError);
    await assert.rejects(s.update(key, () => 1), ValidationError);
    await assert.rejects(s.atomic().set(key, 1).commit(), ValidationError);
    await assert.rejects(s.step("x", (step) => step.save(key, 1)), ValidationError);
    assert.deepEqual((await s.listKeys()).keys, [`${RESERVED_PREFIX}keep/run/x`]);
    await s.step("plan", () => 7);
    assert.equal((await s.load<{ result: number }>(key)).result, 7); // reading is allowed
    await assert.rejects(s.step("", () => 1), ValidationError);
    await assert.rejects(s.step("a//b", () => 1), ValidationError);
  });

  it("a lease lets one runner run the step; the other gets its result", async (s, h) => {
    const other = await h.open({ namespace: "wf" });
    try {
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const first = s.step("lease", async () => {
        runs++;
        await gate;
        return "first";
      }, { lease: { ttlMs: 5000 } });
      while ((await s.steps()).length === 0) await new Promise((r) => setTimeout(r, 5));
      await assert.rejects(
        other.step("lease", () => "second", { lease: { wait: false } }),
        ConflictError,
      );
      const waits: number[] = [];
      const second = other.step("lease", () => {
        runs++;
        return "second";
      }, { lease: { ttlMs: 5000, onWait: (holder) => waits.push(holder.pid) } });
      while (waits.length === 0) await new Promise((r) => setTimeout(r, 5));
      release();
      assert.deepEqual(await Promise.all([first, second]), ["first", "first"]);
      assert.deepEqual(waits, [process.pid]);
      assert.equal(runs, 1);
      assert.deepEqual((await s.listKeys({ prefix: `${RESERVED_PREFIX}keep/lease/` })).keys, []);
    } finally {
      await other.close();
    }
  });

  it("a runner whose lease lapsed while it was stalled still commits if nobody took it", async (s) => {
    const result = await s.step("stalled", () => {
      const end = Date.now() + 300; // blocks the event loop: no renewal runs
      while (Date.now() < end) { /* busy */ }
      return "finished";
    }, { lease: { ttlMs: 60 } });
    assert.equal(result, "finished");
    assert.equal((await s.steps())[0]!.status, "done");
    assert.deepEqual((await s.listKeys({ prefix: `${RESERVED_PREFIX}keep/lease/` })).keys, []);
  });

  it("a phase holding a lease keeps it through its rollback and retry", async (s) => {
    let n = 0;
    const out = await s.phase("leased", async (step) => {
      n++;
      await step.save("x", n);
      // Renewals run (every 100 ms); the lease outlives a renewal delayed by a
      // loaded machine (a 60 ms lease expired under CI-like load).
      await new Promise((r) => setTimeout(r, 250));
      if (n === 1) throw new Error("first attempt fails");
      return n;
    }, { retry: { attempts: 2 }, lease: { ttlMs: 300 } });
    assert.equal(out, 2);
    assert.equal(await s.load("x"), 2);
    assert.deepEqual((await s.listKeys({ prefix: `${RESERVED_PREFIX}keep/lease/` })).keys, []);
  });

  it(
    "a user restore while a step runs leaves its lease and run record as they were",
    async (s, h) => {
      const lease = `${RESERVED_PREFIX}keep/lease/work`;
      const run = `${RESERVED_PREFIX}keep/run/work`;
      await assert.rejects(
        s.step("work", () => Promise.reject(new Error("first try"))),
        /first try/,
      );
      await s.checkpoint("cp"); // the failed first run, no lease
      const other = await h.open({ namespace: "wf" });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      try {
        let started!: () => void;
        const running = new Promise<void>((r) => (started = r));
        const first = s.step("work", async (step) => {
          started();
          await gate;
          await step.save("out", "first");
          return "first";
        }, { lease: { ttlMs: 60_000 } }); // renewed every 20 s: not during this test
        await running;
        const before = [await s.getEntry(lease), await s.getEntry(run)];
        assert.notEqual(before[0], null, "the runner holds the lease");
        const { status, attempts } = before[1]!.value as { status: string; attempts: number };
        assert.deepEqual({ status, attempts }, { status: "running", attempts: 2 });
        await other.restoreCheckpoint("cp", { keep: { prefix: "mine:" } });
        assert.deepEqual([await other.getEntry(lease), await other.getEntry(run)], before);
        await assert.rejects(
          other.step("work", () => "second", { lease: { wait: false } }),
          ConflictError,
          "the lease still keeps a second runner out",
        );
        await other.checkpoint("during"); // holds the lease and the running record
        release();
        assert.equal(await first, "first");
        const done = await other.getEntry(run);
        assert.equal((done?.value as { status: string }).status, "done");
        // Restoring a checkpoint taken while the step ran brings back neither.
        await other.restoreCheckpoint("during");
        assert.equal(await other.getEntry(lease), null);
        assert.deepEqual(await other.getEntry(run), done);
        assert.equal(await other.has("out"), false, "the step's data is rolled back");
      } finally {
        release();
        await other.close();
      }
    },
  );

  it("step records survive migration and export/import", async (s) => {
    await s.step("plan", (step) => step.save("tasks", [1]).then(() => "planned"));
    const dir = tempDir();
    const file = join(dir, "export.jsonl");
    const copies = [new MemoryBackend(), new MemoryBackend()];
    try {
      await migrate({ from: s.backend, to: copies[0]!, namespaces: ["wf"] });
      await exportState({ from: s.backend, to: file, namespaces: ["wf"] });
      await importState({ from: file, to: copies[1]! });
      for (const backend of copies) {
        await using copy = await StateManager.open({ backend, namespace: "wf" });
        assert.equal(await copy.step("plan", () => "again"), "planned");
        assert.deepEqual((await copy.steps()).map((i) => [i.name, i.status]), [["plan", "done"]]);
      }
    } finally {
      for (const b of copies) await b.close();
      removeDir(dir);
    }
  });

  it("a done step is still done after reopening", async (s, h) => {
    await s.step("plan", () => 1);
    await s.close();
    const again = await h.open({ namespace: "wf" });
    try {
      assert.equal(await again.step("plan", () => 2), 1);
    } finally {
      await again.close();
    }
  }, caps.persistent);
}
