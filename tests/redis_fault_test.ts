// Connection faults against a server this test starts: SIGKILL it in the
// middle of a stream of writes and restart it on the same port and folder.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { BackendError, StateManager } from "../mod.ts";
import { type RedisServer, reportUnavailable, startRedisServer } from "./_redis_server.ts";

let server: RedisServer | string;
try {
  // Every acknowledged write is on disk before the reply.
  server = await startRedisServer(["--appendonly", "yes", "--appendfsync", "always"]);
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
  reportUnavailable("redis-fault", server);
} else {
  const redis = server;
  after(() => redis.stop());

  test("redis: acknowledged writes survive SIGKILL and restart; failed ones throw BackendError", async () => {
    const s = await StateManager.open({ backend: "redis", url: redis.url, namespace: "wf" });
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
      }
    })();
    try {
      await until("writes before the kill", () => acked.size >= 200, 10_000);
      await redis.kill();
      await sleep(300);
      await redis.start();
      const before = acked.size;
      // The same manager works again once the client has reconnected.
      await until("writes after the restart", () => acked.size >= before + 200, 15_000);
    } finally {
      stop = true;
      await writer;
    }
    assert.ok(failures.length > 0, "the kill should have failed some writes");
    for (const { error, ms } of failures) {
      assert.ok(error instanceof BackendError, String(error));
      assert.equal(error.transient, true, error.message);
      assert.ok(ms < 5000, `a failed write took ${ms} ms`);
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
    await s.close();
  });

  test("redis: an operation while the server is down fails fast, then works", async () => {
    const s = await StateManager.open({ backend: "redis", url: redis.url, namespace: "down" });
    await s.save("a", 1);
    await redis.kill();
    try {
      const start = Date.now();
      await assert.rejects(s.save("a", 2), (e: unknown) => {
        assert.ok(e instanceof BackendError && e.transient, String(e));
        assert.match(e.message, /Redis at "redis:\/\/127\.0\.0\.1:\d+"/);
        return true;
      });
      assert.ok(Date.now() - start < 3000, `took ${Date.now() - start} ms`);
    } finally {
      await redis.start();
    }
    let value: unknown;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      try {
        value = await s.load("a");
        break;
      } catch {
        await sleep(50);
      }
    }
    assert.equal(value, 1);
    await s.close();
  });
}
