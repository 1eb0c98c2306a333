// The Redis read cache, fed by client tracking (backends/_redis_feed.ts):
// hits cost no read of the key, and a cached load is never older than a write
// acknowledged to another process, also when the invalidation connections
// are killed, the database is flushed, or the server is killed and restarted.
import assert from "node:assert/strict";
import process from "node:process";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import { StateManager } from "../mod.ts";
import { childPeer, MISSING } from "./_peer.ts";
import { privateRedisServer, reportUnavailable } from "./_redis_server.ts";

// Acknowledged writes are on disk, so a restart brings back what was cached.
const server = await privateRedisServer(["--appendonly", "yes", "--appendfsync", "always"]);

/** Rounds of the kill loop (CI-sized by default). */
const ROUNDS = Number(process.env.REDIS_TRACKING_ROUNDS ?? 40);

if (typeof server === "string") {
  reportUnavailable("redis-tracking", server);
} else {
  const redis = server;
  after(() => redis.stop());
  const open = (prefix: string, cache = true) =>
    StateManager.open({ backend: "redis", url: redis.url, prefix, namespace: "wf", cache });
  const calls = async (raw: Redis, command: string) => {
    const info = await raw.info("commandstats");
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  };
  /** Kills this server's tracking connections (the subscribers, the trackers, or both). */
  const killTracking = async (raw: Redis, which: "sub" | "tracker" | "both") => {
    const list = (await raw.client("LIST")) as string;
    let killed = 0;
    for (const line of list.split("\n")) {
      if (!line.includes("name=managing-state")) continue;
      const isSub = / sub=1 /.test(line);
      if (which === "both" || (which === "sub") === isSub) {
        await raw.client("KILL", "ID", /id=(\d+)/.exec(line)![1]!);
        killed++;
      }
    }
    assert.ok(killed > 0, `no ${which} tracking connection to kill`);
  };

  test("redis: cached loads send no read of the key while nothing changed", async () => {
    const prefix = `trk-${crypto.randomUUID().slice(0, 8)}`;
    const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const s = await open(prefix);
    try {
      await s.save("a", { n: 1 });
      assert.deepEqual(await s.load("a"), { n: 1 });
      const before = await calls(raw, "mget");
      for (let i = 0; i < 20; i++) assert.deepEqual(await s.load("a"), { n: 1 });
      assert.equal(await calls(raw, "mget"), before, "a cached load read the key");
      // Without the cache every load reads it.
      const cold = await open(prefix, false);
      for (let i = 0; i < 5; i++) await cold.load("a");
      assert.equal(await calls(raw, "mget"), before + 5);
      await cold.close();
    } finally {
      await s.close();
      raw.disconnect();
    }
  });

  test("redis: a cached load sees another process's acknowledged write, while invalidation connections are killed", async () => {
    const prefix = `trk-${crypto.randomUUID().slice(0, 8)}`;
    const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const s = await open(prefix);
    const peer = childPeer({ backend: "redis", url: redis.url, prefix, namespace: "wf" });
    try {
      await peer.run({ op: "save", key: "k", value: 0 });
      for (let i = 1; i <= ROUNDS; i++) {
        assert.equal(await s.load("k"), i - 1, `round ${i}: before`);
        assert.equal(await s.load("k"), i - 1, `round ${i}: cached`);
        // Kill between the cached read and the other process's write, every other round.
        if (i % 2 === 0) await killTracking(raw, (["both", "sub", "tracker"] as const)[i % 3]!);
        // Two writes: only the first sends an invalidation (the key is tracked
        // again when this process next reads it), the second must be seen too.
        await peer.run({ op: "save", key: "k", value: -i });
        await peer.run({ op: "save", key: "k", value: i });
        assert.equal(await s.load("k"), i, `round ${i}: after the writes`);
      }
      await peer.run({ op: "delete", key: "k" });
      assert.equal(await s.load("k", "gone"), "gone");
    } finally {
      await peer.close();
      await s.close();
      raw.disconnect();
    }
  });

  test("redis: a watched namespace reports writes made while it was being tracked again", async () => {
    const prefix = `trk-${crypto.randomUUID().slice(0, 8)}`;
    const s = await open(prefix);
    const w = await open(prefix, false);
    const watcher = s.watch(["k"], { intervalMs: 5000 }); // push only: the poll is slower than the test
    try {
      await watcher.ready;
      const seen: unknown[] = [];
      const loop = (async () => {
        for await (const e of watcher) seen.push(e.value);
      })();
      for (let i = 1; i <= 20; i++) {
        await w.save("k", -i);
        await w.save("k", i);
        const start = Date.now();
        while (seen[seen.length - 1] !== i) {
          if (Date.now() - start > 3000) throw new Error(`round ${i}: last seen ${seen.at(-1)}`);
          await new Promise((r) => setTimeout(r, 2));
        }
      }
      await watcher.close();
      await loop;
    } finally {
      await watcher.close();
      await w.close();
      await s.close();
    }
  });

  test("redis: FLUSHDB drops what the cache holds", async () => {
    const prefix = `trk-${crypto.randomUUID().slice(0, 8)}`;
    const raw = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const s = await open(prefix);
    try {
      await s.save("a", 1);
      assert.equal(await s.load("a"), 1);
      assert.equal(await s.load("a"), 1);
      await raw.flushdb();
      assert.deepEqual(await s.load("a", MISSING), MISSING);
    } finally {
      await s.close();
      raw.disconnect();
    }
  });

  test("redis: after the server is killed and restarted, cached loads see writes made since", async () => {
    const prefix = `trk-${crypto.randomUUID().slice(0, 8)}`;
    const s = await open(prefix);
    const w = await open(prefix, false);
    try {
      await w.save("a", 1);
      assert.equal(await s.load("a"), 1);
      assert.equal(await s.load("a"), 1);
      await redis.kill();
      await redis.start();
      // The writer's connection comes back first; the change counter restarts
      // from the file, so only the dropped feed tells the reader.
      for (let tries = 0;; tries++) {
        try {
          await w.save("a", 2);
          break;
        } catch (error) {
          if (tries > 100) throw error;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      let seen: unknown;
      for (let tries = 0;; tries++) {
        try {
          seen = await s.load("a");
          break;
        } catch (error) {
          if (tries > 100) throw error;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.equal(seen, 2);
      await w.save("a", 3);
      assert.equal(await s.load("a"), 3);
      assert.equal(await s.load("a"), 3);
    } finally {
      await w.close();
      await s.close();
    }
  });
}
