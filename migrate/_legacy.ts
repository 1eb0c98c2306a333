// Sources for the on-disk data of the Python reference implementation in the
// seed spec: its JSON layout (<dir>/<ns>/state.json holding
// {key: {value, timestamp}}, checkpoints/<name>.json holding the same dict)
// and its SQLite layout (<dir>/<ns>/state.db with state(key, value,
// timestamp) and checkpoints(name, state, created_at), where `state` is the
// JSON of a list of [key, value_json, timestamp] rows).
import { lstatSync, readdirSync, statSync } from "node:fs";
import { readText } from "../backends/_files.ts";
import { MAX_FILE_BYTES } from "../backends/_json_format.ts";
import { join } from "node:path";
import { compareKeys } from "../core/_keys.ts";
import { newVersion } from "../core/_ids.ts";
import type { Source, SourceCheckpoint, SourceNamespace } from "./_source.ts";
import {
  encodeValue,
  validateCheckpointName,
  validateKey,
  validateNamespace,
} from "../core/_validate.ts";
import { StateDamagedError, StateError } from "../errors.ts";
import type { StoredEntry } from "../types.ts";

/** The legacy layouts a migration can read. */
export type LegacyKind = "legacy-json" | "legacy-sqlite";

/** Reads the Python implementation's namespaces under `dir`. */
export function legacySource(kind: LegacyKind, dir: string, names?: string[]): Source {
  const file = kind === "legacy-json" ? "state.json" : "state.db";
  return {
    name: kind,
    close: () => Promise.resolve(),
    async *namespaces() {
      const found = names ?? listNamespaces(dir, file);
      for (const ns of found) {
        validateNamespace(ns);
        const path = join(dir, ns, file);
        const { entries, checkpoints } = kind === "legacy-json"
          ? readJsonLayout(path, join(dir, ns, "checkpoints"))
          : await readSqliteLayout(path);
        const ordered = sortEntries(entries);
        yield {
          name: ns,
          keyCount: ordered.length,
          async *pages() {
            if (ordered.length) yield ordered;
          },
          async *checkpoints() {
            yield* checkpoints;
          },
        } satisfies SourceNamespace;
      }
    },
  };
}

function listNamespaces(dir: string, file: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.filter((ns) => {
    try {
      return lstatSync(join(dir, ns, file)).isFile();
    } catch {
      return false;
    }
  }).sort(compareKeys);
}

/** Turns the seed's `{key: {value, timestamp}}` dict into entries. */
function fromDict(dict: unknown, what: string): StoredEntry[] {
  if (typeof dict !== "object" || dict === null || Array.isArray(dict)) {
    throw new StateDamagedError(`${what} is not a {key: {value, timestamp}} object`);
  }
  return Object.entries(dict as Record<string, { value?: unknown; timestamp?: string }>).map(
    ([key, rec]) => {
      validateKey(key);
      return {
        key,
        value: encodeValue(rec?.value ?? null),
        version: newVersion(),
        expiresAt: null,
      };
    },
  );
}

function readJson(path: string): unknown {
  try {
    // A regular file only, never through a link, and never more than a JSON namespace holds.
    const text = readText(path, MAX_FILE_BYTES);
    if (text === null) throw new Error("not found");
    return JSON.parse(text);
  } catch (error) {
    throw new StateDamagedError(`Cannot read legacy file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function readJsonLayout(path: string, checkpointDir: string) {
  const entries = fromDict(readJson(path), path);
  const checkpoints: SourceCheckpoint[] = [];
  let files: string[] = [];
  try {
    files = readdirSync(checkpointDir).filter((f) => f.endsWith(".json"));
  } catch { /* no checkpoints */ }
  for (const f of files.sort()) {
    const name = f.slice(0, -".json".length);
    validateCheckpointName(name);
    const cpPath = join(checkpointDir, f);
    const cpEntries = sortEntries(fromDict(readJson(cpPath), cpPath));
    checkpoints.push({
      info: {
        name,
        // The seed stored no creation time for JSON checkpoints: the file's is the best there is.
        createdAt: Math.floor(statSync(cpPath).mtimeMs),
        auto: name.startsWith("auto_"),
        metadata: { importedFrom: "legacy-json" },
        keyCount: cpEntries.length,
        bytes: 0,
        parent: null,
      },
      entries: cpEntries,
    });
  }
  return { entries, checkpoints };
}

async function readSqliteLayout(path: string) {
  // Loaded here so that importing the library never loads node:sqlite.
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const rows = db.prepare("SELECT key, value FROM state").all() as {
      key: string;
      value: string;
    }[];
    const entries = rows.map((r) => {
      validateKey(r.key);
      return {
        key: r.key,
        value: encodeValue(JSON.parse(r.value)),
        version: newVersion(),
        expiresAt: null,
      };
    });
    const cps = db.prepare("SELECT name, state, created_at FROM checkpoints").all() as {
      name: string;
      state: string;
      created_at: string;
    }[];
    const checkpoints: SourceCheckpoint[] = cps.map((cp) => {
      validateCheckpointName(cp.name);
      const list = JSON.parse(cp.state) as [string, string, string][];
      const cpEntries = sortEntries(list.map(([key, value]) => {
        validateKey(key);
        return {
          key,
          value: encodeValue(JSON.parse(value)),
          version: newVersion(),
          expiresAt: null,
        };
      }));
      // Python's datetime.utcnow().isoformat() has no zone: it is UTC.
      const createdAt = Date.parse(
        /[zZ]|[+-]\d\d:\d\d$/.test(cp.created_at) ? cp.created_at : `${cp.created_at}Z`,
      );
      return {
        info: {
          name: cp.name,
          createdAt: Number.isFinite(createdAt) ? createdAt : 0,
          auto: cp.name.startsWith("auto_"),
          metadata: { importedFrom: "legacy-sqlite" },
          keyCount: cpEntries.length,
          bytes: 0,
          parent: null,
        },
        entries: cpEntries,
      };
    });
    return { entries, checkpoints };
  } catch (error) {
    if (error instanceof StateError) throw error;
    throw new StateDamagedError(
      `Cannot read legacy database ${path}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  } finally {
    db.close();
  }
}

function sortEntries(entries: StoredEntry[]): StoredEntry[] {
  return entries.sort((a, b) => compareKeys(a.key, b.key));
}
