// The Redis backend against a real server: the shared conformance suite,
// then Redis-only behaviour (key layout, TTL, scripts, connections, bad input).
import assert from "node:assert/strict";
import process from "node:process";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { type ManagerOptions, StateManager } from "../mod.ts";
import { RedisBackend } from "../backends/redis.ts";
import { lexRange, namespaceOf, pack, unpack } from "../backends/_redis_layout.ts";
import { testBackend } from "./conformance.ts";
import { deletePrefix, redisTarget, reportUnavailable } from "./_redis_server.ts";
import { isDeno, runCommand } from "./_runtime.ts";

const target = await redisTarget();

if (typeof target === "string") {
  reportUnavailable("redis", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;
  const newPrefix = () => `mst-${crypto.randomUUID().slice(0, 8)}`;

  await testBackend("redis", () => {
    const prefix = newPrefix();
    const base = { backend: "redis", url, prefix } as const;
    return Promise.resolve({
      open: (options = {}) => StateManager.open({ ...options, ...base }),
      childOptions: base,
      cleanup: () => deletePrefix(url, prefix),
    });
  });

  /** Runs `fn` with a manager on a fresh prefix and a raw client, then cleans up. */
  const withRedis = (
    behaviour: string,
    fn: (s: StateManager, raw: Redis, prefix: string) => Promise<void>,
    options: ManagerOptions = {},
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
      `${prefix}:{wf}:head`,
      `${prefix}:{wf}:idx`,
      `${prefix}:{wf}:k:lease`,
      `${prefix}:{wf}:k:phase`,
      `${prefix}:{wf}:k:task:1`,
      `${prefix}:{wf}:req`,
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

  test("redis: stores any version text exactly", async () => {
    const prefix = newPrefix();
    const backend = new RedisBackend({ url, prefix });
    try {
      for (const version of ["v:1:2", "ä😀\u{10FFFF}", "x".repeat(300)]) {
        const result = await backend.commit("wf", {
          id: crypto.randomUUID(),
          version,
          checks: [],
          sets: [{ key: "k", value: '"v"', expiresAt: null }],
          deletes: [],
        });
        assert.deepEqual(result, { ok: true, version });
        const [entry] = await backend.get("wf", ["k"]);
        assert.deepEqual(entry, { key: "k", value: '"v"', version, expiresAt: null });
        const check = { key: "k", version };
        const next = {
          id: crypto.randomUUID(),
          version: "n",
          checks: [check],
          sets: [],
          deletes: ["k"],
        };
        assert.deepEqual(await backend.commit("wf", next), { ok: true, version: "n" });
      }
    } finally {
      await backend.close();
      await deletePrefix(url, prefix);
    }
  });

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

test("redis: entry encoding and key names are exact", () => {
  for (const version of ["1", "a:b", "ä😀"]) {
    for (const expiresAt of [null, 1_700_000_000_123]) {
      const text = pack(version, expiresAt, '{"v":"😀:1:"}');
      assert.deepEqual(unpack("k", text, "k"), {
        key: "k",
        value: '{"v":"😀:1:"}',
        version,
        expiresAt,
      });
    }
  }
  assert.throws(
    () => unpack("k", "plain text", "ms:{wf}:k:k"),
    /does not hold a managing-state entry/,
  );
  assert.equal(namespaceOf("ms", "ms:{wf-1}:idx"), "wf-1");
  assert.equal(namespaceOf("ms", "ms:{wf-1}:cps"), "wf-1");
  assert.equal(namespaceOf("ms", "ms:{wf}:k:x}:idx"), null);
  assert.equal(namespaceOf("ms", "other:{wf}:idx"), null);
  assert.deepEqual(lexRange("", undefined), ["-", "+"]);
  assert.deepEqual(lexRange("task:", "task:1"), ["(task:1", "(task;"]);
  assert.deepEqual(lexRange("b", "a"), ["[b", "(c"]);
});
