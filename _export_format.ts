// The portable export format: JSON Lines, streamable. Line 1 is a header;
// then each namespace: a "namespace" line, its "key" lines in UTF-8 byte
// order, its "checkpoint" lines each followed by their "checkpoint-key"
// lines; last an "end" line with totals. Values are embedded as JSON.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { ValidationError } from "./errors.ts";
import type { Source, SourceCheckpoint, SourceNamespace } from "./_migrate_source.ts";
import type { ProgressEvent } from "./_migrate_copy.ts";
import type { CheckpointInfo, StoredEntry } from "./types.ts";
import { validateCheckpointName, validateKey, validateNamespace } from "./_validate.ts";

/** The format name in the header line. */
export const EXPORT_FORMAT = "managing-state/export";
/** The format version this code writes and reads. */
export const EXPORT_VERSION = 1;

/** Writes a source as export lines; returns totals. */
export async function writeExport(
  source: Source,
  write: (line: string) => void | Promise<void>,
  onProgress?: (event: ProgressEvent) => void,
): Promise<{ namespaces: number; keys: number; checkpoints: number }> {
  const totals = { namespaces: 0, keys: 0, checkpoints: 0 };
  await write(
    json({
      format: EXPORT_FORMAT,
      version: EXPORT_VERSION,
      createdAt: Date.now(),
      source: source.name,
    }),
  );
  for await (const ns of source.namespaces()) {
    totals.namespaces++;
    await write(json({ type: "namespace", name: ns.name }));
    let done = 0;
    for await (const page of ns.pages()) {
      for (const e of page) {
        totals.keys++;
        await write(entryLine("key", { ns: ns.name }, e));
      }
      done += page.length;
      onProgress?.({ namespace: ns.name, phase: "keys", done, total: ns.keyCount });
    }
    for await (const cp of ns.checkpoints()) {
      totals.checkpoints++;
      const { name, createdAt, auto, metadata } = cp.info;
      await write(
        json({
          type: "checkpoint",
          ns: ns.name,
          name,
          createdAt,
          auto,
          metadata,
          keyCount: cp.entries.length,
        }),
      );
      for (const e of cp.entries) {
        await write(entryLine("checkpoint-key", { ns: ns.name, checkpoint: name }, e));
      }
    }
  }
  await write(json({ type: "end", ...totals }));
  return totals;
}

function json(value: unknown): string {
  return JSON.stringify(value) + "\n";
}

function entryLine(type: string, where: Record<string, string>, e: StoredEntry): string {
  const head = JSON.stringify({ type, ...where, key: e.key, expiresAt: e.expiresAt });
  return `${head.slice(0, -1)},"value":${e.value}}\n`;
}

/** A parse error that names the file and line. */
function bad(file: string, line: number, why: string): ValidationError {
  return new ValidationError(
    `Export file ${file} line ${line}: ${why}. The file is damaged or not a managing-state export`,
  );
}

/** Reads an export file as a migration source, streaming it line by line. */
export function exportFileSource(path: string): Source {
  const lines = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Infinity });
  const it = lines[Symbol.asyncIterator]();
  let lineNo = 0;
  let peeked: Record<string, unknown> | null | undefined;
  const next = async (): Promise<Record<string, unknown> | null> => {
    if (peeked !== undefined) {
      const p = peeked;
      peeked = undefined;
      return p;
    }
    const r = await it.next();
    if (r.done) return null;
    lineNo++;
    try {
      const rec = JSON.parse(r.value);
      if (typeof rec !== "object" || rec === null) throw new Error("not an object");
      return rec;
    } catch {
      throw bad(path, lineNo, "not valid JSON");
    }
  };
  const peek = async () => (peeked = await next());
  const entry = (rec: Record<string, unknown>): StoredEntry => {
    try {
      validateKey(rec.key);
    } catch (error) {
      throw bad(path, lineNo, (error as Error).message);
    }
    if (!("value" in rec)) throw bad(path, lineNo, "a key line has no value");
    const expiresAt = rec.expiresAt === null || rec.expiresAt === undefined
      ? null
      : Number(rec.expiresAt);
    return {
      key: rec.key as string,
      value: JSON.stringify(rec.value),
      version: "imported",
      expiresAt,
    };
  };
  return {
    name: "export file",
    close: () => Promise.resolve(lines.close()),
    async *namespaces() {
      const header = await next();
      if (header?.format !== EXPORT_FORMAT) throw bad(path, 1, "no managing-state export header");
      if (header.version !== EXPORT_VERSION) {
        throw bad(
          path,
          1,
          `format version ${header.version} is not supported (this reads ${EXPORT_VERSION})`,
        );
      }
      for (;;) {
        const rec = await next();
        if (rec === null) throw bad(path, lineNo + 1, "the file ends early (no end line)");
        if (rec.type === "end") return;
        if (rec.type !== "namespace") {
          throw bad(path, lineNo, `expected a namespace line, got ${JSON.stringify(rec.type)}`);
        }
        try {
          validateNamespace(rec.name);
        } catch (error) {
          throw bad(path, lineNo, (error as Error).message);
        }
        const name = rec.name as string;
        const ns: SourceNamespace = {
          name,
          async *pages() {
            let page: StoredEntry[] = [];
            while ((await peek())?.type === "key") {
              page.push(entry((await next())!));
              if (page.length === 500) {
                yield page;
                page = [];
              }
            }
            if (page.length) yield page;
          },
          async *checkpoints() {
            while ((await peek())?.type === "checkpoint") {
              const rec = (await next())!;
              try {
                validateCheckpointName(rec.name);
              } catch (error) {
                throw bad(path, lineNo, (error as Error).message);
              }
              const info: CheckpointInfo = {
                name: rec.name as string,
                createdAt: Number(rec.createdAt),
                auto: rec.auto === true,
                metadata: (rec.metadata ?? {}) as CheckpointInfo["metadata"],
                keyCount: 0,
                bytes: 0,
              };
              const entries: StoredEntry[] = [];
              while ((await peek())?.type === "checkpoint-key") {
                entries.push(entry((await next())!));
              }
              if (entries.length !== Number(rec.keyCount)) {
                throw bad(
                  path,
                  lineNo,
                  `checkpoint ${
                    JSON.stringify(info.name)
                  } has ${entries.length} keys, its header says ${rec.keyCount}`,
                );
              }
              info.keyCount = entries.length;
              yield { info, entries } satisfies SourceCheckpoint;
            }
          },
        };
        yield ns;
      }
    },
  };
}
