// Opens a backend by name. Each backend module is imported only when used,
// so importing the core never loads node:sqlite, ioredis, pg or Deno KV.
import { ValidationError } from "../errors.ts";
import type { Backend } from "../types.ts";
import type { RedisBackendOptions } from "./redis.ts";
import {
  BACKEND_NAMES,
  type BackendLocation,
  type BackendName,
  type RedisLocation,
} from "./_locations.ts";

const REDIS_FIELDS: readonly (keyof RedisLocation)[] = [
  "url",
  "client",
  "cluster",
  "prefix",
  "redisOptions",
  "clusterOptions",
  "durability",
];

/** Default state folder, as the seed has it. */
export const DEFAULT_DIR = ".claude/state";

// Variable specifiers for the backends that need the network (and npm
// packages): Deno then reads them only when one is opened, not on every start
// of a process. Such an import needs read access to the module file, which a
// process that may use the network has (the cli:net task); the others stay
// literal, so the narrow flags of the cli task keep working.
const REDIS = "./redis.ts";
const POSTGRES = "./postgres.ts";

/** Opens the named backend. */
export async function openBackend(
  name: string,
  location: BackendLocation,
): Promise<Backend> {
  if (!isBackendName(name)) {
    throw new ValidationError(
      `Unknown backend ${JSON.stringify(name)}: use one of ${BACKEND_NAMES.join(", ")}`,
    );
  }
  const dir = location.dir ?? DEFAULT_DIR;
  switch (name) {
    case "memory": {
      const { MemoryBackend } = await import("./memory.ts");
      return new MemoryBackend();
    }
    case "json": {
      const { JsonBackend } = await import("./json.ts");
      return new JsonBackend({ dir });
    }
    case "sqlite": {
      const { SqliteBackend } = await import("./sqlite.ts");
      return location.database
        ? new SqliteBackend({ database: location.database })
        : new SqliteBackend({ path: location.path ?? `${dir}/state.db` });
    }
    case "redis": {
      const { RedisBackend } = await (import(REDIS) as Promise<typeof import("./redis.ts")>);
      const options: RedisBackendOptions = {};
      for (const name of REDIS_FIELDS) {
        if (location[name] !== undefined) Object.assign(options, { [name]: location[name] });
      }
      return new RedisBackend(options);
    }
    case "postgres": {
      const { PostgresBackend } = await (import(POSTGRES) as Promise<
        typeof import("./postgres.ts")
      >);
      const url = location.url;
      if (url !== undefined && !/^postgres(ql)?:\/\//i.test(url)) {
        throw new ValidationError(
          "The postgres backend takes a postgres:// or postgresql:// URL, not a URL of another kind",
        );
      }
      return new PostgresBackend({
        ...(url !== undefined ? { url } : {}),
        ...(location.pool !== undefined ? { pool: location.pool } : {}),
        ...(location.schema !== undefined ? { schema: location.schema } : {}),
      });
    }
    case "kv": {
      const { KvBackend } = await import("./kv.ts");
      const path = location.path ?? location.url ?? `${dir}/state.kv`;
      // A URL meant for another backend (redis://...) is never taken as a file name.
      if (/^[a-z][a-z0-9+.-]*:\/\//i.test(path) && !/^https?:\/\//i.test(path)) {
        throw new ValidationError(
          "Deno KV opens a database file or a KV Connect URL (http:// or https://), " +
            "not a URL of another kind",
        );
      }
      return new KvBackend({ path });
    }
    default: {
      // A name added to BACKEND_NAMES without a case here is a type error.
      const missing: never = name;
      throw new Error(`No opener for backend ${String(missing)}`);
    }
  }
}

/** Whether `name` is a backend name `openBackend()` opens. */
export function isBackendName(name: string): name is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(name);
}
