// The Redis `durability` option against real servers this file starts: WAIT
// after every write path, the outcome-unknown error when replicas are short,
// and a Sentinel failover (primary SIGKILLed in the middle of a write stream)
// with and without the option, counting acknowledged writes the promoted
// replica does not have.
import assert from "node:assert/strict";
import { createConnection } from "node:net";
import process from "node:process";
import { test, type TestContext } from "node:test";
import { BackendError, MemoryBackend, migrate, StateManager, ValidationError } from "../mod.ts";
import { RedisBackend, type RedisDurability } from "../backends/redis.ts";
import { Redis } from "ioredis";
import {
  type RedisCluster,
  type RedisServer,
  skipUnavailable,
  startRedisCluster,
  startRedisServer,
} from "./_redis_server.ts";
import { command, type FailoverSet, startFailoverSet, SYNC } from "./_redis_failover.ts";

/** Failovers per mode (with and without the option); CI runs one of each. */
const ROUNDS = Number(process.env.DURABILITY_ROUNDS ?? 1);
/** Concurrent writers in the stream (each its own manager and connection). */
const WRITERS = 4;
/** How long the primary outlives its replicas' links in the second case, in ms. */
const CUT_MS = 300;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the server at `port` answers PING within 100 ms (it does not while a script runs). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), 100);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", () => finish(true));
    socket.on("error", () => finish(false));
  });
}

/** A Lua script that keeps the server busy for ARGV[1] ms. */
const BUSY = `local s = redis.call('TIME')
repeat
  local n = redis.call('TIME')
until (n[1] - s[1]) * 1000 + (n[2] - s[2]) / 1000 >= tonumber(ARGV[1])
return 1`;

/** How many times the server has run `name` (INFO commandstats). */
async function calls(port: number, name: string): Promise<number> {
  const info = String(await command(port, "INFO", "commandstats"));
  return Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

/** SIGKILL, then remove the folders (a SIGTERMed primary would wait for its replicas). */
async function stopAll(servers: RedisServer[]): Promise<void> {
  await Promise.all(servers.map(async (s) => {
    await s.kill();
    await s.stop();
  }));
}

async function startServers(
  t: TestContext,
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
    await stopAll(servers);
    skipUnavailable(t, what, (error as Error).message);
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
    await stopAll(servers);
  }
});

test("redis durability: too few replicas is an outcome-unknown error, sent once, and the write is on the primary", async (t) => {
  const servers = await startServers(t, "redis durability", null);
  if (!servers) return;
  const [primary] = servers as [RedisServer];
  const durable = await StateManager.open({
    backend: "redis",
    url: primary.url,
    namespace: "short",
    durability: { replicas: 1, timeoutMs: 100 },
  });
  const plain = await StateManager.open({ backend: "redis", url: primary.url, namespace: "short" });
  try {
    const before = await calls(primary.port, "evalsha");
    const start = Date.now();
    const error = await durable.save("phase", "build").then(() => null, (e: unknown) => e);
    assert.ok(error instanceof BackendError, String(error));
    assert.equal(error.outcomeUnknown, true);
    assert.equal(error.transient, false);
    assert.match(error.message, /only 0 of 1 replica\(s\) acknowledged it within 100 ms/);
    assert.match(error.message, /write to namespace "short"/);
    assert.ok(Date.now() - start >= 100, "it waited for the replicas");
    // Not retried: the script ran once, and it did land on the primary.
    assert.equal(await calls(primary.port, "evalsha") - before, 1);
    assert.equal(await plain.load("phase"), "build");
    // A checkpoint (another script) reports the same.
    await assert.rejects(
      durable.checkpoint("cp"),
      (e: unknown) =>
        e instanceof BackendError && e.outcomeUnknown && /take checkpoint "cp"/.test(e.message),
    );
    assert.deepEqual((await plain.listCheckpoints()).map((c) => c.name), ["cp"]);
  } finally {
    await durable.close();
    await plain.close();
    await stopAll(servers);
  }
});

test("redis durability: a retry after a lost reply makes its wait cover the write it finds applied", async (t) => {
  const servers = await startServers(t, "redis durability", []);
  if (!servers) return;
  const [primary, replica] = servers as [RedisServer, RedisServer];
  // Replies later than 2.5 s are lost to the client; the manager retries by
  // request id. (A WAIT queued behind a busy server can take until the
  // replica's next periodic acknowledgement, up to 1 s: the limits leave room.)
  const state = await StateManager.open({
    backend: "redis",
    url: primary.url,
    namespace: "lost",
    redisOptions: { commandTimeout: 2500 },
    durability: { replicas: 1, timeoutMs: 2000 },
    retry: { attempts: 3, baseDelayMs: 25, maxDelayMs: 25, timeoutMs: 10_000 },
  });
  try {
    await state.save("warm", 0); // connected and scripts loaded
    const [evals, incrs] = [
      await calls(primary.port, "evalsha"),
      await calls(primary.port, "incr"),
    ];
    // A script on another connection keeps the server busy for 3 s: the
    // first attempt runs only after its reply was given up; the retry is
    // answered.
    const busy = command(primary.port, "EVAL", BUSY, "0", "3000");
    // Until the script runs: two PINGs in a row unanswered (one may be slow on a loaded machine).
    for (let missed = 0; missed < 2;) missed = await answers(primary.port) ? 0 : missed + 1;
    await state.save("k", "once");
    await busy;
    const attempts = await calls(primary.port, "evalsha") - evals;
    assert.ok(attempts >= 2, `${attempts} attempt(s): no reply was lost`);
    // The write ran once (its script increments the change counter once), and
    // each retry increments the counter after its script, so its WAIT counts
    // from a write of its own although the script found its id applied.
    assert.equal(await calls(primary.port, "incr") - incrs, 1 + (attempts - 1));
    assert.equal(await command(primary.port, "GET", "ms:{lost}:chg"), String(1 + attempts));
    const entry = await state.getEntry("k");
    assert.equal(entry?.value, "once");
    assert.equal(await command(replica.port, "EXISTS", "ms:{lost}:k:k"), 1);
  } finally {
    await state.close();
    await stopAll(servers);
  }
});

test("redis durability: in a Cluster the wait runs on the node that owns the namespace's slot", async (t) => {
  let cluster: RedisCluster;
  try {
    cluster = await startRedisCluster();
  } catch (error) {
    return skipUnavailable(t, "redis durability (cluster)", (error as Error).message);
  }
  // Three masters without replicas: every wait falls short, which says where it ran.
  const base = { backend: "redis", url: cluster.url, cluster: true } as const;
  const durable = await StateManager.open({
    ...base,
    namespace: "slot",
    durability: { replicas: 1, timeoutMs: 50 },
  });
  const plain = await StateManager.open({ ...base, namespace: "slot" });
  try {
    const ports = cluster.servers.map((s) => s.port);
    const before = await Promise.all(ports.map((p) => calls(p, "wait")));
    await assert.rejects(
      durable.save("k", 1),
      (e: unknown) => e instanceof BackendError && e.outcomeUnknown && /0 of 1/.test(e.message),
    );
    // (Twice on the owner, as the script was not loaded there yet: NOSCRIPT, then EVAL.)
    const waited = (await Promise.all(ports.map((p) => calls(p, "wait")))).map((n, i) =>
      n > before[i]! ? 1 : 0
    );
    // The owner answers EXISTS; the others answer MOVED.
    const owner = await Promise.all(
      ports.map((p) => command(p, "EXISTS", "ms:{slot}:k:k").then(Number, () => 0)),
    );
    assert.deepEqual(waited, owner, "WAIT ran on another node than the write");
    assert.equal(await plain.load("k"), 1);
    // Migration's MULTI imports route their wait the same way.
    const source = new MemoryBackend();
    const s = await StateManager.open({ backend: source, namespace: "slot2" });
    await s.checkpoint("c");
    await s.close();
    await assert.rejects(
      migrate({ from: source, to: { ...base, durability: { replicas: 1, timeoutMs: 50 } } }),
      (e: unknown) => e instanceof BackendError && e.outcomeUnknown,
    );
  } finally {
    await durable.close();
    await plain.close();
    await cluster.stop();
  }
});

test("redis durability: aof waits with WAITAOF where the server has it, else with WAIT", async (t) => {
  const servers = await startServers(t, "redis durability", ["--appendonly", "yes"]);
  if (!servers) return;
  const [primary, replica] = servers as [RedisServer, RedisServer];
  const version = /redis_version:(\d+)\.(\d+)/.exec(
    String(await command(primary.port, "INFO", "server")),
  );
  const hasWaitAof = Number(version?.[1]) * 100 + Number(version?.[2]) >= 702;
  const state = await StateManager.open({
    backend: "redis",
    url: primary.url,
    namespace: "aof",
    durability: { replicas: 1, timeoutMs: 2000, aof: true },
  });
  try {
    const [wait, waitaof] = [
      await calls(primary.port, "wait"),
      await calls(primary.port, "waitaof"),
    ];
    for (let i = 0; i < 3; i++) await state.save(`k${i}`, i);
    const waits = await calls(primary.port, "wait") - wait;
    const waitaofs = await calls(primary.port, "waitaof") - waitaof;
    // Without WAITAOF the first write learns it from "unknown command"; every write then WAITs.
    assert.deepEqual([waits, waitaofs], hasWaitAof ? [0, 3] : [3, 0], `Redis ${version?.[0]}`);
    assert.equal(await command(replica.port, "EXISTS", "ms:{aof}:k:k2"), 1);
  } finally {
    await state.close();
    await stopAll(servers);
  }
});

/** What one failover run saw. */
interface Figures {
  acknowledged: number;
  lost: number;
  /** From SIGKILL until the Sentinels named a new primary that answers as one. */
  failoverMs: number;
  /** Acknowledged after the promotion (the stream carried on). */
  after: number;
  outcomeUnknown: number;
  otherErrors: number;
}

/**
 * Streams saves from WRITERS managers through the Sentinels, SIGKILLs the
 * primary in the middle, waits for the promotion, keeps writing, then reads
 * every acknowledged key back from the new primary.
 */
async function failover(
  set: FailoverSet,
  durability: RedisDurability | undefined,
  cut: boolean,
): Promise<Figures> {
  const base = {
    backend: "redis",
    namespace: "stream",
    redisOptions: { ...set.redisOptions, connectTimeout: 1000 },
    cache: false,
  } as const;
  const managers = await Promise.all(
    Array.from(
      { length: WRITERS },
      () => StateManager.open(durability ? { ...base, durability } : base),
    ),
  );
  const acked = new Map<string, number>();
  const figures = { outcomeUnknown: 0, otherErrors: 0, after: 0 };
  let promoted = false;
  let stop = false;
  const writer = async (state: StateManager, w: number) => {
    for (let i = 0; !stop; i++) {
      const key = `w${w}-${i}`;
      try {
        await state.save(key, i);
        acked.set(key, i);
        if (promoted) figures.after++;
      } catch (error) {
        if (error instanceof BackendError && error.outcomeUnknown) figures.outcomeUnknown++;
        else if (error instanceof BackendError) figures.otherErrors++;
        else throw error;
        await sleep(20);
      }
    }
  };
  const writers = managers.map(writer);
  try {
    const first = set.servers[0]!;
    assert.equal(await set.primaryPort(), first.port);
    const deadline = Date.now() + 10_000;
    while (acked.size < 300 && Date.now() < deadline) await sleep(10);
    assert.ok(acked.size >= 300, `only ${acked.size} writes before the kill`);
    const replicas = set.servers.slice(1);
    if (cut) {
      // The replicas lose their links (a network partition) and cannot get
      // back (a wrong masterauth fails their handshake); the primary keeps
      // taking writes for CUT_MS, then dies.
      for (const r of replicas) await command(r.port, "CONFIG", "SET", "masterauth", "partitioned");
      await command(first.port, "CLIENT", "KILL", "TYPE", "replica");
      await sleep(CUT_MS);
    }
    const killedAt = Date.now();
    await first.kill();
    // The partition heals (the new primary's replicas need no password).
    for (const r of cut ? replicas : []) await command(r.port, "CONFIG", "SET", "masterauth", "");
    const next = await set.promoted(first.port, 30_000);
    const failoverMs = Date.now() - killedAt;
    promoted = true;
    // The old primary comes back (empty) as a replica of the new one, as
    // Sentinel would make it a few seconds later; writes with the option are
    // acknowledged again once it has synced.
    await first.start();
    await command(first.port, "REPLICAOF", "127.0.0.1", String(next));
    const resumed = Date.now() + 20_000;
    while (figures.after < 200 && Date.now() < resumed) await sleep(10);
    assert.ok(figures.after >= 200, `the stream did not carry on: ${figures.after} writes after`);
    stop = true;
    await Promise.all(writers);
    // Read every acknowledged key back from the new primary.
    const check = await StateManager.open(base);
    let lost = 0;
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 500) {
      const slice = keys.slice(i, i + 500);
      const entries = await check.getEntries(slice);
      entries.forEach((e, j) => {
        if (e?.value !== acked.get(slice[j]!)) lost++;
      });
    }
    await check.close();
    return { acknowledged: acked.size, lost, failoverMs, ...figures };
  } finally {
    stop = true;
    await Promise.allSettled(writers);
    await Promise.all(managers.map((m) => m.close()));
  }
}

const CASES = [
  ["mid-stream", false],
  ["cut off from its replicas", true],
] as const;
for (const [when, cut] of CASES) {
  for (const mode of ["with", "without"] as const) {
    const durability = mode === "with" ? { replicas: 1, timeoutMs: 1000 } : undefined;
    test(`redis durability: Sentinel failover after SIGKILL of the primary ${when}, ${mode} the option (${ROUNDS} round(s))`, async (t) => {
      for (let round = 1; round <= ROUNDS; round++) {
        let set: FailoverSet;
        try {
          set = await startFailoverSet(1);
        } catch (error) {
          return skipUnavailable(t, "redis durability failover", (error as Error).message);
        }
        try {
          const f = await failover(set, durability, cut);
          console.log(
            `failover ${when}, ${mode} durability (round ${round}): ${f.acknowledged} writes acknowledged, ` +
              `${f.lost} lost; new primary after ${f.failoverMs} ms; ${f.after} acknowledged after it; ` +
              `${f.outcomeUnknown} outcome-unknown and ${f.otherErrors} other errors`,
          );
          if (durability) assert.equal(f.lost, 0, "an acknowledged write was lost");
          // The control: cut off from its replicas, the primary acknowledges writes
          // that die with it, and this check sees them (loopback replication is
          // otherwise so fast that a plain kill rarely loses any).
          if (cut && !durability) assert.ok(f.lost > 0, "the partition lost no write: no control");
          // With the option those writes were never acknowledged: the writers
          // waiting for replicas when the primary died were told the outcome is unknown.
          if (cut && durability) assert.ok(f.outcomeUnknown > 0, "no outcome-unknown error");
        } finally {
          await set.stop();
        }
      }
    });
  }
}
