// A PostgreSQL server this test starts (it must be able to kill it, so
// DATABASE_URL is not used here): SIGKILL the server and every backend
// process of it in the middle of a stream of acknowledged writes, restart it
// on the same port and data folder, and check that every acknowledged write
// is there (default synchronous_commit: the commit is in the WAL before the
// reply). While it is down, callers see transient BackendErrors, quickly.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { BackendError, StateManager } from "../mod.ts";
import { type PgServer, reportNoServer, startPgServer } from "./_pg_server.ts";

let server: PgServer | string;
try {
  server = await startPgServer();
} catch (error) {
  server = (error as Error).message;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, done: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

if (typeof server === "string") {
  reportNoServer("postgres-fault", server);
} else {
  const pg = server;
  after(() => pg.stop());

  test("postgres: acknowledged writes survive SIGKILL and restart; failed ones throw BackendError", async () => {
    const s = await StateManager.open({ backend: "postgres", url: pg.url, namespace: "wf" });
    const acked = new Map<string, number>();
    const failures: { error: unknown; ms: number }[] = [];
    let increments = 0;
    let failedIncrements = 0;
    let stop = false;
    const attempt = async (fn: () => Promise<unknown>) => {
      const start = Date.now();
      try {
        await fn();
        return true;
      } catch (error) {
        failures.push({ error, ms: Date.now() - start });
        return false;
      }
    };
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        if (await attempt(() => s.save(`k${i}`, i))) acked.set(`k${i}`, i);
        if (await attempt(() => s.update<number>("counter", (n = 0) => n + 1))) increments++;
        else failedIncrements++;
        if (i % 50 === 0) await attempt(() => s.checkpoint(`cp-${i}`, { overwrite: true }));
      }
    })();
    try {
      await until("writes before the kill", () => acked.size >= 200, 15_000);
      await pg.kill();
      await sleep(300);
      await pg.start();
      const before = acked.size;
      // The same manager works again once the pool has new connections.
      await until("writes after the restart", () => acked.size >= before + 200, 20_000);
    } finally {
      stop = true;
      await writer;
    }
    assert.ok(failures.length > 0, "the kill should have failed some writes");
    for (const { error, ms } of failures) {
      assert.ok(error instanceof BackendError, String(error));
      assert.equal(error.transient, true, error.message);
      assert.ok(ms < 12_000, `a failed write took ${ms} ms`);
    }
    const stored = await s.loadMany([...acked.keys()]);
    for (const [key, value] of acked) assert.equal(stored[key], value, `${key} was acknowledged`);
    // An increment whose reply was lost may have landed, but none lands twice.
    const counter = await s.load<number>("counter");
    assert.ok(counter >= increments, `counter ${counter} < ${increments} acknowledged`);
    assert.ok(
      counter <= increments + failedIncrements,
      `counter ${counter} > ${increments} + ${failedIncrements} attempted`,
    );
    // The last checkpoint restores.
    const [newest] = await s.listCheckpoints();
    assert.ok(newest);
    await s.restoreCheckpoint(newest.name);
    await s.close();
  });

  test("postgres: an operation while the server is down fails fast and typed, then works", async () => {
    const s = await StateManager.open({
      backend: "postgres",
      url: pg.url,
      namespace: "down",
      retry: false,
    });
    await s.save("a", 1);
    await pg.kill();
    try {
      for (const op of [() => s.save("a", 2), () => s.load("a"), () => s.checkpoint("x")]) {
        const start = Date.now();
        await assert.rejects(op(), (e: unknown) => {
          assert.ok(e instanceof BackendError && e.transient, String(e));
          assert.match(e.message, /PostgreSQL at "postgres:\/\/postgres@127\.0\.0\.1:\d+/);
          return true;
        });
        assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
      }
    } finally {
      await pg.start();
    }
    assert.equal(await s.load("a"), 1);
    await s.save("a", 3);
    assert.equal(await s.load("a"), 3);
    await s.close();
  });
}
