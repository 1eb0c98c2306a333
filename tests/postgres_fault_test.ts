// A PostgreSQL server this test starts (it must be able to kill it, so
// DATABASE_URL is not used here): SIGKILL the server and every backend
// process of it in the middle of a stream of acknowledged writes, restart it
// on the same port and data folder, and check that every acknowledged write
// is there (default synchronous_commit: the commit is in the WAL before the
// reply). While it is down, callers see transient BackendErrors, quickly.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { writesSurviveKill } from "./_server_kill.ts";
import { BackendError, StateManager } from "../mod.ts";
import { type PgServer, reportNoServer, startPgServer } from "./_pg_server.ts";

let server: PgServer | string;
try {
  server = await startPgServer();
} catch (error) {
  server = (error as Error).message;
}

if (typeof server === "string") {
  reportNoServer("postgres-fault", server);
} else {
  const pg = server;
  after(() => pg.stop());

  test("postgres: acknowledged writes survive SIGKILL and restart; failed ones throw BackendError", async () => {
    const s = await StateManager.open({ backend: "postgres", url: pg.url, namespace: "wf" });
    await writesSurviveKill(s, pg, {
      beforeMs: 15_000,
      afterMs: 20_000,
      failMs: 12_000,
      checkpointEvery: 50,
    });
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
