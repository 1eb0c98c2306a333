// The Redis `durability` option against real servers this file starts: WAIT
// after every write path, the outcome-unknown error when replicas are short,
// and a Sentinel failover (primary SIGKILLed in the middle of a write stream)
// with and without the option, counting acknowledged writes the promoted
// replica does not have.
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "node:test";
import { BackendError, MemoryBackend, migrate, StateManager, ValidationError } from "../mod.ts";
import { RedisBackend, type RedisDurability } from "../backends/redis.ts";
import { Redis } from "ioredis";
import { type RedisServer, skipUnavailable, startRedisServer } from "./_redis_server.ts";
import { command, startFailoverSet, SYNC } from "./_redis_failover.ts";

/** Failovers per mode (with and without the option); CI runs one of each. */
const ROUNDS = Number(process.env.DURABILITY_ROUNDS ?? 1);
/** Concurrent writers in the stream (each its own manager and connection). */
const WRITERS = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times the server has run `name` (INFO commandstats). */
async function calls(port: number, name: string): Promise<number> {
  const info = String(await command(port, "INFO", "commandstats"));
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

async function startServers(
  t: { skip(m: string): void },
  what: string,
  replicaArgs: string[] | null,
): Promise<RedisServer[] | null> {
  const servers: RedisServer[] = [];
  try {
    servers.push(await startRedisServer(SYNC));
    if (replicaArgs) {
      const replica = await startRedisServer([
        ...replicaArgs,
        "--replicaof",
        "127.0.0.1",
        String(servers[0]!.port),
      ]);
      servers.push(replica);
      const deadline = Date.now() + 10_000;
      while (
        !/master_link_status:up/.test(String(await command(replica.port, "INFO", "replication")))
      ) {
        if (Date.now() > deadline) throw new Error("the replica did not sync");
        await sleep(20);
      }
    }
    return servers;
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()));
    skipUnavailable(t as never, what, (error as Error).message);
    return null;
  }
}

test("redis durability: a bad durability option is a ValidationError before anything connects", () => {
  const bad: unknown[] = [
    null,
    "1",
    { replicas: 0, timeoutMs: 1000 },
    { replicas: 1.5, timeoutMs: 1000 },
    { replicas: 1 },
    { replicas: 1, timeoutMs: 0 },
    { replicas: 1, timeoutMs: 1000, aof: "yes" },
    { replicas: 1, timeoutMs: 1000, replica: 2 },
  ];
  for (const durability of bad) {
    assert.throws(
      () => new RedisBackend({ durability: durability as RedisDurability }),
      (e: unknown) =>
        e instanceof ValidationError && /durability option is invalid/.test(e.message),
      JSON.stringify(durability),
    );
  }
  // A caller's client whose command timeout would cut every wait short.
  const client = new Redis({ lazyConnect: true, commandTimeout: 500, maxRetriesPerRequest: 0 });
  try {
    assert.throws(
      () => new RedisBackend({ client, durability: { replicas: 1, timeoutMs: 1000 } }),
      (e: unknown) => e instanceof ValidationError && /commandTimeout \(500 ms\)/.test(e.message),
    );
  } finally {
    client.disconnect();
  }
});

test("redis durability: every write path waits for the replica, and an acknowledged write is on it", async (t) => {
  const servers = await startServers(t, "redis durability", []);
  if (!servers) return;
  const [primary, replica] = servers as [RedisServer, RedisServer];
  const durability = { replicas: 1, timeoutMs: 2000 };
  const state = await StateManager.open({
    backend: "redis",
    url: primary.url,
    namespace: "paths",
    durability,
  });
  const offset = async (port: number) =>
    Number(
      /master_repl_offset:(\d+)/.exec(String(await command(port, "INFO", "replication")))?.[1],
    );
  try {
    const source = new MemoryBackend();
    const steps: [string, () => Promise<unknown>][] = [
      ["save", () => state.save("a", 1)],
      ["saveMany", () => state.saveMany({ b: 2, c: 3 })],
      ["save with a check", () => state.save("d", 4, { ifAbsent: true })],
      ["save with a TTL", () => state.save("e", 5, { ttlMs: 60_000 })],
      ["update", () => state.update<number>("a", (n = 0) => n + 1)],
      ["delete", () => state.delete("b")],
      ["checkpoint", () => state.checkpoint("cp1")],
      ["restore", () => state.restoreCheckpoint("cp1")],
      ["deleteCheckpoint", () => state.deleteCheckpoint("cp1")],
      ["recover", () => state.recover()],
      ["clear", () => state.clear()],
      ["migrate (MULTI imports)", async () => {
        const s = await StateManager.open({ backend: source, namespace: "moved" });
        await s.save("x", 1);
        await s.checkpoint("imported");
        await s.close();
        await migrate({ from: source, to: { backend: "redis", url: primary.url, durability } });
      }],
    ];
    for (const [name, run] of steps) {
      const before = await calls(primary.port, "wait");
      await run();
      assert.ok(await calls(primary.port, "wait") > before, `${name} sent no WAIT`);
      // Acknowledged means the replica has it: it is at the primary's replication offset.
      assert.equal(
        await offset(replica.port),
        await offset(primary.port),
        `${name}: replica behind`,
      );
    }
    assert.equal(
      await command(replica.port, "HEXISTS", "ms:{moved}:cps", "imported"),
      1,
      "the imported checkpoint is on the replica",
    );
  } finally {
    await state.close();
    await Promise.all(servers.map((s) => s.stop()));
  }
});
