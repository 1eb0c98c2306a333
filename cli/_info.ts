// What `info` reports: the backend, where its data is, and counts and sizes,
// read page by page so a namespace of any size fits in memory.
import { env, joinPath as join } from "../backends/_sys_platform.ts";
import { fs } from "../backends/_fs_platform.ts";
import type { StateManager } from "../state_manager.ts";
import { CONFIG_FILE, type Settings } from "./_config.ts";
import { redact } from "./_redact.ts";
import { namespaceFolder } from "../backends/_json_names.ts";

const { existsSync, lstatSync, readdirSync } = fs;

/** The `--json` shape of `info`. */
export interface Info {
  /** Backend name. */
  backend: string;
  /** The namespace. */
  namespace: string;
  /** Where the data is: a folder, a file or a URL (password hidden). */
  location: string;
  /** Live keys in the namespace. */
  keys: number;
  /** UTF-8 bytes of its keys plus their values as JSON text. */
  bytes: number;
  /** Checkpoints of the namespace. */
  checkpoints: number;
  /** Bytes held by those checkpoints (same measure as `bytes`). */
  checkpointBytes: number;
  /** Namespaces on the backend that hold keys or checkpoints. */
  namespaces: number;
  /** Bytes on disk at `location` (file backends), or null. */
  diskBytes: number | null;
  /** The file `init` wrote, or null when there is none. */
  config: string | null;
}

const PAGE = 500;

/** Gathers {@linkcode Info} for the namespace `state` is open on. */
export async function gatherInfo(state: StateManager, settings: Settings): Promise<Info> {
  let keys = 0;
  let bytes = 0;
  const encoder = new TextEncoder();
  let cursor: string | null = null;
  do {
    const page: { keys: string[]; cursor: string | null } = await state.listKeys({
      limit: PAGE,
      ...(cursor === null ? {} : { cursor }),
    });
    const values = await state.loadMany(page.keys);
    for (const [key, value] of Object.entries(values)) {
      keys++;
      bytes += encoder.encode(key).length + encoder.encode(JSON.stringify(value)).length;
    }
    cursor = page.cursor;
  } while (cursor !== null);
  const checkpoints = await state.listCheckpoints();
  const where = location(settings);
  const config = join(settings.dir, CONFIG_FILE);
  return {
    backend: settings.backend,
    namespace: settings.namespace,
    location: where.display,
    keys,
    bytes,
    checkpoints: checkpoints.length,
    checkpointBytes: checkpoints.reduce((n, c) => n + c.bytes, 0),
    namespaces: (await state.listNamespaces()).length,
    diskBytes: where.files === null ? null : where.files.reduce((n, f) => n + diskSize(f), 0),
    config: diskSize(config) > 0 ? config : null,
  };
}

/**
 * Whether the settings point at files that do not exist, so the store holds
 * nothing yet: a command can say so without opening it (which would create it).
 */
export function storeIsMissing(s: Settings): boolean {
  const { files } = location(s);
  return files !== null && !files.some((f) => existsSync(f));
}

/** Where the settings put the data, and which files hold it (null: not on this disk). */
export function location(s: Settings): { display: string; files: string[] | null } {
  const file = (path: string) =>
    path === ":memory:"
      ? { display: path, files: null }
      : /^[a-z][a-z0-9+.-]*:\/\//i.test(path)
      ? { display: redact(path), files: null }
      : { display: path, files: [path, `${path}-wal`, `${path}-shm`] };
  switch (s.backend) {
    case "memory":
      return { display: "(memory)", files: null };
    case "json": {
      const folder = join(s.dir, namespaceFolder(s.namespace));
      return { display: folder, files: [folder] };
    }
    case "sqlite":
      return file(s.path ?? join(s.dir, "state.db"));
    case "kv":
      return file(s.path ?? s.url ?? join(s.dir, "state.kv"));
    case "redis":
      return {
        display: redact(s.url ?? envUrl() ?? "redis://127.0.0.1:6379"),
        files: null,
      };
    case "postgres":
      return {
        display: redact(s.url ?? envDatabaseUrl() ?? "(the PG* variables)"),
        files: null,
      };
    default:
      return { display: s.url ? redact(s.url) : s.path ?? s.dir, files: null };
  }
}

function envDatabaseUrl(): string | undefined {
  try {
    return env("DATABASE_URL") || undefined;
  } catch {
    return undefined; // not allowed to read it: the backend will say so when it connects
  }
}

function envUrl(): string | undefined {
  try {
    return env("REDIS_URL") || undefined;
  } catch {
    return undefined; // not allowed to read it: the backend will say so when it connects
  }
}

/**
 * Bytes of a regular file, or of every regular file under a folder; 0 when
 * it does not exist. Links are not followed (a link to "/" costs nothing).
 */
function diskSize(path: string): number {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return 0;
  }
  if (st.isFile()) return st.size;
  if (!st.isDirectory()) return 0;
  return readdirSync(path).reduce((n, name) => n + diskSize(join(path, name)), 0);
}
