// Where a migration reads from: a backend, an export file, or the Python
// reference implementation's files. Each yields namespaces in order, and per
// namespace its live keys in UTF-8 byte order (in pages), then its checkpoints.
// A backend is read in one canonical order whatever it stores things in:
// namespaces and keys (live and in checkpoints) in UTF-8 byte order,
// checkpoints by creation time, then name. So one state exported from any
// backend gives the same file, byte for byte.
// What a source backend holds is checked like input: a crafted store must not
// reach outside the target (a namespace "../x") or write what save() refuses.
import {
  encodeValue,
  validateCheckpointName,
  validateKey,
  validateMetadata,
  validateNamespace,
} from "../core/_validate.ts";
import { ValidationError } from "../errors.ts";
import { compareKeys } from "../core/_keys.ts";
import type { Backend, CheckpointInfo, Head, StoredEntry } from "../types.ts";

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
  /** After `checkpoints()`: the namespace's lineage head (sources without lineage have none). */
  head?(): Promise<Head | null>;
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
      const all = names ?? [...await backend.namespaces()].sort(compareKeys);
      // All of them before the first is copied: a bad name changes nothing.
      for (const ns of all) {
        checked(
          backend,
          `holds namespace ${JSON.stringify(ns)}, which`,
          () => validateNamespace(ns),
        );
      }
      for (const ns of all) {
        let keyCount = 0;
        for await (const keys of keyPages(backend, ns)) keyCount += keys.length;
        yield {
          name: ns,
          keyCount,
          async *pages() {
            for await (const keys of keyPages(backend, ns)) {
              const entries = await backend.get(ns, keys);
              const live = entries.filter((e): e is StoredEntry => e !== null);
              if (live.length) yield live.map((e) => checkedEntry(backend, ns, e));
            }
          },
          async *checkpoints() {
            for (const info of inCanonicalOrder(await backend.listCheckpoints(ns))) {
              const where = `namespace ${JSON.stringify(ns)} checkpoint ${
                JSON.stringify(info.name)
              }`;
              checked(backend, where, () => {
                validateCheckpointName(info.name);
                if (info.parent !== null) validateCheckpointName(info.parent);
                validateMetadata(info.metadata);
                if (!Number.isSafeInteger(info.createdAt)) {
                  throw new ValidationError(`createdAt ${info.createdAt} is not a time in ms`);
                }
              });
              const entries = await backend.readCheckpoint(ns, info.name);
              if (entries) {
                yield {
                  info,
                  entries: entries.map((e) => checkedEntry(backend, ns, e))
                    .sort((a, b) => compareKeys(a.key, b.key)),
                };
              }
            }
          },
          head: async () => {
            const head = await backend.head(ns);
            if (head) {
              checked(backend, `namespace ${JSON.stringify(ns)} head`, () => {
                validateCheckpointName(head.name);
              });
            }
            return head;
          },
        };
      }
    },
  };
}

/** Checkpoints oldest first; ties (taken in the same millisecond) by name in byte order. */
export function inCanonicalOrder(list: CheckpointInfo[]): CheckpointInfo[] {
  return [...list].sort((a, b) => a.createdAt - b.createdAt || compareKeys(a.name, b.name));
}

/** Runs a check on what `backend` holds; its error names the source and the place. */
function checked(backend: Backend, where: string, check: () => void): void {
  try {
    check();
  } catch (error) {
    throw new ValidationError(
      `The ${backend.name} source ${where}: ${(error as Error).message}. ` +
        `Nothing of it was copied; fix or remove it in the source`,
      { cause: error },
    );
  }
}

/** A source entry, checked as save() checks input; its value in canonical JSON. */
function checkedEntry(backend: Backend, ns: string, e: StoredEntry): StoredEntry {
  let value = e.value;
  checked(backend, `namespace ${JSON.stringify(ns)} key ${JSON.stringify(e.key)}`, () => {
    validateKey(e.key);
    let parsed: unknown;
    try {
      parsed = JSON.parse(e.value);
    } catch {
      throw new ValidationError("its value is not JSON");
    }
    value = encodeValue(parsed);
    if (e.expiresAt !== null && !Number.isSafeInteger(e.expiresAt)) {
      throw new ValidationError(`its expiry ${e.expiresAt} is not a time in ms`);
    }
  });
  return value === e.value ? e : { ...e, value };
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
