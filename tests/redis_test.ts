// The Redis backend against a real server: the shared conformance suite,
// then Redis-only behaviour (key layout, TTL, scripts, connections, bad input).
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import process from "node:process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { BackendError, type OpenOptions, StateManager, ValidationError } from "../mod.ts";
import { RedisBackend } from "../backends/redis.ts";
import { testBackend } from "./conformance.ts";
import {
  deletePrefix,
  freePort,
  redisTarget,
  reportUnavailable,
  skipUnavailable,
  startRedisServer,
} from "./_redis_server.ts";
import { isDeno, runCommand } from "./_runtime.ts";

const target = await redisTarget();

if (typeof target === "string") {
  reportUnavailable("redis", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;
  const newPrefix = () => `mst-${crypto.randomUUID().slice(0, 8)}`;

  testBackend("redis", () => {
    const prefix = newPrefix();
    const base = { backend: "redis", url, prefix } as const;
    return Promise.resolve({
      open: (options = {}) => StateManager.open({ ...options, ...base }),
      childOptions: base,
      cleanup: () => deletePrefix(url, prefix),
    });
  }, { persistent: true, multiProcess: true });

  /** Runs `fn` with a manager on a fresh prefix and a raw client, then cleans up. */
  const withRedis = (
    behaviour: string,
    fn: (s: StateManager, raw: Redis, prefix: string) => Promise<void>,
    options: Partial<OpenOptions> = {},
  ) =>
    test(`redis: ${behaviour}`, async () => {
      const prefix = newPrefix();
      const raw = new Redis(url, { maxRetriesPerRequest: 1 });
      const s = await StateManager.open({
        backend: "redis",
        url,
        prefix,
        namespace: "wf",
        ...options,
      });
      try {
        await fn(s, raw, prefix);
      } finally {
        await s.close();
        await deletePrefix(url, prefix);
        raw.disconnect();
      }
    });

  const scanAll = async (raw: Redis, pattern: string) => {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await raw.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    return out.sort();
  };

  withRedis("keeps every key of a namespace under one hash tag", async (s, raw, prefix) => {
    await s.saveMany({ phase: "build", "task:1": 1 });
    await s.save("lease", "w1", { ttlMs: 60_000 });
    await s.checkpoint("cp");
    const keys = await scanAll(raw, `${prefix}:*`);
    assert.deepEqual(keys, [
      `${prefix}:{wf}:chg`,
      `${prefix}:{wf}:cp:cp`,
      `${prefix}:{wf}:cps`,
      `${prefix}:{wf}:idx`,
      `${prefix}:{wf}:k:lease`,
      `${prefix}:{wf}:k:phase`,
      `${prefix}:{wf}:k:task:1`,
      `${prefix}:{wf}:ttl`,
    ]);
  });

  withRedis("sets no expiry unless asked, and PEXPIREAT when asked", async (s, raw, prefix) => {
    await s.save("forever", 1);
    await s.save("lease", "w1", { ttlMs: 60_000 });
    assert.equal(await raw.pttl(`${prefix}:{wf}:k:forever`), -1);
    const entry = await s.getEntry("lease");
    const pttl = await raw.pttl(`${prefix}:{wf}:k:lease`);
    const expected = entry!.expiresAt! - Date.now();
    assert.ok(Math.abs(pttl - expected) < 1000, `PTTL ${pttl}, expected about ${expected}`);
    // Saving again without a TTL removes the expiry.
    await s.save("lease", "w2");
    assert.equal(await raw.pttl(`${prefix}:{wf}:k:lease`), -1);
    assert.equal((await s.getEntry("lease"))!.expiresAt, null);
  });

  withRedis("saves with one EVALSHA and loads with one MGET", async (s, raw, prefix) => {
    await s.save("warm", 0); // loads the script on this server if needed
    const monitor = await raw.monitor();
    const seen: string[][] = [];
    monitor.on("monitor", (_time: string, args: string[], source: string) => {
      // Commands run inside scripts show up with source "lua"; count round trips only.
      if (source !== "lua" && args.some((a) => String(a).includes(prefix))) {
        seen.push(args.map(String));
      }
    });
    await new Promise((r) => setTimeout(r, 50));
    await s.save("phase", "build");
    await s.loadMany(["phase", "warm"]);
    await s.listKeys();
    await s.checkpoint("cp");
    await s.restoreCheckpoint("cp");
    await s.listNamespaces();
    await s.clear();
    await new Promise((r) => setTimeout(r, 100));
    monitor.disconnect();
    const names = seen.map((args) => args[0]!.toLowerCase());
    // save, loadMany, listKeys, checkpoint, restore, clear: one command each.
    assert.deepEqual(
      names.filter((n) => n !== "scan" && n !== "zcard" && n !== "zcount"),
      ["evalsha", "mget", "evalsha", "evalsha", "evalsha", "evalsha"],
    );
    assert.ok(!names.includes("keys") && !names.includes("watch"), names.join(" "));
    assert.ok(!names.includes("exists"), names.join(" "));
  }, { cache: false });

  withRedis("reloads its scripts after SCRIPT FLUSH", async (s, raw) => {
    await s.save("a", 1);
    await raw.script("FLUSH");
    await s.save("a", 2);
    await s.checkpoint("cp");
    assert.equal(await s.load("a"), 2);
  });

  withRedis("sees writes from another connection through its cache", async (s, _raw, prefix) => {
    const other = await StateManager.open({ backend: "redis", url, prefix, namespace: "wf" });
    try {
      await s.save("phase", "plan");
      assert.equal(await s.load("phase"), "plan");
      const token = await s.backend.changeToken!("wf");
      await other.save("phase", "build");
      assert.notEqual(await s.backend.changeToken!("wf"), token);
      assert.equal(await s.load("phase"), "build");
      await other.clear();
      assert.equal(await s.load("phase", null), null);
    } finally {
      await other.close();
    }
  });

  withRedis("never lists keys that expired, by either clock", async (s, raw, prefix) => {
    await s.save("short", 1, { ttlMs: 50 });
    await s.save("gone", 1, { ttlMs: 60_000 });
    await s.save("stay", 1);
    await raw.del(`${prefix}:{wf}:k:gone`); // as if the server expired or evicted it
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual((await s.listKeys()).keys, ["stay"]);
    assert.deepEqual((await s.listKeys({ limit: 1 })).keys, ["stay"]);
    const report = await s.recover();
    assert.equal(report.ok, true);
    assert.deepEqual(await raw.zrange(`${prefix}:{wf}:idx`, "0", "-1"), ["stay"]);
  });

  withRedis(
    "keeps expiry in checkpoints and drops expired keys on restore",
    async (s, raw, prefix) => {
      await s.save("short", 1, { ttlMs: 150 });
      await s.save("long", 2, { ttlMs: 60_000 });
      await s.save("plain", 3);
      await s.checkpoint("cp");
      const entries = await s.backend.readCheckpoint("wf", "cp");
      const long = entries!.find((e) => e.key === "long")!;
      assert.equal(long.expiresAt, (await s.getEntry("long"))!.expiresAt);
      await new Promise((r) => setTimeout(r, 200));
      await s.restoreCheckpoint("cp");
      assert.deepEqual((await s.listKeys()).keys, ["long", "plain"]);
      assert.ok((await raw.pttl(`${prefix}:{wf}:k:long`)) > 0);
      assert.equal(await raw.pttl(`${prefix}:{wf}:k:plain`), -1);
      assert.equal((await s.listCheckpoints())[0]!.keyCount, 3);
    },
  );

  test("redis: uses a client passed in and leaves it open", async () => {
    const prefix = newPrefix();
    const client = new Redis(url, {
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    });
    try {
      const s = await StateManager.open({ backend: "redis", client, prefix, namespace: "wf" });
      await s.save("phase", "build");
      assert.equal(await s.load("phase"), "build");
      await s.close();
      assert.equal(client.status, "ready");
      assert.match(String(await client.get(`${prefix}:{wf}:k:phase`)), /"build"$/);
    } finally {
      await deletePrefix(url, prefix);
      client.disconnect();
    }
  });

  test("redis: reads REDIS_URL when no url is given", async () => {
    const prefix = newPrefix();
    const before = process.env.REDIS_URL;
    process.env.REDIS_URL = url;
    try {
      const s = await StateManager.open({ backend: "redis", prefix, namespace: "wf" });
      await s.save("a", 1);
      assert.equal(await s.load("a"), 1);
      await s.close();
    } finally {
      if (before === undefined) delete process.env.REDIS_URL;
      else process.env.REDIS_URL = before;
      await deletePrefix(url, prefix);
    }
  });

  test("redis: importing mod.ts does not load ioredis", { skip: !isDeno }, async () => {
    const script = fileURLToPath(new URL("./_update_child.ts", import.meta.url));
    const options = JSON.stringify({ backend: "memory", namespace: "wf" });
    // --no-npm makes any npm import fail, so this passes only if ioredis stays unloaded.
    const r = await runCommand(process.execPath, [
      "run",
      "-A",
      "--no-npm",
      script,
      options,
      "n",
      "3",
    ]);
    assert.equal(r.code, 0, r.stderr);
  });
}

// Bad input and unreachable servers: each a clear error, fast, never a hang.
const within = async (ms: number, fn: () => Promise<unknown>) => {
  const start = Date.now();
  await fn();
  const took = Date.now() - start;
  assert.ok(took < ms, `took ${took} ms, expected under ${ms} ms`);
};

const rejectsBackend = (p: Promise<unknown>, transient: boolean, re: RegExp) =>
  assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof BackendError, String(e));
    assert.equal(e.transient, transient, e.message);
    assert.match(e.message, re);
    return true;
  });

test("redis: refuses malformed URLs without showing the password", async () => {
  for (
    const url of [
      "http://127.0.0.1:6379",
      "redis://:hunter2@127.0.0.1:99999",
      "redis://:hunter2@127.0.0.1:6379/abc",
      "not a url",
      "redis://:hunter2@/0",
      "redis://127.0.0.1:6379?db=2",
    ]
  ) {
    await assert.rejects(StateManager.open({ backend: "redis", url }), (e: unknown) => {
      assert.ok(e instanceof ValidationError, String(e));
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    }, url);
  }
  assert.throws(() => new RedisBackend({ prefix: "a{b}" }), ValidationError);
  assert.throws(() => new RedisBackend({ client: {} as never }), ValidationError);
});

test("redis: a port with nothing listening fails fast as transient", async () => {
  const port = await freePort();
  const s = await StateManager.open({ backend: "redis", url: `redis://127.0.0.1:${port}` });
  await within(3000, () => rejectsBackend(s.save("a", 1), true, /ECONNREFUSED|refused/));
  await within(
    3000,
    () => rejectsBackend(s.load("a"), true, new RegExp(`127\\.0\\.0\\.1:${port}`)),
  );
  await s.close();
});

const tcpServer = async (onSocket: (socket: import("node:net").Socket) => void) => {
  const server: Server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  return { server, port: typeof address === "object" && address ? address.port : 0 };
};

test("redis: a server that speaks something else fails fast, not transient", async () => {
  const sockets = new Set<import("node:net").Socket>();
  const { server, port } = await tcpServer((socket) => {
    sockets.add(socket);
    socket.on("data", () => socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"));
    socket.on("error", () => {});
  });
  try {
    const s = await StateManager.open({ backend: "redis", url: `redis://127.0.0.1:${port}` });
    await within(3000, () => rejectsBackend(s.save("a", 1), false, /did not answer like Redis/));
    await s.close();
  } finally {
    sockets.forEach((socket) => socket.destroy());
    await new Promise((r) => server.close(r));
  }
});

test("redis: a server that never answers fails within the connect timeout", async () => {
  const sockets = new Set<import("node:net").Socket>();
  const { server, port } = await tcpServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  try {
    const s = await StateManager.open({
      backend: "redis",
      url: `redis://127.0.0.1:${port}`,
      redisOptions: { connectTimeout: 1000 },
    });
    await within(4000, () => rejectsBackend(s.save("a", 1), true, /no ready connection|timed out/));
    await s.close();
  } finally {
    sockets.forEach((socket) => socket.destroy());
    await new Promise((r) => server.close(r));
  }
});

test("redis: a wrong password is a clear, non-transient error that hides the password", async (t) => {
  let server;
  try {
    server = await startRedisServer(["--requirepass", "right-pass"]);
  } catch (error) {
    skipUnavailable(t, "the wrong-password test", (error as Error).message);
    return;
  }
  try {
    const wrong = `redis://:wrong-pass@127.0.0.1:${server.port}/2`;
    const s = await StateManager.open({ backend: "redis", url: wrong });
    await within(3000, () => rejectsBackend(s.save("a", 1), false, /WRONGPASS.*password/));
    await assert.rejects(s.load("a"), (e: Error) => !/wrong-pass/.test(e.message));
    await s.close();
    const right = `redis://:right-pass@127.0.0.1:${server.port}/2`;
    const ok = await StateManager.open({ backend: "redis", url: right, namespace: "wf" });
    await ok.save("a", 1);
    await ok.close();
    const raw = new Redis({ port: server.port, password: "right-pass", db: 2 });
    assert.match(String(await raw.get("ms:{wf}:k:a")), /1$/);
    raw.disconnect();
  } finally {
    await server.stop();
  }
});
