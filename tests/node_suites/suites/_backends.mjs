// The backends the upstream suites run on, against the built npm package as
// a Node user installs it. Each suite file opens one backend in a fresh
// temporary folder (Redis: a fresh key prefix on the server the runner
// started and named in REDIS_URL; PostgreSQL: a fresh schema on the server
// named in DATABASE_URL) and removes it afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryBackend, StateManager } from "@adw/managing-state";
import { JsonBackend } from "@adw/managing-state/json";
import { SqliteBackend } from "@adw/managing-state/sqlite";
import { KvBackend } from "@adw/managing-state/kv";
import { RedisBackend } from "@adw/managing-state/redis";
import { PostgresBackend } from "@adw/managing-state/postgres";

/** Opens backend `name`; `close()` closes it and removes what it stored. */
export function openBackend(name) {
  const dir = mkdtempSync(join(tmpdir(), `ms-suite-${name}-`));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  let backend;
  switch (name) {
    case "memory":
      backend = new MemoryBackend();
      break;
    case "json":
      backend = new JsonBackend({ dir });
      break;
    case "sqlite":
      backend = new SqliteBackend({ path: join(dir, "state.db") });
      break;
    case "kv":
      backend = new KvBackend({ path: join(dir, "state.kv") });
      break;
    case "redis": {
      const url = process.env.REDIS_URL;
      // The runner always starts a server: no server is a failure, never a skip.
      if (!url) throw new Error("REDIS_URL is not set: run these suites through deno task test");
      backend = new RedisBackend({ url, prefix: `suite-${process.pid}-${Date.now()}` });
      break;
    }
    case "postgres": {
      const url = process.env.DATABASE_URL;
      // The runner always starts a server: no server is a failure, never a skip.
      if (!url) throw new Error("DATABASE_URL is not set: run these suites through deno task test");
      backend = new PostgresBackend({ url, schema: `suite_${process.pid}_${Date.now()}` });
      break;
    }
    default:
      throw new Error(`unknown backend ${name}`);
  }
  return {
    backend,
    /** Deletes every namespace it holds, then closes it and removes its folder. */
    async close() {
      try {
        for (const namespace of await backend.namespaces()) {
          const state = await StateManager.open({ backend, namespace });
          await state.clear();
          await state.close();
        }
      } finally {
        await backend.close();
        remove();
      }
    },
  };
}
