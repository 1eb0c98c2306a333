// The Redis backend's command timeout (backends/_redis_watchdog.ts): a
// command the server does not answer fails after `commandTimeout`, as an
// error whose outcome is unknown for a write, and the backend works again
// once the server answers.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import { BackendError, StateManager, ValidationError } from "../mod.ts";
import { RedisBackend } from "../backends/redis.ts";
import { Watchdog } from "../backends/_redis_watchdog.ts";
import { privateRedisServer, reportUnavailable } from "./_redis_server.ts";

test("redis watchdog: fails what is still pending after the timeout, passes the rest through", async () => {
  const dog = new Watchdog(100);
  const start = Date.now();
  await assert.rejects(dog.guard(new Promise(() => {})), /Command timed out/);
  const took = Date.now() - start;
  assert.ok(took >= 100 && took < 1000, `failed after ${took} ms`);
  assert.equal(await dog.guard(Promise.resolve(7)), 7);
  await assert.rejects(dog.guard(Promise.reject(new Error("boom"))), /boom/);
  const slow = dog.guard(new Promise((r) => setTimeout(() => r("late"), 30)));
  assert.equal(await slow, "late");
});

test("redis: commandTimeout must be a positive number of ms", () => {
  for (const commandTimeout of [0, -1, Number.NaN, "5000"]) {
    assert.throws(
      () => new RedisBackend({ redisOptions: { commandTimeout: commandTimeout as number } }),
      ValidationError,
      String(commandTimeout),
    );
  }
});

const server = await privateRedisServer();

if (typeof server === "string") {
  reportUnavailable("redis-timeout", server);
} else {
  const redis = server;
  after(() => redis.stop());

  test("redis: commands the server does not answer fail after commandTimeout", async () => {
    const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const s = await StateManager.open({
      backend: "redis",
      url: redis.url,
      namespace: "wf",
      redisOptions: { commandTimeout: 300 },
      retry: { attempts: 1 },
    });
    try {
      await s.save("a", 1);
      await raw.client("PAUSE", 2000, "ALL");
      const start = Date.now();
      await assert.rejects(s.save("a", 2), (e: unknown) => {
        assert.ok(e instanceof BackendError, String(e));
        assert.equal(e.outcomeUnknown, true, e.message);
        return true;
      });
      await assert.rejects(s.load("a"), BackendError);
      const took = Date.now() - start;
      assert.ok(took < 1800, `two timed-out calls took ${took} ms`);
      await raw.client("UNPAUSE");
      assert.ok([1, 2].includes(await s.load("a") as number));
    } finally {
      await raw.client("UNPAUSE").catch(() => {});
      await s.close();
      raw.disconnect();
    }
  });
}
