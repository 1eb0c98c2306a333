// Opens a backend by name. Each backend module is imported only when used,
// so importing the core never loads node:sqlite, ioredis or Deno KV.
import { ValidationError } from "../errors.ts";
import type { Backend } from "../types.ts";
import type { SqliteDatabase } from "./sqlite.ts";

/** Backend names that `StateManager.open()` accepts. */
export const BACKEND_NAMES = ["memory", "json", "sqlite", "kv"] as const;

/** A backend name. */
export type BackendName = typeof BACKEND_NAMES[number];

/** Where a backend keeps its data; each backend reads the fields it needs. */
export interface BackendLocation {
  /** State folder for file backends. Default ".claude/state". */
  dir?: string;
  /**
   * SQLite database file (default `<dir>/state.db`), or Deno KV database: a
   * file (default `<dir>/state.kv`), ":memory:" or a KV Connect URL.
   */
  path?: string;
  /** An open SQLite database (node:sqlite, @db/sqlite or better-sqlite3); the caller closes it. */
  database?: SqliteDatabase;
}

/** Default state folder, as the seed has it. */
export const DEFAULT_DIR = ".claude/state";

/** Opens the named backend. */
export async function openBackend(
  name: string,
  location: BackendLocation,
): Promise<Backend> {
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
    case "kv": {
      const { KvBackend } = await import("./kv.ts");
      return new KvBackend({ path: location.path ?? `${dir}/state.kv` });
    }
    default:
      throw new ValidationError(
        `Unknown backend ${JSON.stringify(name)}: use one of ${BACKEND_NAMES.join(", ")}`,
      );
  }
}
