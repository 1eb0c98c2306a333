// The PostgreSQL backend against a real server: the shared conformance suite
// (with the cache-coherence and watch cases, across processes), then
// PostgreSQL-only behaviour: schema creation, layout, NOTIFY, connection errors.
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { after, test } from "node:test";
import pg from "pg";
import { BackendError, type ManagerOptions, StateManager, ValidationError } from "../mod.ts";
import { PostgresBackend } from "../backends/postgres.ts";
import { testBackend } from "./conformance.ts";
import { dropSchema, newSchema, pgTarget, reportNoServer } from "./_pg_server.ts";
import { freePort } from "./_redis_server.ts";
import { downgradeToV1, restoreSignatures } from "./_pg_schema_v1.ts";

const target = await pgTarget();

if (typeof target === "string") {
  reportNoServer("postgres", target);
} else {
  after(() => target.server?.stop());
  const { url } = target;

  await testBackend("postgres", () => {
    const schema = newSchema();
    const base = { backend: "postgres", url, schema } as const;
    return Promise.resolve({
      open: (options = {}) => StateManager.open({ ...options, ...base }),
      childOptions: base,
      cleanup: () => dropSchema(url, schema),
    });
  });

  /** Runs `fn` with a manager on a fresh schema and a raw client, then drops the schema. */
  const withPg = (
    behaviour: string,
    fn: (s: StateManager, raw: pg.Client, schema: string) => Promise<void>,
    options: Partial<ManagerOptions> = {},
  ) =>
    test(`postgres: ${behaviour}`, async () => {
      const schema = newSchema();
      const raw = new pg.Client({ connectionString: url });
      await raw.connect();
      const s = await StateManager.open({
        backend: "postgres",
        url,
        schema,
        namespace: "wf",
        ...options,
      });
      try {
        await fn(s, raw, schema);
      } finally {
        await s.close();
        await raw.end();
        await dropSchema(url, schema);
      }
    });

  const open = (schema: string, options: Partial<ManagerOptions> = {}) =>
    StateManager.open({ backend: "postgres", url, schema, namespace: "wf", ...options });

  test("postgres: 8 backends creating the schema of a fresh database at once all succeed", async () => {
    const schema = newSchema();
    const backends = Array.from({ length: 8 }, () => new PostgresBackend({ url, schema }));
    try {
      await Promise.all(backends.map((b, i) =>
        b.commit("wf", {
          id: `id${i}`,
          version: `v${i}`,
          checks: [],
          sets: [{ key: `k${i}`, value: String(i), expiresAt: null }],
          deletes: [],
        })
      ));
      const page = await backends[0]!.list("wf", {});
      assert.equal(page.keys.length, 8);
    } finally {
      await Promise.all(backends.map((b) => b.close()));
      await dropSchema(url, schema);
    }
  });

  withPg("keeps a schema-version row and refuses a newer schema", async (s, raw, schema) => {
    await s.save("a", 1);
    const { rows } = await raw.query(
      `SELECT value FROM "${schema}".meta WHERE name = 'schema_version'`,
    );
    assert.deepEqual(rows, [{ value: "2" }]);
    await raw.query(`UPDATE "${schema}".meta SET value = '99' WHERE name = 'schema_version'`);
    const newer = await open(schema);
    try {
      await assert.rejects(newer.load("a"), (e: Error) => {
        assert.ok(e instanceof BackendError && !e.transient, String(e));
        assert.match(e.message, /version 99, newer than this release/);
        return true;
      });
    } finally {
      await newer.close();
    }
  });

  withPg(
    "upgrades a version-1 schema in place: data kept, restores keep prefixes",
    async (s, raw, schema) => {
      await s.saveMany({ phase: "plan", "attempts:build": 0 });
      await s.checkpoint("cp");
      await s.saveMany({ phase: "build", "attempts:build": 1, extra: true });
      await downgradeToV1(raw, schema);
      // The version-1 schema works as version 1 did: one kept prefix as a range.
      await raw.query(
        `SELECT "${schema}".ms_restore('wf', 'v1-id', 'cp', $1, 'attempts:', 'attempts;')`,
        [
          Date.now(),
        ],
      );
      assert.deepEqual(await restoreSignatures(raw, schema), [
        "p_ns text, p_id text, p_name text, p_now bigint, p_keep text, p_keep_end text",
      ]);
      const upgraded = await open(schema);
      try {
        assert.deepEqual(await upgraded.dump(), { "attempts:build": 1, phase: "plan" });
        await upgraded.saveMany({ phase: "test", "attempts:build": 2, "attempts:test": 1 });
        await upgraded.restoreCheckpoint("cp", { keep: { prefix: "attempts:" } });
        assert.deepEqual(await upgraded.dump(), {
          "attempts:build": 2,
          "attempts:test": 1,
          phase: "plan",
        });
        const version = await raw.query(
          `SELECT value FROM "${schema}".meta WHERE name = 'schema_version'`,
        );
        assert.deepEqual(version.rows, [{ value: "2" }]);
        assert.deepEqual(await restoreSignatures(raw, schema), [
          "p_ns text, p_id text, p_name text, p_now bigint, p_keep text[]",
        ], "the version-1 signature is dropped");
      } finally {
        await upgraded.close();
      }
    },
  );

  withPg('stores keys as rows that sort in byte order (COLLATE "C")', async (s, raw, schema) => {
    const keys = ["b", "B", "a", "é", "z", "ä", "😀", "~", "Z"];
    for (const key of keys) await s.save(key, key);
    const bytes = (k: string) => Buffer.from(k, "utf8");
    const expected = [...keys].sort((x, y) => Buffer.compare(bytes(x), bytes(y)));
    assert.deepEqual((await s.listKeys()).keys, expected);
    const { rows } = await raw.query(
      `SELECT key, value, expires_at FROM "${schema}".entries WHERE ns = 'wf' ORDER BY key`,
    );
    assert.deepEqual(rows.map((r: { key: string }) => r.key), expected);
    assert.equal(rows[0].value, JSON.stringify(expected[0]));
    assert.equal(rows[0].expires_at, null);
  });

  withPg("takes checkpoints as table copies and restores them exactly", async (s, raw, schema) => {
    await s.saveMany({ a: 1, b: 2 });
    await s.checkpoint("cp", { metadata: { phase: "plan" } });
    await s.save("c", 3);
    await s.delete("a");
    const { rows } = await raw.query(
      `SELECT name, key FROM "${schema}".checkpoint_entries WHERE ns = 'wf' ORDER BY key`,
    );
    assert.deepEqual(rows, [{ name: "cp", key: "a" }, { name: "cp", key: "b" }]);
    await s.restoreCheckpoint("cp");
    assert.deepEqual(await s.loadMany(["a", "b", "c"]), { a: 1, b: 2 });
  });

  withPg(
    "pushes changes by NOTIFY on the schema's channel, sent on commit",
    async (s, raw, schema) => {
      const heard: string[] = [];
      raw.on("notification", (m: { payload?: string | undefined }) => heard.push(m.payload ?? ""));
      await raw.query(`LISTEN "${schema}"`);
      await s.save("phase", "build");
      await s.saveMany({ a: 1, b: 2 });
      await s.clear();
      await raw.query("SELECT 1"); // every notification sent before this is delivered before it
      assert.equal(heard.length, 3, heard.join(" | "));
      assert.match(heard[0]!, /^wf \d+ \["phase"\]$/);
      assert.match(heard[1]!, /^wf \d+ \["a","b"\]$/);
      assert.match(heard[2]!, /^wf \d+$/);
    },
  );

  test("postgres: a cached load sees another connection's write at once, every time", async () => {
    const schema = newSchema();
    const reader = await open(schema);
    const writer = await open(schema, { cache: false });
    try {
      for (let i = 0; i < 200; i++) {
        await writer.save("n", i);
        assert.equal(await reader.load("n"), i);
        assert.equal(await reader.load("n"), i); // a cache hit, proven current
      }
    } finally {
      await writer.close();
      await reader.close();
      await dropSchema(url, schema);
    }
  });

  test("postgres: watch() reports another connection's write without waiting for a poll", async () => {
    const schema = newSchema();
    const s = await open(schema);
    const other = await open(schema);
    try {
      const watcher = s.watch(["phase"], { intervalMs: 60_000 });
      await watcher.ready;
      const started = Date.now();
      await other.save("phase", "build");
      const event = await watcher.next();
      assert.equal(event.value?.value, "build");
      assert.ok(Date.now() - started < 900, `took ${Date.now() - started} ms`);
      await watcher.close();
    } finally {
      await other.close();
      await s.close();
      await dropSchema(url, schema);
    }
  });

  test("postgres: when the LISTEN connection is killed, the cache and watchers miss nothing", async () => {
    const schema = newSchema();
    const s = await open(schema);
    const other = await open(schema, { cache: false });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await s.save("phase", "plan");
      assert.equal(await s.load("phase"), "plan"); // cached, LISTEN connection open
      const watcher = s.watch(["phase"], { intervalMs: 60_000 });
      await watcher.ready;
      const killed = await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`,
        [`managing-state listen ${schema}`.slice(0, 63)],
      );
      assert.ok(killed.rowCount! >= 1);
      await other.save("phase", "build"); // written while the feed may be down
      assert.equal(await s.load("phase"), "build");
      const event = await watcher.next();
      assert.equal(event.value?.value, "build");
      await other.save("phase", "test"); // and after it reconnected
      assert.equal((await watcher.next()).value?.value, "test");
      await watcher.close();
    } finally {
      await admin.end();
      await other.close();
      await s.close();
      await dropSchema(url, schema);
    }
  });

  /** The error a fresh backend gives for `options`, and how long it took. */
  const failure = async (options: ConstructorParameters<typeof PostgresBackend>[0]) => {
    const backend = new PostgresBackend({ connectTimeoutMs: 1000, ...options });
    const started = Date.now();
    try {
      await backend.get("wf", ["a"]);
    } catch (error) {
      return { error: error as BackendError, ms: Date.now() - started };
    } finally {
      await backend.close();
    }
    throw new Error("expected a failure");
  };

  test("postgres: a wrong port is a transient error at once", async () => {
    const { error, ms } = await failure({
      url: `postgres://u:hunter22@127.0.0.1:${await freePort()}/x`,
    });
    assert.ok(error instanceof BackendError && error.transient, String(error));
    assert.match(error.message, /ECONNREFUSED/);
    assert.doesNotMatch(error.message, /hunter22/);
    assert.match(error.message, /u:\*\*\*@127\.0\.0\.1/);
    assert.ok(ms < 1500, `${ms} ms`);
  });

  test("postgres: a missing database is a clear error that is not retried", async () => {
    const missing = new URL(url);
    missing.pathname = "/no_such_database_ms";
    const { error } = await failure({ url: missing.href });
    assert.ok(error instanceof BackendError && !error.transient, String(error));
    assert.match(error.message, /does not exist.*createdb/);
  });

  test("postgres: a wrong password is a clear error that never shows the password", async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const method = await admin.query(
        "SELECT auth_method FROM pg_hba_file_rules WHERE 'ms_pw_user' = ANY (user_name)",
      ).catch(() => ({ rows: [] }));
      if (method.rows.length === 0) {
        // Only a server the tests started has the password rule; say so loudly.
        throw new Error(
          "the server has no pg_hba rule for ms_pw_user (set up by tests/_pg_server.ts)",
        );
      }
      await admin.query("DROP ROLE IF EXISTS ms_pw_user");
      await admin.query("CREATE ROLE ms_pw_user LOGIN PASSWORD 'right-secret'");
      const wrong = new URL(url);
      wrong.username = "ms_pw_user";
      wrong.password = "hunter22wrong";
      const { error } = await failure({ url: wrong.href });
      assert.ok(error instanceof BackendError && !error.transient, String(error));
      assert.match(error.message, /password authentication failed/);
      assert.doesNotMatch(error.message, /hunter22wrong/);
      assert.doesNotMatch(JSON.stringify(error.cause ?? ""), /hunter22wrong/);
    } finally {
      await admin.end();
    }
  });

  test("postgres: a server that accepts and never answers fails within the connect timeout", async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const { error, ms } = await failure({
        url: `postgres://127.0.0.1:${port}/x`,
        connectTimeoutMs: 500,
      });
      assert.ok(error instanceof BackendError && error.transient, String(error));
      assert.ok(ms < 1500, `${ms} ms`);
    } finally {
      sockets.forEach((s) => s.destroy());
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test("postgres: refuses bad options before connecting", () => {
    assert.throws(() => new PostgresBackend({ schema: "Bad-Name" }), ValidationError);
    assert.throws(() => new PostgresBackend({ url: "redis://127.0.0.1" }), ValidationError);
    assert.throws(() => new PostgresBackend({ poolSize: 0 }), ValidationError);
  });
}
