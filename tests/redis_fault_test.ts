// Connection faults against a server this test starts: SIGKILL it in the
// middle of a stream of writes and restart it on the same port and folder.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { sleep, writesSurviveKill } from "./_server_kill.ts";
import { BackendError, StateManager } from "../mod.ts";
import { privateRedisServer, type RedisServer, reportUnavailable } from "./_redis_server.ts";

// Every acknowledged write is on disk before the reply.
const server = await privateRedisServer(["--appendonly", "yes", "--appendfsync", "always"]);

if (typeof server === "string") {
  reportUnavailable("redis-fault", server);
} else {
  const redis = server;
  after(() => redis.stop());

  test("redis: acknowledged writes survive SIGKILL and restart; failed ones throw BackendError", async () => {
    const s = await StateManager.open({ backend: "redis", url: redis.url, namespace: "wf" });
    await writesSurviveKill(s, redis, {
      beforeMs: 10_000,
      afterMs: 15_000,
      failMs: 5000,
      checkpointEvery: 0,
    });
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
