// The Redis backend against a local 3-master Redis Cluster: the conformance
// suite through a URL, then a Cluster instance passed in, and namespace
// discovery across every master; the legacy-redis migration source too.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { Cluster } from "ioredis";
import { migrate, StateManager } from "../mod.ts";
import { pyRedisCheckpoint, pyRedisSave } from "./_python.ts";
import { testBackend } from "./conformance.ts";
import {
  deleteKeys,
  deletePrefix,
  type RedisCluster,
  reportUnavailable,
  startRedisCluster,
} from "./_redis_server.ts";

let cluster: RedisCluster | string;
try {
  cluster = await startRedisCluster();
} catch (error) {
  cluster = (error as Error).message;
}

if (typeof cluster === "string") {
  reportUnavailable("redis-cluster", cluster);
} else {
  const { url, servers, stop } = cluster;
  after(stop);
  const newPrefix = () => `msc-${crypto.randomUUID().slice(0, 8)}`;

  await testBackend("redis-cluster", () => {
    const prefix = newPrefix();
    const base = { backend: "redis", url, cluster: true, prefix } as const;
    return Promise.resolve({
      open: (options = {}) => StateManager.open({ ...options, ...base }),
      childOptions: base,
      cleanup: () => deletePrefix(url, prefix, true),
    });
  });

  const openCluster = async () => {
    const client = new Cluster([{ host: "127.0.0.1", port: servers[0]!.port }], {
      redisOptions: { maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
    });
    await new Promise((resolve) => client.once("ready", resolve));
    return client;
  };

  test("redis-cluster: uses a Cluster instance passed in and leaves it open", async () => {
    const prefix = newPrefix();
    const client = await openCluster();
    try {
      const s = await StateManager.open({ backend: "redis", client, prefix, namespace: "wf" });
      await s.saveMany({ phase: "build", plan: ["a"] });
      await s.checkpoint("cp");
      await s.save("phase", "test");
      await s.restoreCheckpoint("cp");
      assert.deepEqual(await s.loadMany(["phase", "plan"]), { phase: "build", plan: ["a"] });
      assert.equal(await s.update<number>("n", (n = 0) => n + 1), 1);
      await s.close();
      assert.equal(client.status, "ready");
      assert.equal(await client.exists(`${prefix}:{wf}:k:phase`), 1);
    } finally {
      await deleteKeys(client, `${prefix}:*`);
      client.disconnect();
    }
  });

  test("redis-cluster: listNamespaces() finds namespaces on every master", async () => {
    const prefix = newPrefix();
    const client = await openCluster();
    const names = Array.from({ length: 24 }, (_, i) => `ns-${String(i).padStart(2, "0")}`);
    try {
      for (const namespace of names) {
        const s = await StateManager.open({ backend: "redis", client, prefix, namespace });
        await s.save("phase", namespace);
        await s.close();
      }
      // Every master holds at least one of them, so the listing must scan them all.
      for (const node of client.nodes("master")) {
        const [, keys] = await node.scan("0", "MATCH", `${prefix}:*`, "COUNT", 10_000);
        assert.ok(keys.length > 0, `master ${node.options.port} holds none of the namespaces`);
      }
      const s = await StateManager.open({ backend: "redis", url, cluster: true, prefix });
      assert.deepEqual(await s.listNamespaces(), names);
      await s.close();
    } finally {
      await deleteKeys(client, `${prefix}:*`);
      client.disconnect();
    }
  });

  test("legacy-redis: reads the reference's keys from every master of a Cluster", async () => {
    const client = await openCluster();
    const prefix = newPrefix();
    const names = Array.from({ length: 6 }, (_, i) => `wf-${i}`);
    try {
      // The reference's keys carry no hash tag: one namespace spreads over every master.
      for (const ns of names) {
        const values = Object.fromEntries(
          Array.from({ length: 10 }, (_, i) => [`k${i}`, { ns, i, ok: i % 2 === 0 }]),
        );
        for (const [k, v] of Object.entries(values)) await pyRedisSave(client, ns, k, v);
        await pyRedisCheckpoint(client, ns, "after_planning", values);
      }
      for (const node of client.nodes("master")) {
        const [, keys] = await node.scan("0", "MATCH", "state:*", "COUNT", 10_000);
        assert.ok(keys.length > 0, `master ${node.options.port} holds none of the keys`);
      }
      // The URL names one node; the source sees it is a Cluster node.
      const to = { backend: "redis", url, cluster: true, prefix } as const;
      const report = await migrate({ from: { backend: "legacy-redis", url }, to });
      assert.deepEqual(
        [
          report.verified,
          report.keys,
          report.checkpoints,
          report.namespaces.map((n) => n.namespace),
        ],
        [true, 60, 6, names],
      );
      assert.equal(report.namespaces.reduce((n, r) => n + r.ttlsDropped, 0), 60);
      const s = await StateManager.open({ ...to, namespace: "wf-3" });
      assert.deepEqual(await s.load("k4"), { ns: "wf-3", i: 4, ok: true });
      assert.equal((await s.getEntry("k4"))!.expiresAt, null);
      await s.restoreCheckpoint("after_planning");
      assert.equal((await s.listKeys()).keys.length, 10);
      await s.close();
      const again = await migrate({ from: { backend: "legacy-redis", url, cluster: true }, to });
      assert.deepEqual([again.verified, again.written], [true, 0]);
    } finally {
      await deleteKeys(client, `${prefix}:*`);
      await deleteKeys(client, "state:*");
      await deleteKeys(client, "checkpoint:*");
      client.disconnect();
    }
  });
}
