// Where a migration reads from: a backend, an export file, or the Python
// reference implementation's files. Each yields namespaces in order, and per
// namespace its live keys in UTF-8 byte order (in pages), then its checkpoints.
import type { Backend, CheckpointInfo, StoredEntry } from "../types.ts";

/** A checkpoint as a migration copies it. */
export interface SourceCheckpoint {
  info: CheckpointInfo;
  entries: StoredEntry[];
}

/** What a source noticed while reading a namespace's keys. */
export interface SourceNotes {
  /** Keys it listed that had expired by the time it read them (not copied). */
  expired: string[];
  /** Keys it gave without the expiry they have in the source. */
  ttlsDropped: number;
}

/** One namespace of a source: consume `pages()` before `checkpoints()`. */
export interface SourceNamespace {
  /** The namespace's name in the target. */
  name: string;
  /** Its name in the source, when that differs (a legacy name that is not valid here). */
  sourceName?: string;
  /** How many keys, when known up front (for progress). */
  keyCount?: number;
  pages(): AsyncIterable<StoredEntry[]>;
  /** After `pages()`: what the source noticed (sources that can see keys expire). */
  notes?(): SourceNotes;
  checkpoints(): AsyncIterable<SourceCheckpoint>;
}

/** A migration source. */
export interface Source {
  /** What it is, for reports: "json", "export file", "legacy-json", ... */
  name: string;
  namespaces(): AsyncIterable<SourceNamespace>;
  close(): Promise<void>;
}

/** Keys per page read from a backend. */
export const PAGE = 500;

/** Reads a backend; `names` limits the namespaces. It is never written. */
export function backendSource(
  backend: Backend,
  names: string[] | undefined,
  close: () => Promise<void>,
): Source {
  return {
    name: backend.name,
    close,
    async *namespaces() {
      const all = await backend.namespaces();
      for (const ns of names ?? all) {
        let keyCount = 0;
        for await (const keys of keyPages(backend, ns)) keyCount += keys.length;
        yield {
          name: ns,
          keyCount,
          async *pages() {
            for await (const keys of keyPages(backend, ns)) {
              const entries = await backend.get(ns, keys);
              const live = entries.filter((e): e is StoredEntry => e !== null);
              if (live.length) yield live;
            }
          },
          async *checkpoints() {
            for (const info of await backend.listCheckpoints(ns)) {
              const entries = await backend.readCheckpoint(ns, info.name);
              if (entries) yield { info, entries };
            }
          },
        };
      }
    },
  };
}

/** Pages of live key names in byte order. */
export async function* keyPages(backend: Backend, ns: string): AsyncIterable<string[]> {
  let cursor: string | undefined;
  do {
    const page = await backend.list(ns, {
      limit: PAGE,
      ...(cursor === undefined ? {} : { cursor }),
    });
    if (page.keys.length) yield page.keys;
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined);
}
