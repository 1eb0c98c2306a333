// The backend suite of `testing/` (the one third-party backends run) against
// every built-in backend, each case on a fresh, empty store.
import { join } from "node:path";
import { after } from "node:test";
import { JsonBackend } from "../backends/json.ts";
import { KvBackend } from "../backends/kv.ts";
import { MemoryBackend } from "../backends/memory.ts";
import { PostgresBackend } from "../backends/postgres.ts";
import { RedisBackend } from "../backends/redis.ts";
import { SqliteBackend } from "../backends/sqlite.ts";
import { testBackend } from "../testing/mod.ts";
import type { Backend } from "../types.ts";
import { deletePrefix, redisTarget, reportUnavailable } from "./_redis_server.ts";
import { dropSchema, newSchema, pgTarget, reportNoServer } from "./_pg_server.ts";
import { removeDir, tempDir } from "./_runtime.ts";

/** The backend, whose close() also removes its store. */
function owned(backend: Backend, cleanup: () => void | Promise<void>): Backend {
  const close = backend.close.bind(backend);
  backend.close = async () => {
    await close();
    await cleanup();
  };
  return backend;
}

/**
 * Stops a server this file started once all its cases ran. The suite's cases
 * register with Deno.test on Deno, where node:test's `after` never fires (it
 * left one PostgreSQL server running per run): there a last test stops it.
 */
function stopAtEnd(name: string, stop: () => Promise<void>): void {
  const deno =
    (globalThis as { Deno?: { test(t: { name: string; fn: () => Promise<void> }): void } })
      .Deno;
  if (deno) deno.test({ name: `stop the ${name} server`, fn: stop });
  else after(stop);
}

/** A backend on files in a fresh temporary folder. */
function inTempDir(make: (dir: string) => Backend): Promise<Backend> {
  const dir = tempDir();
  return Promise.resolve(owned(make(dir), () => removeDir(dir)));
}

testBackend("memory", () => Promise.resolve(new MemoryBackend()));
testBackend("json", () => inTempDir((dir) => new JsonBackend({ dir })));
testBackend("sqlite", () => inTempDir((dir) => new SqliteBackend({ path: join(dir, "s.db") })));
testBackend("kv", () => inTempDir((dir) => new KvBackend({ path: join(dir, "s.kv") })));

const redis = await redisTarget();
if (typeof redis === "string") reportUnavailable("redis", redis);
else {
  testBackend("redis", () => {
    const prefix = `mss-${crypto.randomUUID().slice(0, 8)}`;
    const backend = new RedisBackend({ url: redis.url, prefix });
    return Promise.resolve(owned(backend, () => deletePrefix(redis.url, prefix)));
  });
  const server = redis.server;
  if (server) stopAtEnd("redis", () => server.stop());
}

const postgres = await pgTarget();
if (typeof postgres === "string") reportNoServer("postgres", postgres);
else {
  testBackend("postgres", () => {
    const schema = newSchema();
    const backend = new PostgresBackend({ url: postgres.url, schema });
    return Promise.resolve(owned(backend, () => dropSchema(postgres.url, schema)));
  });
  const server = postgres.server;
  if (server) stopAtEnd("postgres", () => server.stop());
}
