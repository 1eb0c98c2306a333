// The Python reference implementation's Redis data (`state:<ns>:<key>` with a
// 24-hour expiry, `checkpoint:<ns>:<name>` as one JSON object), written the
// way its RedisBackend writes it, migrated with the legacy-redis source.
// The source is a redis-server this file starts for itself (never REDIS_URL):
// discovery reads the whole keyspace, and the read-only check counts writes.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, test } from "node:test";
import { Redis } from "ioredis";
import {
  type Backend,
  exportState,
  importState,
  MemoryBackend,
  migrate,
  type MigrationReport,
  StateDamagedError,
  ValidationError,
} from "../mod.ts";
import { run } from "../cli.ts";
import { Connection, readItems } from "../migrate/_legacy_redis_client.ts";
import { snapshot, stopRedis, type Store, STORES, withStores } from "./_migrate_stores.ts";
import { pyRedisCheckpoint, pyRedisSave } from "./_python.ts";
import { privateRedisServer, type RedisServer, reportUnavailable } from "./_redis_server.ts";
import { removeDir, tempDir } from "./_runtime.ts";

after(() => stopRedis());

/** Values of every kind the reference could save: unicode, nested, falsy. */
const VALUES: Record<string, unknown> = {
  current_phase: "building",
  completed_tasks: ["scout", "plan"],
  plan: { steps: [{ name: "build", deps: ["plan"], done: false }], notes: { "日本": "語" } },
  "café": "naïve 🚀 end",
  "emoji-🚀": 2.5,
  retries: 0,
  empty: "",
  done: false,
  nothing: null,
  none_list: [],
  none_dict: {},
  "task:1": "a key with a colon",
};
const PLANNED: Record<string, unknown> = { current_phase: "planning", completed_tasks: ["scout"] };

const server = await privateRedisServer();

if (typeof server === "string") {
  reportUnavailable("legacy-redis", server);
} else {
  const { url } = server;
  after(() => (server as RedisServer).stop());
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  after(() => client.disconnect());
  const from = { backend: "legacy-redis", url } as const;

  /** The reference's data: workflow-123 with two checkpoints, and wf-b. */
  const populate = async () => {
    await client.flushall();
    for (const [k, v] of Object.entries(PLANNED)) await pyRedisSave(client, "workflow-123", k, v);
    await pyRedisCheckpoint(client, "workflow-123", "after_planning", PLANNED);
    for (const [k, v] of Object.entries(VALUES)) await pyRedisSave(client, "workflow-123", k, v);
    await pyRedisCheckpoint(client, "workflow-123", "auto_20240101_100000", VALUES);
    await pyRedisSave(client, "wf-b", "only", 0);
  };

  /** Every source key with its value and exact expiry. */
  const sourceState = async () => {
    const out: Record<string, [string | null, number]> = {};
    for (const key of (await client.keys("*")).sort()) {
      out[key] = [await client.get(key), await client.pexpiretime(key)];
    }
    return out;
  };
  const writes = async () =>
    Number(/rdb_changes_since_last_save:(\d+)/.exec(await client.info("persistence"))![1]);

  const assertCopied = async (store: Store, report: MigrationReport) => {
    assert.equal(report.verified, true);
    assert.equal(report.from, "legacy-redis");
    assert.deepEqual(report.namespaces.map((n) => n.namespace), ["wf-b", "workflow-123"]);
    assert.equal(report.keys, Object.keys(VALUES).length + 1);
    assert.equal(report.checkpoints, 2);
    const s = await store.open("workflow-123");
    try {
      assert.deepEqual(await s.loadMany(Object.keys(VALUES)), VALUES);
      for (const key of Object.keys(VALUES)) {
        assert.equal((await s.getEntry(key))!.expiresAt, null, `${key} keeps no expiry`);
      }
      const cps = await s.listCheckpoints();
      assert.deepEqual(
        cps.map((c) => [c.name, c.createdAt, c.auto, c.keyCount, c.metadata]),
        [
          ["auto_20240101_100000", Date.UTC(2024, 0, 1, 10), true, Object.keys(VALUES).length, {
            importedFrom: "legacy-redis",
          }],
          ["after_planning", 0, false, 2, { importedFrom: "legacy-redis" }],
        ],
      );
      await s.restoreCheckpoint("after_planning");
      assert.deepEqual((await s.listKeys()).keys, ["completed_tasks", "current_phase"]);
      assert.deepEqual(await s.loadMany(Object.keys(PLANNED)), PLANNED);
      await s.restoreCheckpoint("auto_20240101_100000");
      assert.deepEqual(await s.loadMany(Object.keys(VALUES)), VALUES);
    } finally {
      await s.close();
    }
    const b = await store.open("wf-b");
    assert.equal(await b.load("only"), 0);
    await b.close();
  };

  test("legacy-redis: values and checkpoints come over exactly; the 24-hour expiry is reported, not copied; the source is only read; a re-run writes nothing", () =>
    withStores(["sqlite"], async (dst) => {
      await populate();
      const before = await sourceState();
      const writesBefore = await writes();
      const report = await migrate({ from, to: dst.endpoint });
      await assertCopied(dst, report);
      const ns = report.namespaces.find((n) => n.namespace === "workflow-123")!;
      assert.equal(ns.ttlsDropped, Object.keys(VALUES).length);
      assert.deepEqual(ns.expiredBeforeRead, []);
      const again = await migrate({ from, to: dst.endpoint });
      assert.deepEqual(
        [again.verified, again.written, again.namespaces.map((n) => n.checkpointsWritten)],
        [true, 0, [0, 0]],
      );
      assert.deepEqual(await sourceState(), before, "every source key keeps its value and expiry");
      assert.equal(await writes(), writesBefore, "the server saw no write");
    }));

  test("legacy-redis: keepTtl copies each key's remaining time exactly, and a re-run writes nothing", () =>
    withStores(["sqlite"], async (dst) => {
      await populate();
      const report = await migrate({ from: { ...from, keepTtl: true }, to: dst.endpoint });
      assert.equal(report.verified, true);
      assert.equal(report.namespaces[1]!.ttlsDropped, 0);
      const s = await dst.open("workflow-123");
      try {
        for (const key of Object.keys(VALUES)) {
          const expiry = await client.pexpiretime(`state:workflow-123:${key}`);
          assert.ok(expiry > Date.now() + 86_000_000);
          assert.equal((await s.getEntry(key))!.expiresAt, expiry, key);
        }
      } finally {
        await s.close();
      }
      const again = await migrate({ from: { ...from, keepTtl: true }, to: dst.endpoint });
      assert.deepEqual([again.verified, again.written], [true, 0]);
    }));

  test("legacy-redis: reaches every backend, and through an export file", async () => {
    await populate();
    for (const kind of Object.keys(STORES)) {
      await withStores([kind, "sqlite"], async (dst, viaFile) => {
        await assertCopied(dst, await migrate({ from, to: dst.endpoint }));
        const dir = tempDir();
        try {
          const file = join(dir, "legacy.jsonl");
          await exportState({ from, to: file });
          assert.equal((await importState({ from: file, to: viaFile.endpoint })).verified, true);
          for (const ns of ["wf-b", "workflow-123"]) {
            assert.deepEqual(
              await snapshot(viaFile, ns),
              await snapshot(dst, ns),
              `${kind}: ${ns}`,
            );
          }
        } finally {
          removeDir(dir);
        }
      });
    }
  });

  /** `target`, running `before` ahead of its first commit to `ns`. */
  const stalling = (target: Backend, ns: string, before: () => Promise<void>): Backend => {
    let done = false;
    return new Proxy(target, {
      get(t, prop) {
        if (prop === "commit") {
          return async (name: string, op: Parameters<Backend["commit"]>[1]) => {
            if (name === ns && !done) {
              done = true;
              await before();
            }
            return await t.commit(name, op);
          };
        }
        const value = Reflect.get(t, prop);
        return typeof value === "function" ? value.bind(t) : value;
      },
    });
  };

  /** Lets `redisKey` expire on the server (a 1 ms expiry), and waits until it is gone. */
  const expireNow = async (redisKey: string) => {
    await client.pexpire(redisKey, 1);
    while (await client.exists(redisKey)) await new Promise((r) => setTimeout(r, 2));
  };

  test("legacy-redis: a key that expires during the run is reported as such, not as a verification failure", async () => {
    await client.flushall();
    await pyRedisSave(client, "a-first", "phase", "plan");
    await pyRedisSave(client, "b-second", "soon", "gone by the time it is read");
    await pyRedisSave(client, "b-second", "stays", 1);
    // The keys of b-second are listed up front; the first write to a-first lets "soon" expire.
    const memory = new MemoryBackend();
    const target = stalling(memory, "a-first", () => expireNow("state:b-second:soon"));
    const report = await migrate({ from, to: target });
    assert.equal(report.verified, true);
    const b = report.namespaces.find((n) => n.namespace === "b-second")!;
    assert.deepEqual([b.keys, b.expiredBeforeRead, b.expiredKeys], [1, ["soon"], 1]);
    assert.deepEqual(await target.get("b-second", ["soon", "stays"]).then((e) => e.map(Boolean)), [
      false,
      true,
    ]);

    // An earlier run's copy of a key that expires during a re-run is kept, even with overwrite.
    await pyRedisSave(client, "b-second", "soon", "copied before");
    assert.equal((await migrate({ from, to: memory })).verified, true);
    await pyRedisSave(client, "a-first", "phase", "build"); // so that the re-run writes a-first
    const stalled = stalling(memory, "a-first", () => expireNow("state:b-second:soon"));
    const rerun = await migrate({ from, to: stalled, overwrite: true });
    assert.equal(rerun.verified, true);
    assert.deepEqual(rerun.namespaces[1]!.expiredBeforeRead, ["soon"]);
    assert.equal(JSON.parse((await memory.get("b-second", ["soon"]))[0]!.value), "copied before");

    // With keepTtl, a key copied with its expiry that passes before verification is excused too.
    await client.flushall();
    await pyRedisSave(client, "a-first", "phase", "plan");
    await client.set("state:a-first:lease", '"worker-1"', "PX", 400);
    const late = stalling(new MemoryBackend(), "a-first", async () => {
      while (await client.exists("state:a-first:lease")) await new Promise((r) => setTimeout(r, 5));
    });
    const kept = await migrate({ from: { ...from, keepTtl: true }, to: late });
    assert.deepEqual([kept.verified, kept.namespaces[0]!.expiredKeys], [true, 1]);
  });

  test("legacy-redis: a namespace whose name holds ':' is read by naming it, and becomes a valid name", () =>
    withStores(["sqlite"], async (dst) => {
      await client.flushall();
      await pyRedisSave(client, "team:alpha", "phase", "review");
      await pyRedisSave(client, "team:alpha", "tasks", ["a", "b"]);
      await pyRedisCheckpoint(client, "team:alpha", "after_plan", { phase: "review" });
      await pyRedisSave(client, "team", "lead", "ana");
      const report = await migrate({ from, to: dst.endpoint, namespaces: ["team:alpha"] });
      assert.equal(report.verified, true);
      assert.deepEqual(
        report.namespaces.map((n) => [n.namespace, n.renamedFrom, n.keys, n.checkpoints]),
        [["team.alpha", "team:alpha", 2, 1]],
      );
      const s = await dst.open("team.alpha");
      assert.deepEqual(await s.loadMany(["phase", "tasks"]), {
        phase: "review",
        tasks: ["a", "b"],
      });
      assert.deepEqual((await s.listCheckpoints()).map((c) => c.name), ["after_plan"]);
      await s.close();

      // A shorter name given with it does not take the longer one's keys.
      const both = await migrate({ from, to: dst.endpoint, namespaces: ["team", "team:alpha"] });
      assert.deepEqual(both.namespaces.map((n) => [n.namespace, n.keys]), [
        ["team", 1],
        ["team.alpha", 2],
      ]);

      // Without names, a namespace ends at the first ":", as documented.
      const all = await migrate({ from, to: { backend: "memory" } });
      assert.deepEqual(all.namespaces.map((n) => [n.namespace, n.keys, n.checkpoints]), [
        ["team", 3, 1],
      ]);

      await assert.rejects(
        migrate({ from, to: dst.endpoint, namespaces: ["team:alpha", "team.alpha"] }),
        (e: unknown) =>
          e instanceof ValidationError && /would both become "team\.alpha"/.test(e.message),
      );
      await assert.rejects(
        migrate({ from, to: dst.endpoint, namespaces: ["bad name"] }),
        (e: unknown) =>
          e instanceof ValidationError && /"bad name" cannot be migrated/.test(e.message),
      );
    }));

  test("legacy-redis: data that is not the reference's layout is refused, naming the Redis key", async () => {
    const to = { backend: "memory" } as const;
    const refused = async (
      setup: () => Promise<unknown>,
      type: typeof StateDamagedError | typeof ValidationError,
      message: RegExp,
    ) => {
      await client.flushall();
      await pyRedisSave(client, "wf", "ok", 1);
      await setup();
      await assert.rejects(migrate({ from, to }), (e: unknown) => {
        assert.ok(e instanceof type, String(e));
        assert.match((e as Error).message, message);
        return true;
      });
    };
    await refused(
      () => client.set("state:wf:bad", "{'a': 1"),
      StateDamagedError,
      /"state:wf:bad" does not hold JSON/,
    );
    // Python's json.dumps writes NaN, which JSON (and so this library) cannot hold.
    await refused(() => client.set("state:wf:nan", "NaN"), StateDamagedError, /"state:wf:nan"/);
    await refused(
      () => client.hset("state:wf:h", "a", "1"),
      StateDamagedError,
      /"state:wf:h".*not a string/,
    );
    await refused(
      () => client.set("checkpoint:wf:cp", "[1]"),
      StateDamagedError,
      /"checkpoint:wf:cp" is not a checkpoint/,
    );
    await refused(
      () => client.set("state:orphan", "1"),
      ValidationError,
      /"state:orphan" does not fit.*--namespace/,
    );
    await refused(() => client.set("state::x", "1"), ValidationError, /"state::x"/);
    await refused(
      () => client.set("state:wf:", "1"),
      ValidationError,
      /"state:wf:" cannot be migrated: Key must not be empty/,
    );
    await refused(
      () => client.set("state:bad ns:k", "1"),
      ValidationError,
      /"state:bad ns:k" cannot be migrated/,
    );
    // Naming the namespace leaves the foreign keys out of the scan.
    const report = await migrate({ from, to, namespaces: ["wf"] });
    assert.deepEqual([report.verified, report.keys], [true, 1]);
  });

  test("legacy-redis: before Redis 7 (no PEXPIRETIME) the expiry comes from PTTL", async () => {
    await client.flushall();
    await pyRedisSave(client, "wf", "k", 1);
    const exact = await client.pexpiretime("state:wf:k");
    const conn = await Connection.open({ url });
    try {
      assert.equal(conn.exact, true, "this server has PEXPIRETIME");
      conn.exact = false; // as on Redis 6
      const node = conn.masters()[0]!;
      const before = Date.now();
      const [read, gone] = await readItems(conn, [
        { name: "k", redisKey: "state:wf:k", node },
        { name: "x", redisKey: "state:wf:x", node },
      ]);
      assert.equal(gone, null);
      assert.equal(read!.text, "1");
      assert.ok(Math.abs(read!.expiresAt! - exact) <= Date.now() - before + 2, "within the wait");
    } finally {
      await conn.close();
    }
  });

  test("legacy-redis: an unreachable server is a BackendError that hides the password", async () => {
    await assert.rejects(
      migrate({
        from: {
          backend: "legacy-redis",
          url: "redis://:s3cret@127.0.0.1:1",
          redisOptions: { connectTimeout: 500 },
        },
        to: { backend: "memory" },
      }),
      (e: unknown) => {
        assert.equal((e as Error).name, "BackendError");
        assert.doesNotMatch((e as Error).message, /s3cret/);
        return true;
      },
    );
  });

  test("cli: migrate --from legacy-redis --from-url, with --keep-ttl, --namespace and --json", async () => {
    const dir = tempDir();
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await run([...args, "--dir", dir], {
        out: (t) => void out.push(t),
        err: (t) => void err.push(t),
        stdin: () => Promise.resolve(""),
        stderrIsTty: false,
      });
      return { code, out: out.join("\n"), err: err.join("\n") };
    };
    try {
      await populate();
      await pyRedisSave(client, "team:alpha", "phase", "review");
      const base = ["migrate", "--from", "legacy-redis", "--from-url", url, "--to", "sqlite"];
      const m = await cli(...base, "--namespace", "workflow-123");
      assert.equal(m.code, 0, m.err);
      assert.match(m.out, /^Migrated 1 namespaces, 12 keys \(12 written\), 2 checkpoints/);
      assert.match(
        m.out,
        /\n12 keys in workflow-123 were copied without their expiry \(--keep-ttl keeps it\)$/,
      );
      const load = await cli(
        "load",
        "--backend",
        "sqlite",
        "--namespace",
        "workflow-123",
        "--key",
        "café",
      );
      assert.equal(JSON.parse(load.out), VALUES["café"]);

      const renamed = await cli(...base, "--namespace", "team:alpha", "--keep-ttl", "--json");
      assert.equal(renamed.code, 0, renamed.err);
      const report = JSON.parse(renamed.out);
      assert.deepEqual(
        [report.from, report.namespaces[0].namespace, report.namespaces[0].renamedFrom],
        ["legacy-redis", "team.alpha", "team:alpha"],
      );
      const kept = await cli(
        "load",
        "--backend",
        "sqlite",
        "--namespace",
        "team.alpha",
        "--key",
        "phase",
      );
      assert.equal(kept.out, '"review"');

      const wrong = await cli("migrate", "--from", "json", "--to", "sqlite", "--keep-ttl");
      assert.deepEqual([wrong.code, wrong.err], [
        2,
        "error: --keep-ttl applies to --from legacy-redis only",
      ]);
      const secret = await cli(
        "migrate",
        "--from",
        "legacy-redis",
        "--from-url",
        "redis://:hunter2@127.0.0.1:1",
        "--to",
        "memory",
      );
      assert.equal(secret.code, 1);
      assert.doesNotMatch(secret.err, /hunter2/);
    } finally {
      removeDir(dir);
    }
  });
}
